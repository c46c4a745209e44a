// Shared helpers for the engine tests: small head configs, random parameters and batches.
import { paramSpecs, type HeadConfig, type HeadType, type ParamSet } from '../../src/head/config.js';
import { Rng } from '../../src/util/rng.js';

/** A tiny head: vision 5, text 7 (so the two sides differ), target 3, star width 2. */
export function tinyConfig(type: HeadType): HeadConfig {
  return { type, widthFactor: 2, visionDim: 5, textDim: 7, targetDim: 3, logitScaleInit: 10, logitBiasInit: -2 };
}

/** Random parameters with non-trivial LayerNorm affine and biases (unlike the zero-bias init). */
export function randomParams(cfg: HeadConfig, seed: number): ParamSet {
  const rng = new Rng(seed);
  const u = (a: number) => (rng.next() * 2 - 1) * a;
  return paramSpecs(cfg).map(({ name, shape, kind }) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      if (kind === 'ln_weight') data[i] = 1 + u(0.3);
      else if (kind === 'weight') data[i] = u(1.2 / Math.sqrt(shape[1]));
      else data[i] = u(0.3);
    }
    if (name === 'logit_scale') data[0] = Math.log(cfg.logitScaleInit);
    if (name === 'logit_bias') data[0] = cfg.logitBiasInit;
    return { name, shape, data };
  });
}

/** Random rows [n, d] with a per-row offset so the LayerNorm has something to remove. */
export function randomRows(n: number, d: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const off = rng.next() * 2 - 1;
    for (let j = 0; j < d; j++) x[i * d + j] = off + (rng.next() * 2 - 1) * 1.5;
  }
  return x;
}

/** Largest |a - b| relative to the largest |b| (with a floor so all-zero gradients compare absolutely). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): number {
  let diff = 0;
  let scale = floor;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}
