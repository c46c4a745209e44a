import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadMobileNetV2Nsfwjs } from '../../src/encoders/npm/mobilenet.js';
import { ensureMobileNetOnnx, MOBILENET_DIM } from '../../src/encoders/npm/mobilenet-onnx.js';
import { decodeBatch } from '../../src/encoders/npm/image-preprocess.js';
import { SailError } from '../../src/util/errors.js';
import { tempDir } from '../helpers/paths.js';
import { tfjsMobileNetFeatures } from './tfjs-reference.js';
import { cosine, emojiPng, rowRelErr } from './util.js';

const cache = tempDir('sail-npm-backbones-');
const D = MOBILENET_DIM;

/** MobileNetV2 multiply-adds from the paper's layer table (width 1.4, 224 px), in float64. */
function mobilenetV2Flops(): number {
  // [expansion t, output channels (1.4x, rounded to a multiple of 8), repeats n, first stride s]
  const blocks: [number, number, number, number][] = [
    [1, 24, 1, 1], [6, 32, 2, 2], [6, 48, 3, 2], [6, 88, 4, 2], [6, 136, 3, 1], [6, 224, 3, 2], [6, 448, 1, 1],
  ];
  let res = 112;
  let c = 48;
  let macs = res * res * 48 * 3 * 3 * 3; // stem conv 3x3 stride 2
  for (const [t, cout, n, s] of blocks) {
    for (let r = 0; r < n; r++) {
      const stride = r === 0 ? s : 1;
      const hidden = c * t;
      if (t !== 1) macs += res * res * c * hidden; // 1x1 expand
      res = Math.ceil(res / stride);
      macs += res * res * hidden * 9; // 3x3 depthwise
      macs += res * res * hidden * cout; // 1x1 project
      c = cout;
    }
  }
  macs += res * res * c * 1792; // final 1x1 conv
  return 2 * macs;
}

test('MobileNetV2 ONNX conversion: FLOPs match the architecture table, cache is reused', async () => {
  const first = await ensureMobileNetOnnx({ cacheDir: cache });
  assert.equal(first.converted, true);
  assert.ok(existsSync(first.path));
  assert.equal(first.flopsPerImage, mobilenetV2Flops());
  assert.ok(Math.abs(first.flopsPerImage / 1.161e9 - 1) < 0.01); // ~0.58 GMAC per image
  const again = await ensureMobileNetOnnx({ cacheDir: cache });
  assert.equal(again.converted, false);
  assert.equal(again.path, first.path);
  // A truncated model file (size no longer matches the sidecar) is converted again.
  writeFileSync(first.path, readFileSync(first.path).subarray(0, 1000));
  const redone = await ensureMobileNetOnnx({ cacheDir: cache });
  assert.equal(redone.converted, true);
});

test('MobileNetV2 ONNX features match TF.js on real images within 1e-4 relative', async () => {
  const files = ['1f436', '1f34c', '1f697'].map((c) => emojiPng(c));
  const pixels = await decodeBatch(files, 224, 'crop');
  const enc = await loadMobileNetV2Nsfwjs({ cacheDir: cache, threads: 1 });
  try {
    const ours = await enc.encodeTensor(pixels, files.length);
    const ref = await tfjsMobileNetFeatures(pixels, files.length);
    assert.equal(ref.length, files.length * D);
    for (let r = 0; r < files.length; r++) {
      const err = rowRelErr(ours, ref, r, D);
      assert.ok(err < 1e-4, `image ${r}: relative error ${err}`);
      assert.ok(cosine(ours, r, ref, r, D) > 0.999999);
    }
    // Features are post-ReLU6 averages: non-negative, at most 6, and not all zero.
    assert.ok(ours.every((v) => v >= 0 && v <= 6));
    assert.ok(cosine(ours, 0, ours, 1, D) < 0.99);
  } finally {
    await enc.dispose();
  }
});

