// Pure pooling of backbone token outputs into one vector per item (SAIL method sections 1.1 and 2).
import { SailError } from '../util/errors.js';

/** DINOv2 aggregation: `concat` = [CLS ; mean(patch)], `cls` = CLS, `patch` = mean(patch). */
export type ImageRecipe = 'concat' | 'cls' | 'patch';
/** Text pooling: `cls` = token 0, `mean` = mean over attended tokens, `last` = last attended token. */
export type TextPooling = 'cls' | 'mean' | 'last';

export const IMAGE_RECIPES: readonly ImageRecipe[] = ['concat', 'cls', 'patch'];
export const TEXT_POOLINGS: readonly TextPooling[] = ['cls', 'mean', 'last'];

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
