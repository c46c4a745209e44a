// Issue 10 items 1-3 and 16 (server part), against a real `sail serve` process on 127.0.0.1: raw
// traversal paths, forged Host headers, a symlink swapped in after indexing, the access token.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { renameSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { imageIds, makeSite, raw, SECRET, startServe, type RawResponse, type ServeProcess, type Site } from './serve-helpers.js';
import { CHROMIUM, hasChromium, launchChromium } from '../helpers/chromium.js';

// One real server for the first three tests (the symlink swap, which changes the folder, runs last),
// and one started with --token for the last two.
let site: Site;
let srv: ServeProcess;
let tokenSrv: ServeProcess;
before(async () => {
  site = await makeSite();
  srv = await startServe(site);
  tokenSrv = await startServe(await makeSite(), ['--token', '--allowed-hosts', 'photos.test,192.0.2.7']);
});
after(async () => {
  await srv.stop();
  await tokenSrv.stop();
});

const noLeak = (r: RawResponse, what: string) => assert.ok(!r.body.includes(SECRET) && !r.body.includes('root:x:0:0'), `${what} leaked: ${r.body.slice(0, 200)}`);

test('serve: raw traversal paths get 404/400 and leak nothing; malformed percent-encoding is 400, not 500', async () => {
  const traversal = [
    '/model/..%2F..%2Foutside%2Fsecret.txt',
    '/model/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd',
    '/model/../../outside/secret.txt',
    '/model/%2e%2e/%2e%2e/outside/secret.txt',
    '/model//etc/passwd',
    '/model/vocab.src.json', // in the folder but not named by the manifest
    '/images/../../outside/secret.txt',
    '/images/%2e%2e%2foutside%2fsecret.txt',
    '/images/', // Number('') would be row 0
    '/images/1e0',
    '/images/0x1',
    '/images/-1',
    '/images/99999999999999999999',
    '/ort/..%2f..%2fpackage.json',
    '/ort/../../../../etc/passwd',
    '/../../../../etc/passwd',
    '/%2e%2e/%2e%2e/etc/passwd',
  ];
  for (const p of traversal) {
    const r = await raw(srv.port, p);
    assert.equal(r.status, 404, p);
    noLeak(r, p);
  }
  for (const p of ['/model/%E0%A4%A', '/%zz', '/images/%', '/model/%C0%AF..%C0%AFetc%C0%AFpasswd']) {
    const r = await raw(srv.port, p);
    assert.equal(r.status, 400, p);
    assert.match(r.body, /malformed/);
    noLeak(r, p);
  }
  // A path that is not absolute (absolute-form or garbage request target).
  assert.equal((await raw(srv.port, 'http://attacker.example/model/sail_model.json')).status, 400);
  // What is meant to be served still is.
  assert.equal((await raw(srv.port, '/model/sail_model.json')).status, 200);
  assert.equal((await raw(srv.port, '/model/vocab.json')).status, 200);
  assert.equal((await raw(srv.port, '/images/0')).status, 200);
});

test('serve: DNS rebinding: a forged Host gets 403 with no file names; loopback names on the port pass; CSP on every response', async () => {
  const p = srv.port;
  for (const host of ['attacker.example', `attacker.example:${p}`, `localhost.attacker.example:${p}`, `127.0.0.1.nip.io:${p}`, `127.0.0.1:${p + 1}`, `localhost:${p}@attacker.example`, `0.0.0.0:${p}`, `[::ffff:127.0.0.1]:${p}`]) {
    for (const path of ['/', '/api/info', '/images/0', '/model/sail_model.json', '/app.js']) {
      const r = await raw(p, path, { headers: { host } });
      assert.equal(r.status, 403, `${host} ${path}`);
      assert.ok(!/\.png|sail-export|count/.test(r.body), `${host} ${path}: ${r.body}`);
    }
    const s = await raw(p, '/api/search', { method: 'POST', headers: { host, 'content-type': 'application/json' }, body: JSON.stringify({ vector: [1, 0, 0], k: 8 }) });
    assert.equal(s.status, 403);
    assert.ok(!s.body.includes('.png'));
  }
  for (const host of [`127.0.0.1:${p}`, `localhost:${p}`, `LOCALHOST:${p}`, `[::1]:${p}`]) {
    const r = await raw(p, '/api/info', { headers: { host } });
    assert.equal(r.status, 200, host);
    assert.equal(JSON.parse(r.body).count, 8);
  }
  const page = await raw(p, '/');
  const csp = String(page.headers['content-security-policy']);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'(;|$)/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.ok(!csp.includes("'unsafe-eval'") && !csp.includes('*'), csp);
  assert.doesNotMatch(csp.split(';').find((d) => d.trim().startsWith('script-src'))!, /unsafe-inline/);
  for (const path of ['/', '/app.js', '/api/info', '/images/0', '/model/sail_model.json', '/nope', '/%zz']) {
    const r = await raw(p, path);
    assert.equal(r.headers['x-content-type-options'], 'nosniff', path);
    assert.equal(r.headers['content-security-policy'], csp, path);
  }
});

