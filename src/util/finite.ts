// Finiteness checks of float buffers: NaN/Inf must stop a computation with a named error, not rank first.
import { SailError } from './errors.js';

/** Index of the first NaN/Inf value, or -1. */
export function firstNonFinite(x: ArrayLike<number>): number {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return i;
  return -1;
}

/** Throws a SailError naming the first row holding NaN or Inf in row-major [n, dim] values. */
export function assertFiniteRows(x: Float32Array, dim: number, what: string, file?: string): void {
  const i = firstNonFinite(x);
  if (i >= 0) throw new SailError(`${what} hold ${x[i]} at column ${i % dim}; embeddings must be finite`, { file, row: Math.floor(i / dim) });
}
