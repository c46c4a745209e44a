// Float64 reference math for heads and losses, forward and hand-written backward. Slow and simple on
// purpose: it is the independent check for the ONNX training graphs, not a training path.
import { SailError } from '../../src/util/errors.js';
import { paramSpecs, type HeadConfig, type Side } from '../../src/head/config.js';

/** Parameters by name, float64. */
export type RefParams = Record<string, Float64Array>;

const LN_EPS = 1e-5;
const CLIP = 1e3;

/** C[n,m] = A[n,k] @ B[m,k]^T (B stored like a Linear weight, [out, in]). */
function mmT(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  const c = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[j * k + p];
      c[i * m + j] = s;
    }
  }
  return c;
}

/** C[n,m] = A[n,k] @ B[k,m]. */
function mm(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  const c = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      for (let j = 0; j < m; j++) c[i * m + j] += av * b[p * m + j];
    }
  }
  return c;
}

/** C[k,m] = A[n,k]^T @ B[n,m] (weight gradient layout [out, in] when A = dOut, B = input). */
function tmm(a: Float64Array, b: Float64Array, n: number, k: number, m: number): Float64Array {
  const c = new Float64Array(k * m);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      for (let j = 0; j < m; j++) c[p * m + j] += av * b[i * m + j];
    }
  }
  return c;
}

function addBias(y: Float64Array, bias: Float64Array, n: number, m: number): void {
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) y[i * m + j] += bias[j];
}

function colSum(a: Float64Array, n: number, m: number): Float64Array {
  const s = new Float64Array(m);
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) s[j] += a[i * m + j];
  return s;
}

const erf = (x: number): number => {
  // Abramowitz-Stegun 7.1.26 is too coarse for finite differences; use a series / continued fraction.
  const ax = Math.abs(x);
  let r: number;
  if (ax < 3) {
    // Maclaurin series, converges fast for |x| < 3
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let k = 1; k < 100; k++) {
      term *= -x2 / k;
      const add = term / (2 * k + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // continued fraction for erfc
    let f = 0;
    for (let k = 60; k >= 1; k--) f = (k / 2) / (ax + f);
    r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  }
  return x < 0 ? -r : r;
};

/** Exact (erf) GELU and its derivative. */
export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}
function geluGrad(x: number): number {
  return 0.5 * (1 + erf(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
}

/** Numerically stable log(1 + e^x). */
export function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}
function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** Intermediates of one head forward, kept for the backward pass. */
export interface HeadCache {
  n: number;
  d: number;
  xhat: Float64Array;
  y: Float64Array;
  /** star: pre-activations of f1, f2; mlp: pre-activation of proj.0. */
  h1?: Float64Array;
  h2?: Float64Array;
  /** Input of the last Linear (star: ReLU6(c1)*c2; mlp: GELU(h)). */
  a?: Float64Array;
  hidden: number;
}

function need(p: RefParams, name: string): Float64Array {
  const v = p[name];
  if (!v) throw new SailError(`missing parameter ${name}`);
  return v;
}

/** Forward of one side's head on x [n, d]; returns z [n, targetDim] (unnormalised) and a cache. */
export function refHeadForward(cfg: HeadConfig, side: Side, p: RefParams, x: Float64Array, n: number): { z: Float64Array; cache: HeadCache } {
  const d = side === 'vision' ? cfg.visionDim : cfg.textDim;
  const o = cfg.targetDim;
  const gamma = need(p, `${side}_layer_norm.weight`);
  const beta = need(p, `${side}_layer_norm.bias`);
  const xhat = new Float64Array(n * d);
  const y = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    let mu = 0;
    for (let j = 0; j < d; j++) mu += x[i * d + j];
    mu /= d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (x[i * d + j] - mu) ** 2;
    const inv = 1 / Math.sqrt(v / d + LN_EPS);
    for (let j = 0; j < d; j++) {
      xhat[i * d + j] = (x[i * d + j] - mu) * inv;
      y[i * d + j] = xhat[i * d + j] * gamma[j] + beta[j];
    }
  }
  const m = `${side}_mapping_network`;
  const cache: HeadCache = { n, d, xhat, y, hidden: 0 };
  let z: Float64Array;
  if (cfg.type === 'star') {
    const h = cfg.widthFactor * d;
    const h1 = mmT(y, need(p, `${m}.f1.weight`), n, d, h);
    addBias(h1, need(p, `${m}.f1.bias`), n, h);
    const h2 = mmT(y, need(p, `${m}.f2.weight`), n, d, h);
    addBias(h2, need(p, `${m}.f2.bias`), n, h);
    const a = new Float64Array(n * h);
    for (let k = 0; k < n * h; k++) {
      const c1 = Math.min(Math.max(h1[k], -CLIP), CLIP);
      const c2 = Math.min(Math.max(h2[k], -CLIP), CLIP);
      a[k] = Math.min(Math.max(c1, 0), 6) * c2;
    }
    z = mmT(a, need(p, `${m}.g.weight`), n, h, o);
    addBias(z, need(p, `${m}.g.bias`), n, o);
    Object.assign(cache, { h1, h2, a, hidden: h });
  } else if (cfg.type === 'mlp') {
    const h = 4 * d;
    const h1 = mmT(y, need(p, `${m}.proj.0.weight`), n, d, h);
    addBias(h1, need(p, `${m}.proj.0.bias`), n, h);
    const a = h1.map(gelu);
    z = mmT(a, need(p, `${m}.proj.2.weight`), n, h, o);
    addBias(z, need(p, `${m}.proj.2.bias`), n, o);
    Object.assign(cache, { h1, a, hidden: h });
  } else {
    z = mmT(y, need(p, `${m}.weight`), n, d, o);
    addBias(z, need(p, `${m}.bias`), n, o);
  }
  return { z, cache };
}

