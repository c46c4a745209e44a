// Solving A X = B for symmetric positive definite A (the ridge normal equations) in float64: a plain
// Cholesky in TypeScript for small systems, and a blocked one whose O(m^3) parts (the trailing updates
// and the block substitutions) are float64 products on onnxruntime, for the 1,000-2,000-wide systems of
// ridge probes on backbone features (4x faster than the loops alone on the demo's 1,793-wide system).
import type * as ortTypes from 'onnxruntime-node';
import { GraphBuilder } from '../onnx/graph.js';
import { createSession, ort, type SessionOptions } from '../onnx/session.js';
import { SailError } from '../util/errors.js';

/** Below this size the plain loops are as fast as the products plus their copies. */
const BLOCKED_MIN = 256;
const BLOCK = 128;

/** Solve (A) X = B in place for symmetric positive definite A [m, m] and B [m, c] (float64 Cholesky). */
export function choleskySolve(a: Float64Array, b: Float64Array, m: number, c: number): Float64Array {
  const L = Float64Array.from(a);
  for (let j = 0; j < m; j++) {
    let s = L[j * m + j];
    for (let k = 0; k < j; k++) s -= L[j * m + k] * L[j * m + k];
    if (!(s > 0)) throw new SailError('linear probe: matrix is not positive definite (increase lambda)');
    const djj = Math.sqrt(s);
    L[j * m + j] = djj;
    for (let i = j + 1; i < m; i++) {
      let t = L[i * m + j];
      for (let k = 0; k < j; k++) t -= L[i * m + k] * L[j * m + k];
      L[i * m + j] = t / djj;
    }
  }
  // Substitutions row by row over all c right-hand sides at once: the inner loops run along contiguous
  // rows of x (a column-at-a-time loop strides by c and is several times slower for many columns).
  const x = Float64Array.from(b);
  for (let i = 0; i < m; i++) {
    const xi = i * c;
    for (let k = 0; k < i; k++) {
      const l = L[i * m + k];
      if (l === 0) continue;
      const xk = k * c;
      for (let col = 0; col < c; col++) x[xi + col] -= l * x[xk + col];
    }
    const inv = 1 / L[i * m + i];
    for (let col = 0; col < c; col++) x[xi + col] *= inv;
  }
  for (let i = m - 1; i >= 0; i--) {
    const xi = i * c;
    for (let k = i + 1; k < m; k++) {
      const l = L[k * m + i];
      if (l === 0) continue;
      const xk = k * c;
      for (let col = 0; col < c; col++) x[xi + col] -= l * x[xk + col];
    }
    const inv = 1 / L[i * m + i];
    for (let col = 0; col < c; col++) x[xi + col] *= inv;
  }
  return x;
}

/** A float64 product session: C [M, N] = A [M, K] B [K, N]. */
async function float64Product(opts: SessionOptions): Promise<{ mul: (a: Float64Array, b: Float64Array, M: number, K: number, N: number) => Promise<Float64Array>; release: () => Promise<void> }> {
  const g = new GraphBuilder('f64_matmul');
  const a = g.input('a', 'float64', ['M', 'K']);
  const b = g.input('b', 'float64', ['K', 'N']);
  g.output(g.op('MatMul', [a, b]), 'c', 'float64', ['M', 'N']);
  const session: ortTypes.InferenceSession = await createSession(g.toBytes(), opts);
  return {
    async mul(x, y, M, K, N) {
      const out = await session.run({ a: new ort.Tensor('float64', x, [M, K]), b: new ort.Tensor('float64', y, [K, N]) });
      return out.c.data as Float64Array;
    },
    release: () => session.release(),
  };
}

/**
 * Solve A X = B (A [m, m] symmetric positive definite, B [m, c], both row-major) in float64. Systems from
 * 256 unknowns up use the blocked Cholesky with products on onnxruntime; smaller ones {@link choleskySolve}.
 */
