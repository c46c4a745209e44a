// IEEE 754 half <-> single conversion on typed arrays (Node 20 has no Float16Array).
import { simdHalfConverter } from './fp16-simd.js';

/** Largest finite float16 value; larger magnitudes are not representable (they round to 65504 or to Inf). */
export const FLOAT16_MAX = 65504;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round one float32 value to the nearest float16 bit pattern (round-to-nearest-even). */
export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow -> signed zero
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let h = mant >>> shift;
    if (rest > half || (rest === half && (h & 1))) h += 1;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // a carry out of the mantissa correctly bumps the exponent (up to Inf)
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1))) h += 1;
  return sign | h;
}

const halfTable = new Float32Array(65536);
for (let h = 0; h < 65536; h++) {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  let v: number;
  if (exp === 0) v = mant * 2 ** -24;
  else if (exp === 0x1f) v = mant ? NaN : Infinity;
  else v = (1 + mant / 1024) * 2 ** (exp - 15);
  halfTable[h] = sign * v;
}

/** Decode one float16 bit pattern. */
export function fromHalfBits(h: number): number {
  return halfTable[h & 0xffff];
}

/** Convert float32 values to float16 bit patterns. */
export function float32ToFloat16(src: ArrayLike<number>, dst = new Uint16Array(src.length)): Uint16Array {
  for (let i = 0; i < src.length; i++) dst[i] = toHalfBits(src[i]);
  return dst;
}

/** Convert float16 bit patterns to float32 values (the definition: a table lookup). */
export function float16ToFloat32(src: Uint16Array, dst = new Float32Array(src.length)): Float32Array {
  for (let i = 0; i < src.length; i++) dst[i] = halfTable[src[i]];
  return dst;
}

/** Table conversion that reports whether every value is finite (no all-ones exponent). */
function tableConvertFinite(src: Uint16Array, dst: Float32Array): boolean {
  let bad = 0;
  for (let i = 0; i < src.length; i++) {
    const h = src[i];
    dst[i] = halfTable[h];
    bad |= +((h & 0x7c00) === 0x7c00);
  }
  return bad === 0;
}

/**
 * Convert float16 bit patterns into `dst` (same length) and return whether all of them are finite. Uses a
 * WebAssembly SIMD kernel where available (the same values as {@link float16ToFloat32}; only NaN payloads
 * may differ), which also spares the caller a finiteness pass over the floats.
 */
export function float16ToFloat32Finite(src: Uint16Array, dst: Float32Array): boolean {
  const simd = src.length >= 64 ? simdHalfConverter() : undefined;
  if (!simd) return tableConvertFinite(src, dst);
  const k8 = src.length & ~7;
  const head = simd(src.subarray(0, k8), dst.subarray(0, k8));
  return tableConvertFinite(src.subarray(k8), dst.subarray(k8)) && head;
}
