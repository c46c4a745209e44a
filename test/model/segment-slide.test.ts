// Sliding-window segmentation (the original's slide inference: 448 px windows, stride 224, overlapping
// window scores averaged) on a planted image three windows wide, with a backbone whose patch features are
// the mean colour of each quadrant of whatever crop it is given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import sharp from 'sharp';
import { createModel } from '../../src/model/model.js';
import { SLIDE_DEFAULTS, segmentImage, slidingWindows } from '../../src/model/segment.js';
import type { ImageEncoder, ImageInput } from '../../src/encoders/types.js';
import { tempDir } from '../helpers/paths.js';
import { identityHead } from '../serve/fixtures.js';
import { PlantedTextEncoder } from './helpers.js';

/** 2x2 patch grid per image; patch feature = mean RGB (0..1) of that quadrant. Records the crop sizes. */
class QuadrantColourEncoder implements ImageEncoder {
  readonly id = 'quadrant-colour';
  readonly dim = 3;
  readonly seen: { width: number; height: number }[] = [];
  async encode(): Promise<Float32Array> {
    throw new Error('not used');
  }
  async encodePatches(images: ImageInput[]): Promise<{ data: Float32Array; patches: number; grid: [number, number]; dim: number }> {
    const data = new Float32Array(images.length * 4 * 3);
    for (const [i, im] of images.entries()) {
      const { data: px, info } = await sharp(im).removeAlpha().raw().toBuffer({ resolveWithObject: true });
      this.seen.push({ width: info.width, height: info.height });
      const sums = new Float64Array(12);
      const counts = new Float64Array(4);
      for (let y = 0; y < info.height; y++) {
        for (let x = 0; x < info.width; x++) {
          const q = (y < info.height / 2 ? 0 : 2) + (x < info.width / 2 ? 0 : 1);
          counts[q]++;
          for (let c = 0; c < 3; c++) sums[q * 3 + c] += px[(y * info.width + x) * 3 + c] / 255;
        }
      }
      for (let q = 0; q < 4; q++) for (let c = 0; c < 3; c++) data[(i * 4 + q) * 3 + c] = sums[q * 3 + c] / counts[q];
    }
    return { data, patches: 4, grid: [2, 2], dim: 3 };
  }
  async dispose(): Promise<void> {}
}

test('slidingWindows: the mmseg grid (last window shifted back to the border)', () => {
  assert.deepEqual(slidingWindows(1344, 448, 448, 224).map((w) => [w.x, w.y, w.width, w.height]), [0, 224, 448, 672, 896].map((x) => [x, 0, 448, 448]));
  // 500 x 300: two columns (the second ends at the right border), one short row
  assert.deepEqual(slidingWindows(500, 300, 448, 224).map((w) => [w.x, w.y, w.width, w.height]), [[0, 0, 448, 300], [52, 0, 448, 300]]);
  assert.deepEqual(slidingWindows(100, 100, 448, 224), [{ x: 0, y: 0, width: 100, height: 100 }]);
  assert.deepEqual(SLIDE_DEFAULTS, { window: 448, stride: 224, shortSide: 448, maxLongSide: 2048 });
  assert.throws(() => slidingWindows(10, 10, 0, 224), /window and stride/);
});

test('segmentImage with sliding windows labels a 1344x448 red|green|blue image that one pass cannot', async () => {
  const dir = tempDir();
  const file = join(dir, 'stripes.png');
  const W = 1344;
  const H = 448;
  const px = Buffer.alloc(W * H * 3);
  const truth = new Uint16Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const s = Math.floor(x / 448); // 0 red, 1 green, 2 blue
      px[(y * W + x) * 3 + s] = 255;
      truth[y * W + x] = s;
    }
  }
  await sharp(px, { raw: { width: W, height: H, channels: 3 } }).png().toFile(file);
  const words: Record<string, Float32Array> = { red: Float32Array.of(1, 0, 0), green: Float32Array.of(0, 1, 0), blue: Float32Array.of(0, 0, 1) };
  const encoder = new QuadrantColourEncoder();
  const model = await createModel({ head: identityHead(), visionModel: encoder, textModel: new PlantedTextEncoder(3, (t) => words[t]) });
  try {
    const accuracy = (labels: Uint16Array, cls?: number): number => {
      let ok = 0;
      let n = 0;
      for (let i = 0; i < labels.length; i++) {
        if (cls !== undefined && truth[i] !== cls) continue;
        n++;
        if (labels[i] === truth[i]) ok++;
      }
      return ok / n;
    };
    const slid = await segmentImage(model, file, ['red', 'green', 'blue'], { templates: ['{}'], slide: SLIDE_DEFAULTS });
    assert.equal(slid.width, W);
    assert.equal(slid.height, H);
    // five 448 px windows (the image already has a 448 px short side, so no resize)
    assert.deepEqual(encoder.seen, Array.from({ length: 5 }, () => ({ width: 448, height: 448 })));
    assert.ok(accuracy(slid.labels) > 0.99, `sliding-window pixel accuracy ${accuracy(slid.labels)}`);
    for (let c = 0; c < 3; c++) assert.ok(accuracy(slid.labels, c) > 0.98, `class ${c}: ${accuracy(slid.labels, c)}`);
    // One pass: the 2x2 grid spans 672 px per column, so the green middle stripe is mixed into both sides.
    const once = await segmentImage(model, file, ['red', 'green', 'blue'], { templates: ['{}'] });
    assert.ok(accuracy(once.labels, 1) < 0.5, `one-pass green accuracy ${accuracy(once.labels, 1)} (expected to fail)`);
    // A smaller image is resized to a 448 px short side first, then slid: 224 x 112 -> 896 x 448, 3 windows.
    encoder.seen.length = 0;
    const small = join(dir, 'small.png');
    await sharp(file).resize(224, 112, { fit: 'fill' }).png().toFile(small);
    const sm = await segmentImage(model, small, ['red', 'green', 'blue'], { templates: ['{}'], slide: SLIDE_DEFAULTS });
    assert.equal(sm.width, 224);
    assert.deepEqual(encoder.seen, Array.from({ length: 3 }, () => ({ width: 448, height: 448 })));
  } finally {
    await model.dispose();
  }
});
