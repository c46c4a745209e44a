// Open-vocabulary segmentation: per-patch aligned tokens vs class-name embeddings, upsampled to a label map.
import sharp from 'sharp';
import type { ImageInput } from '../encoders/types.js';
import { SailError } from '../util/errors.js';
import type { SailModel } from './model.js';

/** A label map: class index per pixel, row-major [height, width]. */
export interface LabelMap {
  labels: Uint16Array;
  width: number;
  height: number;
}

/**
 * Bilinear resize of a [h, w] map to [H, W] with half-pixel centres and edge clamping, i.e.
 * torch.nn.functional.interpolate(mode='bilinear', align_corners=False).
 */
export function bilinearUpsample(src: Float32Array, h: number, w: number, H: number, W: number): Float32Array {
  const out = new Float32Array(H * W);
  const coord = (o: number, inSize: number, outSize: number) => {
    const s = Math.max((o + 0.5) * (inSize / outSize) - 0.5, 0);
    const i0 = Math.min(Math.floor(s), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    return { i0, i1, f: s - i0 };
  };
  const xs = Array.from({ length: W }, (_, x) => coord(x, w, W));
  for (let y = 0; y < H; y++) {
    const { i0: y0, i1: y1, f: fy } = coord(y, h, H);
    for (let x = 0; x < W; x++) {
      const { i0: x0, i1: x1, f: fx } = xs[x];
      const top = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx;
      const bot = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx;
      out[y * W + x] = top * (1 - fy) + bot * fy;
    }
  }
  return out;
}

/**
 * Label map from normalised patch embeddings [gh*gw, d] and normalised query embeddings [Q, d]: cosine per
 * query, bilinear upsampling to [H, W], argmax. `classOf[q]` maps a query (e.g. a synonym) to its class, so
 * a class scores the max over its queries, as in the reference.
 */
export function segmentPatches(patches: Float32Array, grid: [number, number], queries: Float32Array, d: number, size: { width: number; height: number }, classOf?: ArrayLike<number>): LabelMap {
  const [gh, gw] = grid;
  const P = gh * gw;
  const Q = queries.length / d;
  if (patches.length !== P * d) throw new SailError(`patch embeddings have ${patches.length} values, expected ${P}x${d}`);
  const { width: W, height: H } = size;
  const best = new Float32Array(W * H).fill(-Infinity);
  const labels = new Uint16Array(W * H);
  const cos = new Float32Array(P);
  for (let q = 0; q < Q; q++) {
    for (let p = 0; p < P; p++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += patches[p * d + k] * queries[q * d + k];
      cos[p] = s;
    }
    const up = bilinearUpsample(cos, gh, gw, H, W);
    const cls = classOf ? classOf[q] : q;
    for (let i = 0; i < up.length; i++)
      if (up[i] > best[i]) {
        best[i] = up[i];
        labels[i] = cls;
      }
  }
  return { labels, width: W, height: H };
}

/** Parse class lines: one class per line, comma-separated synonyms allowed; blank lines ignored. */
export function parseClasses(text: string): string[][] {
  return text
    .split(/\r?\n/)
    .map((l) => l.split(',').map((s) => s.trim()).filter(Boolean))
    .filter((l) => l.length > 0);
}

/**
 * Sliding-window settings of the original's segmentation (sail-method.md 9.6, mmseg `slide` mode): resize
 * keeping the aspect ratio to scale (2048, 448), i.e. short side 448 unless the long side would pass 2048,
 * then 448 px windows at stride 224, averaging the logits where windows overlap.
 */
export interface SlideOptions {
  /** Window side in pixels (default 448). */
  window: number;
  /** Step between windows (default 224). */
  stride: number;
  /** Resize so the short side is this long first (default 448; 0 keeps the image size). */
  shortSide: number;
  /** ...unless the long side would exceed this (default 2048). */
  maxLongSide: number;
}

/** The original's defaults. */
export const SLIDE_DEFAULTS: SlideOptions = { window: 448, stride: 224, shortSide: 448, maxLongSide: 2048 };

/** A window of the sliding grid: top-left corner and size in pixels. */
export interface Window {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * The window grid of mmseg's slide inference: ceil((size - window) / stride) + 1 positions per axis, the
 * last one shifted back to end at the border; windows never exceed the image (small images get one).
 */
export function slidingWindows(width: number, height: number, window: number, stride: number): Window[] {
  if (!(Number.isInteger(window) && window > 0 && Number.isInteger(stride) && stride > 0)) throw new SailError(`window and stride must be positive integers, got ${window} and ${stride}`);
  const grid = (size: number) => Math.max(size - window + stride - 1, 0) / stride + 1;
  const out: Window[] = [];
  for (let gy = 0; gy < Math.floor(grid(height)); gy++) {
    for (let gx = 0; gx < Math.floor(grid(width)); gx++) {
      const y2 = Math.min(gy * stride + window, height);
      const x2 = Math.min(gx * stride + window, width);
      const y = Math.max(y2 - window, 0);
      const x = Math.max(x2 - window, 0);
      out.push({ x, y, width: x2 - x, height: y2 - y });
    }
  }
  return out;
}

/** Argmax over queries of per-query score maps [Q, n]; a class scores the max over its queries. */
function argmaxLabels(scores: Float32Array, nQueries: number, n: number, classOf: ArrayLike<number>): Uint16Array {
  const labels = new Uint16Array(n);
  const best = new Float32Array(n).fill(-Infinity);
  for (let q = 0; q < nQueries; q++) {
    for (let i = 0; i < n; i++) {
      const v = scores[q * n + i];
      if (v > best[i]) {
        best[i] = v;
        labels[i] = classOf[q];
      }
    }
  }
  return labels;
}

async function imageSize(image: ImageInput): Promise<{ width: number; height: number }> {
  const meta = await sharp(image).metadata().catch(() => undefined);
  if (!meta?.width || !meta.height) throw new SailError('cannot read the image size', { file: typeof image === 'string' ? image : undefined });
  return { width: meta.width, height: meta.height };
}

/**
 * Sliding-window segmentation scores [Q, H, W] at the (resized) working size: each window goes through
 * the backbone on its own, its patch cosines are upsampled to the window, and overlapping windows are
 * averaged (the original's slide inference).
 */
async function slideScores(model: SailModel, image: ImageInput, queries: Float32Array, d: number, o: SlideOptions): Promise<{ scores: Float32Array; width: number; height: number }> {
  const size = await imageSize(image);
  let { width, height } = size;
  if (o.shortSide > 0) {
    const s = Math.min(o.maxLongSide / Math.max(width, height), o.shortSide / Math.min(width, height));
    width = Math.max(1, Math.round(width * s));
    height = Math.max(1, Math.round(height * s));
  }
  const resized = await sharp(image).resize(width, height, { fit: 'fill' }).removeAlpha().png().toBuffer();
  const Q = queries.length / d;
  const n = width * height;
  const scores = new Float32Array(Q * n);
  const count = new Uint16Array(n);
  for (const w of slidingWindows(width, height, o.window, o.stride)) {
    const crop = await sharp(resized).extract({ left: w.x, top: w.y, width: w.width, height: w.height }).png().toBuffer();
    const p = await model.encodeImagePatches([crop]);
    const [gh, gw] = p.grid;
    const cos = new Float32Array(gh * gw);
    for (let q = 0; q < Q; q++) {
      for (let k = 0; k < gh * gw; k++) {
        let s = 0;
        for (let j = 0; j < d; j++) s += p.data[k * d + j] * queries[q * d + j];
        cos[k] = s;
      }
      const up = bilinearUpsample(cos, gh, gw, w.height, w.width);
      for (let y = 0; y < w.height; y++) {
        const row = q * n + (w.y + y) * width + w.x;
        for (let x = 0; x < w.width; x++) scores[row + x] += up[y * w.width + x];
      }
    }
    for (let y = 0; y < w.height; y++) for (let x = 0; x < w.width; x++) count[(w.y + y) * width + w.x + x]++;
  }
  for (let q = 0; q < Q; q++) for (let i = 0; i < n; i++) scores[q * n + i] /= count[i];
  return { scores, width, height };
}

/**
 * Segment one image into `classes` (each a list of synonyms). Without `slide`, the backbone sees the whole
 * image once and its patch grid is upsampled to `size` (default: the image's own size). With `slide` (the
 * original's protocol, {@link SLIDE_DEFAULTS}), windows are encoded one by one and their scores averaged
 * where they overlap, then upsampled to `size`.
 */
export async function segmentImage(model: SailModel, image: ImageInput, classes: (string | string[])[], opts: { templates?: string[]; size?: { width: number; height: number }; slide?: Partial<SlideOptions> } = {}): Promise<LabelMap> {
  const groups = classes.map((c) => (Array.isArray(c) ? c : [c]));
  const names = groups.flat();
  const classOf = groups.flatMap((g, i) => g.map(() => i));
  const queries = await model.labelEmbeddings(names, opts.templates);
  if (opts.slide) {
    const size = opts.size ?? (await imageSize(image));
    const r = await slideScores(model, image, queries, model.dim, { ...SLIDE_DEFAULTS, ...opts.slide });
    const Q = names.length;
    const n = size.width * size.height;
    const up = new Float32Array(Q * n);
    for (let q = 0; q < Q; q++) up.set(bilinearUpsample(r.scores.subarray(q * r.width * r.height, (q + 1) * r.width * r.height), r.height, r.width, size.height, size.width), q * n);
    return { labels: argmaxLabels(up, Q, n, classOf), width: size.width, height: size.height };
  }
  const p = await model.encodeImagePatches([image]);
  return segmentPatches(p.data, p.grid, queries, p.dim, opts.size ?? (await imageSize(image)), classOf);
}

/** A fixed colour per class (the Pascal VOC bit-interleaved palette). */
export function palette(n: number): [number, number, number][] {
  return Array.from({ length: n }, (_, i) => {
    let [r, g, b, c] = [0, 0, 0, i + 1];
    for (let j = 0; j < 8; j++, c >>= 3) {
      r |= ((c >> 0) & 1) << (7 - j);
      g |= ((c >> 1) & 1) << (7 - j);
      b |= ((c >> 2) & 1) << (7 - j);
    }
    return [r, g, b];
  });
}

/** PNG of the image with the label map blended over it (`alpha` of the class colour). */
export async function overlayPng(image: ImageInput, map: LabelMap, opts: { alpha?: number; colors?: [number, number, number][] } = {}): Promise<Buffer> {
  const alpha = opts.alpha ?? 0.5;
  const colors = opts.colors ?? palette(Math.max(...map.labels) + 1);
  const { data } = await sharp(image).resize(map.width, map.height, { fit: 'fill' }).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  const out = Buffer.alloc(map.width * map.height * 3);
  for (let i = 0; i < map.labels.length; i++) {
    const c = colors[map.labels[i]] ?? [0, 0, 0];
    for (let k = 0; k < 3; k++) out[i * 3 + k] = Math.round(data[i * 3 + k] * (1 - alpha) + c[k] * alpha);
  }
  return sharp(out, { raw: { width: map.width, height: map.height, channels: 3 } }).png().toBuffer();
}

/** The label map itself as a single-channel PNG of class indices (values < 256). */
export async function labelPng(map: LabelMap): Promise<Buffer> {
  if (map.labels.some((v) => v > 255)) throw new SailError('more than 256 classes cannot be stored in an 8-bit PNG');
  return sharp(Buffer.from(Uint8Array.from(map.labels)), { raw: { width: map.width, height: map.height, channels: 1 } }).png().toBuffer();
}
