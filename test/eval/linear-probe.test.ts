import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluateRidgeProbe, fitRidgeProbe } from '../../src/eval/linear-probe.js';
import { choleskySolve } from '../../src/eval/cholesky.js';
import { Rng } from '../../src/util/rng.js';

/** Independent float64 ridge: Gauss-Jordan on (X'X + pen I_d, bias unpenalised but for a 1e-9 n guard) W = X'Y. */
function ridgeReference(x: Float32Array, labels: Int32Array, d: number, C: number, pen: number): Float64Array {
  const n = labels.length;
  const m = d + 1;
  const row = (i: number, j: number) => (j < d ? x[i * d + j] : 1);
  const A = Array.from({ length: m }, (_, a) => Array.from({ length: m + C }, (_, b) => {
    if (b < m) {
      let s = 0;
      for (let i = 0; i < n; i++) s += row(i, a) * row(i, b);
      return s + (a === b ? (a < d ? pen : 1e-9 * n) : 0);
    }
    let s = 0;
    for (let i = 0; i < n; i++) if (labels[i] === b - m) s += row(i, a);
    return s;
  }));
  for (let c = 0; c < m; c++) {
    const piv = A[c][c];
    for (let b = 0; b < m + C; b++) A[c][b] /= piv;
    for (let r = 0; r < m; r++) if (r !== c) {
      const f = A[r][c];
      for (let b = 0; b < m + C; b++) A[r][b] -= f * A[c][b];
    }
  }
  const w = new Float64Array(C * m);
  for (let j = 0; j < m; j++) for (let c = 0; c < C; c++) w[c * m + j] = A[j][m + c];
  return w;
}

test('Cholesky solve of a small SPD system', () => {
  const x = choleskySolve(Float64Array.from([4, 2, 2, 3]), Float64Array.from([2, 1]), 2, 1);
  // [4 2; 2 3] x = [2; 1] -> x = [0.5, 0]
  assert.ok(Math.abs(x[0] - 0.5) < 1e-12 && Math.abs(x[1]) < 1e-12);
  assert.throws(() => choleskySolve(Float64Array.from([0, 0, 0, 0]), Float64Array.from([1, 1]), 2, 1), /positive definite/);
});

test('ridge probe weights match an independent float64 solve, and it separates a linearly separable set', async () => {
  const rng = new Rng(9);
  const d = 5;
  const C = 3;
  const n = 240;
  const x = new Float32Array(n * d);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % C;
    for (let j = 0; j < d; j++) x[i * d + j] = rng.normal() * 0.3;
    x[i * d + labels[i]] += 2; // class c has a large coordinate c
  }
  const probe = await fitRidgeProbe(x, labels, d, C, { lambda: 1e-2, threads: 1 });
  let tr = 0;
  for (let i = 0; i < n * d; i++) tr += x[i] * x[i];
  const ref = ridgeReference(x, labels, d, C, 1e-2 * (tr / d));
  for (let i = 0; i < ref.length; i++) assert.ok(Math.abs(probe.weights[i] - ref[i]) < 1e-4, `w[${i}] ${probe.weights[i]} vs ${ref[i]}`);
  const m = await evaluateRidgeProbe(probe, x, labels, { threads: 1 });
  assert.equal(m.top1, 100);
  // shuffled labels cannot be fitted well by a linear map of 6 parameters per class
  const noise = Int32Array.from({ length: n }, () => rng.int(C));
  const p2 = await fitRidgeProbe(x, noise, d, C, { threads: 1 });
  assert.ok((await evaluateRidgeProbe(p2, x, noise, { threads: 1 })).top1 < 70);
});
