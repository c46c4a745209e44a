// Head forward graphs (inference form, parameters baked as initializers, and training form with
// parameters as inputs) against the float64 reference forward.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HeadType, Side } from '../../src/head/config.js';
import { headForward, l2Normalize, paramInitializers, paramInputs, sideDim, sideParamNames } from '../../src/head/graph.js';
import { refHeadForward, type RefParams } from '../head/reference.js';
import { GraphBuilder } from '../../src/onnx/graph.js';
import { createSession, f32 } from '../../src/onnx/session.js';
import { randomParams, randomRows, relErr, tinyConfig } from './fixtures.js';

for (const type of ['star', 'mlp', 'linear'] as HeadType[]) {
  for (const side of ['vision', 'text'] as Side[]) {
    test(`head forward graph matches the reference: ${type} / ${side}`, async () => {
      const cfg = tinyConfig(type);
      const params = randomParams(cfg, 3);
      if (type === 'star') params.find((p) => p.name === `${side}_mapping_network.f2.bias`)!.data[0] = 1800; // clamp active
      const d = sideDim(cfg, side);
      const n = 5;
      const x = randomRows(n, d, 8);
      const ref: RefParams = {};
      for (const p of params) ref[p.name] = Float64Array.from(p.data);
      const want = refHeadForward(cfg, side, ref, Float64Array.from(x), n).z;

      for (const form of ['initializers', 'inputs'] as const) {
        const g = new GraphBuilder('head');
        const xin = g.input('x', 'float32', ['N', d]);
        const names = sideParamNames(cfg, side);
        const param = form === 'initializers' ? paramInitializers(g, params.filter((p) => names.includes(p.name))) : paramInputs(g, cfg, names);
        const f = headForward(g, cfg, side, xin, param, form === 'inputs');
        g.output(f.out, 'z', 'float32', ['N', cfg.targetDim]);
        g.output(l2Normalize(g, f.out).v, 'v', 'float32', ['N', cfg.targetDim]);
        const s = await createSession(g.toBytes(), { threads: 1 });
        const feeds: Record<string, ReturnType<typeof f32>> = { x: f32(x, [n, d]) };
        if (form === 'inputs') for (const p of params) if (names.includes(p.name)) feeds[p.name] = f32(p.data, p.shape);
        const out = await s.run(feeds);
        await s.release();
        const z = out.z.data as Float32Array;
        assert.ok(relErr(z, want) < 1e-5, `${form}: z relative error ${relErr(z, want)}`);
        const v = out.v.data as Float32Array;
        for (let i = 0; i < n; i++) {
          let norm = 0;
          for (let j = 0; j < cfg.targetDim; j++) norm += want[i * cfg.targetDim + j] ** 2;
          for (let j = 0; j < cfg.targetDim; j++) {
            assert.ok(Math.abs(v[i * cfg.targetDim + j] - want[i * cfg.targetDim + j] / Math.sqrt(norm)) < 1e-5);
          }
        }
      }
    });
  }
}
