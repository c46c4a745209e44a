// A newcomer's own data, start to finish, with the README's commands and default flags: a tiny folder
// (multi-line sidecar captions, an SVG, an uncaptioned image, near-duplicate names) -> import -> split ->
// encode (real offline backbones) -> train -> eval -> export (registry backbone fused by name) -> serve,
// queried in headless Chromium. Every count of every summary is asserted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { readStatus } from '../../src/data/shards.js';
import { runSail, startSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';
import { CHROMIUM, hasChromium, launchChromium } from '../helpers/chromium.js';


/** name (folder/stem), colour, English caption (line 1; translations follow, as in Tux Paint stamps). */
const ITEMS: [string, [number, number, number], string][] = [
  ['fruit/apple', [220, 20, 30], 'a red apple'], ['fruit/apple_2', [200, 30, 40], 'a red apple on a table'],
  ['fruit/banana', [240, 220, 40], 'a yellow banana'], ['fruit/lime', [60, 200, 60], 'a green lime'],
  ['fruit/plum', [110, 30, 130], 'a purple plum'], ['fruit/orange', [250, 140, 20], 'an orange'],
  ['shapes/sky', [80, 140, 250], 'a blue sky'], ['shapes/night', [10, 10, 40], 'a dark night'],
  ['shapes/snow', [250, 250, 250], 'white snow'], ['shapes/grass', [40, 160, 40], 'green grass'],
  ['shapes/sea', [20, 60, 180], 'the deep blue sea'], ['shapes/sand', [230, 200, 140], 'beige sand'],
];

async function makeData(root: string): Promise<void> {
  mkdirSync(join(root, 'fruit'), { recursive: true });
  mkdirSync(join(root, 'shapes'), { recursive: true });
  for (const [i, [name, [r, g, b], caption]] of ITEMS.entries()) {
    // sizes from 40 to 260 px: the page must still show them in uniform boxes
    const size = 40 + i * 20;
    await sharp({ create: { width: size, height: size + (i % 3) * 10, channels: 3, background: { r, g, b } } }).png().toFile(join(root, `${name}.png`));
    writeFileSync(join(root, `${name}.txt`), `${caption}\nde.utf8=Übersetzung ${i}\nfr.utf8=traduction ${i}\n`);
  }
  writeFileSync(join(root, 'shapes', 'star.svg'), '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><polygon points="32,2 40,24 62,24 44,38 50,60 32,46 14,60 20,38 2,24 24,24" fill="gold"/></svg>');
  writeFileSync(join(root, 'shapes', 'star.txt'), 'a gold star\nde.utf8=ein goldener Stern\n');
  await sharp({ create: { width: 50, height: 50, channels: 3, background: { r: 128, g: 128, b: 128 } } }).png().toFile(join(root, 'shapes', 'grey.png'));
}

function sail(args: string[], cwd: string): string {
  const r = runSail(args, { cwd });
  assert.equal(r.status, 0, `sail ${args.join(' ')}\n${r.stderr}`);
  return r.stdout;
}

test('newcomer: import -> split -> encode -> train (defaults) -> eval -> export -> serve -> search in Chromium', { timeout: 600_000 }, async (t) => {
  const work = tempDir('sail-newcomer-');
  await makeData(join(work, 'photos'));

  // 1. import: first line of each caption file; the SVG is rasterised; the uncaptioned image is counted, not "ok".
  const imp = JSON.parse(sail(['data', 'import', '-i', 'photos', '-o', 'shards', '--caption-line', 'first', '--json'], work));
  assert.deepEqual([imp.summary.rows, imp.summary.ok, imp.summary.failed, imp.summary.completedShards], [14, 13, 1, 1]);
  assert.deepEqual(imp.summary.failedByReason, { no_caption: 1 });
  assert.deepEqual([imp.run.rows, imp.run.ok, imp.run.failed, imp.run.shardsWritten], [14, 13, 1, 1]);
  assert.deepEqual(imp.examples, [
    { file: 'fruit/apple.png', caption: 'a red apple' }, { file: 'fruit/apple_2.png', caption: 'a red apple on a table' }, { file: 'fruit/banana.png', caption: 'a yellow banana' },
  ]);
  const status = await readStatus(join(work, 'shards', '00000.status.jsonl'));
  assert.deepEqual(status.filter((s) => s.status !== 'ok').map((s) => [s.url, s.error]), [['shapes/grey.png', 'no_caption']]);
  assert.equal(status.find((s) => s.url === 'shapes/star.svg')?.status, 'ok');

  // 2. split: seeded, apple and apple_2 are one group.
  const split = JSON.parse(sail(['data', 'split', 'shards', '--out', 'split', '--json'], work));
  assert.deepEqual([split.train.rows, split.train.groups, split.test.rows, split.test.groups], [10, 9, 3, 3]);
  const side = (f: string) => readFileSync(join(work, 'split', 'train', '00000.status.jsonl'), 'utf8').includes(`"url":"${f}"`) ? 'train' : 'test';
  assert.equal(side('fruit/apple.png'), side('fruit/apple_2.png'));

  // 3. encode both sets with the offline backbones.
  for (const [set, store, rows] of [['split/train', 'store', 10], ['split/test', 'test-store', 3]] as const) {
    const enc = JSON.parse(sail(['encode', set, '--out', store, '--image-model', 'mobilenetv2-nsfwjs', '--text-model', 'use-lite', '--json', '--no-progress'], work));
    assert.equal(enc.rows ?? enc.store?.rows ?? enc.encodedRows, rows, JSON.stringify(enc));
  }

  // 4. train with default flags: the batch and head size adapt to 10 rows, and say so.
  const tr = runSail(['train', 'store', '--out', 'run', '--json'], { cwd: work });
  assert.equal(tr.status, 0, tr.stderr);
  assert.match(tr.stderr, /sail train: batch size 8: the default 4096 is more than the store's 10 rows/);
  assert.match(tr.stderr, /sail train: head width factor 2, dim 512: the store has 10 rows/);
  const trained = JSON.parse(tr.stdout);
  assert.deepEqual([trained.steps, trained.totalSteps, trained.epochs, trained.head.widthFactor, trained.head.targetDim], [10, 10, 10, 2, 512]);

  // 5. eval on the held-out store, with the chance row.
  const ev = JSON.parse(sail(['eval', '--head', 'run', '--store', 'test-store', '--task', 'retrieval', '--out', 'results', '--json'], work));
  const ret = ev.retrieval ?? ev.results?.retrieval;
  assert.deepEqual([ret.nImages, ret.nTexts], [3, 3]);
  assert.deepEqual([ret.chance.imageToText['R@1'], ret.chance.textToImage['R@1']], [100 / 3, 100 / 3]);
  assert.match(readFileSync(join(work, 'results', 'results.md'), 'utf8'), /\| chance, text -> image \| 33\.33 \| 100\.00 \| 100\.00 \| 2\.00 \| \|/);

  // 6. export: the registry backbone fused by name; the backbones recorded.
  const ex = JSON.parse(sail(['export', 'run', '--out', 'export', '--vision-backbone', 'mobilenetv2-nsfwjs', '--json'], work));
  assert.equal(ex.image.model.file, 'image_model.onnx');
  assert.deepEqual([ex.backbones.image.id, ex.backbones.text.id, ex.backbones.image.preprocess.layout], ['mobilenetv2-nsfwjs', 'use-lite', 'nhwc']);
  assert.equal(ex.text.model, undefined);

  // 7. serve with no flags beyond --model and --images: use-lite (recorded) embeds queries on the server.
  const child = startSail(['serve', '--model', 'export', '--images', 'photos', '--port', '0', '--json'], { cwd: work });
  try {
    const info = await new Promise<{ url: string; count: number; skipped: number; queries: string; serverTextModel: string }>((resolve, reject) => {
      let out = '';
      let err = '';
      child.stdout!.on('data', (c) => { out += c; if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0])); });
      child.stderr!.on('data', (c) => (err += c));
      child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
    });
    // 13 PNGs (serve indexes raster images; the SVG was only rasterised into the shards)
    assert.deepEqual([info.count, info.skipped, info.queries, info.serverTextModel], [13, 0, 'server', 'use-lite']);
    if (!hasChromium()) {
      t.diagnostic(`${CHROMIUM} not found: the page check was skipped (apt-get install -y chromium)`);
      return;
    }
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(info.url);
      await page.waitForFunction(() => document.body.dataset.ready || document.body.dataset.error, undefined, { timeout: 60_000 });
      assert.equal(await page.evaluate(() => document.body.dataset.error ?? ''), '');
      assert.equal(await page.evaluate(() => document.body.dataset.queries), 'server');
      assert.match((await page.textContent('#where')) ?? '', /Queries are embedded on the server \(use-lite\)/);
      await page.fill('#q', 'a red apple');
      await page.click('#go');
      await page.waitForFunction(() => Number(document.body.dataset.searched ?? 0) >= 1 || document.body.dataset.error, undefined, { timeout: 60_000 });
      assert.equal(await page.evaluate(() => document.body.dataset.error ?? ''), '');
      assert.match((await page.textContent('#status')) ?? '', /query embedded on the server/);
      const hits = await page.$$eval('#results li', (lis) => lis.map((li) => ({ name: (li as HTMLElement).dataset.name, caption: (li as HTMLElement).dataset.caption })));
      assert.equal(hits.length, 13);
      assert.match(hits[0].name ?? '', /^fruit\/apple(_2)?\.png$/);
      assert.match(hits[0].caption ?? '', /^a red apple/);
      assert.equal(hits.find((h) => h.name === 'shapes/grey.png')?.caption, undefined);
      // uniform thumbnails: every image box has the same size whatever the image's own size
      await page.$$eval('#results img', (imgs) => Promise.all(imgs.map((i) => (i as HTMLImageElement).decode())));
      const boxes = await page.$$eval('#results img', (imgs) => imgs.map((i) => { const r = i.getBoundingClientRect(); return `${Math.round(r.width)}x${Math.round(r.height)}`; }));
      assert.equal(new Set(boxes).size, 1, boxes.join(' '));
      const [w, h] = boxes[0].split('x').map(Number);
      assert.ok(w === h && w > 50, boxes[0]);
    } finally {
      await browser.close();
    }
  } finally {
    child.kill('SIGTERM');
  }
});
