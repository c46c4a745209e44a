// Image decoding and resizing for square-input CNNs (sharp / libvips, off the JS thread).
import sharp from 'sharp';
import type { ImageInput } from '../types.js';
import { SailError } from '../../util/errors.js';

/**
 * How a non-square image becomes a square:
 * - 'crop' (default): scale the shortest edge to the target, then cut the centre square — keeps the
 *   aspect ratio, as in standard ImageNet evaluation;
 * - 'squash': scale both edges to the target (what nsfwjs itself does), keeping everything in view.
 */
export type ResizeMode = 'crop' | 'squash';

/** Refuse images whose header claims more pixels than this (decompression bombs). */
const MAX_INPUT_PIXELS = 100_000_000;

/** Where an input came from, for error messages. */
export function describeInput(input: ImageInput, index: number): string {
  return typeof input === 'string' ? input : `image #${index}`;
}

/**
 * Decode one image to `size x size` RGB bytes (row-major HWC). Transparent pixels are composited
 * on white, so an emoji on a transparent background looks as it does on a page.
 */
export async function decodeRgbSquare(input: ImageInput, size: number, mode: ResizeMode, index = 0): Promise<Uint8Array> {
  try {
    const { data, info } = await sharp(input, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'error' })
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .resize(size, size, { fit: mode === 'crop' ? 'cover' : 'fill', position: 'centre' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.width !== size || info.height !== size || info.channels !== 3) {
      throw new Error(`decoded to ${info.width}x${info.height}x${info.channels}`);
    }
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } catch (err) {
    throw new SailError(`cannot decode image: ${(err as Error).message}`, { file: describeInput(input, index) });
  }
}

/** Write RGB bytes scaled to [0, 1] into `dst` at `offset` (NHWC float layout). */
export function rgbToUnitFloat(rgb: Uint8Array, dst: Float32Array, offset: number): void {
  const inv = 1 / 255;
  for (let i = 0; i < rgb.length; i++) dst[offset + i] = rgb[i] * inv;
}

/** Decode a batch into one NHWC float tensor [n, size, size, 3] in [0, 1] (images decode in parallel). */
export async function decodeBatch(images: ImageInput[], size: number, mode: ResizeMode, firstIndex = 0): Promise<Float32Array> {
  const per = size * size * 3;
  const out = new Float32Array(images.length * per);
  const rgbs = await Promise.all(images.map((img, i) => decodeRgbSquare(img, size, mode, firstIndex + i)));
  rgbs.forEach((rgb, i) => rgbToUnitFloat(rgb, out, i * per));
  return out;
}
