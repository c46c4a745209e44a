import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import {
  DINOV2_PREPROCESS, centerCrop, decodeAndResize, parsePreprocessorConfig, preprocessBatch, preprocessImage, resizedSize,
} from '../../src/encoders/preprocess.js';
import { SailError } from '../../src/util/errors.js';

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

async function png(width: number, height: number, channels: 3 | 4, fill: (x: number, y: number, c: number) => number): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * channels);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < channels; c++) raw[(y * width + x) * channels + c] = fill(x, y, c);
  return sharp(raw, { raw: { width, height, channels } }).png().toBuffer();
}

test('shortest-edge size follows HF (long edge truncated)', () => {
  assert.deepEqual(resizedSize(DINOV2_PREPROCESS, 200, 300), { height: 256, width: 384 });
  assert.deepEqual(resizedSize(DINOV2_PREPROCESS, 333, 250), { height: 340, width: 256 }); // 256*333/250 = 340.99
  assert.deepEqual(resizedSize(DINOV2_PREPROCESS, 256, 256), { height: 256, width: 256 });
});

test('constant-colour image: every output value is (c/255 - mean)/std', async () => {
  const rgb = [10, 120, 250];
  const img = await png(300, 200, 3, (_x, _y, c) => rgb[c]);
  const out = await preprocessImage(img, DINOV2_PREPROCESS);
  assert.equal(out.height, 224);
  assert.equal(out.width, 224);
  assert.equal(out.data.length, 3 * 224 * 224);
  for (let c = 0; c < 3; c++) {
    const want = (rgb[c] / 255 - MEAN[c]) / STD[c];
    for (let i = 0; i < 224 * 224; i += 97) assert.ok(Math.abs(out.data[c * 224 * 224 + i] - want) < 1e-5, `channel ${c} pixel ${i}`);
  }
});

test('center crop without resize takes columns (W-224)//2 .. of a gradient, NCHW order', async () => {
  // 256 high (already the shortest edge: no resize), 300 wide: R = x, G = y, B = 255 - x
  const img = await png(300, 256, 3, (x, y, c) => (c === 0 ? x % 256 : c === 1 ? y : 255 - (x % 256)));
  const out = await preprocessImage(img, DINOV2_PREPROCESS);
  const left = Math.floor((300 - 224) / 2); // 38
  const top = Math.floor((256 - 224) / 2); // 16
  for (const [y, x] of [[0, 0], [5, 200], [223, 223], [100, 17]]) {
    const sx = x + left;
    const sy = y + top;
    const src = [sx % 256, sy, 255 - (sx % 256)];
    for (let c = 0; c < 3; c++) {
      const want = (src[c] / 255 - MEAN[c]) / STD[c];
      assert.ok(Math.abs(out.data[c * 224 * 224 + y * 224 + x] - want) < 1e-5, `pixel ${y},${x} channel ${c}`);
    }
  }
});

test('bicubic downscale of a linear ramp stays linear with half-pixel centres', async () => {
  // 512x512 -> shortest edge 256: output pixel x samples source coordinate 2x + 0.5, so R = (2x + 0.5) / 2
  const cfg = { ...DINOV2_PREPROCESS, crop: undefined, rescale: undefined, mean: undefined, std: undefined };
  const img = await png(512, 512, 3, (x) => Math.floor(x / 2));
  const out = await decodeAndResize(img, cfg);
  assert.equal(out.width, 256);
  assert.equal(out.height, 256);
  for (let x = 8; x < 248; x += 13) {
    const got = out.data[(100 * 256 + x) * 3];
    assert.ok(Math.abs(got - x) <= 1, `column ${x}: ${got}`);
  }
});

test('alpha is dropped as PIL convert("RGB") does (no compositing)', async () => {
  const img = await png(224, 224, 4, (_x, _y, c) => (c === 3 ? 0 : [200, 100, 50][c]));
  const cfg = parsePreprocessorConfig({ size: { shortest_edge: 224 }, crop_size: 224, do_normalize: false, do_rescale: false });
  const out = await preprocessImage(img, cfg);
  assert.deepEqual([out.data[0], out.data[224 * 224], out.data[2 * 224 * 224]], [200, 100, 50]);
});

test('preprocessor_config.json parsing: fields, defaults and errors', () => {
  const cfg = parsePreprocessorConfig({
    size: { shortest_edge: 256 }, resample: 3, do_center_crop: true, crop_size: { height: 224, width: 224 },
    do_rescale: true, rescale_factor: 1 / 255, image_mean: MEAN, image_std: STD,
  });
  assert.deepEqual(cfg.resize, { shortestEdge: 256 });
  assert.deepEqual(cfg.crop, { height: 224, width: 224 });
  assert.equal(cfg.kernel, 'cubic');
  assert.deepEqual(cfg.mean, MEAN);
  const exact = parsePreprocessorConfig({ size: { height: 32, width: 48 }, resample: 2, do_center_crop: false, crop_size: 10, do_normalize: false });
  assert.deepEqual(exact.resize, { height: 32, width: 48 });
  assert.equal(exact.crop, undefined);
  assert.equal(exact.kernel, 'linear');
  assert.equal(exact.mean, undefined);
  assert.throws(() => parsePreprocessorConfig({ image_mean: [1, 2], image_std: [1, 1, 1] }, 'x.json'), (e: unknown) => e instanceof SailError && /x\.json.*image_mean/.test(e.message));
  assert.throws(() => parsePreprocessorConfig({ image_mean: [0, 0, 0], image_std: [1, 0, 1] }), SailError);
});

