// The one image preprocessing of sail: the spec type, and one implementation per resize mode. Every path
// that turns an image into backbone input (encode, the model API, an export run from Node, the search
// server) calls preprocessBatch with the spec that the backbone declares and that the store manifest and
// sail_model.json record.
// - HF modes (shortest edge / exact size, then optional centre crop), following Hugging Face image
//   processors (BitImageProcessor for DINOv2): RGB -> resize (PIL-exact bicubic upscales, libvips
//   downscales) -> center crop -> rescale -> normalise -> NCHW/NHWC float32.
// - Square modes (the npm MobileNetV2): RGBA composited on white, triangle-filter resampling to a square
//   (src/encoders/npm/resample.ts), then the same rescale/normalise.
import sharp, { type KernelEnum } from 'sharp';
import { readFile } from 'node:fs/promises';
import { SailError } from '../util/errors.js';
import { pilBicubicResize } from './resample.js';
import { decodeRgba, type RgbaImage } from './npm/image-preprocess.js';
import { resampleRgbaToUnitFloat } from './npm/resample.js';
import type { ImageInput } from './types.js';
import type { PreprocessConfig, SquareResize } from './image-spec.js';

export { DINOV2_PREPROCESS, type PreprocessConfig, type SquareResize } from './image-spec.js';

// PIL resample codes used in HF configs -> the closest sharp kernel.
const KERNELS: Record<number, keyof KernelEnum> = { 0: 'nearest', 1: 'lanczos3', 2: 'linear', 3: 'cubic', 4: 'linear', 5: 'linear' };

function num(v: unknown, what: string, file: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new SailError(`${what} must be a number`, { file });
  return v;
}

function triple(v: unknown, what: string, file: string): [number, number, number] {
  if (typeof v === 'number') return [v, v, v];
  if (!Array.isArray(v) || v.length !== 3) throw new SailError(`${what} must be a list of 3 numbers`, { file });
  return [num(v[0], what, file), num(v[1], what, file), num(v[2], what, file)];
}

function hw(v: unknown, what: string, file: string): { height: number; width: number } {
  if (typeof v === 'number') return { height: v, width: v };
  const o = v as Record<string, unknown>;
  if (o && typeof o === 'object' && 'height' in o && 'width' in o) return { height: num(o.height, what, file), width: num(o.width, what, file) };
  throw new SailError(`${what} must be a number or {height, width}`, { file });
}

/**
 * Read a transformers.js / HF `preprocessor_config.json` object. Fields: `do_resize`, `size`
 * (`shortest_edge` | `height`+`width` | number), `resample`, `do_center_crop`, `crop_size`, `do_rescale`,
 * `rescale_factor`, `do_normalize`, `image_mean`, `image_std`. Missing fields take HF's defaults.
 */
export function parsePreprocessorConfig(json: unknown, file = 'preprocessor_config.json'): PreprocessConfig {
  if (typeof json !== 'object' || json === null) throw new SailError('not a JSON object', { file });
  const c = json as Record<string, unknown>;
  const cfg: PreprocessConfig = { kernel: KERNELS[typeof c.resample === 'number' ? c.resample : 3] ?? 'cubic', layout: 'nchw' };
  if (c.do_resize !== false && c.size !== undefined) {
    const s = c.size as Record<string, unknown> | number;
    if (typeof s === 'object' && s !== null && 'shortest_edge' in s) cfg.resize = { shortestEdge: num(s.shortest_edge, 'size.shortest_edge', file) };
    else cfg.resize = hw(s, 'size', file);
  }
  if (c.do_center_crop !== false && c.crop_size !== undefined) cfg.crop = hw(c.crop_size, 'crop_size', file);
  if (c.do_rescale !== false) cfg.rescale = c.rescale_factor === undefined ? 1 / 255 : num(c.rescale_factor, 'rescale_factor', file);
  if (c.do_normalize !== false && c.image_mean !== undefined && c.image_std !== undefined) {
    cfg.mean = triple(c.image_mean, 'image_mean', file);
    cfg.std = triple(c.image_std, 'image_std', file);
    if (cfg.std.some((x) => x === 0)) throw new SailError('image_std contains 0', { file });
  }
  return cfg;
}

/** Whether a resize is of the square (npm backbone) kind. */
export function isSquareResize(r: PreprocessConfig['resize']): r is SquareResize {
  return r !== undefined && 'square' in r;
}

/**
 * Size after the resize step. Shortest-edge follows HF `get_resize_output_image_size`
 * (default_to_square=False): the long edge is int(S * long / short), truncated.
 */
export function resizedSize(cfg: PreprocessConfig, h: number, w: number): { height: number; width: number } {
  const r = cfg.resize;
  if (!r) return { height: h, width: w };
  if ('square' in r) return { height: r.square, width: r.square };
  if ('shortestEdge' in r) {
    const s = r.shortestEdge;
    if (h <= w) return { height: s, width: Math.max(1, Math.floor((s * w) / h)) };
    return { height: Math.max(1, Math.floor((s * h) / w)), width: s };
  }
  return { height: r.height, width: r.width };
}

