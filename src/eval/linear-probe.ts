// Linear probe by closed-form ridge regression (one-vs-rest on one-hot targets): W = (X'X + lambda I)^-1 X'Y
// with a bias column. The d x d and d x C products run on onnxruntime; the solve is a float64 Cholesky.
import type { SessionOptions } from '../onnx/session.js';
import { SailError } from '../util/errors.js';
import { solveSpd } from './cholesky.js';
import { classificationMetrics, type ClassificationMetrics } from './metrics.js';
import { BlockProduct, scanSimilarity } from './similarity.js';

/** A fitted probe: weights [nClasses, dim + 1] (last column = bias), row-major. */
export interface RidgeProbe {
  weights: Float32Array;
  dim: number;
  nClasses: number;
  lambda: number;
}

/** Features with a trailing 1 (bias), transposed to [dim + 1, n] so X'X is a plain A A^T product. */
function transposeWithBias(x: Float32Array, n: number, d: number): Float32Array {
  const t = new Float32Array((d + 1) * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) t[j * n + i] = x[i * d + j];
    t[d * n + i] = 1;
  }
  return t;
}

/**
 * Fit a ridge probe on features [n, dim] with integer labels. `lambda` is relative: the penalty is
 * lambda x mean diagonal of X'X (default 1e-3), so it does not depend on the feature scale. The bias is not penalised.
 */
export async function fitRidgeProbe(x: Float32Array, labels: Int32Array, dim: number, nClasses: number, opts: SessionOptions & { lambda?: number } = {}): Promise<RidgeProbe> {
  const n = labels.length;
  if (x.length !== n * dim) throw new SailError(`linear probe: ${x.length / dim} feature rows but ${n} labels`);
  const m = dim + 1;
  const xt = transposeWithBias(x, n, dim);
  const yt = new Float32Array(nClasses * n);
  for (let i = 0; i < n; i++) {
    if (labels[i] < 0 || labels[i] >= nClasses) throw new SailError(`linear probe: label ${labels[i]} outside 0..${nClasses - 1}`, { row: i });
    yt[labels[i] * n + i] = 1;
  }
  const p = await BlockProduct.create(n, opts);
  let xtx: Float32Array;
  let xty: Float32Array;
  try {
    xtx = Float32Array.from(await p.scores(xt, m, xt, m));
    xty = Float32Array.from(await p.scores(xt, m, yt, nClasses));
  } finally {
    await p.dispose();
  }
  let tr = 0;
  for (let j = 0; j < dim; j++) tr += xtx[j * m + j];
  const lambda = opts.lambda ?? 1e-3;
  const pen = lambda * (tr / Math.max(1, dim)) + 1e-12;
  const a = Float64Array.from(xtx);
  for (let j = 0; j < dim; j++) a[j * m + j] += pen;
  a[dim * m + dim] += 1e-9 * n; // keep the bias row well conditioned without shrinking it noticeably
  const w = await solveSpd(a, Float64Array.from(xty), m, nClasses, opts);
  const weights = new Float32Array(nClasses * m);
  for (let j = 0; j < m; j++) for (let c = 0; c < nClasses; c++) weights[c * m + j] = w[j * nClasses + c];
  return { weights, dim, nClasses, lambda };
}

/** Accuracy of a fitted probe on test features (pessimistic ties, like every metric here). */
export async function evaluateRidgeProbe(probe: RidgeProbe, x: Float32Array, labels: Int32Array, opts: SessionOptions & { classNames?: readonly string[] } = {}): Promise<ClassificationMetrics> {
  const n = labels.length;
  const m = probe.dim + 1;
  const xb = new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    xb.set(x.subarray(i * probe.dim, (i + 1) * probe.dim), i * m);
    xb[i * m + probe.dim] = 1;
  }
  const res = await scanSimilarity({
    queries: xb, candidates: probe.weights, dim: m, topK: 1,
    queryGroup: labels, candidateGroup: Int32Array.from({ length: probe.nClasses }, (_, c) => c),
  }, opts);
  return classificationMetrics(res.ranks!, res.topIndices!, labels, probe.nClasses, { classNames: opts.classNames });
}