/** Backward of one side's head: parameter gradients given dL/dz [n, targetDim]. */
export function refHeadBackward(cfg: HeadConfig, side: Side, p: RefParams, cache: HeadCache, dz: Float64Array): RefParams {
  const { n, d, xhat, y, hidden: h } = cache;
  const o = cfg.targetDim;
  const m = `${side}_mapping_network`;
  const grads: RefParams = {};
  let dy: Float64Array;
  if (cfg.type === 'star') {
    const { h1, h2, a } = cache as Required<HeadCache>;
    const gw = need(p, `${m}.g.weight`);
    grads[`${m}.g.weight`] = tmm(dz, a, n, o, h);
    grads[`${m}.g.bias`] = colSum(dz, n, o);
    const da = mm(dz, gw, n, o, h);
    const dh1 = new Float64Array(n * h);
    const dh2 = new Float64Array(n * h);
    for (let k = 0; k < n * h; k++) {
      const c1 = Math.min(Math.max(h1[k], -CLIP), CLIP);
      const c2 = Math.min(Math.max(h2[k], -CLIP), CLIP);
      const r = Math.min(Math.max(c1, 0), 6);
      // ReLU6 passes the gradient strictly inside (0, 6); clamp(+-1e3) passes it on [-1e3, 1e3]
      dh1[k] = c1 > 0 && c1 < 6 && Math.abs(h1[k]) <= CLIP ? da[k] * c2 : 0;
      dh2[k] = Math.abs(h2[k]) <= CLIP ? da[k] * r : 0;
    }
    const w1 = need(p, `${m}.f1.weight`);
    const w2 = need(p, `${m}.f2.weight`);
    grads[`${m}.f1.weight`] = tmm(dh1, y, n, h, d);
    grads[`${m}.f1.bias`] = colSum(dh1, n, h);
    grads[`${m}.f2.weight`] = tmm(dh2, y, n, h, d);
    grads[`${m}.f2.bias`] = colSum(dh2, n, h);
    dy = mm(dh1, w1, n, h, d);
    const dy2 = mm(dh2, w2, n, h, d);
    for (let k = 0; k < n * d; k++) dy[k] += dy2[k];
  } else if (cfg.type === 'mlp') {
    const { h1, a } = cache as Required<HeadCache>;
    grads[`${m}.proj.2.weight`] = tmm(dz, a, n, o, h);
    grads[`${m}.proj.2.bias`] = colSum(dz, n, o);
    const da = mm(dz, need(p, `${m}.proj.2.weight`), n, o, h);
    const dh = new Float64Array(n * h);
    for (let k = 0; k < n * h; k++) dh[k] = da[k] * geluGrad(h1[k]);
    grads[`${m}.proj.0.weight`] = tmm(dh, y, n, h, d);
    grads[`${m}.proj.0.bias`] = colSum(dh, n, h);
    dy = mm(dh, need(p, `${m}.proj.0.weight`), n, h, d);
  } else {
    grads[`${m}.weight`] = tmm(dz, y, n, o, d);
    grads[`${m}.bias`] = colSum(dz, n, o);
    dy = mm(dz, need(p, `${m}.weight`), n, o, d);
  }
  const dg = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) dg[j] += dy[i * d + j] * xhat[i * d + j];
  grads[`${side}_layer_norm.weight`] = dg;
  grads[`${side}_layer_norm.bias`] = colSum(dy, n, d);
  return grads;
}

