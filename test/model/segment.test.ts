import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { createModel } from '../../src/model/model.js';
import { bilinearUpsample, labelPng, overlayPng, segmentImage, segmentPatches } from '../../src/model/segment.js';
import { accumulateConfusion, evaluateSegmentation, meanIoU, readMask } from '../../src/model/seg-eval.js';
import { tempDir } from '../helpers/paths.js';
import { identityHead } from '../serve/fixtures.js';
import { PlantedImageEncoder, PlantedTextEncoder } from './helpers.js';

test('bilinear upsampling matches F.interpolate(align_corners=False) on a 2x2 map', () => {
  const up = bilinearUpsample(Float32Array.from([0, 1, 2, 3]), 2, 2, 4, 4);
  // Closed form: source coordinate (o + 0.5) / 2 - 0.5, clamped at the edges.
  const want = [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3];
  assert.deepEqual(Array.from(up), want);
});

test('segmentPatches: per-query cosine, synonyms map to their class', () => {
  // 1x2 grid, d = 2: left patch points along x, right along y. Queries: x (class 0), -x (class 1), y (class 1).
  const map = segmentPatches(Float32Array.from([1, 0, 0, 1]), [1, 2], Float32Array.from([1, 0, -1, 0, 0, 1]), 2, { width: 4, height: 1 }, [0, 1, 1]);
  assert.deepEqual(Array.from(map.labels), [0, 0, 1, 1]);
});

/** Planted model: a 2x4 patch grid whose left half carries the "sky" vector and right half "grass". */
async function plantedModel(file: string) {
  const sky = Float32Array.from([1, 0, 0]);
  const grass = Float32Array.from([0, 1, 0]);
  const patchData = new Float32Array(8 * 3);
  for (let r = 0; r < 2; r++) for (let c = 0; c < 4; c++) patchData.set(c < 2 ? sky : grass, (r * 4 + c) * 3);
  const image = new PlantedImageEncoder(3, new Map(), new Map([[file, { data: patchData, grid: [2, 4] as [number, number] }]]));
  const words: Record<string, Float32Array> = { sky, grass, water: Float32Array.from([0, 0, 1]) };
  const text = new PlantedTextEncoder(3, (t) => words[t]);
  return createModel({ head: identityHead(), visionModel: image, textModel: text });
}

test('segmentImage: halves with planted features give the right label map; overlay and label PNGs', async () => {
  const dir = tempDir();
  const file = join(dir, 'scene.png');
  await sharp({ create: { width: 16, height: 8, channels: 3, background: { r: 10, g: 20, b: 30 } } }).png().toFile(file);
  const model = await plantedModel(file);
  const map = await segmentImage(model, file, ['water', 'grass', 'sky'], { templates: ['{}'] });
  assert.equal(map.width, 16);
  assert.equal(map.height, 8);
  for (let y = 0; y < 8; y++) for (let x = 0; x < 16; x++) assert.equal(map.labels[y * 16 + x], x < 8 ? 2 : 1, `pixel ${x},${y}`);
  const overlay = await overlayPng(file, map, { alpha: 1, colors: [[0, 0, 0], [0, 255, 0], [0, 0, 255]] });
  const { data, info } = await sharp(overlay).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.width, 16);
  assert.deepEqual([...data.subarray(0, 3)], [0, 0, 255]);
  assert.deepEqual([...data.subarray(15 * 3, 16 * 3)], [0, 255, 0]);
  const lp = join(dir, 'labels.png');
  writeFileSync(lp, await labelPng(map));
  assert.deepEqual(Array.from((await readMask(lp)).data), Array.from(map.labels));
  await model.dispose();
});

test('mIoU: confusion matrix and per-class IoU on hand-made masks', () => {
  // gt:   0 0 1 1 2 255      pred: 0 1 1 1 0 2
  const conf = accumulateConfusion(new Float64Array(9), [0, 1, 1, 1, 0, 2], [0, 0, 1, 1, 2, 255], 3);
  const { miou, iou } = meanIoU(conf, 3);
  // class 0: TP 1, FP 1 (pixel 4), FN 1 (pixel 1) -> 1/3; class 1: TP 2, FP 1 -> 2/3; class 2: TP 0, FN 1 -> 0.
  assert.deepEqual(iou.map((v) => Number(v!.toFixed(10))), [Number((1 / 3).toFixed(10)), Number((2 / 3).toFixed(10)), 0]);
  assert.ok(Math.abs(miou - 1 / 3) < 1e-12);
  assert.equal(meanIoU(accumulateConfusion(new Float64Array(9), [0, 0], [0, 0], 3), 3).iou[1], null);
  assert.throws(() => accumulateConfusion(new Float64Array(4), [0], [7], 2), /mask value 7/);
});

test('evaluateSegmentation on images/ + masks/ + classes.txt', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'images'));
  mkdirSync(join(dir, 'masks'));
  const file = join(dir, 'images', 'scene.png');
  await sharp({ create: { width: 16, height: 8, channels: 3, background: { r: 0, g: 0, b: 0 } } }).png().toFile(file);
  writeFileSync(join(dir, 'classes.txt'), 'sky,heaven\ngrass\nwater\n');
  // Mask: columns 0..5 sky, 6..7 water (the prediction says sky there), 8..14 grass, column 15 ignored.
  // 'heaven' is a synonym with a deterministic random vector: it must not beat 'sky' on the planted patches.
  const mask = new Uint8Array(16 * 8);
  for (let y = 0; y < 8; y++) for (let x = 0; x < 16; x++) mask[y * 16 + x] = x === 15 ? 255 : x < 6 ? 0 : x < 8 ? 2 : 1;
  await sharp(Buffer.from(mask), { raw: { width: 16, height: 8, channels: 1 } }).png().toFile(join(dir, 'masks', 'scene.png'));
  const model = await plantedModel(file);
  const r = await evaluateSegmentation(model, dir, { templates: ['{}'] });
  // Prediction: x < 8 sky, else grass. sky: TP 6x8, FP 2x8 -> 0.75; grass: TP 7x8, no FP (x=15 ignored) -> 1; water: 0.
  assert.deepEqual(r.classes, ['sky', 'grass', 'water']);
  assert.ok(Math.abs(r.iou[0]! - 0.75) < 1e-12 && r.iou[1] === 1 && r.iou[2] === 0);
  assert.ok(Math.abs(r.miou - 1.75 / 3) < 1e-12);
  await model.dispose();
});

test('sail segment CLI: a missing checkpoint is a one-line error naming it', async () => {
  const { runSail } = await import('../helpers/cli.js');
  const dir = tempDir();
  const r = runSail(['segment', join(dir, 'x.png'), '--classes', 'a,b', '--model', join(dir, 'nohead.safetensors'), '--vision-model', 'x', '--text-model', 'y']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^sail: .*nohead\.safetensors: checkpoint not found\n$/);
});
