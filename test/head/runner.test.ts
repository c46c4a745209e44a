import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HeadConfig, HeadType, Side } from '../../src/head/config.js';
import { initParams } from '../../src/head/init.js';
import { refHeadForward, type RefParams } from './reference.js';
import { writeSafetensors } from '../../src/head/safetensors.js';
import { createHeadRunner } from '../../src/head/runner.js';
import { loadHead } from '../../src/head/load.js';
import { saveHead } from '../../src/train/checkpoint.js';
import { Rng } from '../../src/util/rng.js';
import { tempDir } from '../helpers/paths.js';

function config(type: HeadType): HeadConfig {
  return { type, widthFactor: 2, visionDim: 6, textDim: 5, targetDim: 4, logitScaleInit: 20, logitBiasInit: -10 };
}

test('ONNX head forward (blocked) matches the float64 reference for star, mlp and linear heads', async () => {
  const rng = new Rng(3);
  for (const type of ['star', 'mlp', 'linear'] as HeadType[]) {
    const cfg = config(type);
    const params = initParams(cfg, rng);
    // non-trivial LayerNorm affine and biases so every parameter matters
    for (const p of params) if (!p.name.startsWith('logit')) for (let i = 0; i < p.data.length; i++) p.data[i] += (rng.next() - 0.5) * 0.5;
    const ref: RefParams = Object.fromEntries(params.map((p) => [p.name, Float64Array.from(p.data)]));
    const applier = createHeadRunner({ config: cfg, params }, { blockRows: 3, threads: 1 });
    for (const side of ['vision', 'text'] as Side[]) {
      const d = side === 'vision' ? cfg.visionDim : cfg.textDim;
      const n = 7;
      const x = new Float32Array(n * d);
      for (let i = 0; i < x.length; i++) x[i] = rng.normal() * 3;
      const got = await applier.apply(side, x, n);
      const { z } = refHeadForward(cfg, side, ref, Float64Array.from(x), n);
      for (let i = 0; i < n; i++) {
        let ss = 0;
        for (let j = 0; j < 4; j++) ss += z[i * 4 + j] ** 2;
        for (let j = 0; j < 4; j++) assert.ok(Math.abs(got[i * 4 + j] - z[i * 4 + j] / Math.sqrt(ss)) < 1e-5, `${type} ${side} row ${i}`);
      }
    }
    await applier.dispose();
  }
});

test('loadHead reads config from metadata, from config.json, or infers it from shapes', async () => {
  const dir = tempDir();
  const cfg = config('star');
  const params = initParams(cfg, new Rng(1));
  await saveHead(join(dir, 'a.safetensors'), params, cfg);
  const a = await loadHead(join(dir, 'a.safetensors'));
  assert.deepEqual(a.config, cfg);
  assert.deepEqual(a.params.map((p) => p.name), params.map((p) => p.name));
  assert.deepEqual([...a.params[2].data], [...params[2].data]);
  // bare tensors (converted original checkpoint): inferred type and widths
  const sub = join(dir, 'bare');
  await writeSafetensors(join(sub, 'head.safetensors'), params);
  const b = await loadHead(sub);
  assert.equal(b.config.type, 'star');
  assert.equal(b.config.widthFactor, 2);
  assert.equal(b.config.targetDim, 4);
  // config.json (training config with "head") wins; a mismatch is a SailError naming the tensor
  writeFileSync(join(sub, 'config.json'), JSON.stringify({ head: { ...cfg, type: 'linear' } }));
  await assert.rejects(loadHead(sub), /vision_mapping_network\.weight is missing/);
  await assert.rejects(loadHead(join(dir, 'nope.safetensors')), /not found/);
  rmSync(dir, { recursive: true, force: true });
});

test('head runner normalises as F.normalize: x / max(|x|, 1e-12), so an all-zero output row stays finite (zeros)', async () => {
  // a linear head whose last Linear is all zeros maps every row to exactly 0
  const cfg: HeadConfig = { type: 'linear', widthFactor: 1, visionDim: 3, textDim: 3, targetDim: 2, logitScaleInit: 10, logitBiasInit: -10 };
  const params = initParams(cfg, new Rng(1));
  for (const p of params) if (p.name.startsWith('vision_') && !p.name.includes('layer_norm')) p.data.fill(0);
  const runner = createHeadRunner({ config: cfg, params });
  const z = await runner.apply('vision', Float32Array.from([1, 2, 3, -1, 0, 4]));
  assert.deepEqual(Array.from(z), [0, 0, 0, 0]);
  const raw = await runner.apply('vision', Float32Array.from([1, 2, 3]), 1, { normalize: false });
  assert.deepEqual(Array.from(raw), [0, 0]);
  await runner.dispose();
});