/** Row-wise L2 normalisation; returns the normalised rows and the norms. */
export function refNormalize(z: Float64Array, n: number, o: number): { v: Float64Array; norm: Float64Array } {
  const v = new Float64Array(n * o);
  const norm = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < o; j++) s += z[i * o + j] ** 2;
    norm[i] = Math.sqrt(s);
    for (let j = 0; j < o; j++) v[i * o + j] = z[i * o + j] / norm[i];
  }
  return { v, norm };
}

/** Backward of the L2 normalisation: dz = (dv - v <v, dv>) / |z|. */
export function refNormalizeBackward(v: Float64Array, norm: Float64Array, dv: Float64Array, n: number, o: number): Float64Array {
  const dz = new Float64Array(n * o);
  for (let i = 0; i < n; i++) {
    let dot = 0;
    for (let j = 0; j < o; j++) dot += v[i * o + j] * dv[i * o + j];
    for (let j = 0; j < o; j++) dz[i * o + j] = (dv[i * o + j] - v[i * o + j] * dot) / norm[i];
  }
  return dz;
}

/** Loss values and gradients w.r.t. the normalised features and the two scalars. */
export interface RefLossResult {
  loss: number;
  positiveLoss: number;
  negativeLoss: number;
  extraLoss?: number;
  dV: Float64Array;
  dT: Float64Array;
  dExtra?: Float64Array;
  /** d loss / d logit_scale (the log-space parameter). */
  dLogitScale: number;
  dLogitBias: number;
}

/**
 * SigLIP loss (sail-method.md 6.1/6.2) on normalised V, T (and optional extra T') [n, o]:
 * L = exp(logS) V T^T + b, rows = images, y = 2I - 1, loss = sum softplus(-y L) / N^2
 * (with extras: (sum + sum') / (2 N^2)).
 */
export function refSiglip(v: Float64Array, t: Float64Array, extra: Float64Array | undefined, n: number, o: number, logS: number, b: number): RefLossResult {
  const s = Math.exp(logS);
  const denom = (extra ? 2 : 1) * n * n;
  const dV = new Float64Array(n * o);
  let dLogitScale = 0;
  let dLogitBias = 0;
  const one = (tt: Float64Array) => {
    const cos = mmT(v, tt, n, o, n);
    let pos = 0;
    let neg = 0;
    const dL = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const L = s * cos[i * n + j] + b;
        const y = i === j ? 1 : -1;
        const term = softplus(-y * L);
        if (i === j) pos += term;
        else neg += term;
        // d softplus(-yL)/dL = -y sigmoid(-yL)
        const g = (-y * sigmoid(-y * L)) / denom;
        dL[i * n + j] = g;
        dLogitBias += g;
        dLogitScale += g * s * cos[i * n + j];
      }
    }
    const dvPart = mm(dL, tt, n, n, o);
    for (let k = 0; k < n * o; k++) dV[k] += s * dvPart[k];
    const dTt = tmm(dL, v, n, n, o);
    for (let k = 0; k < n * o; k++) dTt[k] *= s;
    return { pos, neg, dTt };
  };
  const main = one(t);
  const ex = extra ? one(extra) : undefined;
  const loss = (main.pos + main.neg + (ex ? ex.pos + ex.neg : 0)) / denom;
  return {
    loss,
    positiveLoss: main.pos / (n * n),
    negativeLoss: main.neg / (n * n),
    extraLoss: ex ? (ex.pos + ex.neg) / (n * n) : undefined,
    dV,
    dT: main.dTt,
    dExtra: ex?.dTt,
    dLogitScale,
    dLogitBias,
  };
}

/**
 * Symmetric InfoNCE (sail-method.md 6.3): L = exp(logS) V T^T (no bias), loss = (CE(L, I) + CE(L^T, I)) / 2.
 * Split reported as positiveLoss = -mean_i L_ii and negativeLoss = the mean log-sum-exp terms
 * (row and column averaged), so that positive + negative = loss.
 */