test('serve: an indexed image (or its folder) swapped for a symlink after start is refused, not served from outside', async () => {
  const ids = await imageIds(srv.port, srv.count);
  const red = ids.get('red.png')!;
  const green = ids.get('more/green.png')!;
  const blue = ids.get('blue.png')!;
  assert.equal((await raw(srv.port, `/images/${red}`)).status, 200);
  assert.equal((await raw(srv.port, `/images/${green}`)).status, 200);
  // File swap: images/red.png -> outside/red.png.
  rmSync(join(site.imagesDir, 'red.png'));
  symlinkSync(join(site.outside, 'red.png'), join(site.imagesDir, 'red.png'));
  // Folder swap: images/more -> outside (which holds a green.png too).
  renameSync(join(site.imagesDir, 'more'), join(site.root, 'more-moved'));
  symlinkSync(site.outside, join(site.imagesDir, 'more'));
  for (const id of [red, green]) {
    const r = await raw(srv.port, `/images/${id}`);
    assert.equal(r.status, 404, `image ${id}`);
    noLeak(r, `image ${id}`);
  }
  assert.equal((await raw(srv.port, `/images/${blue}`)).status, 200, 'untouched images are still served');
});

test('serve --token --allowed-hosts: every request needs the token (query once, then cookie or header); extra Host names pass', async () => {
  const p = tokenSrv.port;
  const token = new URL(tokenSrv.url).searchParams.get('token')!;
  assert.match(token, /^[A-Za-z0-9_-]{32}$/);
  for (const path of ['/', '/api/info', '/images/0', '/model/sail_model.json', '/app.js', `/?token=${token}x`, '/?token=']) {
    const r = await raw(p, path);
    assert.equal(r.status, 403, path);
    assert.ok(!/\.png|sail-export|"count"/.test(r.body), path);
  }
  assert.equal((await raw(p, '/api/info', { headers: { authorization: `Bearer ${token.slice(0, -1)}A` } })).status, 403);
  const page = await raw(p, `/?token=${token}`);
  assert.equal(page.status, 200);
  const cookie = String(page.headers['set-cookie']);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Strict/);
  const jar = cookie.split(';')[0];
  assert.equal((await raw(p, '/images/0', { headers: { cookie: jar } })).status, 200);
  assert.equal((await raw(p, '/api/info', { headers: { authorization: `Bearer ${token}` } })).status, 200);
  // --allowed-hosts names pass the Host check (with the token); others still do not.
  assert.equal((await raw(p, '/api/info', { headers: { host: `photos.test:${p}`, cookie: jar } })).status, 200);
  assert.equal((await raw(p, '/api/info', { headers: { host: `192.0.2.7:${p}`, cookie: jar } })).status, 200);
  assert.equal((await raw(p, '/api/info', { headers: { host: `other.test:${p}`, cookie: jar } })).status, 403);
  // The page keeps the token for its API calls.
  const app = await raw(p, '/app.js', { headers: { cookie: jar } });
  assert.match(app.body, /authorization: 'Bearer ' \+ token/);
});

test('serve --token in headless Chromium: the page keeps the token for its API calls and runs under the CSP', async (t) => {
    if (!hasChromium()) {
    t.skip(`${CHROMIUM} not found: install with apt-get install -y chromium (CI does)`);
    return;
  }
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const violations: string[] = [];
    page.on('console', (m) => /Content Security Policy|Refused to/i.test(m.text()) && violations.push(m.text()));
    await page.goto(tokenSrv.url);
    await page.waitForFunction(() => document.body.dataset.ready || document.body.dataset.error, undefined, { timeout: 30_000 });
    assert.equal(await page.evaluate(() => document.body.dataset.error ?? ''), '');
    assert.equal(await page.evaluate(() => document.body.dataset.ready), 'browser');
    assert.equal(new URL(page.url()).search, '', 'the token is taken out of the address bar');
    await page.fill('#q', 'magenta');
    await page.click('#go');
    await page.waitForFunction(() => Number(document.body.dataset.searched ?? 0) >= 1 || document.body.dataset.error, undefined, { timeout: 20_000 });
    assert.match((await page.getAttribute('#results li:first-child', 'data-name')) ?? '', /magenta\.png$/);
    assert.ok(await page.evaluate(() => (document.querySelector('#results img') as HTMLImageElement).decode().then(() => true, () => false)), 'thumbnail loads with the cookie');
    assert.deepEqual(violations, []);
    // A second page without the token (another site's tab, a stale bookmark) gets nothing.
    const other = await browser.newContext();
    const bare = await other.newPage();
    const res = await bare.goto(tokenSrv.url.replace(/\?token=.*$/, ''));
    assert.equal(res?.status(), 403);
    await other.close();
  } finally {
    await browser.close();
  }
});
