// The demo's closed-form baseline: ridge regression from image features to caption features, written as a
// `linear` head so it is evaluated by exactly the same code as the trained heads.
//
// Both sides go through a LayerNorm with weight 1 and bias 0 (the head's own input normalisation), then
//   vision: y = W LN(x_img) + b,   W, b = argmin ||LN(X) W^T + 1 b^T - LN(T)||^2 + pen ||W||^2
//   text:   y = LN(x_txt)          (identity map, target width = text width).
// The bias is not penalised; `pen` = lambda x mean diagonal of LN(X)^T LN(X), so lambda does not depend on
// the feature scale (the convention of eval/linear-probe.ts, whose Cholesky solve this reuses).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { solveSpd } from '../eval/cholesky.js';
import { BlockProduct } from '../eval/similarity.js';
import type { HeadConfig, ParamSet } from '../head/config.js';
import { loadHead, type LoadedHead } from '../head/load.js';
import type { SessionOptions } from '../onnx/session.js';
import { openStore } from '../store/reader.js';
import { saveHead } from '../train/checkpoint.js';
import { SailError } from '../util/errors.js';
import type { RidgeTarget } from './options.js';

/** LayerNorm epsilon of the head (sail-method.md 5.1). */
const LN_EPS = 1e-5;

/** Row-wise LayerNorm without affine parameters, transposed to [d, n] (one row per feature). */
export function layerNormTransposed(x: Float32Array, n: number, d: number, withBiasRow: boolean): Float32Array {
  const rows = withBiasRow ? d + 1 : d;
  const out = new Float32Array(rows * n);
  for (let i = 0; i < n; i++) {
    let mean = 0;
    for (let j = 0; j < d; j++) mean += x[i * d + j];
    mean /= d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (x[i * d + j] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / d + LN_EPS);
    for (let j = 0; j < d; j++) out[j * n + i] = (x[i * d + j] - mean) * inv;
    if (withBiasRow) out[d * n + i] = 1;
  }
  return out;
}

/** Sufficient statistics of a ridge fit: Gram [m, m] and cross products [m, dTxt] with m = dImg + 1. */
export interface RidgeStats {
  gram: Float64Array;
  /** One cross-product matrix per target name (e.g. `text`, `text+extra`). */
  cross: Map<string, Float64Array>;
  n: number;
  dImg: number;
  dTxt: number;
}

/**
 * Products for ridge fits of `img` [n, dImg] against one or more targets [n, dTxt] (each averaged over
 * its listed caption matrices after LayerNorm). Computed once, then solved for any lambda.
 */
export async function ridgeStats(img: Float32Array, targets: Map<string, Float32Array[]>, n: number, dImg: number, dTxt: number, opts: SessionOptions = {}): Promise<RidgeStats> {
  if (img.length !== n * dImg) throw new SailError(`ridge: image features hold ${img.length / dImg} rows, expected ${n}`);
  const m = dImg + 1;
  const xt = layerNormTransposed(img, n, dImg, true);
  const p = await BlockProduct.create(n, opts);
  try {
    const gram = Float64Array.from(await p.scores(xt, m, xt, m));
    const cross = new Map<string, Float64Array>();
    for (const [name, mats] of targets) {
      const yt = new Float32Array(dTxt * n);
      for (const t of mats) {
        if (t.length !== n * dTxt) throw new SailError(`ridge: target ${name} holds ${t.length / dTxt} rows, expected ${n}`);
        const lt = layerNormTransposed(t, n, dTxt, false);
        for (let k = 0; k < yt.length; k++) yt[k] += lt[k] / mats.length;
      }
      // scores gives [m, dTxt] = X^T Y (rows: image features + bias, columns: text features)
      cross.set(name, Float64Array.from(await p.scores(xt, m, yt, dTxt)));
    }
    return { gram, cross, n, dImg, dTxt };
  } finally {
    await p.dispose();
  }
}

