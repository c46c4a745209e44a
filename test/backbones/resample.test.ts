import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { resampleRgbaToUnitFloat } from '../../src/encoders/npm/resample.js';
import { decodeBatch } from '../../src/encoders/npm/image-preprocess.js';
import { Rng } from '../../src/util/rng.js';
import { emojiPng } from './util.js';

/**
 * Float64 reference written directly from the definition: output pixel (i, j) is the normalised
 * 2-D triangle-weighted average of the white-composited source over every source pixel.
 */
function reference(rgba: Uint8Array, w: number, h: number, size: number, mode: 'crop' | 'squash'): Float64Array {
  const side = Math.min(w, h);
  const [ox, sx] = mode === 'crop' ? [(w - side) / 2, side / size] : [0, w / size];
  const [oy, sy] = mode === 'crop' ? [(h - side) / 2, side / size] : [0, h / size];
  const tri = (d: number, s: number) => Math.max(0, 1 - Math.abs(d) / Math.max(1, s));
  const out = new Float64Array(size * size * 3);
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      const cx = ox + (i + 0.5) * sx;
      const cy = oy + (j + 0.5) * sy;
      let wsum = 0;
      const acc = [0, 0, 0];
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const wt = tri(x + 0.5 - cx, sx) * tri(y + 0.5 - cy, sy);
          if (wt === 0) continue;
          const p = 4 * (y * w + x);
          const a = rgba[p + 3] / 255;
          for (let c = 0; c < 3; c++) acc[c] += wt * ((rgba[p + c] / 255) * a + (1 - a));
          wsum += wt;
        }
      }
      for (let c = 0; c < 3; c++) out[3 * (j * size + i) + c] = acc[c] / wsum;
    }
  }
  return out;
}

function randomRgba(rng: Rng, w: number, h: number): Uint8Array {
  return Uint8Array.from({ length: w * h * 4 }, () => Math.floor(rng.next() * 256));
}

test('resampling matches the float64 definition (up, down, crop, squash, odd sizes)', () => {
  const rng = new Rng(7);
  const cases: [number, number, number][] = [[7, 5, 4], [7, 5, 11], [9, 9, 3], [3, 8, 6], [20, 13, 5], [1, 1, 3], [64, 64, 32]];
  for (const [w, h, size] of cases) {
    for (const mode of ['crop', 'squash'] as const) {
      const src = randomRgba(rng, w, h);
      const dst = new Float32Array(size * size * 3 + 5).fill(-1);
      resampleRgbaToUnitFloat(src, w, h, size, mode, dst, 5);
      const ref = reference(src, w, h, size, mode);
      let err = 0;
      for (let k = 0; k < ref.length; k++) err = Math.max(err, Math.abs(dst[5 + k] - ref[k]));
      assert.ok(err < 1e-5, `${w}x${h} -> ${size} ${mode}: max error ${err}`);
      assert.deepEqual(Array.from(dst.subarray(0, 5)), [-1, -1, -1, -1, -1]); // nothing written before offset
    }
  }
});

test('resampling closed forms: identity, transparency on white, linear ramps', () => {
  const rng = new Rng(3);
  // Same size: an exact copy (alpha 255 everywhere).
  const src = randomRgba(rng, 6, 6);
  for (let p = 3; p < src.length; p += 4) src[p] = 255;
  const dst = new Float32Array(6 * 6 * 3);
  resampleRgbaToUnitFloat(src, 6, 6, 6, 'crop', dst, 0);
  for (let k = 0; k < 36; k++) for (let c = 0; c < 3; c++) assert.ok(Math.abs(dst[3 * k + c] - src[4 * k + c] / 255) < 1e-6);
  // Fully transparent: white. Half-transparent black: mid grey.
  const clear = new Uint8Array(4 * 4 * 4);
  const out = new Float32Array(8 * 8 * 3);
  resampleRgbaToUnitFloat(clear, 4, 4, 8, 'squash', out, 0);
  assert.ok(out.every((v) => Math.abs(v - 1) < 1e-6));
  const half = new Uint8Array(4 * 4 * 4).map((_, i) => (i % 4 === 3 ? 51 : 0)); // alpha 0.2
  resampleRgbaToUnitFloat(half, 4, 4, 8, 'squash', out, 0);
  assert.ok(out.every((v) => Math.abs(v - 0.8) < 1e-6));
  // Upsampling a horizontal ramp 2x reproduces the ramp at output centres away from the borders.
  const w = 16;
  const ramp = new Uint8Array(w * w * 4);
  for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) ramp.set([x * 10, 0, 0, 255], 4 * (y * w + x));
  const up = new Float32Array(32 * 32 * 3);
  resampleRgbaToUnitFloat(ramp, w, w, 32, 'crop', up, 0);
  for (let i = 2; i < 30; i++) {
    const expected = (((i + 0.5) / 2 - 0.5) * 10) / 255; // source coordinate of output centre i
    assert.ok(Math.abs(up[3 * (5 * 32 + i)] - expected) < 1e-5, `x=${i}`);
  }
});

test('decodeBatch on real emoji is close to sharp own flatten + resize', async () => {
  const files = ['1f436', '1f34c'].map((c) => emojiPng(c));
  const ours = await decodeBatch(files, 224, 'crop');
  for (let n = 0; n < files.length; n++) {
    const { data } = await sharp(files[n]).flatten({ background: '#ffffff' }).resize(224, 224, { fit: 'cover', kernel: 'linear' })
      .removeAlpha().raw().toBuffer({ resolveWithObject: true });
    let mad = 0;
    for (let k = 0; k < data.length; k++) mad += Math.abs(ours[n * data.length + k] - data[k] / 255);
    mad /= data.length;
    assert.ok(mad < 0.02, `mean abs difference ${mad}`);
  }
});

test('decodeBatch squares large non-square images: crop keeps the centre, squash keeps everything', async () => {
  // 1200x400: red | green | blue thirds. sharp pre-shrinks it; JS finishes the square.
  const w = 1200;
  const h = 400;
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw[3 * (y * w + x) + Math.floor((3 * x) / w)] = 255;
  const png = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
  const [crop, squash] = await Promise.all([decodeBatch([png], 224, 'crop'), decodeBatch([png], 224, 'squash')]);
  const px = (a: Float32Array, x: number, y: number) => Array.from(a.subarray(3 * (y * 224 + x), 3 * (y * 224 + x) + 3));
  for (const x of [2, 112, 221]) assert.deepEqual(px(crop, x, 100).map(Math.round), [0, 1, 0], `crop x=${x}`);
  assert.deepEqual(px(squash, 20, 100).map(Math.round), [1, 0, 0]);
  assert.deepEqual(px(squash, 112, 100).map(Math.round), [0, 1, 0]);
  assert.deepEqual(px(squash, 204, 100).map(Math.round), [0, 0, 1]);
});
