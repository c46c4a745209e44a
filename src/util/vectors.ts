// Small row-major vector helpers shared by eval, the model, segmentation and the search index.

/** Row-wise L2 normalisation (in place unless `out` is given); zero rows stay zero. */
export function l2NormalizeRows(x: Float32Array, dim: number, out: Float32Array = x): Float32Array {
  const n = x.length / dim;
  for (let i = 0; i < n; i++) {
    let ss = 0;
    const o = i * dim;
    for (let j = 0; j < dim; j++) ss += x[o + j] * x[o + j];
    // x / max(|x|, 1e-12), as torch F.normalize and the head graphs
    const inv = 1 / Math.max(Math.sqrt(ss), 1e-12);
    for (let j = 0; j < dim; j++) out[o + j] = x[o + j] * inv;
  }
  return out;
}

/** Cosine similarity [na, nb] of two row-major sets of width d (inputs are not modified). */
export function cosineMatrix(a: Float32Array, b: Float32Array, d: number): Float32Array {
  const an = l2NormalizeRows(a.slice(), d);
  const bn = l2NormalizeRows(b.slice(), d);
  const na = an.length / d;
  const nb = bn.length / d;
  const out = new Float32Array(na * nb);
  for (let i = 0; i < na; i++)
    for (let j = 0; j < nb; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += an[i * d + k] * bn[j * d + k];
      out[i * nb + j] = s;
    }
  return out;
}

/** Numerically stable logistic function. */
export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** Softmax of each row of a row-major [n, c] matrix, in place; returns it. */
export function softmaxRows(x: Float32Array, c: number): Float32Array {
  for (let r = 0; r < x.length; r += c) {
    let m = -Infinity;
    for (let k = 0; k < c; k++) m = Math.max(m, x[r + k]);
    let s = 0;
    for (let k = 0; k < c; k++) s += Math.exp(x[r + k] - m);
    for (let k = 0; k < c; k++) x[r + k] = Math.exp(x[r + k] - m) / s;
  }
  return x;
}
