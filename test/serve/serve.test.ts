import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { join } from 'node:path';
import { startServer } from '../../src/serve/server.js';
import { runSail, startSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';
import { PlantedImageEncoder, PlantedTextEncoder } from '../model/helpers.js';
import { exportModel } from '../../src/model/export.js';
import { listImages } from '../../src/serve/image-index.js';
import { COLORS, colourFolder, exportTiny, identityHead, TINY_BACKBONE_IDS } from './fixtures.js';
import { CHROMIUM, hasChromium, launchChromium } from '../helpers/chromium.js';


/** GET with the raw path (no client-side normalisation of ../). */
function rawGet(url: string, path: string): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('serve: index over a folder, search API, server-side text fallback, traversal-safe file routes', async () => {
  const root = tempDir();
  await exportTiny(join(root, 'export'), false);
  await colourFolder(join(root, 'images'));
  const text = new PlantedTextEncoder(3, (t) => (COLORS[t] ? Float32Array.from(COLORS[t], (x) => x / 255) : undefined));
  const srv = await startServer({ modelDir: join(root, 'export'), imagesDir: join(root, 'images'), textEncoder: text, exactBelow: 4, nlist: 3 });
  try {
    assert.match(srv.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const ix = await srv.ready;
    assert.equal(ix.files.length, 8);
    assert.equal(ix.skipped.length, 1);
    assert.match(ix.skipped[0].file, /broken\.png$/);
    assert.equal(ix.index.exact, false);
    const info = await (await fetch(srv.url + 'api/info')).json();
    assert.equal(info.browserText, false);
    assert.equal(info.serverText, true);
    for (const word of ['magenta', 'orange', 'blue']) {
      const { vector } = await (await fetch(srv.url + 'api/embed-text?q=' + word)).json();
      const res = await (await fetch(srv.url + 'api/search', { method: 'POST', body: JSON.stringify({ vector, k: 3 }) })).json();
      assert.equal(res.method, 'ivf');
      assert.match(res.hits[0].name, new RegExp(`(^|/)${word}\\.png$`));
      assert.ok(res.hits[0].score > 0.999, `score ${res.hits[0].score}`);
      const img = await fetch(srv.url + 'images/' + res.hits[0].id);
      assert.equal(img.headers.get('content-type'), 'image/png');
    }
    const bad = await fetch(srv.url + 'api/search', { method: 'POST', body: JSON.stringify({ vector: [1, 2] }) });
    assert.equal(bad.status, 400);
    for (const p of ['/images/../../../../etc/passwd', '/images/%2e%2e%2fetc%2fpasswd', '/model/..%2f..%2fetc%2fpasswd', '/ort/..%2fpackage.json', '/ort/../package.json', '/images/-1', '/images/99', '/model/vocab.src.json'])
      assert.equal((await rawGet(srv.url, p)).status, 404, p);
    assert.equal((await rawGet(srv.url, '/model/sail_model.json')).status, 200);
  } finally {
    await srv.close();
  }
});

test('serve: headless Chromium finds the planted image, query embedded in the browser with onnxruntime-web', async (t) => {
  if (!hasChromium()) {
    t.skip(`${CHROMIUM} not found: install with apt-get install -y chromium (CI does)`);
    return;
  }
  const root = tempDir();
  await exportTiny(join(root, 'export'));
  await colourFolder(join(root, 'images'));
  const srv = await startServer({ modelDir: join(root, 'export'), imagesDir: join(root, 'images'), exactBelow: 4, nlist: 3 });
  const browser = await launchChromium();
  try {
    await srv.ready;
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(srv.url);
    await page.waitForFunction(() => document.body.dataset.ready || document.body.dataset.error, undefined, { timeout: 30_000 });
    assert.equal(await page.evaluate(() => document.body.dataset.error ?? ''), '', errors.join('; '));
    assert.equal(await page.evaluate(() => document.body.dataset.ready), 'browser');
    for (const [i, word] of ['a Yellow picture', 'cyan'].entries()) {
      await page.fill('#q', word);
      await page.click('#go');
      await page.waitForFunction((n) => Number(document.body.dataset.searched ?? 0) >= n || document.body.dataset.error, i + 1, { timeout: 20_000 });
      const first = await page.getAttribute('#results li:first-child', 'data-name');
      const expect = word.split(' ').find((w) => COLORS[w.toLowerCase()])!.toLowerCase();
      assert.match(first ?? '', new RegExp(`(^|/)${expect}\\.png$`), `query ${word}`);
      assert.ok(Number(await page.getAttribute('#results li:first-child', 'data-score')) > 0.999);
      assert.match((await page.textContent('#status')) ?? '', /in the browser \((wasm|webgpu)\)/);
    }
    // The result thumbnail actually loads from the server.
    assert.ok(await page.evaluate(() => (document.querySelector('#results img') as HTMLImageElement).decode().then(() => true, () => false)));
  } finally {
    await browser.close();
    await srv.close();
  }
});

test('sail serve CLI: --json prints the URL once indexed; missing folders are one-line errors', async () => {
  const root = tempDir();
  await exportTiny(join(root, 'export'));
  await colourFolder(join(root, 'images'));
  const child = startSail(['serve', '--model', join(root, 'export'), '--images', join(root, 'images'), '--port', '0', '--json']);
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (c) => {
        out += c;
        if (out.includes('\n')) resolve(out.split('\n')[0]);
      });
      child.on('exit', (code) => reject(new Error(`serve exited ${code}`)));
    });
    const info = JSON.parse(line);
    assert.equal(info.count, 8);
    assert.equal(info.skipped, 1);
    assert.match(info.url, /^http:\/\/127\.0\.0\.1:/);
    assert.equal((await (await fetch(info.url + 'api/info')).json()).ready, true);
  } finally {
    child.kill('SIGTERM');
  }
  const bad = runSail(['serve', '--model', join(root, 'nope'), '--images', join(root, 'images')]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /nope.*sail_model\.json|sail_model\.json/);
});

test('serve: head-only export + an image backbone given to the server (no fused image model)', async () => {
  const root = tempDir();
  await exportModel(identityHead(), { outDir: join(root, 'export'), ...TINY_BACKBONE_IDS });
  await colourFolder(join(root, 'images'));
  const files = (await listImages(join(root, 'images'))).filter((f) => !f.endsWith('broken.png'));
  const colourOf = (f: string) => f.slice(f.lastIndexOf('/') + 1, -4);
  const image = new PlantedImageEncoder(3, new Map(files.map((f) => [f, Float32Array.from(COLORS[colourOf(f)], (x) => x / 255)])));
  const text = new PlantedTextEncoder(3, (t) => (COLORS[t] ? Float32Array.from(COLORS[t], (x) => x / 255) : undefined));
  await assert.rejects(startServer({ modelDir: join(root, 'export'), imagesDir: join(root, 'images') }), /no image_model\.onnx/);
  const srv = await startServer({ modelDir: join(root, 'export'), imagesDir: join(root, 'images'), imageEncoder: image, textEncoder: text });
  try {
    const ix = await srv.ready;
    assert.equal(ix.index.exact, true);
    assert.equal(ix.files.length, 8);
    const { vector } = await (await fetch(srv.url + 'api/embed-text?q=purple')).json();
    const res = await (await fetch(srv.url + 'api/search', { method: 'POST', body: JSON.stringify({ vector, k: 2 }) })).json();
    assert.equal(res.method, 'exact');
    assert.match(res.hits[0].name, /purple\.png$/);
  } finally {
    await srv.close();
  }
});
