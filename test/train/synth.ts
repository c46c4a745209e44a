// Synthetic stores for training tests: text embeddings are a fixed linear map of image embeddings plus noise.
import type { ParamSet } from '../../src/head/config.js';
import { createStoreWriter } from '../../src/store/writer.js';
import { Rng } from '../../src/util/rng.js';

export interface Planted {
  /** Held-out pairs, row-major. */
  testImage: Float64Array;
  testText: Float64Array;
  testRows: number;
}

/**
 * Write a store of `rows` pairs with text = A * image + noise (A fixed by `seed`) and return
 * `testRows` held-out pairs drawn from the same relation.
 */
export async function plantedStore(dir: string, o: { rows: number; testRows: number; imageDim: number; textDim: number; noise: number; seed: number; partRows?: number; dtype?: 'float16' | 'float32'; extra?: boolean }): Promise<Planted> {
  const rng = new Rng(o.seed);
  const A = new Float64Array(o.textDim * o.imageDim);
  for (let i = 0; i < A.length; i++) A[i] = rng.normal() / Math.sqrt(o.imageDim);
  const pair = (n: number) => {
    const img = new Float64Array(n * o.imageDim);
    const txt = new Float64Array(n * o.textDim);
    for (let i = 0; i < img.length; i++) img[i] = rng.normal();
    for (let r = 0; r < n; r++) {
      for (let t = 0; t < o.textDim; t++) {
        let s = 0;
        for (let d = 0; d < o.imageDim; d++) s += A[t * o.imageDim + d] * img[r * o.imageDim + d];
        txt[r * o.textDim + t] = s + o.noise * rng.normal();
      }
    }
    return { img, txt };
  };
  const dtype = o.dtype ?? 'float32';
  const mods = [{ name: 'image', dim: o.imageDim, dtype }, { name: 'text', dim: o.textDim, dtype }];
  if (o.extra) mods.push({ name: 'extra_text', dim: o.textDim, dtype });
  const w = await createStoreWriter(dir, { modalities: mods });
  const per = o.partRows ?? 512;
  for (let p = 0, start = 0; start < o.rows; p++, start += per) {
    const n = Math.min(per, o.rows - start);
    const { img, txt } = pair(n);
    const rows: Record<string, Float32Array> = { image: Float32Array.from(img), text: Float32Array.from(txt) };
    if (o.extra) rows.extra_text = Float32Array.from(txt, (x) => x + o.noise * rng.normal());
    await w.writePart(p, rows);
  }
  await w.finalize();
  const test = pair(o.testRows);
  return { testImage: test.img, testText: test.txt, testRows: o.testRows };
}

/** Float64 forward of a linear head side: LayerNorm (eps 1e-5) then Linear, then L2 normalisation. */
export function linearHeadEmbed(params: Map<string, Float32Array>, side: 'vision' | 'text', x: Float64Array, n: number, dim: number, out: number): Float64Array {
  const lw = params.get(`${side}_layer_norm.weight`)!;
  const lb = params.get(`${side}_layer_norm.bias`)!;
  const W = params.get(`${side}_mapping_network.weight`)!;
  const b = params.get(`${side}_mapping_network.bias`)!;
  const z = new Float64Array(n * out);
  const h = new Float64Array(dim);
  for (let r = 0; r < n; r++) {
    let mean = 0;
    for (let d = 0; d < dim; d++) mean += x[r * dim + d];
    mean /= dim;
    let v = 0;
    for (let d = 0; d < dim; d++) v += (x[r * dim + d] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / dim + 1e-5);
    for (let d = 0; d < dim; d++) h[d] = (x[r * dim + d] - mean) * inv * lw[d] + lb[d];
    let norm = 0;
    for (let o = 0; o < out; o++) {
      let s = b[o];
      for (let d = 0; d < dim; d++) s += W[o * dim + d] * h[d];
      z[r * out + o] = s;
      norm += s * s;
    }
    norm = Math.sqrt(norm);
    for (let o = 0; o < out; o++) z[r * out + o] /= norm;
  }
  return z;
}

/** Image-to-text R@1 over n held-out pairs (row i matches row i). */
export function recallAt1(img: Float64Array, txt: Float64Array, n: number, dim: number): number {
  let hits = 0;
  for (let i = 0; i < n; i++) {
    let best = -Infinity;
    let arg = -1;
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += img[i * dim + d] * txt[j * dim + d];
      if (s > best) { best = s; arg = j; }
    }
    if (arg === i) hits++;
  }
  return hits / n;
}

export function toMap(params: ParamSet): Map<string, Float32Array> {
  return new Map(params.map((p) => [p.name, p.data]));
}
