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
 * Segment one image into `classes` (each a list of synonyms). The patch grid is upsampled to `size`
 * (default: the image's own size), which assumes the backbone's patch grid covers the whole image.
 */
export async function segmentImage(model: SailModel, image: ImageInput, classes: (string | string[])[], opts: { templates?: string[]; size?: { width: number; height: number } } = {}): Promise<LabelMap> {
  const groups = classes.map((c) => (Array.isArray(c) ? c : [c]));
  const names = groups.flat();
  const classOf = groups.flatMap((g, i) => g.map(() => i));
  const queries = await model.labelEmbeddings(names, opts.templates);
  const p = await model.encodeImagePatches([image]);
  let size = opts.size;
  if (!size) {
    const meta = await sharp(image).metadata().catch(() => undefined);
    if (!meta?.width || !meta.height) throw new SailError('cannot read the image size', { file: typeof image === 'string' ? image : undefined });
    size = { width: meta.width, height: meta.height };
  }
  return segmentPatches(p.data, p.grid, queries, p.dim, size, classOf);
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
