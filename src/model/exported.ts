// Run an export folder (sail_model.json + ONNX files) from Node with onnxruntime-node.
import { join } from 'node:path';
import type { ImageInput } from '../encoders/types.js';
import { createSession, f32, type ort, type SessionOptions } from '../onnx/session.js';
import { SailError } from '../util/errors.js';
import type { ExportManifest } from './export-config.js';
import { readExport } from './export.js';
import { preprocessBatch } from '../encoders/preprocess.js';

/** An export folder loaded for inference. */
export class ExportedModel {
  private sessions = new Map<string, Promise<ort.InferenceSession>>();
  constructor(
    readonly dir: string,
    readonly manifest: ExportManifest,
    private readonly opts: SessionOptions = {},
    /** Each file the manifest names -> its realpath (checked to lie inside `dir` when loaded). */
    readonly files: ReadonlyMap<string, string> = new Map(),
  ) {}

  private session(file: string): Promise<ort.InferenceSession> {
    let s = this.sessions.get(file);
    if (!s) {
      s = createSession(this.files.get(file) ?? join(this.dir, file), this.opts);
      this.sessions.set(file, s);
    }
    return s;
  }

  /** Whether image_model.onnx (pixels -> aligned space) is present. */
  get hasImageModel(): boolean {
    return this.manifest.image.model !== undefined;
  }

  /** Normalised aligned embeddings [n, dim] of images, through the fused image model, in batches. */
  async encodeImages(images: ImageInput[], batch = 16): Promise<Float32Array> {
    const m = this.manifest.image.model;
    if (!m) throw new SailError('this export has no image_model.onnx (export with --vision-backbone-onnx)', { file: this.dir });
    const s = await this.session(m.file);
    const out = new Float32Array(images.length * this.manifest.dim);
    for (let i = 0; i < images.length; i += batch) {
      const chunk = images.slice(i, i + batch);
      // the same preprocessing as the library encoder of this backbone (the spec it recorded)
      const { data, dims, failed } = await preprocessBatch(chunk, m.preprocess);
      if (failed.length) {
        const f = failed[0];
        const src = chunk[f.index];
        throw new SailError(`cannot decode image (${f.reason})`, { file: typeof src === 'string' ? src : `image #${i + f.index}` });
      }
      const res = await s.run({ [m.inputs[0]]: f32(data, dims) });
      out.set(res[m.outputs.normalized].data as Float32Array, i * this.manifest.dim);
    }
    return out;
  }

  /** Normalised aligned embeddings of backbone features through image_head.onnx or text_head.onnx. */
  async encodeFeatures(side: 'image' | 'text', features: Float32Array): Promise<Float32Array> {
    const h = this.manifest[side].head;
    if (features.length % h.inputDim) throw new SailError(`${side} features are not a multiple of ${h.inputDim} wide`);
    const s = await this.session(h.file);
    const res = await s.run({ [h.inputs[0]]: f32(features, [features.length / h.inputDim, h.inputDim]) });
    return res[h.outputs.normalized].data as Float32Array;
  }

  async dispose(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}

/**
 * Run both exported head graphs once (a fixed ramp row through each) on the session options' device and
 * check the outputs are unit-length rows: a model that cannot load or run there fails here, at export.
 */
export async function checkExport(dir: string, opts: SessionOptions = {}): Promise<void> {
  const model = loadExportedModel(dir, opts);
  try {
    for (const side of ['image', 'text'] as const) {
      const d = model.manifest[side].head.inputDim;
      const out = await model.encodeFeatures(side, Float32Array.from({ length: d }, (_, i) => Math.sin(i + 1)));
      let ss = 0;
      for (const v of out) ss += v * v;
      if (out.length !== model.manifest.dim || !(Math.abs(ss - 1) < 1e-3)) {
        throw new SailError(`export check: ${model.manifest[side].head.file} gave ${out.length} values with squared norm ${ss}, expected ${model.manifest.dim} with norm 1`, { file: dir });
      }
    }
  } finally {
    await model.dispose();
  }
}

/** Load an export folder written by `sail export` (its manifest and file names checked, see readExport). */
export function loadExportedModel(dir: string, opts: SessionOptions = {}): ExportedModel {
  const { manifest, files } = readExport(dir);
  return new ExportedModel(dir, manifest, opts, files);
}
