// The star head's training activation: the If node that skips the upper-clamp masks when no clamp can
// act, and both of its branches, against float64 derivatives of ReLU6(h1) * clamp(h2, +-1e3).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ParamSet } from '../../src/head/config.js';
import { headForward, paramInputs, sideParamNames } from '../../src/head/graph.js';
import { GraphBuilder } from '../../src/onnx/graph.js';
import { createSession, f32 } from '../../src/onnx/session.js';
import { randomParams, randomRows, relErr, tinyConfig } from './fixtures.js';

const cfg = tinyConfig('star');
const side = 'vision';
const d = cfg.visionDim;
const hidden = cfg.widthFactor * d;
const m = `${side}_mapping_network`;
const n = 9;

/** float64 y = LN(x) * gamma + beta, h = y W^T + b, and the bound |y_i| |W_j| + |b_j| the graph uses. */
function reference(params: ParamSet, x: Float32Array) {
  const get = (name: string) => params.find((p) => p.name === name)!.data;
  const [gamma, beta] = [get(`${side}_layer_norm.weight`), get(`${side}_layer_norm.bias`)];
  const y = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const row = Array.from(x.subarray(i * d, (i + 1) * d));
    const mu = row.reduce((s, v) => s + v, 0) / d;
    const inv = 1 / Math.sqrt(row.reduce((s, v) => s + (v - mu) ** 2, 0) / d + 1e-5);
    row.forEach((v, j) => (y[i * d + j] = (v - mu) * inv * gamma[j] + beta[j]));
  }
  const lin = (w: Float32Array, b: Float32Array) => {
    const h = new Float64Array(n * hidden);
    for (let i = 0; i < n; i++) for (let k = 0; k < hidden; k++) {
      let s = b[k];
      for (let j = 0; j < d; j++) s += y[i * d + j] * w[k * d + j];
      h[i * hidden + k] = s;
    }
    return h;
  };
  const norm = (v: ArrayLike<number>, rows: number) => Math.max(...Array.from({ length: rows }, (_, i) => Math.hypot(...Array.from({ length: d }, (_, j) => v[i * d + j]))));
  const [w2, b2] = [get(`${m}.f2.weight`), get(`${m}.f2.bias`)];
  const bound = norm(y, n) * norm(w2, hidden) + Math.max(...Array.from(b2, Math.abs));
  return { h1: lin(get(`${m}.f1.weight`), get(`${m}.f1.bias`)), h2: lin(w2, b2), bound };
}

async function runGates(params: ParamSet, x: Float32Array) {
  const g = new GraphBuilder('gates');
  const names = sideParamNames(cfg, side);
  const f = headForward(g, cfg, side, g.input('x', 'float32', ['N', d]), paramInputs(g, cfg, names), true);
  g.output(f.a!, 'a');
  g.output(f.gate1!, 'gate1');
  g.output(f.gate2!, 'gate2');
  g.output(g.op('Cast', [f.noUpperClamp!], { to: 1 }), 'fast');
  const s = await createSession(g.toBytes(), { threads: 1 });
  const feeds: Record<string, ReturnType<typeof f32>> = { x: f32(x, [n, d]) };
  for (const p of params) if (names.includes(p.name)) feeds[p.name] = f32(p.data, p.shape);
  const out = await s.run(feeds);
  await s.release();
  return { a: out.a.data as Float32Array, gate1: out.gate1.data as Float32Array, gate2: out.gate2.data as Float32Array, fast: (out.fast.data as Float32Array)[0] === 1 };
}

const scenarios: [string, (p: ParamSet) => void, boolean][] = [
  ['no clamp can act: the short branch', () => undefined, true],
  ['h1 above 6 (ReLU6 upper clamp)', (p) => (p.find((q) => q.name === `${m}.f1.bias`)!.data[0] = 7), false],
  ['h2 below -1e3 (clamp active)', (p) => (p.find((q) => q.name === `${m}.f2.bias`)!.data[1] = -1500), false],
  ['bound reaches 990 though no h2 is clamped', (p) => (p.find((q) => q.name === `${m}.f2.bias`)!.data[2] = 989.5), false],
];

for (const [label, edit, fast] of scenarios) {
  test(`star training gates match float64 derivatives: ${label}`, async () => {
    const params = randomParams(cfg, 12);
    edit(params);
    const x = randomRows(n, d, 5);
    const { h1, h2, bound } = reference(params, x);
    const maxH1 = Math.max(...h1);
    assert.equal(maxH1 < 6 && bound < 990, fast, `scenario premise: max h1 ${maxH1}, bound ${bound}`);
    if (label.startsWith('bound')) assert.ok(Math.max(...Array.from(h2, Math.abs)) < 1e3, 'no h2 is clamped');
    const got = await runGates(params, x);
    assert.equal(got.fast, fast, 'which branch the If node took');
    const want = { a: new Float64Array(n * hidden), gate1: new Float64Array(n * hidden), gate2: new Float64Array(n * hidden) };
    for (let k = 0; k < n * hidden; k++) {
      const r = Math.min(Math.max(h1[k], 0), 6);
      const c2 = Math.min(Math.max(h2[k], -1e3), 1e3);
      want.a[k] = r * c2;
      want.gate1[k] = h1[k] > 0 && h1[k] < 6 ? c2 : 0;
      want.gate2[k] = Math.abs(h2[k]) < 1e3 ? r : 0;
    }
    for (const key of ['a', 'gate1', 'gate2'] as const) assert.ok(relErr(got[key], want[key]) < 1e-5, `${key}: relative error ${relErr(got[key], want[key])}`);
  });
}