/** Solve for one lambda: returns W [dTxt, dImg] and b [dTxt] (row-major, float64). */
export async function solveRidge(s: RidgeStats, target: string, lambda: number, opts: SessionOptions = {}): Promise<{ w: Float64Array; b: Float64Array }> {
  const xty = s.cross.get(target);
  if (!xty) throw new SailError(`ridge: no target named ${target}`);
  if (!(lambda > 0)) throw new SailError(`ridge: lambda must be > 0, got ${lambda}`);
  const { dImg: d, dTxt: c } = s;
  const m = d + 1;
  let tr = 0;
  for (let j = 0; j < d; j++) tr += s.gram[j * m + j];
  const pen = lambda * (tr / d);
  const a = Float64Array.from(s.gram);
  for (let j = 0; j < d; j++) a[j * m + j] += pen;
  const sol = await solveSpd(a, xty, m, c, opts); // [m, c]
  const w = new Float64Array(c * d);
  const b = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    for (let j = 0; j < d; j++) w[k * d + j] = sol[j * c + k];
    b[k] = sol[d * c + k];
  }
  return { w, b };
}

/** The fitted map as a `linear` head (LN weight 1 / bias 0 on both sides, identity text map). */
export function ridgeHead(fit: { w: Float64Array; b: Float64Array }, dImg: number, dTxt: number, models: { visionModel?: string; textModel?: string } = {}): LoadedHead {
  const config: HeadConfig = { type: 'linear', widthFactor: 1, visionDim: dImg, textDim: dTxt, targetDim: dTxt, logitScaleInit: 20, logitBiasInit: -10, ...models };
  const eye = new Float32Array(dTxt * dTxt);
  for (let k = 0; k < dTxt; k++) eye[k * dTxt + k] = 1;
  const params: ParamSet = [
    { name: 'vision_layer_norm.weight', shape: [dImg], data: new Float32Array(dImg).fill(1) },
    { name: 'vision_layer_norm.bias', shape: [dImg], data: new Float32Array(dImg) },
    { name: 'vision_mapping_network.weight', shape: [dTxt, dImg], data: Float32Array.from(fit.w) },
    { name: 'vision_mapping_network.bias', shape: [dTxt], data: Float32Array.from(fit.b) },
    { name: 'text_layer_norm.weight', shape: [dTxt], data: new Float32Array(dTxt).fill(1) },
    { name: 'text_layer_norm.bias', shape: [dTxt], data: new Float32Array(dTxt) },
    { name: 'text_mapping_network.weight', shape: [dTxt, dTxt], data: eye },
    { name: 'text_mapping_network.bias', shape: [dTxt], data: new Float32Array(dTxt) },
    { name: 'logit_scale', shape: [1], data: Float32Array.of(Math.log(20)) },
    { name: 'logit_bias', shape: [1], data: Float32Array.of(-10) },
  ];
  return { config, params };
}


/**
 * Ridge heads fitted on a store's `image` rows against `text` (and `extra_text`), one per (target,
 * lambda), each saved as `runsDir/ridge-<hash>/head.safetensors` and reused while the store's fingerprint,
 * target and lambda are the same.
 */
export async function cachedRidgeHeads(
  storeDir: string, runsDir: string, targets: readonly RidgeTarget[], lambdas: readonly number[], opts: SessionOptions = {},
  onProgress?: (done: number, total: number) => void,
): Promise<{ target: RidgeTarget; lambda: number; head: LoadedHead }[]> {
  const store = await openStore(storeDir);
  try {
    const fingerprint = String((store.manifest.meta as { fingerprint?: unknown } | undefined)?.fingerprint ?? '');
    const total = targets.length * lambdas.length;
    const out: { target: RidgeTarget; lambda: number; head: LoadedHead }[] = [];
    let stats: RidgeStats | undefined;
    for (const target of targets) {
      for (const lambda of lambdas) {
        const key = createHash('sha256').update(JSON.stringify({ v: 1, store: storeDir, fingerprint, rows: store.rows, target, lambda })).digest('hex').slice(0, 10);
        const file = join(runsDir, `ridge-${key}`, 'head.safetensors');
        let head: LoadedHead;
        if (existsSync(file)) head = await loadHead(file);
        else {
          const n = store.rows;
          if (!stats) {
            const [img, txt, extra] = [await store.readRange('image', 0, n), await store.readRange('text', 0, n), await store.readRange('extra_text', 0, n)];
            stats = await ridgeStats(img, new Map(targets.map((t) => [t, t === 'text' ? [txt] : [txt, extra]])), n, img.length / n, txt.length / n, opts);
          }
          head = ridgeHead(await solveRidge(stats, target, lambda, opts), stats.dImg, stats.dTxt);
          await saveHead(file, head.params, head.config);
        }
        out.push({ target, lambda, head });
        onProgress?.(out.length, total);
      }
    }
    return out;
  } finally {
    await store.close();
  }
}
