import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { autoBatchSize, validationLine } from '../../src/cli/train.js';
import { retrievalChance } from '../../src/eval/metrics.js';
import { plantedStore } from '../train/synth.js';
import { runSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';

test('default batch: 4096 on big stores, the largest power of two that fits on small ones, with the reason', () => {
  assert.deepEqual(autoBatchSize(5000), { batch: 4096 });
  const small = autoBatchSize(635);
  assert.equal(small.batch, 512);
  assert.match(small.why!, /default 4096 is more than the store's 635 rows; 512 is the largest power of two/);
  assert.equal(autoBatchSize(2).batch, 2);
  assert.equal(autoBatchSize(7).batch, 4);
  assert.throws(() => autoBatchSize(1), /at least 2/);
});

test('validation line is short and readable', () => {
  const m = { imageToText: { 'R@1': 12.5, 'R@5': 50, 'R@10': 75, meanRank: 3, medianRank: 2 }, textToImage: { 'R@1': 25, 'R@5': 62.5, 'R@10': 100, meanRank: 2, medianRank: 1 }, nImages: 8, nTexts: 8, chance: retrievalChance(8, [0, 1, 2, 3, 4, 5, 6, 7]) };
  assert.equal(validationLine(m), 'image->text R@1 12.5 R@5 50.0 R@10 75.0 | text->image R@1 25.0 R@5 62.5 R@10 100.0 %, 8 images (chance R@1 12.5 / 12.5)');
});

test('sail train with default flags on a 40-row store: batch clamped and explained, validation lines readable, JSON kept in val.jsonl', { timeout: 120_000 }, async () => {
  const dir = tempDir();
  await plantedStore(join(dir, 'store'), { rows: 40, testRows: 1, imageDim: 6, textDim: 5, noise: 0.1, seed: 1 });
  await plantedStore(join(dir, 'val'), { rows: 10, testRows: 1, imageDim: 6, textDim: 5, noise: 0.1, seed: 2 });
  const r = runSail(['train', join(dir, 'store'), '--out', join(dir, 'run'), '--val-store', join(dir, 'val'), '--val-every', '5', '--threads', '1', '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /sail train: batch size 32: the default 4096 is more than the store's 40 rows/);
  const out = JSON.parse(r.stdout);
  assert.equal(out.steps, 10);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('validation at'));
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^validation at step 5 \(epoch 5\): image->text R@1 \d+\.\d R@5 \d+\.\d R@10 \d+\.\d \| text->image .* %, 10 images \(chance R@1 10\.0 \/ 10\.0\)$/);
  const val = readFileSync(join(dir, 'run', 'val.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(val.length, 2);
  assert.equal(val[1].retrieval.nImages, 10);
  const big = runSail(['train', join(dir, 'store'), '--out', join(dir, 'run2'), '--batch-size', '64']);
  assert.equal(big.status, 1);
  assert.match(big.stderr, /^sail: .*--batch-size 64 is more than the store's 40 rows: pass --batch-size 40 or less/m);
});
