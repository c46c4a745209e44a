import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { download } from '../../src/data/download.js';
import { readStatus, shardPaths, type StatusEntry } from '../../src/data/shards.js';
import { readWds, type WdsSample } from '../../src/data/wds.js';
import { tempDir } from '../helpers/paths.js';
import { craftHugePng, csvOf, handlers, makeJpeg, makePng, startServer, type FixtureServer } from './fixtures.js';

let server: FixtureServer;
const good: Record<string, { w: number; h: number }> = {};

/** Bytes the endless route handed to its sockets (it only stops when the client hangs up). */
const endlessSent = { bytes: 0 };

before(async () => {
  const routes: Record<string, import('./fixtures.js').Route> = {};
  for (let i = 0; i < 6; i++) { routes[`/img/${i}.jpg`] = await makeJpeg(400 + i * 10, 300, i); good[`/img/${i}.jpg`] = { w: 400 + i * 10, h: 300 }; }
  routes['/img/alpha.png'] = handlers.body(await makePng(150, 600, 3), 'image/png'); good['/img/alpha.png'] = { w: 150, h: 600 };
  routes['/img/small.jpg'] = await makeJpeg(60, 40, 9); good['/img/small.jpg'] = { w: 60, h: 40 };
  routes['/redirect'] = handlers.redirect('/img/0.jpg');
  routes['/flaky'] = handlers.flaky(1, await makeJpeg(300, 300, 4)); good['/flaky'] = { w: 300, h: 300 };
  routes['/gone'] = handlers.status(404);
  routes['/broken'] = handlers.status(500);
  routes['/hang.jpg'] = handlers.hang();
  routes['/drip.jpg'] = handlers.drip(50);
  routes['/loop'] = handlers.redirect('/loop');
  routes['/endless.jpg'] = handlers.endless(endlessSent);
  routes['/declared.jpg'] = handlers.bigDeclared(50_000_000);
  routes['/page.jpg'] = handlers.body('<!doctype html><html><body>not an image</body></html>', 'image/jpeg');
  const jpg = await makeJpeg(500, 500, 5);
  routes['/trunc.jpg'] = handlers.body(jpg.subarray(0, Math.floor(jpg.length / 2)));
  routes['/bomb.png'] = handlers.body(craftHugePng(), 'image/png');
  routes['/big-real.png'] = handlers.body(await sharp({ create: { width: 3000, height: 3000, channels: 3, background: '#123456' } }).png().toBuffer(), 'image/png');
  server = await startServer(routes);
});
after(async () => { await server.close(); });

// Generous enough for a loaded 2-core CI box; the hang/drip rows still fail by timeout whatever the load.
const fast = { timeoutMs: 2000, bodyTimeoutMs: 3000, retries: 1, backoffMs: 10, maxRedirects: 3, maxBytes: 1_000_000 };

