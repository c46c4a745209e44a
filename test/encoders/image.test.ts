import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadImageEncoder } from '../../src/encoders/registry.js';
import { poolImageTokens, patchTokens } from '../../src/encoders/pooling.js';
import { SailError } from '../../src/util/errors.js';
import { tempDir } from '../helpers/paths.js';
import { GRID, IMG, P, visionTokens, writeVisionModel } from './fixtures.js';

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];
// 224 shortest edge + 224 crop: a 224x224 image passes unresized, so the test knows every input value
const NO_RESIZE = {
  size: { shortest_edge: 224 }, resample: 3, do_center_crop: true, crop_size: { height: 224, width: 224 },
  do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, image_mean: MEAN, image_std: STD,
};

/** A 224x224 PNG with distinct pseudo-random pixels and its float64 NCHW model input. */
async function randomImage(seed: number): Promise<{ png: Buffer; px: Float64Array }> {
  const raw = Buffer.alloc(IMG * IMG * 3);
  let s = seed;
  for (let i = 0; i < raw.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    raw[i] = s >>> 24;
  }
  const px = new Float64Array(3 * IMG * IMG);
  for (let i = 0; i < IMG * IMG; i++) for (let c = 0; c < 3; c++) px[c * IMG * IMG + i] = (raw[i * 3 + c] / 255 - MEAN[c]) / STD[c];
  return { png: await sharp(raw, { raw: { width: IMG, height: IMG, channels: 3 } }).png().toBuffer(), px };
}

function close(got: ArrayLike<number>, want: number[], tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i])), `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

const mean = (rows: number[][]) => rows[0].map((_, j) => rows.reduce((a, r) => a + r[j], 0) / rows.length);

test('DINOv2-shaped model: concat / cls / patch recipes against a float64 forward pass', async () => {
  const dir = tempDir();
  const vw = writeVisionModel(dir, 6, { preprocessor: NO_RESIZE });
  const imgs = [await randomImage(1), await randomImage(2), await randomImage(3)];
  const tokens = imgs.map((im) => visionTokens(im.px, vw));
  const enc = await loadImageEncoder(dir, { batchSize: 2 }); // 2 runs: checks the batch split too
  assert.equal(enc.dim, 12);
  const concat = await enc.encode(imgs.map((i) => i.png));
  const want = tokens.flatMap((t) => [...t[0], ...mean(t.slice(1))]);
  close(concat, want, 1e-4, 'concat');
  await enc.dispose();

  const cls = await loadImageEncoder(`${dir}:cls`);
  assert.equal(cls.dim, 6);
  close(await cls.encode(imgs.map((i) => i.png)), tokens.flatMap((t) => t[0]), 1e-4, 'cls');
  await cls.dispose();
  const patch = await loadImageEncoder(dir, { recipe: 'patch' });
  close(await patch.encode(imgs.map((i) => i.png)), tokens.flatMap((t) => mean(t.slice(1))), 1e-4, 'patch');

  // per-patch features [CLS ; patch_i]
  const pp = await patch.encodePatches!(imgs.slice(0, 2).map((i) => i.png));
  assert.equal(pp.patches, P);
  assert.deepEqual(pp.grid, [GRID, GRID]);
  assert.equal(pp.dim, 12);
  const k = 37;
  close(pp.data.subarray((1 * P + k) * 12, (1 * P + k + 1) * 12), [...tokens[1][0], ...tokens[1][1 + k]], 1e-4, 'patch 37 of image 1');
  await patch.dispose();
});

test('register tokens are skipped by the patch mean', async () => {
  const dir = tempDir();
  const vw = writeVisionModel(dir, 4, { registers: 2, preprocessor: NO_RESIZE });
  const im = await randomImage(9);
  const t = visionTokens(im.px, vw);
  const enc = await loadImageEncoder(dir);
  close(await enc.encode([im.png]), [...t[0], ...mean(t.slice(1))], 1e-4, 'concat with registers');
  await enc.dispose();
});

test('pooling helpers on a hand-made tensor', () => {
  // B=1, T=3, D=2: CLS (1,2), patches (3,4), (5,8)
  const h = Float32Array.from([1, 2, 3, 4, 5, 8]);
  assert.deepEqual([...poolImageTokens(h, 1, 3, 2, 'concat')], [1, 2, 4, 6]);
  assert.deepEqual([...poolImageTokens(h, 1, 3, 2, 'cls')], [1, 2]);
  assert.deepEqual([...poolImageTokens(h, 1, 3, 2, 'patch')], [4, 6]);
  assert.deepEqual([...patchTokens(h, 1, 3, 2)], [1, 2, 3, 4, 1, 2, 5, 8]);
});

test('encode() names an unreadable image file', async () => {
  const dir = tempDir();
  writeVisionModel(dir, 3, { preprocessor: NO_RESIZE });
  const enc = await loadImageEncoder(dir);
  const missing = join(dir, 'nope.png');
  await assert.rejects(enc.encode([missing]), (e: unknown) => e instanceof SailError && e.message.includes('nope.png'));
  await assert.rejects(loadImageEncoder(dir, { recipe: 'max' as never }), SailError);
  await enc.dispose();
});