export function refInfoNce(v: Float64Array, t: Float64Array, n: number, o: number, logS: number): RefLossResult {
  const s = Math.exp(logS);
  const cos = mmT(v, t, n, o, n);
  const L = cos.map((c) => s * c);
  const dL = new Float64Array(n * n);
  let lseSum = 0;
  let diag = 0;
  for (let i = 0; i < n; i++) diag += L[i * n + i];
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < n; i++) {
      // pass 0: row i of L; pass 1: column i of L
      const at = (j: number) => (pass === 0 ? i * n + j : j * n + i);
      let mx = -Infinity;
      for (let j = 0; j < n; j++) mx = Math.max(mx, L[at(j)]);
      let se = 0;
      for (let j = 0; j < n; j++) se += Math.exp(L[at(j)] - mx);
      const lse = mx + Math.log(se);
      lseSum += lse;
      for (let j = 0; j < n; j++) dL[at(j)] += (0.5 / n) * Math.exp(L[at(j)] - lse);
    }
  }
  for (let i = 0; i < n; i++) dL[i * n + i] -= 1 / n;
  const negativeLoss = (0.5 * lseSum) / n;
  const positiveLoss = -diag / n;
  let dLogitScale = 0;
  for (let k = 0; k < n * n; k++) dLogitScale += dL[k] * L[k];
  const dV = mm(dL, t, n, n, o).map((x) => x * s);
  const dT = tmm(dL, v, n, n, o).map((x) => x * s);
  return { loss: positiveLoss + negativeLoss, positiveLoss, negativeLoss, dV, dT, dLogitScale, dLogitBias: 0 };
}

/** A whole training step in float64: loss values and gradients in paramSpecs order. */
export interface RefStepResult {
  loss: number;
  positiveLoss: number;
  negativeLoss: number;
  extraLoss?: number;
  grads: Float64Array[];
}

/**
 * Reference step: both heads forward, normalise, loss, and backward to every parameter.
 * `params` is in paramSpecs order; inputs are row-major [n, dim]. Extra captions are ignored by InfoNCE.
 */
export function refStep(
  cfg: HeadConfig,
  loss: 'siglip' | 'infonce',
  params: ArrayLike<number>[],
  batch: { n: number; image: ArrayLike<number>; text: ArrayLike<number>; extraText?: ArrayLike<number> },
): RefStepResult {
  const specs = paramSpecs(cfg);
  const p: RefParams = {};
  specs.forEach((s, i) => (p[s.name] = Float64Array.from(params[i])));
  const { n } = batch;
  const o = cfg.targetDim;
  const img = refHeadForward(cfg, 'vision', p, Float64Array.from(batch.image), n);
  const txt = refHeadForward(cfg, 'text', p, Float64Array.from(batch.text), n);
  const useExtra = loss === 'siglip' && batch.extraText !== undefined;
  const ext = useExtra ? refHeadForward(cfg, 'text', p, Float64Array.from(batch.extraText!), n) : undefined;
  const nv = refNormalize(img.z, n, o);
  const nt = refNormalize(txt.z, n, o);
  const ne = ext ? refNormalize(ext.z, n, o) : undefined;
  const logS = p.logit_scale[0];
  const r = loss === 'siglip' ? refSiglip(nv.v, nt.v, ne?.v, n, o, logS, p.logit_bias[0]) : refInfoNce(nv.v, nt.v, n, o, logS);
  const gV = refHeadBackward(cfg, 'vision', p, img.cache, refNormalizeBackward(nv.v, nv.norm, r.dV, n, o));
  const gT = refHeadBackward(cfg, 'text', p, txt.cache, refNormalizeBackward(nt.v, nt.norm, r.dT, n, o));
  if (ext && ne && r.dExtra) {
    const gE = refHeadBackward(cfg, 'text', p, ext.cache, refNormalizeBackward(ne.v, ne.norm, r.dExtra, n, o));
    for (const k of Object.keys(gE)) gT[k] = gT[k].map((x, i) => x + gE[k][i]);
  }
  const all: RefParams = { ...gV, ...gT, logit_scale: Float64Array.of(r.dLogitScale), logit_bias: Float64Array.of(r.dLogitBias) };
  return {
    loss: r.loss,
    positiveLoss: r.positiveLoss,
    negativeLoss: r.negativeLoss,
    extraLoss: r.extraLoss,
    grads: specs.map((s) => all[s.name]),
  };
}