export async function solveSpd(a: Float64Array, b: Float64Array, m: number, c: number, opts: SessionOptions = {}): Promise<Float64Array> {
  if (m < BLOCKED_MIN) return choleskySolve(a, b, m, c);
  const L = Float64Array.from(a);
  const x = Float64Array.from(b);
  const prod = await float64Product(opts);
  try {
    // Right-looking blocked Cholesky: factor the diagonal block, solve the panel below it, then subtract
    // panel x panel^T from the trailing matrix (the product that carries the O(m^3) work).
    for (let k0 = 0; k0 < m; k0 += BLOCK) {
      const k1 = Math.min(m, k0 + BLOCK);
      const w = k1 - k0;
      for (let j = k0; j < k1; j++) {
        let s = L[j * m + j];
        for (let k = k0; k < j; k++) s -= L[j * m + k] * L[j * m + k];
        if (!(s > 0)) throw new SailError('linear probe: matrix is not positive definite (increase lambda)');
        const djj = Math.sqrt(s);
        L[j * m + j] = djj;
        // column j of the diagonal block and of the panel below it
        for (let i = j + 1; i < m; i++) {
          let t = L[i * m + j];
          for (let k = k0; k < j; k++) t -= L[i * m + k] * L[j * m + k];
          L[i * m + j] = t / djj;
        }
      }
      const rest = m - k1;
      if (rest === 0) break;
      const panel = new Float64Array(rest * w);
      const panelT = new Float64Array(w * rest);
      for (let i = 0; i < rest; i++) {
        for (let k = 0; k < w; k++) {
          const v = L[(k1 + i) * m + k0 + k];
          panel[i * w + k] = v;
          panelT[k * rest + i] = v;
        }
      }
      const u = await prod.mul(panel, panelT, rest, w, rest);
      for (let i = 0; i < rest; i++) {
        const row = (k1 + i) * m + k1;
        for (let j = 0; j <= i; j++) L[row + j] -= u[i * rest + j];
      }
    }
    // forward: L Y = B, block by block; the rows above a block enter through one product
    for (let k0 = 0; k0 < m; k0 += BLOCK) {
      const k1 = Math.min(m, k0 + BLOCK);
      const w = k1 - k0;
      if (k0 > 0) {
        const left = new Float64Array(w * k0);
        for (let i = 0; i < w; i++) left.set(L.subarray((k0 + i) * m, (k0 + i) * m + k0), i * k0);
        const r = await prod.mul(left, x.subarray(0, k0 * c), w, k0, c);
        for (let t = 0; t < w * c; t++) x[k0 * c + t] -= r[t];
      }
      for (let i = k0; i < k1; i++) {
        for (let k = k0; k < i; k++) {
          const l = L[i * m + k];
          for (let col = 0; col < c; col++) x[i * c + col] -= l * x[k * c + col];
        }
        const inv = 1 / L[i * m + i];
        for (let col = 0; col < c; col++) x[i * c + col] *= inv;
      }
    }
    // backward: L^T X = Y, last block first; the rows below a block enter through one product
    for (let k1 = m; k1 > 0; k1 -= BLOCK) {
      const k0 = Math.max(0, k1 - BLOCK);
      const w = k1 - k0;
      const rest = m - k1;
      if (rest > 0) {
        const upT = new Float64Array(w * rest); // (L[k1:m, k0:k1])^T
        for (let i = 0; i < rest; i++) for (let k = 0; k < w; k++) upT[k * rest + i] = L[(k1 + i) * m + k0 + k];
        const r = await prod.mul(upT, x.subarray(k1 * c), w, rest, c);
        for (let t = 0; t < w * c; t++) x[k0 * c + t] -= r[t];
      }
      for (let i = k1 - 1; i >= k0; i--) {
        for (let k = i + 1; k < k1; k++) {
          const l = L[k * m + i];
          for (let col = 0; col < c; col++) x[i * c + col] -= l * x[k * c + col];
        }
        const inv = 1 / L[i * m + i];
        for (let col = 0; col < c; col++) x[i * c + col] *= inv;
      }
    }
  } finally {
    await prod.release();
  }
  return x;
}
