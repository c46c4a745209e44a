// Small float64 helpers shared by the backbone tests.
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

/** A real 64x64 emoji PNG shipped in node_modules ('google' or 'twitter' style). */
export function emojiPng(code: string, style: 'google' | 'twitter' = 'google'): string {
  return join(repoRoot(), 'node_modules', `emoji-datasource-${style}`, 'img', style, '64', `${code}.png`);
}

/** Cosine similarity of rows i and j of row-major [n, d] data, in float64. */
export function cosine(a: Float32Array, i: number, b: Float32Array, j: number, d: number): number {
  let s = 0;
  let na = 0;
  let nb = 0;
  for (let k = 0; k < d; k++) {
    const x = a[i * d + k];
    const y = b[j * d + k];
    s += x * y;
    na += x * x;
    nb += y * y;
  }
  return s / Math.sqrt(na * nb);
}

/** max |a - b| over row r, divided by max |b| over that row. */
export function rowRelErr(a: Float32Array, b: Float32Array, r: number, d: number): number {
  let num = 0;
  let den = 0;
  for (let k = 0; k < d; k++) {
    num = Math.max(num, Math.abs(a[r * d + k] - b[r * d + k]));
    den = Math.max(den, Math.abs(b[r * d + k]));
  }
  return num / den;
}
