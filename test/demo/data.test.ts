// The demo's own pieces: the emoji split, white-background rendering, chance levels, table and SVG plot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { EMOJI_TEMPLATES, className, loadEmojiDataset, renderOnWhite } from '../../src/demo/emoji.js';
import { chanceMetrics, formatMarkdownTable, formatTable } from '../../src/demo/report.js';
import { lineChartSvg, niceStep } from '../../src/demo/plot.js';
import { DEMO_DEFAULTS, resolveSettings } from '../../src/demo/options.js';

test('emoji split: deterministic, disjoint concepts, real captions and both image styles', () => {
  const a = loadEmojiDataset();
  const b = loadEmojiDataset();
  assert.deepEqual(a.test.map((e) => e.id), b.test.map((e) => e.id));
  const total = a.train.length + a.test.length;
  assert.ok(total > 1800, `expected ~1900 base emoji, got ${total}`);
  assert.equal(a.test.length, Math.round(0.2 * total));
  const trainIds = new Set(a.train.map((e) => e.id));
  assert.equal(a.test.filter((e) => trainIds.has(e.id)).length, 0, 'a concept is in both train and test');
  assert.equal(a.categories.length, 10);
  assert.ok(a.subcategories.length >= 90 && a.subcategories.length <= 110, `${a.subcategories.length} sub-categories`);
  const grin = [...a.train, ...a.test].find((e) => e.id === '1F600');
  assert.ok(grin, 'grinning face present');
  assert.equal(grin.caption, 'an emoji of grinning face');
  assert.match(grin.extraCaption, /smile/);
  assert.equal(grin.category, 'Smileys & Emotion');
  assert.match(grin.googleImage, /emoji-datasource-google.*1f600\.png$/);
  assert.match(grin.twitterImage, /emoji-datasource-twitter.*1f600\.png$/);
  // a different seed gives a different split; a limit keeps a subset of the same permutation
  const c = loadEmojiDataset({ seed: 7 });
  assert.notDeepEqual(c.test.map((e) => e.id), a.test.map((e) => e.id));
  const small = loadEmojiDataset({ limit: 100 });
  assert.equal(small.train.length + small.test.length, 100);
  assert.equal(small.test.length, 20);
  assert.throws(() => loadEmojiDataset({ limit: 3 }), /limit/);
});

test('class names become prompt text', () => {
  assert.equal(className('Smileys & Emotion'), 'smileys & emotion');
  assert.equal(className('face-smiling'), 'face smiling');
  assert.ok(EMOJI_TEMPLATES.every((t) => t.includes('{}')));
});

test('renderOnWhite composites transparent pixels onto white and keeps opaque ones', async () => {
  const { test: items } = loadEmojiDataset({ limit: 50 });
  const src = items[0].twitterImage;
  const { data: rgba, info } = await sharp(src).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const png = await renderOnWhite(src);
  const { data: rgb, info: out } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.equal(out.channels, 3);
  assert.equal(out.width, info.width);
  let transparent = 0;
  let opaque = 0;
  for (let p = 0; p < info.width * info.height; p++) {
    const alpha = rgba[p * 4 + 3];
    if (alpha === 0) {
      transparent++;
      for (let c = 0; c < 3; c++) assert.equal(rgb[p * 3 + c], 255, `pixel ${p} should be white`);
    } else if (alpha === 255) {
      opaque++;
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(rgb[p * 3 + c] - rgba[p * 4 + c]) <= 1, `pixel ${p} changed`);
    }
  }
  assert.ok(transparent > 0 && opaque > 0, 'test image should have both transparent and opaque pixels');
});

test('chance levels are K/n and k/C', () => {
  const m = chanceMetrics(200, 10, 99);
  assert.equal(m.t2i.r1, 1 / 200);
  assert.equal(m.i2t.r10, 10 / 200);
  assert.equal(m.category.top5, 0.5);
  assert.equal(m.subcategory.top1, 1 / 99);
  assert.equal(chanceMetrics(4, 3, 3).t2i.r5, 1); // K larger than the candidate set
});

test('results table lists every method and metric in percent', () => {
  const rows = [{ method: 'chance', note: '', metrics: chanceMetrics(100, 10, 50) }];
  const t = formatTable(rows);
  assert.match(t, /T2I@1.*sub@5/);
  assert.match(t, /chance\s+1\.0\s+5\.0\s+10\.0\s+1\.0\s+5\.0\s+10\.0\s+10\.0\s+50\.0\s+2\.0\s+10\.0/);
  assert.match(formatMarkdownTable(rows), /^\| method \|.*\n\|---\|/);
});

