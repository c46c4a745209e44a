import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scalarKernels, simdKernels, type UpdateKernels } from '../../src/train/update-kernels.js';
import { createOptimizer } from '../../src/train/optimizer.js';
import { Rng } from '../../src/util/rng.js';

const simd = simdKernels();

// Lengths around the SIMD kernel's 4-element turns and its 16,384-element chunks.
const LENGTHS = [0, 1, 3, 4, 5, 7, 8, 16383, 16384, 16385, 2 * 16384 + 6];

function randomArrays(n: number, seed: number): { p: Float32Array; g: Float32Array; m: Float32Array; v: Float32Array } {
  const rng = new Rng(seed);
  const p = new Float32Array(n).map(() => rng.normal() * 0.1);
  const g = new Float32Array(n).map(() => rng.normal() * 10 ** (rng.next() * 6 - 3));
  const m = new Float32Array(n).map(() => rng.normal() * 0.01);
  const v = new Float32Array(n).map(() => rng.next() * 1e-3);
  // edge values: c exactly 0 (sign 0), signed zeros, a subnormal gradient, huge and tiny values
  const edges: [number, number, number][] = [[0, 0, 0.5], [-0, 0, -0.25], [0, -0, 1], [1e-45, 0, 0], [3e38, -3e38, 1e-30], [-1e-38, 1e-38, 7]];
  edges.forEach(([gv, mv, pv], k) => {
    const j = (k * 7919) % Math.max(1, n);
    if (j < n) [g[j], m[j], p[j]] = [gv, mv, pv];
  });
  return { p, g, m, v };
}

function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, what);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let j = 0; j < a.length; j++) if (ua[j] !== ub[j]) assert.fail(`${what}[${j}]: ${a[j]} vs ${b[j]}`);
}

test('WebAssembly SIMD kernels are available on this runtime (otherwise the comparisons below would compare scalar with scalar)', () => {
  assert.equal(simd?.kind, 'simd');
});

test('SIMD Lion gives bit-identical parameters and momentum to the scalar loop, over lengths, hyperparameters and edge values', () => {
  const hypers = [{ lr: 1e-4, wd: 1e-4, b1: 0.9, b2: 0.99 }, { lr: 0.3, wd: 0.5, b1: 0.5, b2: 0.999 }, { lr: 1e-6, wd: 0, b1: 0, b2: 0 }];
  for (const n of LENGTHS) {
    for (const [h, hy] of hypers.entries()) {
      const a = randomArrays(n, 11 + n + h);
      const b = { p: a.p.slice(), m: a.m.slice() };
      for (let step = 0; step < 3; step++) {
        const args = { lr: hy.lr * (step + 1), decayMul: 1 - hy.lr * (step + 1) * hy.wd, b1: hy.b1, b2: hy.b2 };
        scalarKernels.lion(a.p, a.g, a.m, args);
        simd!.lion(b.p, a.g, b.m, args);
      }
      sameBits(b.p, a.p, `lion p (n=${n}, hyper ${h})`);
      sameBits(b.m, a.m, `lion m (n=${n}, hyper ${h})`);
    }
  }
});

test('SIMD AdamW gives bit-identical parameters and moments to the scalar loop', () => {
  for (const n of LENGTHS) {
    const a = randomArrays(n, 101 + n);
    const b = { p: a.p.slice(), m: a.m.slice(), v: a.v.slice() };
    for (let t = 1; t <= 3; t++) {
      const b1 = 0.9;
      const b2 = 0.99;
      const args = { decayMul: t === 2 ? 1 : 1 - 5e-4 * 0.2, b1, b2, stepSize: 5e-4 / (1 - b1 ** t), bc2Sqrt: Math.sqrt(1 - b2 ** t), eps: 1e-8 };
      scalarKernels.adamw(a.p, a.g, a.m, a.v, args);
      simd!.adamw(b.p, a.g, b.m, b.v, args);
    }
    sameBits(b.p, a.p, `adamw p (n=${n})`);
    sameBits(b.m, a.m, `adamw m (n=${n})`);
    sameBits(b.v, a.v, `adamw v (n=${n})`);
  }
});

/** Independent float64 Lion (no shared code): c = b1 m + (1-b1) g; p' = p(1 - lr wd) - lr sign(c); m' = b2 m + (1-b2) g. */
function lionReference(p: number[], g: number[], m: number[], lr: number, wd: number): void {
  for (let j = 0; j < p.length; j++) {
    const c = 0.9 * m[j] + (1 - 0.9) * g[j];
    p[j] = Math.fround(p[j] * (1 - lr * wd) - lr * Math.sign(c));
    m[j] = Math.fround(0.99 * m[j] + (1 - 0.99) * g[j]);
  }
}

test('the optimizer with either kernel follows an independent float64 Lion on a tensor long enough for the SIMD path', () => {
  for (const kernels of [simd!, scalarKernels] as UpdateKernels[]) {
    const n = 16384 + 37;
    const rng = new Rng(5);
    const data = new Float32Array(n).map(() => rng.normal());
    const ps = [{ name: 'w.weight', shape: [n], data }];
    const ref = { p: Array.from(data), m: new Array<number>(n).fill(0) };
    const opt = createOptimizer('lion', ps, { weightDecay: 0.1 }, undefined, kernels);
    for (let step = 0; step < 3; step++) {
      const g = new Float32Array(n).map(() => rng.normal());
      opt.step(ps, [g], 0.01);
      lionReference(ref.p, Array.from(g), ref.m, 0.01, 0.1);
    }
    for (let j = 0; j < n; j++) assert.equal(ps[0].data[j], ref.p[j], `${kernels.kind} p[${j}]`);
    const m = opt.stateTensors()[0].data;
    for (let j = 0; j < n; j++) assert.equal(m[j], ref.m[j], `${kernels.kind} m[${j}]`);
  }
});
