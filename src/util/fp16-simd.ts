// float16 -> float32 conversion on a WebAssembly SIMD kernel, eight values per turn, with a flag for
// non-finite values (so callers can skip a per-value finiteness pass). Bit-identical to the table in
// fp16.ts for every finite and infinite half; NaNs stay NaNs (payload bits may differ, and callers that
// see the flag fall back to the table anyway).
import { I32, V128, instantiateModule, lazyWasm, op, v128, type WasmFunction } from './wasm-emit.js';

/** Halves per chunk copied through the module's memory (64 KiB in, 128 KiB out). */
const CHUNK = 32768;
const SRC = 0;
const DST = 2 * CHUNK;
const PAGES = 3;

const splat = (v: number) => v128.constI32x4([v, v, v, v]);

/** f16to32(src, dst, n) -> 1 if any half is Inf/NaN; n a multiple of 8; pointers are byte offsets. */
function convertFunction(): WasmFunction {
  const [SRC_P, DST_P, N] = [0, 1, 2];
  const [I, END] = [3, 4];
  const [H, LANES, BAD, MASK] = [5, 6, 7, 8];
  // four u32 lanes holding halves -> four float32: exponent and mantissa shifted into place and scaled by
  // 2^112 (exact for normal and subnormal halves), all-ones exponents mapped to Inf/NaN, the sign or'ed in
  const quad = (extend: number[], offset: number) => [
    ...op.get(DST_P), ...op.get(I), ...op.i32Const(1), ...op.i32Shl, ...op.i32Add,
    ...op.get(H), ...extend, ...op.set(LANES),
    ...op.get(LANES), ...splat(0x7c00), ...v128.and, ...splat(0x7c00), ...v128.i32x4Eq, ...op.set(MASK),
    ...op.get(BAD), ...op.get(MASK), ...v128.or, ...op.set(BAD),
    ...op.get(LANES), ...splat(0x7fff), ...v128.and, ...op.i32Const(13), ...v128.i32x4Shl,
    ...splat(0x77800000), ...v128.f32x4Mul, // 0x77800000 = 2^112 as float32
    ...op.get(MASK), ...splat(0x7f800000), ...v128.and, ...v128.or,
    ...op.get(LANES), ...splat(0x8000), ...v128.and, ...op.i32Const(16), ...v128.i32x4Shl, ...v128.or,
    ...v128.store(offset),
  ];
  return {
    name: 'f16to32',
    params: [I32, I32, I32],
    results: [I32],
    locals: [[2, I32], [4, V128]],
    body: [
      ...splat(0), ...op.set(BAD),
      ...op.get(N), ...op.i32Const(1), ...op.i32Shl, ...op.set(END),
      ...op.i32Const(0), ...op.set(I),
      ...op.block, ...op.loop,
      ...op.get(I), ...op.get(END), ...op.i32GeU, ...op.brIf(1),
      ...op.get(SRC_P), ...op.get(I), ...op.i32Add, ...v128.load(0), ...op.set(H),
      ...quad(v128.extendLowU16, 0),
      ...quad(v128.extendHighU16, 16),
      ...op.get(I), ...op.i32Const(16), ...op.i32Add, ...op.set(I),
      ...op.br(0), ...op.end, ...op.end,
      ...op.get(BAD), ...v128.anyTrue,
    ],
  };
}

/** Converts `src` into `dst` (same length, a multiple of 8) and returns false when some value is Inf or NaN. */
export type HalfConverter = (src: Uint16Array, dst: Float32Array) => boolean;

function instantiate(): HalfConverter {
  type Convert = (src: number, dst: number, n: number) => number;
  const exports = instantiateModule<{ f16to32: Convert }>([convertFunction()], PAGES);
  const halves = new Uint16Array(exports.mem.buffer, SRC, CHUNK);
  const floats = new Float32Array(exports.mem.buffer, DST, CHUNK);
  return (src, dst) => {
    if (src.length % 8 !== 0 || dst.length !== src.length) throw new RangeError(`f16to32: ${src.length} halves into ${dst.length} floats (need equal lengths, a multiple of 8)`);
    let finite = true;
    for (let s = 0; s < src.length; s += CHUNK) {
      const k = Math.min(src.length, s + CHUNK) - s;
      halves.set(src.subarray(s, s + k));
      if (exports.f16to32(SRC, DST, k)) finite = false;
      dst.set(floats.subarray(0, k), s);
    }
    return finite;
  };
}

/** The SIMD converter, or undefined where WebAssembly SIMD is unavailable. */
export const simdHalfConverter: () => HalfConverter | undefined = lazyWasm(instantiate);
