// Test helpers: an independent float64 head forward, a safetensors writer, and fake encoders.
import { writeFileSync } from 'node:fs';
import type { HeadConfig, ParamSet, Side } from '../../src/head/config.js';
import { initParams } from '../../src/head/init.js';
import { Rng } from '../../src/util/rng.js';
import type { ImageEncoder, ImageInput, TextEncoder } from '../../src/encoders/types.js';

/** A tiny random head; biases and LN affine are randomised too so every parameter matters. */
export function randomHead(cfg: HeadConfig, seed = 1): ParamSet {
  const rng = new Rng(seed);
  const params = initParams(cfg, rng);
  for (const p of params)
    if (p.name.endsWith('bias') && p.name !== 'logit_bias') for (let i = 0; i < p.data.length; i++) p.data[i] = (rng.next() - 0.5) * 0.2;
    else if (p.name.endsWith('layer_norm.weight')) for (let i = 0; i < p.data.length; i++) p.data[i] = 0.5 + rng.next();
  return params;
}

/** Float64 reference forward of one head side for one row (straight from sail-method.md section 5). */
export function refForward(cfg: HeadConfig, params: ParamSet, side: Side, x: ArrayLike<number>, normalize = true): Float64Array {
  const get = (n: string) => params.find((p) => p.name === n)!.data;
  const d = side === 'vision' ? cfg.visionDim : cfg.textDim;
  let mean = 0;
  for (let i = 0; i < d; i++) mean += x[i];
  mean /= d;
  let v = 0;
  for (let i = 0; i < d; i++) v += (x[i] - mean) ** 2;
  v /= d;
  const w = get(`${side}_layer_norm.weight`);
  const b = get(`${side}_layer_norm.bias`);
  const h = Float64Array.from({ length: d }, (_, i) => ((x[i] - mean) / Math.sqrt(v + 1e-5)) * w[i] + b[i]);
  const lin = (inp: Float64Array, name: string): Float64Array => {
    const W = get(`${name}.weight`);
    const B = get(`${name}.bias`);
    const out = B.length;
    const n = inp.length;
    return Float64Array.from({ length: out }, (_, o) => {
      let s = B[o];
      for (let i = 0; i < n; i++) s += W[o * n + i] * inp[i];
      return s;
    });
  };
  const m = `${side}_mapping_network`;
  let y: Float64Array;
  if (cfg.type === 'star') {
    const h1 = lin(h, `${m}.f1`).map((t) => Math.min(Math.max(t, -1000), 1000));
    const h2 = lin(h, `${m}.f2`).map((t) => Math.min(Math.max(t, -1000), 1000));
    y = lin(h1.map((t, i) => Math.min(Math.max(t, 0), 6) * h2[i]), `${m}.g`);
  } else if (cfg.type === 'mlp') {
    const a = lin(h, `${m}.proj.0`);
    y = lin(a.map((t) => 0.5 * t * (1 + erf(t / Math.SQRT2))), `${m}.proj.2`);
  } else y = lin(h, m);
  if (!normalize) return y;
  const n = Math.sqrt(y.reduce((s, t) => s + t * t, 0));
  return y.map((t) => t / n);
}

/** erf to ~1e-12 via its Maclaurin series (|x| < 3) or the continued fraction tail; independent of onnxruntime. */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax > 5) return Math.sign(x);
  let sum = 0;
  let term = ax;
  for (let n = 0; n < 200; n++) {
    sum += term / (2 * n + 1);
    term *= (-ax * ax) / (n + 1);
    if (Math.abs(term) < 1e-17) break;
  }
  return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
}

/** Write tensors as an F32 safetensors file (independent of the reader under test). */
export function writeSafetensors(file: string, tensors: { name: string; shape: number[]; data: Float32Array }[], metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let off = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([len, json, ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))]));
}

/** An image "backbone" that returns planted vectors keyed by the input string. */
export class PlantedImageEncoder implements ImageEncoder {
  readonly id = 'planted-image';
  constructor(
    readonly dim: number,
    private readonly table: Map<string, Float32Array>,
    private readonly patchTable?: Map<string, { data: Float32Array; grid: [number, number] }>,
  ) {}
  async encode(images: ImageInput[]): Promise<Float32Array> {
    const out = new Float32Array(images.length * this.dim);
    images.forEach((im, i) => out.set(this.table.get(String(im))!, i * this.dim));
    return out;
  }
  async encodePatches(images: ImageInput[]): Promise<{ data: Float32Array; patches: number; grid: [number, number]; dim: number }> {
    const first = this.patchTable!.get(String(images[0]))!;
    const patches = first.grid[0] * first.grid[1];
    const data = new Float32Array(images.length * patches * this.dim);
    images.forEach((im, i) => data.set(this.patchTable!.get(String(im))!.data, i * patches * this.dim));
    return { data, patches, grid: first.grid, dim: this.dim };
  }
  async dispose(): Promise<void> {}
}

/** A text "backbone" returning planted vectors; texts not in the table get a hash-seeded random vector. */
export class PlantedTextEncoder implements TextEncoder {
  readonly id = 'planted-text';
  readonly seen: string[] = [];
  constructor(
    readonly dim: number,
    private readonly table: (text: string) => Float32Array | undefined,
  ) {}
  async encode(texts: string[]): Promise<Float32Array> {
    const out = new Float32Array(texts.length * this.dim);
    texts.forEach((t, i) => {
      this.seen.push(t);
      let v = this.table(t);
      if (!v) {
        let h = 7;
        for (const ch of t) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
        const rng = new Rng(h);
        v = Float32Array.from({ length: this.dim }, () => rng.next() - 0.5);
      }
      out.set(v, i * this.dim);
    });
    return out;
  }
  async dispose(): Promise<void> {}
}