/** The fixed per-image tensor size, when the config has one (crop or exact resize). */
export function fixedSize(cfg: PreprocessConfig): { height: number; width: number } | undefined {
  if (cfg.crop) return cfg.crop;
  if (cfg.resize && 'square' in cfg.resize) return { height: cfg.resize.square, width: cfg.resize.square };
  if (cfg.resize && 'height' in cfg.resize) return cfg.resize;
  return undefined;
}

/** Options bounding what a decode may cost. */
export interface DecodeLimits {
  /** Largest accepted width*height of the source image (default 100 megapixels). */
  maxPixels?: number;
}

async function inputBytes(input: ImageInput): Promise<Buffer | Uint8Array> {
  if (typeof input !== 'string') return input;
  return readFile(input);
}

/**
 * Decode, convert to RGB, resize and crop one image; returns 8-bit RGB of the output size.
 *
 * RGB conversion: PIL's `convert('RGB')` (what HF processors call) drops an alpha channel without
 * compositing, so transparent pixels keep their stored colour. sharp's `removeAlpha()` does the same;
 * we follow PIL so embeddings match the Python pipeline. Greyscale and CMYK become sRGB. EXIF orientation
 * is NOT applied, as in PIL/HF. Bicubic upscales use a bit-exact port of PIL's resampler; downscales use
 * libvips (multi-threaded), which agrees with PIL within 2 levels (mean ~0.2) on detailed images.
 */
