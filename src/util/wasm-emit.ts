// A minimal WebAssembly binary writer: just enough to emit small hand-written SIMD kernels (no toolchain
// at build or run time). Encodings follow the WebAssembly core spec (binary format) and its fixed-width
// SIMD proposal (0xFD-prefixed instructions).

/** Unsigned LEB128. */
export function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

/** Signed LEB128 (i32.const immediates). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** Value types. */
export const I32 = 0x7f;
export const F64 = 0x7c;
export const V128 = 0x7b;

/** A vector: its length, then its items. */
export function vec(items: number[][]): number[] {
  return [...leb(items.length), ...items.flat()];
}

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...leb(bytes.length), ...bytes];
}

function section(id: number, body: number[]): number[] {
  return [id, ...leb(body.length), ...body];
}

/** Instructions used by the kernels. */
export const op = {
  get: (i: number) => [0x20, ...leb(i)],
  set: (i: number) => [0x21, ...leb(i)],
  tee: (i: number) => [0x22, ...leb(i)],
  i32Const: (v: number) => [0x41, ...sleb(v)],
  f64Const: (v: number) => {
    const b = new DataView(new ArrayBuffer(8));
    b.setFloat64(0, v, true);
    return [0x44, ...new Uint8Array(b.buffer)];
  },
  i32Add: [0x6a],
  i32And: [0x71],
  i32Shl: [0x74],
  i32GeU: [0x4f],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  br: (depth: number) => [0x0c, ...leb(depth)],
  brIf: (depth: number) => [0x0d, ...leb(depth)],
  end: [0x0b],
};

/** 0xFD-prefixed SIMD instructions (opcode numbers of the final SIMD spec). */
const simd = (code: number): number[] => [0xfd, ...leb(code)];
export const v128 = {
  /** v128.load / v128.store of 16 bytes; memarg = (align 0, offset). */
  load: (offset: number) => [...simd(0x00), 0, ...leb(offset)],
  store: (offset: number) => [...simd(0x0b), 0, ...leb(offset)],
  /** v128.const from four i32 lanes. */
  constI32x4: (lanes: [number, number, number, number]) => {
    const b = new DataView(new ArrayBuffer(16));
    lanes.forEach((v, i) => b.setInt32(4 * i, v, true));
    return [...simd(0x0c), ...new Uint8Array(b.buffer)];
  },
  or: simd(0x50),
  anyTrue: simd(0x53),
  i32x4Eq: simd(0x37),
  i32x4Shl: simd(0xab),
  /** i32x4.extend_low_i16x8_u / extend_high_i16x8_u: four u16 lanes widened to u32. */
  extendLowU16: simd(0xa9),
  extendHighU16: simd(0xaa),
  f32x4Mul: simd(0xe6),
  /** v128.load64_zero: two f32 (8 bytes) into the low half; memarg = (align 0, offset). */
  load64Zero: (offset: number) => [...simd(0x5d), 0, ...leb(offset)],
  /** v128.store64_lane 0: the low 8 bytes. */
  store64Lane0: (offset: number) => [...simd(0x5b), 0, ...leb(offset), 0],
  and: simd(0x4e),
  f64x2Splat: simd(0x14),
  f64x2Lt: simd(0x49),
  f64x2Gt: simd(0x4a),
  f64x2Sqrt: simd(0xef),
  f64x2Add: simd(0xf0),
  f64x2Sub: simd(0xf1),
  f64x2Mul: simd(0xf2),
  f64x2Div: simd(0xf3),
  /** f64x2.promote_low_f32x4: the two low f32 lanes, widened exactly. */
  promoteLow: simd(0x5f),
  /** f32x4.demote_f64x2_zero: round to nearest f32 (as a Float32Array store does), high lanes zero. */
  demoteZero: simd(0x5e),
};

/** One exported function: its parameter types, result types, extra locals (count, type) and body (without the final `end`). */
export interface WasmFunction {
  name: string;
  params: number[];
  results?: number[];
  locals: [number, number][];
  body: number[];
}

/** A module with one memory of `pages` 64 KiB pages (exported as `mem`) and the given functions. */
export function wasmModule(functions: WasmFunction[], pages: number): Uint8Array<ArrayBuffer> {
  const types = functions.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec((f.results ?? []).map((t) => [t]))]);
  const exports = [...functions.map((f, i) => [...name(f.name), 0, ...leb(i)]), [...name('mem'), 2, 0]];
  const bodies = functions.map((f) => {
    const code = [...vec(f.locals.map(([n, t]) => [...leb(n), t])), ...f.body, ...op.end];
    return [...leb(code.length), ...code];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(3, vec(functions.map((_, i) => leb(i)))),
    ...section(5, vec([[0, ...leb(pages)]])),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
  ]);
}

/** Compile and instantiate a module from {@link wasmModule}; its exports, `mem` included. */
export function instantiateModule<T>(functions: WasmFunction[], pages: number): T & { mem: WebAssembly.Memory } {
  return new WebAssembly.Instance(new WebAssembly.Module(wasmModule(functions, pages))).exports as T & { mem: WebAssembly.Memory };
}

/**
 * A lazily built WebAssembly-backed value: the first call runs `build` and later calls reuse its result;
 * undefined where WebAssembly or its SIMD instructions are unavailable (callers then use their scalar path).
 */
export function lazyWasm<T>(build: () => T): () => T | undefined {
  let cached: T | null | undefined;
  return () => {
    if (cached === undefined) {
      try {
        cached = typeof WebAssembly === 'object' ? build() : null;
      } catch {
        cached = null; // an engine without WebAssembly SIMD
      }
    }
    return cached ?? undefined;
  };
}