test('SVG plot: nice ticks, one path per series, finite coordinates inside the frame', () => {
  assert.equal(niceStep(10), 2);
  assert.equal(niceStep(0.7), 0.1);
  assert.equal(niceStep(37), 5);
  const svg = lineChartSvg([
    { name: 'a', points: [{ x: 0, y: 1 }, { x: 10, y: 0.5 }, { x: 20, y: NaN }, { x: 30, y: 0.2 }] },
    { name: 'b & c', points: [{ x: 0, y: 0.9 }, { x: 30, y: 0.3 }] },
  ], { title: 'loss <test>' });
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.match(svg, /<\/svg>\n$/);
  assert.match(svg, /loss &lt;test&gt;/);
  assert.match(svg, /b &amp; c/);
  const paths = [...svg.matchAll(/<path d="([^"]+)"/g)].map((m) => m[1]);
  assert.equal(paths.length, 2);
  assert.equal(paths[0].split(/[ML]/).filter(Boolean).length, 3, 'the NaN point is skipped');
  for (const p of paths) {
    for (const [x, y] of p.split(/[ML ]/).filter(Boolean).map((s) => s.split(',').map(Number))) {
      assert.ok(x >= 64 && x <= 624 && y >= 36 && y <= 352, `point ${x},${y} outside the plot area`);
    }
  }
});

test('training drawings: Noto, OpenMoji and Fluent of the training concepts only, rasterised to opaque 64x64', async () => {
  const { renderDrawing, trainingDrawings } = await import('../../src/demo/emoji.js');
  const d = loadEmojiDataset();
  const all = trainingDrawings(d.train, ['noto', 'openmoji', 'fluent']);
  const trainIds = new Set(d.train.map((e) => e.id));
  assert.ok(all.every((x) => trainIds.has(x.item.id)), 'only training concepts are drawn');
  assert.ok(all.every((x) => !/twitter/.test(x.drawing.key)), 'no Twemoji image in training');
  const count = (s: string) => all.filter((x) => x.drawing.style === s).length;
  assert.equal(count('noto'), d.train.length);
  assert.equal(count('openmoji'), d.train.length);
  assert.ok(count('fluent') > 0.8 * d.train.length, `fluent covers ${count('fluent')} of ${d.train.length}`);
  assert.equal(trainingDrawings(d.train, ['noto']).length, d.train.length);
  const grin = [...d.train, ...d.test].find((e) => e.id === '1F600')!;
  assert.deepEqual(grin.drawings.map((x) => x.style), ['noto', 'openmoji', 'fluent']);
  for (const dr of grin.drawings) {
    const { data, info } = await sharp(await renderDrawing(dr)).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [64, 64, 3], dr.style);
    // white corners (transparent background composited onto white); the face covers the centre
    assert.deepEqual([...data.subarray(0, 3)], [255, 255, 255], `${dr.style} corner`);
    let drawn = 0;
    let red = 0;
    let blue = 0;
    for (let p = 0; p < 64 * 64; p++) {
      if (data[p * 3] + data[p * 3 + 1] + data[p * 3 + 2] < 3 * 250) {
        drawn++;
        red += data[p * 3];
        blue += data[p * 3 + 2];
      }
    }
    assert.ok(drawn > 0.3 * 64 * 64, `${dr.style}: only ${drawn} drawn pixels`);
    assert.ok(red > 1.5 * blue, `${dr.style}: a yellow/orange face should be far more red than blue`);
  }
});

test('validation mode: carved from the training concepts, disjoint from them; test concepts unused', () => {
  const d = loadEmojiDataset();
  const v = loadEmojiDataset({ validation: 300 });
  assert.equal(v.test.length, 300);
  assert.equal(v.train.length, d.train.length - 300);
  const trainIds = new Set(d.train.map((e) => e.id));
  assert.ok(v.test.every((e) => trainIds.has(e.id)), 'validation concepts come from the training concepts');
  assert.ok(v.train.every((e) => trainIds.has(e.id)), 'no test concept is trained on in tuning mode');
  const valIds = new Set(v.test.map((e) => e.id));
  assert.equal(v.train.filter((e) => valIds.has(e.id)).length, 0);
  assert.throws(() => loadEmojiDataset({ validation: 0 }), /validation/);
});

test('demo settings: the star head and the linear probe have their own batch sizes', () => {
  const d = resolveSettings({}, 'out');
  assert.equal(d.star.batchSize, DEMO_DEFAULTS.batchSize);
  assert.equal(d.linear.batchSize, DEMO_DEFAULTS.linearBatchSize);
  const s = resolveSettings({ batchSize: 64, linearBatchSize: 32 }, 'out');
  assert.deepEqual([s.star.batchSize, s.linear.batchSize], [64, 32]);
  assert.equal(resolveSettings({ batchSize: 64 }, 'out').linear.batchSize, DEMO_DEFAULTS.linearBatchSize, '--batch-size is the star head\'s only');
});
