// Zero-shot classification of a pre-encoded labelled store (`sail eval --task zeroshot --store S --labels L`):
// image rows go through the head's vision side, class prompts through the text backbone only; top-1/top-5
// checked against a float64 computation written out here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { paramSpecs, type HeadConfig } from '../../src/head/config.js';
import { saveHead } from '../../src/train/checkpoint.js';
import { createStoreWriter } from '../../src/store/writer.js';
import { runEval } from '../../src/eval/run.js';
import { Rng } from '../../src/util/rng.js';
import { runSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';

const D = 7;
const CLASSES = ['ant', 'bee', 'cat', 'dog', 'eel', 'fox', 'gnu'];

/** LayerNorm (no affine, eps 1e-5) then L2 normalisation, float64: what an identity linear head outputs. */
function lnUnit(x: ArrayLike<number>): Float64Array {
  const n = x.length;
  const mean = Array.from(x).reduce((a, b) => a + b, 0) / n;
  const v = Array.from(x).reduce((a, b) => a + (b - mean) ** 2, 0) / n;
  const y = Float64Array.from(x, (t) => (t - mean) / Math.sqrt(v + 1e-5));
  const norm = Math.hypot(...y);
  return y.map((t) => t / norm);
}

test('zeroshot on a pre-encoded store: top-1/top-5 match a float64 reference; no image backbone is used', async () => {
  const dir = tempDir();
  const rng = new Rng(3);
  // class prompt vectors (the text "backbone") and image rows = a noisy copy of their class vector
  const classVec = CLASSES.map(() => Float32Array.from({ length: D }, () => rng.normal()));
  const rows = 60;
  const labels = Array.from({ length: rows }, (_, i) => i % CLASSES.length);
  const img = new Float32Array(rows * D);
  for (let r = 0; r < rows; r++) for (let k = 0; k < D; k++) img[r * D + k] = classVec[labels[r]][k] + 1.6 * rng.normal();
  const w = await createStoreWriter(join(dir, 'store'), { modalities: [{ name: 'image', dim: D, dtype: 'float32' }] });
  await w.writePart(0, { image: img });
  await w.finalize();
  writeFileSync(join(dir, 'labels.txt'), labels.map((l) => CLASSES[l]).join('\n') + '\n');
  const cfg: HeadConfig = { type: 'linear', widthFactor: 1, visionDim: D, textDim: D, targetDim: D, logitScaleInit: 20, logitBiasInit: -10 };
  const params = paramSpecs(cfg).map(({ name, shape, kind }) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (kind === 'ln_weight') data.fill(1);
    if (kind === 'weight') for (let i = 0; i < D; i++) data[i * D + i] = 1;
    return { name, shape, data };
  });
  await saveHead(join(dir, 'head.safetensors'), params, cfg);
  const prompts = new Map(CLASSES.map((c, i) => [`a ${c}.`, classVec[i]]));
  // the text side of an identity head: LN then unit norm per prompt (what createModel.encodeText returns)
  const embedTexts = async (texts: string[]): Promise<Float32Array> => {
    const out = new Float32Array(texts.length * D);
    texts.forEach((t, i) => out.set(Float32Array.from(lnUnit(prompts.get(t)!)), i * D));
    return out;
  };
  const res = await runEval({
    tasks: ['zeroshot'], store: join(dir, 'store'), labels: join(dir, 'labels.txt'), head: join(dir, 'head.safetensors'), templates: ['a {}.'], threads: 1,
    textEmbedder: async () => ({ embedTexts, dim: D }),
    embedders: async () => {
      throw new Error('the image backbone must not be loaded');
    },
  });
  // reference: cosine of LN-unit image rows with LN-unit class vectors, pessimistic rank of the true class
  let top1 = 0;
  let top5 = 0;
  const W = classVec.map(lnUnit);
  for (let r = 0; r < rows; r++) {
    const v = lnUnit(img.subarray(r * D, (r + 1) * D));
    const s = W.map((c) => c.reduce((a, t, k) => a + t * v[k], 0));
    const rank = 1 + s.filter((x, c) => c !== labels[r] && x >= s[labels[r]]).length;
    if (rank <= 1) top1++;
    if (rank <= 5) top5++;
  }
  const z = res.zeroshot!;
  assert.equal(z.classes, CLASSES.length);
  assert.ok(top1 > 0 && top1 < rows, `reference top-1 ${top1}/${rows} should be informative`);
  assert.ok(Math.abs(z.top1 - (100 * top1) / rows) < 1e-9, `top-1 ${z.top1} vs ${(100 * top1) / rows}`);
  assert.ok(Math.abs(z.top5 - (100 * top5) / rows) < 1e-9, `top-5 ${z.top5} vs ${(100 * top5) / rows}`);
});

test('sail eval --task zeroshot --store without --labels: one clear line', () => {
  const r = runSail(['eval', '--task', 'zeroshot', '--store', '/nonexistent-store', '--head', '/nonexistent.safetensors']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^sail: zeroshot on a store needs --labels/m);
});