test('centerCrop pads a too-small image with zeros, centred as HF does', () => {
  const rgb = new Uint8Array(2 * 2 * 3).fill(9);
  const out = centerCrop(rgb, 2, 2, 4, 4);
  // top = floor((2-4)/2) = -1: rows 1..2 and columns 1..2 hold the image
  const at = (y: number, x: number) => out[(y * 4 + x) * 3];
  assert.equal(at(0, 0), 0);
  assert.equal(at(1, 1), 9);
  assert.equal(at(2, 2), 9);
  assert.equal(at(3, 3), 0);
});

test('preprocessBatch reports corrupt images per item and keeps the others in order', async () => {
  const good = await png(224, 224, 3, () => 128);
  const truncated = good.subarray(0, good.length >> 1);
  const p = await preprocessBatch([good, Buffer.from('not an image'), good, truncated], DINOV2_PREPROCESS);
  assert.deepEqual(p.ok, [0, 2]);
  assert.deepEqual(p.failed.map((f) => f.index), [1, 3]);
  assert.deepEqual(p.dims, [2, 3, 224, 224]);
  assert.ok(p.failed.every((f) => f.reason.length > 0));
});

test('greyscale and 16-bit images become 8-bit RGB with equal channels', async () => {
  const cfg = parsePreprocessorConfig({ size: { shortest_edge: 8 }, crop_size: 8, do_normalize: false, do_rescale: false });
  const grey = await sharp(Buffer.alloc(8 * 8, 77), { raw: { width: 8, height: 8, channels: 1 } }).png().toBuffer();
  const g = await preprocessImage(grey, cfg);
  assert.deepEqual([g.data[0], g.data[64], g.data[128]], [77, 77, 77]);
  const deep = await sharp(Buffer.alloc(8 * 8 * 3, 200), { raw: { width: 8, height: 8, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
  const d = await preprocessImage(deep, cfg);
  assert.deepEqual([d.data[0], d.data[64], d.data[128]], [200, 200, 200]);
});

// Pillow's resampler (Resample.c) written out in float64: the reference HF's processors use.
function cubic(x: number): number { const a = -0.5; x = Math.abs(x); if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1; if (x < 2) return (((x - 5) * x + 8) * x - 4) * a; return 0; }
function coeffs(inSize: number, outSize: number) {
  const scale = inSize / outSize; const fs = Math.max(scale, 1); const support = 2 * fs; const out: { xmin: number; k: number[] }[] = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale; const xmin = Math.max(Math.trunc(center - support + 0.5), 0); const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const k: number[] = []; let ww = 0;
    for (let x = 0; x < xmax; x++) { const w = cubic((x + xmin - center + 0.5) / fs); k.push(w); ww += w; }
    out.push({ xmin, k: k.map((w) => w / ww) });
  }
  return out;
}
const clip8 = (v: number) => Math.min(255, Math.max(0, Math.round(v)));
function pilResize(src: Uint8Array, w: number, h: number, ow: number, oh: number): Uint8Array {
  const cx = coeffs(w, ow); const mid = new Uint8Array(ow * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < ow; x++) for (let c = 0; c < 3; c++) { let s = 0; cx[x].k.forEach((kk, i) => (s += kk * src[(y * w + cx[x].xmin + i) * 3 + c])); mid[(y * ow + x) * 3 + c] = clip8(s); }
  const cy = coeffs(h, oh); const out = new Uint8Array(ow * oh * 3);
  for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) for (let c = 0; c < 3; c++) { let s = 0; cy[y].k.forEach((kk, i) => (s += kk * mid[((cy[y].xmin + i) * ow + x) * 3 + c])); out[(y * ow + x) * 3 + c] = clip8(s); }
  return out;
}

test('resize matches PIL bicubic: exact for upscales, within 2 levels (mean < 0.3) for downscales', async () => {
  const cfg = { ...DINOV2_PREPROCESS, crop: undefined };
  for (const [w, h, maxDiff, meanDiff] of [[300, 200, 1, 0.01], [200, 230, 1, 0.01], [640, 480, 2, 0.3], [1000, 700, 2, 0.3]]) {
    const raw = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) raw[(y * w + x) * 3 + c] = clip8(127 + 100 * Math.sin(x / (7 + c) + y / 11) * Math.cos(y / (5 + c)) + ((x * 31 + y * 17) % 23));
    const img = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
    const got = await decodeAndResize(img, cfg);
    const want = pilResize(raw, w, h, got.width, got.height);
    let sum = 0;
    let max = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(want[i] - got.data[i]);
      sum += d;
      max = Math.max(max, d);
    }
    assert.ok(max <= maxDiff && sum / want.length <= meanDiff, `${w}x${h}: max ${max}, mean ${(sum / want.length).toFixed(3)}`);
  }
});
