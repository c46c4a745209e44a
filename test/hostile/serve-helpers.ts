// Helpers of the hostile `sail serve` tests: a real CLI server process on 127.0.0.1, raw requests (no
// client-side path normalisation, like curl --path-as-is) with any Host header, and an export + image
// folder next to an "outside" folder whose content must never be served.
import { mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { startSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';
import { colourFolder, exportTiny } from '../serve/fixtures.js';

/** Marker text in every outside file: a response containing it leaked. */
export const SECRET = 'TOP-SECRET-7f3a91';

export interface Site {
  root: string;
  exportDir: string;
  imagesDir: string;
  outside: string;
}

/** Export (with browser text model), colour images, and an outside folder holding secret files. */
export async function makeSite(): Promise<Site> {
  const root = tempDir('sail-hostile-');
  const site = { root, exportDir: join(root, 'export'), imagesDir: join(root, 'images'), outside: join(root, 'outside') };
  await exportTiny(site.exportDir);
  await colourFolder(site.imagesDir);
  mkdirSync(site.outside);
  writeFileSync(join(site.outside, 'secret.txt'), SECRET);
  // Same names as indexed images, so a swapped path finds a file there.
  writeFileSync(join(site.outside, 'red.png'), SECRET);
  writeFileSync(join(site.outside, 'green.png'), SECRET);
  return site;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Send `path` exactly as given to 127.0.0.1:`port`, with `headers` (Host defaults to 127.0.0.1:port). */
export function raw(port: number, path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host: `127.0.0.1:${port}`, ...opts.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('latin1') }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  port: number;
  count: number;
  stop(): Promise<void>;
}

/** Start `sail serve --port 0 --json` with `args` and wait for its {url, count} line. */
export async function startServe(site: Site, args: string[] = []): Promise<ServeProcess> {
  const child = startSail(['serve', '--model', site.exportDir, '--images', site.imagesDir, '--port', '0', '--json', ...args]);
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.on('exit', (code) => reject(new Error(`sail serve exited ${code}: ${stderr}`)));
  });
  const info = JSON.parse(line) as { url: string; count: number };
  return {
    child,
    url: info.url,
    port: Number(new URL(info.url).port),
    count: info.count,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Image id by file name, from the search API (k = all images). */
export async function imageIds(port: number, count: number, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const r = await raw(port, '/api/search', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ vector: [1, 0, 0], k: count }) });
  const hits = (JSON.parse(r.body) as { hits: { id: number; name: string }[] }).hits;
  return new Map(hits.map((h) => [h.name, h.id]));
}
