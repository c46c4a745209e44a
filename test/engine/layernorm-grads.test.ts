// The engine's LayerNorm-affine and first-layer gradients (computed without dL/dy: G = dh^T xhat,
// dW = G * gamma + (sum dh) beta^T, dgamma = colsum(W * G), dbeta = (sum dh)^T W) checked directly
// against central finite differences of the float64 reference LOSS (not the reference gradients), for
// every head type, on the fused and the blocked path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paramSpecs, type HeadType } from '../../src/head/config.js';
import { refStep } from '../head/reference.js';
import { createTrainEngine } from '../../src/train/engine.js';
import { randomParams, randomRows, relErr, tinyConfig } from './fixtures.js';

/** Parameters whose gradient the rewritten path produces (per side). */
function firstLayerNames(type: HeadType, side: string): string[] {
  const m = `${side}_mapping_network`;
  const layers = type === 'star' ? [`${m}.f1`, `${m}.f2`] : type === 'mlp' ? [`${m}.proj.0`] : [m];
  return [`${side}_layer_norm.weight`, `${side}_layer_norm.bias`, ...layers.flatMap((l) => [`${l}.weight`, `${l}.bias`])];
}

for (const type of ['star', 'mlp', 'linear'] as HeadType[]) {
  test(`LayerNorm and first-layer gradients match float64 central differences: ${type}, fused and blocked`, async () => {
    const cfg = tinyConfig(type);
    const n = 12;
    const params = randomParams(cfg, 31);
    const batch = { n, image: randomRows(n, cfg.visionDim, 41), text: randomRows(n, cfg.textDim, 42), extraText: randomRows(n, cfg.textDim, 43) };
    const p64 = params.map((p) => Float64Array.from(p.data));
    const specs = paramSpecs(cfg);
    const h = 1e-6;
    const fd = new Map<string, Float64Array>();
    for (const name of [...firstLayerNames(type, 'vision'), ...firstLayerNames(type, 'text')]) {
      const k = specs.findIndex((s) => s.name === name);
      const g = new Float64Array(p64[k].length);
      for (let i = 0; i < g.length; i++) {
        const keep = p64[k][i];
        p64[k][i] = keep + h;
        const up = refStep(cfg, 'siglip', p64, batch).loss;
        p64[k][i] = keep - h;
        const down = refStep(cfg, 'siglip', p64, batch).loss;
        p64[k][i] = keep;
        g[i] = (up - down) / (2 * h);
      }
      fd.set(name, g);
    }
    for (const [label, tuning] of [['fused', { blockRows: 64 }], ['blocked', { blockRows: 5, headChunkRows: 5 }]] as const) {
      const engine = await createTrainEngine({ head: cfg, loss: 'siglip', threads: 1, ...tuning });
      try {
        const got = await engine.step(params, batch);
        for (const [name, want] of fd) {
          const e = relErr(got.grads[specs.findIndex((s) => s.name === name)], want, 1e-6);
          assert.ok(e < 1e-4, `${label}: ${name} relative error ${e} against central differences`);
        }
      } finally {
        await engine.dispose();
      }
    }
  });
}
