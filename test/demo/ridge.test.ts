// The demo's ridge baseline against the closed form, computed independently here in float64 (LayerNorm,
// normal equations, Gaussian elimination with partial pivoting), and applied through the eval head path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ridgeHead, ridgeStats, solveRidge } from '../../src/demo/ridge.js';
import { createHeadRunner } from '../../src/head/runner.js';
import { Rng } from '../../src/util/rng.js';

function layerNorm64(x: Float32Array, n: number, d: number): Float64Array[] {
  const rows: Float64Array[] = [];
  for (let i = 0; i < n; i++) {
    const r = Float64Array.from(x.subarray(i * d, (i + 1) * d));
    const mean = r.reduce((a, b) => a + b, 0) / d;
    const v = r.reduce((a, b) => a + (b - mean) ** 2, 0) / d;
    rows.push(r.map((t) => (t - mean) / Math.sqrt(v + 1e-5)));
  }
  return rows;
}

/** Solve A X = B (A [m, m], B [m, c]) by Gaussian elimination with partial pivoting, float64. */
function gaussSolve(a: number[][], b: number[][]): number[][] {
  const m = a.length;
  const A = a.map((r, i) => [...r, ...b[i]]);
  for (let col = 0; col < m; col++) {
    let p = col;
    for (let r = col + 1; r < m; r++) if (Math.abs(A[r][col]) > Math.abs(A[p][col])) p = r;
    [A[col], A[p]] = [A[p], A[col]];
    for (let r = 0; r < m; r++) {
      if (r === col) continue;
      const f = A[r][col] / A[col][col];
      for (let k = col; k < A[r].length; k++) A[r][k] -= f * A[col][k];
    }
  }
  return A.map((r, i) => r.slice(m).map((v) => v / A[i][i]));
}

test('ridge fit equals the float64 closed form (unpenalised bias) for both targets', async () => {
  const n = 40;
  const dImg = 7;
  const dTxt = 3;
  const rng = new Rng(5);
  const img = Float32Array.from({ length: n * dImg }, () => rng.normal() * 3 + 1);
  const txt = Float32Array.from({ length: n * dTxt }, () => rng.normal());
  const extra = Float32Array.from({ length: n * dTxt }, () => rng.normal());
  const stats = await ridgeStats(img, new Map([['text', [txt]], ['text+extra', [txt, extra]]]), n, dImg, dTxt, { threads: 1 });
  const X = layerNorm64(img, n, dImg).map((r) => [...r, 1]);
  const T = layerNorm64(txt, n, dTxt);
  const E = layerNorm64(extra, n, dTxt);
  for (const [target, Y] of [['text', T], ['text+extra', T.map((r, i) => r.map((v, k) => (v + E[i][k]) / 2))]] as const) {
    for (const lambda of [0.01, 1]) {
      const m = dImg + 1;
      const xtx = Array.from({ length: m }, (_, a) => Array.from({ length: m }, (_, b) => X.reduce((s, r) => s + r[a] * r[b], 0)));
      let tr = 0;
      for (let j = 0; j < dImg; j++) tr += xtx[j][j];
      for (let j = 0; j < dImg; j++) xtx[j][j] += (lambda * tr) / dImg;
      const xty = Array.from({ length: m }, (_, a) => Array.from({ length: dTxt }, (_, k) => X.reduce((s, r, i) => s + r[a] * Y[i][k], 0)));
      const ref = gaussSolve(xtx, xty); // [m, dTxt]; last row = bias
      const fit = await solveRidge(stats, target, lambda);
      for (let k = 0; k < dTxt; k++) {
        for (let j = 0; j < dImg; j++) assert.ok(Math.abs(fit.w[k * dImg + j] - ref[j][k]) < 1e-4 * (1 + Math.abs(ref[j][k])), `${target} λ=${lambda} W[${k},${j}] ${fit.w[k * dImg + j]} vs ${ref[j][k]}`);
        assert.ok(Math.abs(fit.b[k] - ref[dImg][k]) < 1e-4 * (1 + Math.abs(ref[dImg][k])), `${target} bias ${k}`);
      }
    }
  }
  await assert.rejects(solveRidge(stats, 'text', 0), /lambda/);
});

test('the ridge head applies W LN(x) + b to images and LN(t) to texts (then L2 norm) through the eval path', async () => {
  const n = 12;
  const dImg = 5;
  const dTxt = 4;
  const rng = new Rng(9);
  const img = Float32Array.from({ length: n * dImg }, () => rng.normal());
  const txt = Float32Array.from({ length: n * dTxt }, () => rng.normal());
  const stats = await ridgeStats(img, new Map([['text', [txt]]]), n, dImg, dTxt, { threads: 1 });
  const fit = await solveRidge(stats, 'text', 0.1);
  const applier = createHeadRunner(ridgeHead(fit, dImg, dTxt), { threads: 1 });
  try {
    const v = await applier.apply('vision', img, n);
    const t = await applier.apply('text', txt, n);
    const X = layerNorm64(img, n, dImg);
    const T = layerNorm64(txt, n, dTxt);
    const unit = (r: number[]): number[] => {
      const norm = Math.hypot(...r);
      return r.map((x) => x / norm);
    };
    for (let i = 0; i < n; i++) {
      const y = unit(Array.from({ length: dTxt }, (_, k) => {
        let acc = fit.b[k];
        for (let j = 0; j < dImg; j++) acc += fit.w[k * dImg + j] * X[i][j];
        return acc;
      }));
      const tt = unit(Array.from(T[i]));
      for (let k = 0; k < dTxt; k++) {
        assert.ok(Math.abs(v[i * dTxt + k] - y[k]) < 1e-4, `vision row ${i} col ${k}: ${v[i * dTxt + k]} vs ${y[k]}`);
        assert.ok(Math.abs(t[i * dTxt + k] - tt[k]) < 1e-4, `text row ${i} col ${k}`);
      }
    }
  } finally {
    await applier.dispose();
  }
});
