import { Rng } from '../../src/util/rng.js';

/** Rows = mix * (latent [n, k] mapped by a fresh random k x dim matrix) + (1 - mix) * noise: a backbone of known quality. */
export function latentRows(latent: Float32Array, n: number, k: number, dim: number, mix: number, rng: Rng): Float32Array {
  const m = new Float32Array(k * dim).map(() => rng.normal());
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) {
    let s = 0;
    for (let a = 0; a < k; a++) s += latent[i * k + a] * m[a * dim + j];
    x[i * dim + j] = mix * s + (1 - mix) * 3 * rng.normal();
  }
  return x;
}
