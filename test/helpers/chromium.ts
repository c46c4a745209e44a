// One headless Chromium for the page tests: Debian's package (CI installs it), with no background
// traffic, so a page test opens no connection beyond the 127.0.0.1 server it loads.
import { existsSync } from 'node:fs';
import type { Browser } from 'playwright-core';

/** Where Debian's chromium package puts the browser. */
export const CHROMIUM = '/usr/bin/chromium';

/** Whether the browser is installed (page tests skip with a hint otherwise). */
export const hasChromium = (): boolean => existsSync(CHROMIUM);

/** Launch headless Chromium without background networking, component updates or sync. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
