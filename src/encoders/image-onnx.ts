// DINOv2-style image backbone over ONNX: pixel_values [B,3,H,W] -> last_hidden_state [B, 1+P, D], pooled
// by a recipe ('concat' = [CLS ; mean(patch)], 'cls', 'patch') or kept per patch (segmentation).
import { createSession, f32, ort } from '../onnx/session.js';
import { SailError } from '../util/errors.js';
import { onnxPath, readModelJson } from './model-folder.js';
import { checkRecipe, patchTokens, poolImageTokens, recipeDim, type ImageRecipe } from './pooling.js';
import { parsePreprocessorConfig, preprocessBatch, type PreprocessConfig } from './preprocess.js';
import type { EncoderLoadOptions } from './backbone-spec.js';
import type { ImageEncoder, ImageInput, PreparedBatch } from './types.js';
import type { PreparedImages } from './preprocess.js';

/** Extra knobs for {@link loadOnnxImageEncoder}. */
export interface OnnxImageOptions extends EncoderLoadOptions {
  /** Registry id reported as `encoder.id` (default: the folder path). */
  id?: string;
  /** Preprocessing override (default: the folder's preprocessor_config.json). */
  preprocess?: PreprocessConfig;
}

/** Split a list into consecutive chunks of at most `size`. */
export function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Load an image encoder from a folder with `config.json`, `preprocessor_config.json` and
 * `onnx/model.onnx`. `config.json` gives `hidden_size` (else one dummy run measures it) and optional
 * `num_register_tokens` (skipped when pooling patches).
 */
export async function loadOnnxImageEncoder(folder: string, opts: OnnxImageOptions = {}): Promise<ImageEncoder> {
  const recipe: ImageRecipe = checkRecipe(opts.recipe ?? 'concat');
  const config = (await readModelJson(folder, 'config.json', true)) ?? {};
  const pre = opts.preprocess ?? parsePreprocessorConfig(await readModelJson(folder, 'preprocessor_config.json'), `${folder}/preprocessor_config.json`);
  const session = await createSession(onnxPath(folder), { threads: opts.threads, executionProviders: opts.executionProviders });
  const inputName = session.inputNames.includes('pixel_values') ? 'pixel_values' : session.inputNames[0];
  const outputName = session.outputNames.includes('last_hidden_state') ? 'last_hidden_state' : session.outputNames[0];
  const registers = typeof config.num_register_tokens === 'number' ? config.num_register_tokens : 0;
  const firstPatch = 1 + registers;
  const batchSize = Math.max(1, opts.batchSize ?? 32);
  const patchSize = typeof config.patch_size === 'number' ? config.patch_size : undefined;

  async function runTokens(p: PreparedImages): Promise<{ h: Float32Array; b: number; t: number; d: number }> {
    const feeds: Record<string, ort.Tensor> = { [inputName]: f32(p.data, p.dims) };
    const out = await session.run(feeds);
    const y = out[outputName];
    if (!y || y.type !== 'float32' || y.dims.length !== 3) {
      throw new SailError(`model output ${outputName} must be float32 [B, tokens, D], got ${y?.type} [${y?.dims.join(', ')}]`, { file: folder });
    }
    const [b, t, d] = y.dims.map(Number);
    if (b !== p.ok.length) throw new SailError(`model returned ${b} rows for a batch of ${p.ok.length}`, { file: folder });
    return { h: y.data as Float32Array, b, t, d };
  }

  let hidden = typeof config.hidden_size === 'number' ? config.hidden_size : 0;
  if (!hidden) {
    const size = pre.crop ?? { height: 224, width: 224 };
    const dims = pre.layout === 'nchw' ? [1, 3, size.height, size.width] : [1, size.height, size.width, 3];
    hidden = (await runTokens({ data: new Float32Array(3 * size.height * size.width), dims, ok: [0], failed: [] })).d;
  }

  const prepare = async (images: ImageInput[]): Promise<PreparedBatch> => {
    const p = await preprocessBatch(images, pre);
    return { ok: p.ok, failed: p.failed, payload: p };
  };

  const encodePrepared = async (batch: PreparedBatch): Promise<Float32Array> => {
    const p = batch.payload as PreparedImages;
    if (p.ok.length === 0) return new Float32Array(0);
    const dim = recipeDim(recipe, hidden);
    const out = new Float32Array(p.ok.length * dim);
    // the model sees at most batchSize images per run
    const per = p.data.length / p.ok.length;
    for (let s = 0; s < p.ok.length; s += batchSize) {
      const n = Math.min(batchSize, p.ok.length - s);
      const sub: PreparedImages = { data: p.data.subarray(s * per, (s + n) * per), dims: [n, ...p.dims.slice(1)], ok: p.ok.slice(s, s + n), failed: [] };
      const { h, b, t, d } = await runTokens(sub);
      out.set(poolImageTokens(h, b, t, d, recipe, firstPatch), s * dim);
    }
    return out;
  };

  /** Throw a SailError naming the first unreadable image (encode() has no per-item error channel). */
  const mustPrepare = async (images: ImageInput[]): Promise<PreparedBatch> => {
    const p = await prepare(images);
    if (p.failed.length) {
      const f = p.failed[0];
      const src = images[f.index];
      throw new SailError(`cannot read image: ${f.reason}`, typeof src === 'string' ? { file: src } : { row: f.index });
    }
    return p;
  };

  return {
    id: opts.id ?? `${folder}:${recipe}`,
    preprocess: pre,
    dim: recipeDim(recipe, hidden),
    prepare,
    encodePrepared,
    async encode(images) {
      const dim = recipeDim(recipe, hidden);
      const out = new Float32Array(images.length * dim);
      const parts = chunks(images, batchSize);
      // decode the next chunk while the model runs on this one
      let next = parts.length ? mustPrepare(parts[0]) : undefined;
      for (let k = 0; k < parts.length; k++) {
        const cur = await next!;
        next = k + 1 < parts.length ? mustPrepare(parts[k + 1]) : undefined;
        next?.catch(() => undefined); // surfaced when awaited
        out.set(await encodePrepared(cur), k * batchSize * dim);
      }
      return out;
    },
    async encodePatches(images) {
      const parts = chunks(images, batchSize);
      const chunksOut: Float32Array[] = [];
      let patches = 0;
      let dim = 0;
      for (const part of parts) {
        const p = (await mustPrepare(part)).payload as PreparedImages;
        const { h, b, t, d } = await runTokens(p);
        patches = t - firstPatch;
        dim = 2 * d;
        chunksOut.push(patchTokens(h, b, t, d, firstPatch));
      }
      const data = new Float32Array(chunksOut.reduce((a, c) => a + c.length, 0));
      let o = 0;
      for (const c of chunksOut) {
        data.set(c, o);
        o += c.length;
      }
      return { data, patches, grid: patchGrid(patches, pre, patchSize), dim };
    },
    async dispose() {
      await session.release();
    },
  };
}

/** Patch grid [rows, cols]: from crop size / patch size when consistent, else the square root. */
function patchGrid(p: number, pre: PreprocessConfig, patchSize?: number): [number, number] {
  if (patchSize && pre.crop) {
    const rows = Math.floor(pre.crop.height / patchSize);
    const cols = Math.floor(pre.crop.width / patchSize);
    if (rows * cols === p) return [rows, cols];
  }
  const s = Math.round(Math.sqrt(p));
  return s * s === p ? [s, s] : [1, p];
}
