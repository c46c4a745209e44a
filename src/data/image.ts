// Image validation and normalisation: magic-byte sniffing, a pixel-count check on the header before any
// full decode (decompression bombs), then resize (shortest edge, no upscaling) and JPEG re-encode.
import sharp, { type Metadata, type SharpOptions } from 'sharp';

/** Image container formats accepted as input. */
export type ImageKind = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'avif' | 'heif' | 'svg';

/** Options for {@link processImage}. */
export interface ImageOptions {
  /** Target shortest edge in pixels; 0 keeps the original size. Never upscales. */
  size: number;
  /** JPEG quality 1..100 of the re-encoded image. */
  quality: number;
  /** Largest width x height accepted (checked on the header before decoding). */
  maxPixels: number;
  /**
   * Accept SVG (default false: `sail download` never rasterises remote SVG). SVG is rendered by sharp
   * (librsvg) at the density that makes its shortest edge `size` pixels (its own size at 72 dpi when
   * `size` is 0), on white.
   */
  svg?: boolean;
}

/** Defaults: 256 px shortest edge, quality 90, 50 megapixels. */
export const DEFAULT_IMAGE_OPTIONS: ImageOptions = { size: 256, quality: 90, maxPixels: 50_000_000 };

/** Why an image was rejected. */
export type ImageFailure = 'not_image' | 'too_many_pixels' | 'decode_error';

/** Raised by {@link processImage} for a body that is not a usable image. */
export class ImageRejected extends Error {
  constructor(readonly reason: ImageFailure, message: string) {
    super(message);
    this.name = 'ImageRejected';
  }
}

/** A normalised image. Dimensions are after EXIF orientation. */
export interface ProcessedImage {
  data: Buffer;
  width: number;
  height: number;
  originalWidth: number;
  originalHeight: number;
  sourceFormat: ImageKind;
}

function ascii(buf: Uint8Array, start: number, text: string): boolean {
  if (buf.length < start + text.length) return false;
  for (let i = 0; i < text.length; i++) if (buf[start + i] !== text.charCodeAt(i)) return false;
  return true;
}

/** Identify an image container from its first bytes (not from the URL or Content-Type, which lie). */
export function sniffImage(buf: Uint8Array): ImageKind | undefined {
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return 'jpeg';
  if (buf.length >= 8 && buf[0] === 0x89 && ascii(buf, 1, 'PNG\r\n\x1a\n')) return 'png';
  if (ascii(buf, 0, 'GIF87a') || ascii(buf, 0, 'GIF89a')) return 'gif';
  if (ascii(buf, 0, 'RIFF') && ascii(buf, 8, 'WEBP')) return 'webp';
  if ((ascii(buf, 0, 'II') && buf[2] === 42 && buf[3] === 0) || (ascii(buf, 0, 'MM') && buf[2] === 0 && buf[3] === 42)) return 'tiff';
  if (ascii(buf, 4, 'ftyp')) {
    const brand = String.fromCharCode(...buf.subarray(8, 12));
    if (brand === 'avif' || brand === 'avis') return 'avif';
    if (['heic', 'heix', 'mif1', 'msf1', 'hevc'].includes(brand)) return 'heif';
  }
  if (looksLikeSvg(buf)) return 'svg';
  return undefined;
}

/** An XML/SVG text whose first element is `<svg` (after an optional BOM, XML declaration, comments, doctype). */
function looksLikeSvg(buf: Uint8Array): boolean {
  const head = Buffer.from(buf.subarray(0, 4096)).toString('utf8').replace(/^\uFEFF/, '');
  const rest = head.replace(/^(\s+|<\?xml[^>]*\?>|<!--[\s\S]*?-->|<!DOCTYPE[^>]*>)*/i, '');
  return /^<svg[\s>]/i.test(rest);
}

/** EXIF orientations 5..8 swap width and height. */
function oriented(meta: Metadata): { w: number; h: number } {
  const w = meta.width ?? 0;
  const h = meta.height ?? 0;
  return (meta.orientation ?? 1) >= 5 ? { w: h, h: w } : { w, h };
}

/**
 * Validate and normalise one image: sniff the magic bytes, read the header dimensions and reject anything
 * above `maxPixels` before decoding, then decode (first frame), auto-orient, flatten alpha onto white,
 * shrink so the shortest edge is `size`, and encode as baseline sRGB JPEG.
 * @throws ImageRejected with the failure reason.
 */
export async function processImage(input: Buffer, opts: ImageOptions): Promise<ProcessedImage> {
  const kind = sniffImage(input);
  if (!kind) throw new ImageRejected('not_image', 'content is not a known image format (magic bytes)');
  if (kind === 'svg' && !opts.svg) throw new ImageRejected('not_image', 'SVG is not accepted here (sail data import rasterises SVG)');
  let density: number | undefined;
  if (kind === 'svg') {
    const base = await sharp(input, { limitInputPixels: false }).metadata().catch((err: Error) => {
      throw new ImageRejected('decode_error', `unreadable svg: ${err.message.split('\n')[0]}`);
    });
    const edge = Math.min(base.width ?? 0, base.height ?? 0);
    if (!(edge > 0)) throw new ImageRejected('decode_error', 'svg has no size');
    // librsvg renders at `density` dpi; 72 dpi is the SVG's own pixel size.
    density = opts.size > 0 ? Math.min(72 * 1000, (72 * opts.size) / edge) : 72;
  }
  const open = (extra: SharpOptions) => sharp(input, { ...extra, ...(density !== undefined ? { density } : {}) });
  let meta: Metadata;
  try {
    // metadata() parses the header only; limitInputPixels is a second guard for formats where it decodes.
    meta = await open({ limitInputPixels: false }).metadata();
  } catch (err) {
    throw new ImageRejected('decode_error', `unreadable ${kind} header: ${(err as Error).message}`);
  }
  const { w, h } = oriented(meta);
  if (!(w > 0 && h > 0)) throw new ImageRejected('decode_error', `${kind} header has no dimensions`);
  if (w * h > opts.maxPixels) throw new ImageRejected('too_many_pixels', `${w}x${h} exceeds ${opts.maxPixels} pixels`);
  // failOn 'error' rejects truncated and corrupt data but tolerates harmless libjpeg/libpng warnings, which
  // many real web images trigger.
  let pipeline = open({ limitInputPixels: opts.maxPixels, failOn: 'error', pages: 1 })
    .rotate()
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb');
  let outW = w;
  let outH = h;
  if (opts.size > 0 && Math.min(w, h) > opts.size) {
    // Exact target in closed form (shortest edge = size, other edge rounded), so results do not depend on
    // the resizer's own rounding; 'fill' then hits it exactly (aspect error under half a pixel).
    const scale = opts.size / Math.min(w, h);
    const tw = w <= h ? opts.size : Math.max(1, Math.round(w * scale));
    const th = h < w ? opts.size : Math.max(1, Math.round(h * scale));
    pipeline = pipeline.resize({ width: tw, height: th, fit: 'fill' });
  }
  try {
    const { data, info } = await pipeline.jpeg({ quality: opts.quality, mozjpeg: false }).toBuffer({ resolveWithObject: true });
    outW = info.width;
    outH = info.height;
    return { data, width: outW, height: outH, originalWidth: w, originalHeight: h, sourceFormat: kind };
  } catch (err) {
    const msg = (err as Error).message;
    if (/pixel limit/i.test(msg)) throw new ImageRejected('too_many_pixels', msg);
    throw new ImageRejected('decode_error', `cannot decode ${kind}: ${msg.split('\n')[0]}`);
  }
}
