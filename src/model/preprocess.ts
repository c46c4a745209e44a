// Image preprocessing for exported image models, driven by the ImagePreprocess spec in sail_model.json.
import sharp from 'sharp';
import type { ImageInput } from '../encoders/types.js';
import { SailError } from '../util/errors.js';
import type { ImagePreprocess } from './export-config.js';

const MAX_PIXELS = 100_000_000; // refuse decompression bombs

function describe(input: ImageInput, i: number): string {
  return typeof input === 'string' ? input : `image #${i}`;
}

/** Decode, resize (bicubic), center-crop and return RGB bytes [h, w, 3] of one image. */
export async function resizedRgb(input: ImageInput, spec: ImagePreprocess, index = 0): Promise<Uint8Array> {
  const [h, w] = spec.size;
  try {
    // No EXIF auto-rotation: the reference processors (PIL) do not apply it either.
    const img = sharp(input, { limitInputPixels: MAX_PIXELS });
    if (spec.background) img.flatten({ background: { r: spec.background[0], g: spec.background[1], b: spec.background[2] } });
    let pipeline: ReturnType<typeof sharp>;
    if (spec.resize === 'exact') pipeline = img.resize(w, h, { fit: 'fill', kernel: 'cubic' });
    else if (spec.resize === 'cover') pipeline = img.resize(w, h, { fit: 'cover', position: 'centre' });
    else {
      const meta = await sharp(input, { limitInputPixels: MAX_PIXELS }).metadata();
      const iw = meta.width;
      const ih = meta.height;
      if (!iw || !ih) throw new Error('unknown image size');
      const s = (spec.shortestEdge ?? Math.min(h, w)) / Math.min(iw, ih);
      const rw = Math.max(w, Math.round(iw * s));
      const rh = Math.max(h, Math.round(ih * s));
      pipeline = sharp(await img.resize(rw, rh, { fit: 'fill', kernel: 'cubic' }).toBuffer()).extract({
        left: Math.floor((rw - w) / 2),
        top: Math.floor((rh - h) / 2),
        width: w,
        height: h,
      });
    }
    const { data, info } = await pipeline.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || info.width !== w || info.height !== h) throw new Error(`unexpected decoded shape ${info.width}x${info.height}x${info.channels}`);
    return new Uint8Array(data.buffer, data.byteOffset, data.length);
  } catch (e) {
    if (e instanceof SailError) throw e;
    throw new SailError(`cannot decode image (${(e as Error).message})`, { file: describe(input, index) });
  }
}

/** Preprocess a batch into a float32 tensor in the model's layout: [n, 3, h, w] (NCHW) or [n, h, w, 3] (NHWC). */
export async function preprocessImages(inputs: ImageInput[], spec: ImagePreprocess): Promise<{ data: Float32Array; dims: number[] }> {
  const [h, w] = spec.size;
  const plane = h * w;
  const data = new Float32Array(inputs.length * 3 * plane);
  for (let i = 0; i < inputs.length; i++) {
    const rgb = await resizedRgb(inputs[i], spec, i);
    const base = i * 3 * plane;
    for (let p = 0; p < plane; p++)
      for (let c = 0; c < 3; c++) {
        const v = (rgb[p * 3 + c] * spec.rescale - spec.mean[c]) / spec.std[c];
        data[spec.layout === 'NCHW' ? base + c * plane + p : base + p * 3 + c] = v;
      }
  }
  return { data, dims: spec.layout === 'NCHW' ? [inputs.length, 3, h, w] : [inputs.length, h, w, 3] };
}