test('download: good images land, bad ones are recorded with the right reason, memory stays bounded', async () => {
  const dir = tempDir();
  const expectFail: Array<[string, string]> = [
    ['/gone', 'http_error'], ['/broken', 'http_error'], ['/hang.jpg', 'timeout'], ['/drip.jpg', 'timeout'],
    ['/loop', 'too_many_redirects'], ['/endless.jpg', 'too_large'], ['/declared.jpg', 'too_large'],
    ['/page.jpg', 'not_image'], ['/trunc.jpg', 'decode_error'], ['/bomb.png', 'too_many_pixels'], ['/big-real.png', 'too_many_pixels'],
  ];
  const goodPaths = [...Object.keys(good), '/redirect'];
  // Interleave good and bad rows; add a row without URL and one with an unsupported scheme.
  const rows: Array<[string, string, string?]> = [];
  const expected = new Map<number, string>(); // row -> 'ok' or reason
  const push = (url: string, outcome: string) => { expected.set(rows.length, outcome); rows.push([url, `caption ${rows.length}`, `alt, "quoted" ${rows.length}`]); };
  for (let i = 0; i < Math.max(goodPaths.length, expectFail.length); i++) {
    if (i < goodPaths.length) push(server.url(goodPaths[i]), 'ok');
    if (i < expectFail.length) push(server.url(expectFail[i][0]), expectFail[i][1]);
  }
  push('', 'invalid_row');
  push('ftp://127.0.0.1/x.jpg', 'unsupported_url');
  const list = join(dir, 'list.csv');
  writeFileSync(list, csvOf(rows));

  const { summary, progress } = await download({
    input: list, urlCol: 'url', captionCols: ['caption', 'alt'], output: join(dir, 'out'),
    shardSize: 8, concurrency: 8, fetch: fast, network: { allowLoopback: true }, image: { size: 128, quality: 85, maxPixels: 5_000_000 },
  });
  // Bounded by counters, not by the clock or RSS: the endless body was cut off near maxBytes (1 MB; the
  // rest is socket buffering, and a reader that did not count would have pulled data until its timeout
  // on every retry), and the 2.7 GB bomb was refused from its header (its reason, too_many_pixels, below).
  assert.ok(endlessSent.bytes > 0 && endlessSent.bytes < 64 * 1024 * 1024, `the endless route sent ${(endlessSent.bytes / 1048576).toFixed(1)} MiB`);

  const nShards = Math.ceil(rows.length / 8);
  assert.equal(summary.completedShards, nShards);
  assert.equal(summary.rows, rows.length);
  assert.equal(progress.rows, rows.length);
  const wantOk = [...expected.values()].filter((v) => v === 'ok').length;
  assert.equal(summary.ok, wantOk);
  assert.equal(summary.failed, rows.length - wantOk);

  const statuses: StatusEntry[] = [];
  for (let k = 0; k < nShards; k++) statuses.push(...(await readStatus(shardPaths(join(dir, 'out'), k).status)));
  assert.deepEqual(statuses.map((s) => s.row), [...expected.keys()]);
  for (const s of statuses) {
    const want = expected.get(s.row)!;
    if (want === 'ok') assert.equal(s.status, 'ok', `row ${s.row} ${s.url}: ${s.error} ${s.message}`);
    else assert.equal(s.error, want, `row ${s.row} ${s.url}: got ${s.error} (${s.message})`);
    assert.equal(s.key, String(s.row).padStart(9, '0'));
  }
  assert.equal(statuses.find((s) => s.url?.endsWith('/gone'))!.message, 'HTTP 404');
  // 4xx is never retried; 5xx is retried once; the flaky URL succeeded on its second attempt.
  assert.equal(server.hits.get('/gone'), 1);
  assert.equal(server.hits.get('/broken'), 2);
  assert.equal(server.hits.get('/flaky'), 2);

  const samples: WdsSample[] = [];
  for await (const s of readWds(join(dir, 'out'))) samples.push(s);
  assert.equal(samples.length, wantOk);
  for (const s of samples) {
    const row = Number(s.json!.row);
    assert.equal(s.key, String(row).padStart(9, '0'));
    assert.equal(s.text, `caption ${row}`);
    assert.deepEqual(s.json!.captions, { caption: `caption ${row}`, alt: `alt, "quoted" ${row}` });
    const meta = await sharp(s.image).metadata();
    assert.equal(meta.format, 'jpeg');
    const path = new URL(String(s.json!.url)).pathname;
    const src = good[path === '/redirect' ? '/img/0.jpg' : path];
    assert.equal(s.json!.original_width, src.w);
    assert.equal(s.json!.original_height, src.h);
    // Shortest edge 128 without upscaling; aspect ratio kept to within rounding.
    const short = Math.min(src.w, src.h);
    const scale = short > 128 ? 128 / short : 1;
    assert.equal(meta.width, Math.round(src.w * scale), `${path} width`);
    assert.equal(meta.height, Math.round(src.h * scale), `${path} height`);
    assert.equal(meta.hasAlpha, false);
  }
  const sum = JSON.parse(readFileSync(join(dir, 'out', 'summary.json'), 'utf8'));
  assert.equal(sum.failedByReason.timeout, 2);
  assert.equal(sum.failedByReason.too_large, 2);
  assert.equal(sum.failedByReason.too_many_pixels, 2);
});

test('download: --shard i/n splits work disjointly and a rerun skips complete shards', async () => {
  const dir = tempDir();
  const rows: Array<[string, string]> = [];
  for (let i = 0; i < 10; i++) rows.push([server.url(`/img/${i % 6}.jpg`), `c${i}`]);
  const list = join(dir, 'list.csv');
  writeFileSync(list, csvOf(rows));
  const out = join(dir, 'out');
  const opts = { input: list, urlCol: 'url', captionCols: ['caption'], output: out, shardSize: 3, concurrency: 4, fetch: fast, network: { allowLoopback: true }, image: { size: 64 } };
  const a = await download({ ...opts, split: { index: 0, count: 2 } });
  assert.deepEqual(readdirSync(out).filter((n) => n.endsWith('.tar')).sort(), ['00000.tar', '00002.tar']);
  assert.equal(a.progress.rows, 3 + 3);
  const b = await download({ ...opts, split: { index: 1, count: 2 } });
  assert.equal(b.progress.rows, 3 + 1);
  assert.equal(b.summary.rows, 10);
  assert.equal(b.summary.ok, 10);
  const c = await download(opts);
  assert.equal(c.progress.rows, 0);
  assert.equal(c.progress.shardsSkipped, 4);
  const keys: string[] = [];
  for await (const s of readWds(out)) keys.push(s.key);
  assert.deepEqual(keys, rows.map((_, i) => String(i).padStart(9, '0')));
  // A different shard size would move rows between shards: refused.
  await assert.rejects(download({ ...opts, shardSize: 4 }), /shard size 3/);
  assert.ok(existsSync(join(out, 'dataset.json')));
  // A list without the URL column fails before the output folder is created (nothing gets pinned).
  const fresh = join(dir, 'never');
  await assert.rejects(download({ ...opts, urlCol: 'link', output: fresh }), /column "link" not found/);
  assert.equal(existsSync(fresh), false);
});
