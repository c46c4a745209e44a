import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HeadConfig } from '../../src/head/config.js';
import { initParams } from '../../src/head/init.js';
import { refHeadForward, type RefParams } from '../head/reference.js';
import { retrievalFromMatrix } from '../../src/eval/metrics.js';
import { createStoreWriter } from '../../src/store/writer.js';
import { saveHead } from '../../src/train/checkpoint.js';
import { Rng } from '../../src/util/rng.js';
import { runSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';

test('sail eval --task retrieval on a store with a head (2 caption modalities) equals a float64 reference', async () => {
  const dir = tempDir();
  const rng = new Rng(5);
  const n = 40;
  const cfg: HeadConfig = { type: 'linear', widthFactor: 1, visionDim: 6, textDim: 5, targetDim: 4, logitScaleInit: 20, logitBiasInit: -10 };
  const params = initParams(cfg, rng);
  await saveHead(join(dir, 'head.safetensors'), params, cfg);
  const rows = (d: number) => new Float32Array(n * d).map(() => rng.normal());
  const data = { image: rows(6), text: rows(5), extra_text: rows(5) };
  const w = await createStoreWriter(join(dir, 'store'), { modalities: [{ name: 'image', dim: 6, dtype: 'float32' }, { name: 'text', dim: 5, dtype: 'float32' }, { name: 'extra_text', dim: 5, dtype: 'float32' }] });
  await w.writePart(0, data);
  await w.finalize();
  const r = runSail(['eval', '--task', 'retrieval', '--store', join(dir, 'store'), '--text-modality', 'text,extra_text', '--head', join(dir, 'head.safetensors'), '--out', join(dir, 'out'), '--json', '--threads', '1']);
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(r.stdout);
  // reference: float64 head forward, cosine, captions of image i = text i and extra_text i
  const ref: RefParams = Object.fromEntries(params.map((p) => [p.name, Float64Array.from(p.data)]));
  const norm = (z: Float64Array) => {
    for (let i = 0; i < z.length / 4; i++) {
      const s = Math.hypot(...z.subarray(i * 4, i * 4 + 4));
      for (let j = 0; j < 4; j++) z[i * 4 + j] /= s;
    }
    return z;
  };
  const v = norm(refHeadForward(cfg, 'vision', ref, Float64Array.from(data.image), n).z);
  const t1 = norm(refHeadForward(cfg, 'text', ref, Float64Array.from(data.text), n).z);
  const t2 = norm(refHeadForward(cfg, 'text', ref, Float64Array.from(data.extra_text), n).z);
  const texts = (j: number) => (j % 2 === 0 ? t1 : t2).subarray((j >> 1) * 4, (j >> 1) * 4 + 4);
  const sim: number[] = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < 2 * n; j++) sim.push(v.subarray(i * 4, i * 4 + 4).reduce((s, x, k) => s + x * texts(j)[k], 0));
  const want = retrievalFromMatrix(sim, n, Int32Array.from({ length: 2 * n }, (_, j) => j >> 1));
  assert.deepEqual({ ...got.retrieval, source: undefined }, { ...JSON.parse(JSON.stringify(want)), source: undefined });
  assert.ok(existsSync(join(dir, 'out', 'results.json')));
  assert.match(readFileSync(join(dir, 'out', 'results.md'), 'utf8'), /\| image -> text \|/);
  rmSync(dir, { recursive: true, force: true });
});

test('sail probe ranks pairs and writes probe.json / probe.md / probe.svg', async () => {
  const dir = tempDir();
  const rng = new Rng(2);
  const n = 120;
  const z = new Float32Array(n * 4).map(() => rng.normal());
  const lift = (d: number, mix: number) => {
    const m = new Float32Array(4 * d).map(() => rng.normal());
    const x = new Float32Array(n * d);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) {
      let s = 0;
      for (let a = 0; a < 4; a++) s += z[i * 4 + a] * m[a * d + j];
      x[i * d + j] = mix * s + (1 - mix) * 3 * rng.normal();
    }
    return x;
  };
  // one store holding both modalities (aligned), one image-only store of noise paired with the first store's text
  const w = await createStoreWriter(join(dir, 'both'), { modalities: [{ name: 'image', dim: 6, dtype: 'float16' }, { name: 'text', dim: 5, dtype: 'float16' }] });
  await w.writePart(0, { image: lift(6, 0.9), text: lift(5, 0.9) });
  await w.finalize();
  const w2 = await createStoreWriter(join(dir, 'noise'), { modalities: [{ name: 'image', dim: 6, dtype: 'float16' }] });
  await w2.writePart(0, { image: lift(6, 0) });
  await w2.finalize();
  const out = join(dir, 'probe');
  const r = runSail(['probe', '--pair', `noise=${join(dir, 'noise')},${join(dir, 'both')}`, '--pair', `aligned=${join(dir, 'both')}`,
    '--out', out, '--held-out', '40', '--dim', '8', '--lr', '3e-3', '--batch-size', '40', '--epochs', '10', '--threads', '1', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.deepEqual(rep.ranking.map((x: { name: string }) => x.name), ['aligned', 'noise']);
  for (const f of ['probe.json', 'probe.md', 'probe.svg']) assert.ok(existsSync(join(out, f)), f);
  rmSync(dir, { recursive: true, force: true });
});

test('sail eval / probe give one-line errors for bad input', () => {
  const bad = runSail(['eval', '--task', 'nope']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^sail: unknown task "nope"/);
  const p = runSail(['probe', '--out', tempDir(), '--pair', 'no-equals-sign']);
  assert.equal(p.status, 1);
  assert.match(p.stderr, /expected NAME=IMAGE_STORE/);
});
