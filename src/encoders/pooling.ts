// Pooling of backbone token outputs into one vector per item (SAIL method sections 1.1 and 2): the one
// vocabulary, and the JS form that the library encoders run. The same poolings as ONNX nodes (for fused
// exports) are in pooling-graph.ts; test/model/fused-parity.test.ts holds the two forms to each other.
import { SailError } from '../util/errors.js';

/**
 * How backbone token states [B, T, D] become one vector per item:
 * - `none`: the output is already pooled, [B, D];
 * - `cls`: token 0 (CLIP/DINOv2 CLS, GTE "BOS");
 * - `patch`: mean of the patch tokens (DINOv2 'patch'; tokens after CLS and registers);
 * - `concat`: [CLS ; mean(patch tokens)] -> 2D (DINOv2 'concat', the SAIL default);
 * - `mean`: mean over attended tokens (the attention mask; every token when there is none);
 * - `last`: the last attended token.
 */
export type Pooling = 'none' | 'cls' | 'patch' | 'concat' | 'mean' | 'last';
export const POOLINGS: readonly Pooling[] = ['none', 'cls', 'patch', 'concat', 'mean', 'last'];

/** The poolings an image backbone offers (DINOv2 aggregation). */
export type ImageRecipe = Extract<Pooling, 'concat' | 'cls' | 'patch'>;
/** The poolings a text backbone offers. */
export type TextPooling = Extract<Pooling, 'cls' | 'mean' | 'last'>;

export const IMAGE_RECIPES: readonly ImageRecipe[] = ['concat', 'cls', 'patch'];
export const TEXT_POOLINGS: readonly TextPooling[] = ['cls', 'mean', 'last'];

/** Older names of the export CLI, still accepted. */
const ALIASES: Record<string, Pooling> = { 'cls-mean': 'concat', 'mean-patch': 'patch' };

/** Validate a pooling name from a user or a config (`cls-mean` and `mean-patch` name `concat` and `patch`). */
export function parsePooling(p: string, what = 'pooling'): Pooling {
  const v = ALIASES[p] ?? p;
  if (!(POOLINGS as readonly string[]).includes(v)) throw new SailError(`unknown ${what} '${p}' (expected ${POOLINGS.join(', ')})`);
  return v as Pooling;
}

/** Validate a recipe name coming from a user or a config. */
export function checkRecipe(r: string): ImageRecipe {
  if (!(IMAGE_RECIPES as readonly string[]).includes(r)) throw new SailError(`unknown image recipe '${r}' (expected ${IMAGE_RECIPES.join(', ')})`);
  return r as ImageRecipe;
}

/** Validate a pooling name. */
export function checkPooling(p: string): TextPooling {
  if (!(TEXT_POOLINGS as readonly string[]).includes(p)) throw new SailError(`unknown text pooling '${p}' (expected ${TEXT_POOLINGS.join(', ')})`);
  return p as TextPooling;
}

/** Output width of a recipe for a backbone of hidden size `hidden`. */
export function recipeDim(recipe: ImageRecipe, hidden: number): number {
  return recipe === 'concat' ? 2 * hidden : hidden;
}

/**
 * Pool `last_hidden_state` [B, T, D] (token 0 = CLS, tokens 1.. = patches) into [B, dim].
 * `firstPatch` skips register tokens (DINOv2 with registers puts them between CLS and patches).
 */
export function poolImageTokens(h: Float32Array, b: number, t: number, d: number, recipe: ImageRecipe, firstPatch = 1): Float32Array {
  const p = t - firstPatch;
  if (p <= 0 && recipe !== 'cls') throw new SailError(`model output has no patch tokens (shape [${b}, ${t}, ${d}])`);
  const outDim = recipeDim(recipe, d);
  const out = new Float32Array(b * outDim);
  const acc = new Float64Array(d);
  for (let i = 0; i < b; i++) {
    const base = i * t * d;
    const o = i * outDim;
    if (recipe === 'concat' || recipe === 'cls') out.set(h.subarray(base, base + d), o);
    if (recipe === 'cls') continue;
    acc.fill(0);
    for (let k = firstPatch; k < t; k++) {
      const row = base + k * d;
      for (let j = 0; j < d; j++) acc[j] += h[row + j];
    }
    const off = recipe === 'concat' ? o + d : o;
    for (let j = 0; j < d; j++) out[off + j] = acc[j] / p;
  }
  return out;
}

/** Per-patch features `[CLS ; patch_i]`: [B, T, D] -> [B, P, 2D] (the CLS copied onto every patch). */
export function patchTokens(h: Float32Array, b: number, t: number, d: number, firstPatch = 1): Float32Array {
  const p = t - firstPatch;
  const out = new Float32Array(b * p * 2 * d);
  for (let i = 0; i < b; i++) {
    const base = i * t * d;
    const cls = h.subarray(base, base + d);
    for (let k = 0; k < p; k++) {
      const o = (i * p + k) * 2 * d;
      out.set(cls, o);
      const row = base + (firstPatch + k) * d;
      out.set(h.subarray(row, row + d), o + d);
    }
  }
  return out;
}

/**
 * Pool token states [B, T, D] with an attention mask [B, T] (1 = token, 0 = pad) into [B, D].
 * `last` finds the last attended position, so it works for left or right padding.
 */
export function poolTextTokens(h: Float32Array, mask: ArrayLike<number | bigint>, b: number, t: number, d: number, pooling: TextPooling): Float32Array {
  const out = new Float32Array(b * d);
  const acc = new Float64Array(d);
  for (let i = 0; i < b; i++) {
    const base = i * t * d;
    if (pooling === 'cls') {
      out.set(h.subarray(base, base + d), i * d);
      continue;
    }
    if (pooling === 'last') {
      let last = -1;
      for (let k = 0; k < t; k++) if (Number(mask[i * t + k]) !== 0) last = k;
      if (last < 0) last = t - 1;
      out.set(h.subarray(base + last * d, base + (last + 1) * d), i * d);
      continue;
    }
    acc.fill(0);
    let n = 0;
    for (let k = 0; k < t; k++) {
      if (Number(mask[i * t + k]) === 0) continue;
      n += 1;
      const row = base + k * d;
      for (let j = 0; j < d; j++) acc[j] += h[row + j];
    }
    // sentence-transformers clamps the token count at 1e-9; an all-pad row then pools to zeros
    const div = Math.max(n, 1e-9);
    for (let j = 0; j < d; j++) out[i * d + j] = acc[j] / div;
  }
  return out;
}
