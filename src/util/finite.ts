// Finiteness checks of float buffers: NaN/Inf must stop a computation with a named error, not rank first.
import { SailError } from './errors.js';

/** Index of the first NaN/Inf value, or -1. */
export function firstNonFinite(x: ArrayLike<number>): number {
  // Screen blocks without a branch per value: v * 0 is NaN exactly when v is NaN or +-Inf (else +-0), so a
  // block's sum of v * 0 is NaN iff the block holds one; only such a block is searched value by value.
  const BLOCK = 4096;
  for (let b = 0; b < x.length; b += BLOCK) {
    const e = Math.min(x.length, b + BLOCK);
    let acc = 0;
    for (let i = b; i < e; i++) acc += x[i] * 0;
    if (acc === 0) continue;
    for (let i = b; i < e; i++) if (!Number.isFinite(x[i])) return i;
  }
  return -1;
}

/** Throws a SailError naming the first row holding NaN or Inf in row-major [n, dim] values. */
export function assertFiniteRows(x: Float32Array, dim: number, what: string, file?: string): void {
  const i = firstNonFinite(x);
  if (i >= 0) throw new SailError(`${what} hold ${x[i]} at column ${i % dim}; embeddings must be finite`, { file, row: Math.floor(i / dim) });
}