test('mobilenetv2-nsfwjs encoder: shape, determinism, batch independence, semantics', async () => {
  const codes = ['1f436', '1f431', '1f34c', '1f697', '1f4ca'];
  const google = codes.map((c) => emojiPng(c, 'google'));
  const twitter = codes.map((c) => emojiPng(c, 'twitter'));
  const enc = await loadMobileNetV2Nsfwjs({ cacheDir: cache, batchSize: 2, threads: 2 });
  try {
    assert.equal(enc.id, 'mobilenetv2-nsfwjs');
    assert.equal(enc.dim, 1792);
    const a = await enc.encode(google);
    assert.equal(a.length, codes.length * D);
    const b = await enc.encode(google);
    assert.deepEqual(a, b);
    // Batches of 2 with a remainder vs one image alone (file path vs buffer input).
    const single = await enc.encode([readFileSync(google[4])]);
    assert.ok(rowRelErr(a.subarray(4 * D), single, 0, D) < 1e-5);
    assert.equal((await enc.encode([])).length, 0);
    // Same concept drawn by another artist: each twitter emoji is nearest to its google twin.
    const t = await enc.encode(twitter);
    for (let i = 0; i < codes.length; i++) {
      let best = -1;
      let bestSim = -2;
      for (let j = 0; j < codes.length; j++) {
        const s = cosine(t, i, a, j, D);
        if (s > bestSim) [best, bestSim] = [j, s];
      }
      assert.equal(best, i, `twitter ${codes[i]} nearest google ${codes[best]}`);
    }
  } finally {
    await enc.dispose();
  }
});

test('mobilenetv2-nsfwjs worker pool gives the in-process features, in input order, and reports bad files', async () => {
  const codes = ['1f436', '1f431', '1f34c', '1f697', '1f4ca'];
  const files = codes.map((c) => emojiPng(c, 'google'));
  const inProcess = await loadMobileNetV2Nsfwjs({ cacheDir: cache, batchSize: 2, threads: 1 });
  const pooled = await loadMobileNetV2Nsfwjs({ cacheDir: cache, batchSize: 2, workers: 2 });
  try {
    const a = await inProcess.encode(files);
    const b = await pooled.encode(files);
    for (let i = 0; i < codes.length; i++) assert.ok(rowRelErr(a.subarray(i * D), b.subarray(i * D), 0, D) < 1e-5, `row ${i}`);
    await assert.rejects(pooled.encode([files[0], Buffer.from('not an image')]), (err: Error) => err.name === 'SailError' && /image #1/.test(err.message));
    // the pool still works after a failed call
    assert.equal((await pooled.encode(files.slice(0, 1))).length, D);
  } finally {
    await inProcess.dispose();
    await pooled.dispose();
  }
});

test('mobilenetv2-nsfwjs encodePatches: a 7x7 grid whose mean is the pooled feature', async () => {
  const enc = await loadMobileNetV2Nsfwjs({ cacheDir: cache, threads: 1, batchSize: 2 });
  try {
    const files = ['1f436', '1f34c', '1f697'].map((c) => emojiPng(c));
    const pooled = await enc.encode(files);
    const p = await enc.encodePatches!(files);
    assert.deepEqual([p.patches, p.grid, p.dim], [49, [7, 7], D]);
    assert.equal(p.data.length, files.length * 49 * D);
    for (let i = 0; i < files.length; i++) {
      for (let c = 0; c < D; c += 7) {
        let mean = 0;
        for (let q = 0; q < 49; q++) mean += p.data[(i * 49 + q) * D + c];
        mean /= 49;
        assert.ok(Math.abs(mean - pooled[i * D + c]) < 1e-5 * (1 + Math.abs(mean)), `image ${i} channel ${c}`);
      }
    }
    // Not a constant map: the patches differ from one another.
    assert.ok(cosine(p.data, 0, p.data, 24, D) < 0.999);
  } finally {
    await enc.dispose();
  }
});

test('mobilenetv2-nsfwjs encoder: a broken image is a SailError naming the file', async () => {
  const dir = tempDir('sail-npm-bad-');
  const bad = join(dir, 'not-an-image.png');
  writeFileSync(bad, 'this is text, not a PNG');
  const enc = await loadMobileNetV2Nsfwjs({ cacheDir: cache, threads: 1 });
  try {
    await assert.rejects(enc.encode([emojiPng('1f436'), bad]), (err: unknown) => err instanceof SailError && err.message.includes(bad));
    await assert.rejects(enc.encode([Buffer.from('junk')]), (err: unknown) => err instanceof SailError && err.message.includes('image #0'));
  } finally {
    await enc.dispose();
  }
});
