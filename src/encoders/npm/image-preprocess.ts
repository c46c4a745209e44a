// Image decoding (sharp, on libuv threads) and squaring to the CNN input size (JS resampling).
import sharp from 'sharp';
import type { ImageInput } from '../types.js';
import { SailError } from '../../util/errors.js';
import { resampleRgbaToUnitFloat } from './resample.js';
import type { ResizeMode } from '../image-spec.js';

export type { ResizeMode } from '../image-spec.js';

/** Refuse images whose header claims more pixels than this (decompression bombs). */
const MAX_INPUT_PIXELS = 100_000_000;

/** Where an input came from, for error messages. */
export function describeInput(input: ImageInput, index: number): string {
  return typeof input === 'string' ? input : `image #${index}`;
}

/** A decoded image: RGBA bytes, row-major. */
export interface RgbaImage {
  data: Uint8Array;
  width: number;
  height: number;
}

/**
 * Decode one image to RGBA. Large images are shrunk by sharp on the way (JPEG shrink-on-load,
 * good filters) to the smallest size that still covers `size x size` for the mode; small images are
 * returned as they are, and the final resampling happens in {@link resampleRgbaToUnitFloat}.
 */
export async function decodeRgba(input: ImageInput, size: number, mode: ResizeMode, index = 0): Promise<RgbaImage> {
  try {
    const { data, info } = await sharp(input, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
      .resize(size, size, { fit: mode === 'crop' ? 'outside' : 'fill', withoutEnlargement: true })
      .toColourspace('srgb')
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 4 || data.length !== info.width * info.height * 4) {
      throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}`);
    }
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (err) {
    throw new SailError(`cannot decode image: ${(err as Error).message}`, { file: describeInput(input, index) });
  }
}

/**
 * Decode a batch into an NHWC float tensor [n, size, size, 3] in [0, 1], written to `dst` (reused
 * by the caller: first touches of fresh memory are slow) or to a new array. Images decode in
 * parallel on libuv threads; transparency is composited on white, so an emoji on a transparent
 * background looks as it does on a page.
 */
export async function decodeBatch(
  images: ImageInput[], size: number, mode: ResizeMode, firstIndex = 0, dst?: Float32Array,
): Promise<Float32Array> {
  const per = size * size * 3;
  const out = dst ?? new Float32Array(images.length * per);
  if (out.length < images.length * per) throw new SailError(`decode buffer holds ${out.length} floats, needs ${images.length * per}`);
  const decoded = await Promise.all(images.map((img, i) => decodeRgba(img, size, mode, firstIndex + i)));
  decoded.forEach((im, i) => resampleRgbaToUnitFloat(im.data, im.width, im.height, size, mode, out, i * per));
  return out;
}