export async function decodeAndResize(input: ImageInput, cfg: PreprocessConfig, limits: DecodeLimits = {}): Promise<{ data: Uint8Array; height: number; width: number }> {
  if (isSquareResize(cfg.resize)) throw new SailError('square resizes decode through preprocessBatch');
  const bytes = await inputBytes(input);
  const maxPixels = limits.maxPixels ?? 100_000_000;
  // failOn 'error': truncated or corrupt files reject instead of decoding garbage
  const opts = { failOn: 'error' as const, limitInputPixels: maxPixels };
  const meta = await sharp(bytes, opts).metadata();
  if (!meta.width || !meta.height) throw new Error('image has no dimensions');
  const size = resizedSize(cfg, meta.height, meta.width);
  let img = sharp(bytes, opts).removeAlpha().toColourspace('srgb');
  const resize = size.height !== meta.height || size.width !== meta.width;
  // libvips' cubic upscaling differs from PIL's; small (upscaled) images take the bit-exact JS path
  const pilUpscale = resize && cfg.kernel === 'cubic' && (size.height > meta.height || size.width > meta.width);
  if (resize && !pilUpscale) {
    img = img.resize({ width: size.width, height: size.height, fit: 'fill', kernel: cfg.kernel, fastShrinkOnLoad: false });
  }
  const { data: raw, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
  const data = pilUpscale ? pilBicubicResize(raw, info.width, info.height, size.width, size.height) : raw;
  if (!pilUpscale && (info.height !== size.height || info.width !== size.width)) {
    throw new Error(`resize gave ${info.width}x${info.height}, expected ${size.width}x${size.height}`);
  }
  if (!cfg.crop) return { data, height: size.height, width: size.width };
  return { data: centerCrop(data, size.height, size.width, cfg.crop.height, cfg.crop.width), ...cfg.crop };
}

/**
 * HF `center_crop`: top = (H - h) // 2, left = (W - w) // 2; where the image is smaller than the crop it is
 * zero-padded, centred with the extra pixel on the bottom/right, as HF does.
 */
export function centerCrop(rgb: Uint8Array, H: number, W: number, h: number, w: number): Uint8Array {
  const out = new Uint8Array(h * w * 3);
  const top = Math.floor((H - h) / 2);
  const left = Math.floor((W - w) / 2);
  for (let y = 0; y < h; y++) {
    const sy = y + top;
    if (sy < 0 || sy >= H) continue;
    for (let x = 0; x < w; x++) {
      const sx = x + left;
      if (sx < 0 || sx >= W) continue;
      const s = (sy * W + sx) * 3;
      const o = (y * w + x) * 3;
      out[o] = rgb[s];
      out[o + 1] = rgb[s + 1];
      out[o + 2] = rgb[s + 2];
    }
  }
  return out;
}

/** Rescale and normalise 8-bit RGB [h, w, 3] into `out` at `offset`, in the config's layout. */
export function normalizeInto(rgb: Uint8Array, h: number, w: number, cfg: PreprocessConfig, out: Float32Array, offset: number): void {
  const scale = cfg.rescale ?? 1;
  const mean = cfg.mean ?? [0, 0, 0];
  const std = cfg.std ?? [1, 1, 1];
  const n = h * w;
  for (let c = 0; c < 3; c++) {
    // HF computes in float32: (x * scale - mean) / std
    const m = mean[c];
    const s = std[c];
    for (let i = 0; i < n; i++) {
      const v = (rgb[i * 3 + c] * scale - m) / s;
      if (cfg.layout === 'nchw') out[offset + c * n + i] = v;
      else out[offset + i * 3 + c] = v;
    }
  }
}

/** Whether rescale + normalisation map 8-bit values v to exactly v / 255 (the square modes' own output). */
function isUnitAffine(cfg: PreprocessConfig): boolean {
  const unit = (cfg.rescale ?? 1) * 255 === 1;
  return unit && (cfg.mean ?? [0, 0, 0]).every((m) => m === 0) && (cfg.std ?? [1, 1, 1]).every((s) => s === 1);
}

/**
 * Square modes: resample decoded RGBA to unit floats [side, side, 3] at `out[offset..]`, then apply the
 * config's rescale/normalise (in 8-bit units, as {@link normalizeInto}) and layout.
 */
export function squareInto(img: RgbaImage, cfg: PreprocessConfig & { resize: SquareResize }, out: Float32Array, offset: number): void {
  const side = cfg.resize.square;
  resampleRgbaToUnitFloat(img.data, img.width, img.height, side, cfg.resize.fit, out, offset);
  if (isUnitAffine(cfg) && cfg.layout === 'nhwc') return;
  const n = side * side;
  const hwc = out.slice(offset, offset + 3 * n);
  const scale = (cfg.rescale ?? 1) * 255;
  const mean = cfg.mean ?? [0, 0, 0];
  const std = cfg.std ?? [1, 1, 1];
  for (let c = 0; c < 3; c++)
    for (let i = 0; i < n; i++) {
      const v = isUnitAffine(cfg) ? hwc[i * 3 + c] : (hwc[i * 3 + c] * scale - mean[c]) / std[c];
      out[cfg.layout === 'nchw' ? offset + c * n + i : offset + i * 3 + c] = v;
    }
}

/** One image -> float32 tensor [3, h, w] (or [h, w, 3] for nhwc). */
export async function preprocessImage(input: ImageInput, cfg: PreprocessConfig, limits?: DecodeLimits): Promise<{ data: Float32Array; height: number; width: number }> {
  if (isSquareResize(cfg.resize)) {
    const p = await preprocessBatch([input], cfg, limits);
    if (p.failed.length) throw new SailError(p.failed[0].reason);
    return { data: p.data, height: cfg.resize.square, width: cfg.resize.square };
  }
  const img = await decodeAndResize(input, cfg, limits);
  const data = new Float32Array(img.height * img.width * 3);
  normalizeInto(img.data, img.height, img.width, cfg, data, 0);
  return { data, height: img.height, width: img.width };
}

/** A preprocessed batch: the tensor of the images that decoded, and why the others did not. */
export interface PreparedImages {
  /** [n, 3, h, w] (or [n, h, w, 3]) over the images that decoded, in input order. */
  data: Float32Array;
  dims: number[];
  /** Indices (into the input list) of the images in `data`, ascending. */
  ok: number[];
  failed: { index: number; reason: string }[];
}

/**
 * Preprocess a batch in parallel (sharp runs on libuv's thread pool). Images that fail to decode are
 * reported in `failed`, never thrown, so a caller can drop exactly those rows. The config must have a
 * fixed output size (crop, exact or square resize), as a batch tensor needs one.
 */
export async function preprocessBatch(images: ImageInput[], cfg: PreprocessConfig, limits?: DecodeLimits): Promise<PreparedImages> {
  const size = fixedSize(cfg);
  if (!size) throw new SailError('batched preprocessing needs a crop_size or an exact size in the preprocessor config');
  const per = size.height * size.width * 3;
  const resize = cfg.resize;
  const square = isSquareResize(resize) ? { ...cfg, resize } : undefined;
  const results = await Promise.allSettled(
    images.map((im, i) => (square ? decodeRgba(im, square.resize.square, square.resize.fit, i) : decodeAndResize(im, cfg, limits))),
  );
  const ok: number[] = [];
  const failed: { index: number; reason: string }[] = [];
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') ok.push(i);
    else failed.push({ index: i, reason: (r.reason as Error)?.message ?? String(r.reason) });
  });
  const data = new Float32Array(ok.length * per);
  ok.forEach((i, k) => {
    const r = results[i] as PromiseFulfilledResult<{ data: Uint8Array; height: number; width: number }>;
    if (square) squareInto(r.value, square, data, k * per);
    else normalizeInto(r.value.data, size.height, size.width, cfg, data, k * per);
  });
  const dims = cfg.layout === 'nchw' ? [ok.length, 3, size.height, size.width] : [ok.length, size.height, size.width, 3];
  return { data, dims, ok, failed };
}
