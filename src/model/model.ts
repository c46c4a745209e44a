// The model in users' hands: frozen backbones + alignment head, with CLIP-like encode/similarity/zero-shot.
import type { ImageEncoder, ImageInput, TextEncoder } from '../encoders/types.js';
import type { HeadConfig, ParamSet, Side } from '../head/config.js';
import { createSession, f32, type ort } from '../onnx/session.js';
import { SailError } from '../util/errors.js';
import { loadHead, logitScaleBias, type LoadedHead } from '../head/load.js';
import { buildHeadSideModel, HEAD_OUTPUT, HEAD_OUTPUT_RAW } from './head-graph.js';
import { cosineMatrix, l2NormalizeRows, sigmoid, softmaxRows } from './vector-math.js';

/** Options of {@link createModel}. */
export interface CreateModelOptions {
  /** Image backbone: an encoder instance, or a registry name/path (loaded through src/encoders/registry). */
  visionModel?: ImageEncoder | string;
  /** Text backbone: an encoder instance, or a registry name/path. */
  textModel?: TextEncoder | string;
  /** Head checkpoint path (folder or .safetensors), or in-memory config + params. */
  head: string | LoadedHead;
  /** onnxruntime intra-op threads for the head sessions. */
  threads?: number;
  executionProviders?: string[];
}

/** Whether outputs are L2-normalised (default true, as CLIP-style users expect). */
export interface EncodeOptions {
  normalize?: boolean;
}

/** Zero-shot options: sigmoid uses the learned exp(scale) and bias; softmax normalises over labels with the scale. */
export interface ZeroShotOptions {
  mode?: 'sigmoid' | 'softmax';
  /** Prompt templates with `{}` for the label; embeddings are averaged over templates. Default ['a photo of a {}.']. */
  templates?: string[];
}

/** Per-patch aligned tokens of a batch of images: data is [n, patches, dim] row-major. */
export interface PatchEmbeddings {
  data: Float32Array;
  n: number;
  patches: number;
  grid: [number, number];
  dim: number;
}

const ROW_BLOCK = 1024;

/** Backbones + head; create with {@link createModel}. */
export class SailModel {
  readonly config: HeadConfig;
  readonly params: ParamSet;
  /** Effective logit scale exp(logit_scale) and bias, as learned. */
  readonly logitScale: number;
  readonly logitBias: number;
  private sessions = new Map<Side, Promise<ort.InferenceSession>>();

  constructor(
    head: LoadedHead,
    readonly vision: ImageEncoder | undefined,
    readonly text: TextEncoder | undefined,
    private readonly sessionOpts: { threads?: number; executionProviders?: string[] } = {},
  ) {
    this.config = head.config;
    this.params = head.params;
    const { scale, bias } = logitScaleBias(head.params);
    this.logitScale = scale;
    this.logitBias = bias;
    if (vision && vision.dim !== head.config.visionDim) throw new SailError(`image backbone ${vision.id} gives ${vision.dim}-d features but the head expects ${head.config.visionDim}`);
    if (text && text.dim !== head.config.textDim) throw new SailError(`text backbone ${text.id} gives ${text.dim}-d features but the head expects ${head.config.textDim}`);
  }

  /** Output width of the aligned space. */
  get dim(): number {
    return this.config.targetDim;
  }

  private session(side: Side): Promise<ort.InferenceSession> {
    let s = this.sessions.get(side);
    if (!s) {
      s = createSession(buildHeadSideModel(this.config, this.params, side), this.sessionOpts);
      this.sessions.set(side, s);
    }
    return s;
  }

  private async runHead(side: Side, features: Float32Array, normalize: boolean): Promise<Float32Array> {
    const d = side === 'vision' ? this.config.visionDim : this.config.textDim;
    if (features.length % d !== 0) throw new SailError(`${side} features have ${features.length} values, not a multiple of the head input width ${d}`);
    const n = features.length / d;
    const out = new Float32Array(n * this.dim);
    const session = await this.session(side);
    // Row blocks bound the size of the intermediate [rows, width x d] activations.
    for (let r = 0; r < n; r += ROW_BLOCK) {
      const rows = Math.min(ROW_BLOCK, n - r);
      const res = await session.run({ features: f32(features.subarray(r * d, (r + rows) * d), [rows, d]) });
      out.set(res[normalize ? HEAD_OUTPUT : HEAD_OUTPUT_RAW].data as Float32Array, r * this.dim);
    }
    return out;
  }

  /** Head of pre-computed image backbone features (flat, n·visionDim) -> flat row-major Float32Array of n·dim. */
  encodeImageFeatures(features: Float32Array, opts: EncodeOptions = {}): Promise<Float32Array> {
    return this.runHead('vision', features, opts.normalize ?? true);
  }

  /** Head of pre-computed text backbone features (flat, n·textDim) -> flat row-major Float32Array of n·dim. */
  encodeTextFeatures(features: Float32Array, opts: EncodeOptions = {}): Promise<Float32Array> {
    return this.runHead('text', features, opts.normalize ?? true);
  }

  /**
   * Images (paths or encoded bytes) -> aligned embeddings as ONE flat row-major Float32Array of length
   * n·dim (not a nested array): image i is `result.subarray(i * model.dim, (i + 1) * model.dim)`.
   */
  async encodeImage(images: ImageInput[], opts: EncodeOptions = {}): Promise<Float32Array> {
    if (!this.vision) throw new SailError('this model has no image backbone (pass visionModel to createModel)');
    return this.encodeImageFeatures(await this.vision.encode(images), opts);
  }

  /** Texts -> aligned embeddings, flat row-major Float32Array of length n·dim (as {@link encodeImage}). */
  async encodeText(texts: string[], opts: EncodeOptions = {}): Promise<Float32Array> {
    if (!this.text) throw new SailError('this model has no text backbone (pass textModel to createModel)');
    return this.encodeTextFeatures(await this.text.encode(texts), opts);
  }

  /**
   * Aligned per-patch tokens: the backbone's per-patch features (`[CLS ; patch_i]` for DINOv2) through the
   * vision head, [n, patches, dim]. This is the vision-tower output for a LLaVA-style connector.
   */
  async encodeImagePatches(images: ImageInput[], opts: EncodeOptions = {}): Promise<PatchEmbeddings> {
    if (!this.vision?.encodePatches) throw new SailError(`image backbone ${this.vision?.id ?? '(none)'} does not provide per-patch features`);
    const p = await this.vision.encodePatches(images);
    if (p.dim !== this.config.visionDim) throw new SailError(`per-patch features are ${p.dim}-d but the head expects ${this.config.visionDim}`);
    const data = await this.runHead('vision', p.data, opts.normalize ?? true);
    return { data, n: images.length, patches: p.patches, grid: p.grid, dim: this.dim };
  }

  /** Cosine similarity of two row-major embedding sets (rows re-normalised): flat na·nb, entry (i, j) at i·nb + j. */
  similarity(a: Float32Array, b: Float32Array): Float32Array {
    return cosineMatrix(a, b, this.dim);
  }

  /** One normalised embedding per label: texts from every template, normalised, averaged, re-normalised. */
  async labelEmbeddings(labels: string[], templates: string[] = ['a photo of a {}.']): Promise<Float32Array> {
    if (!templates.length) throw new SailError('at least one template is needed');
    const texts = labels.flatMap((l) => templates.map((t) => (t.includes('{}') ? t.replaceAll('{}', l) : `${t} ${l}`)));
    const emb = await this.encodeText(texts, { normalize: true });
    const out = new Float32Array(labels.length * this.dim);
    for (let c = 0; c < labels.length; c++)
      for (let t = 0; t < templates.length; t++) {
        const row = (c * templates.length + t) * this.dim;
        for (let k = 0; k < this.dim; k++) out[c * this.dim + k] += emb[row + k];
      }
    return l2NormalizeRows(out, this.dim);
  }

  /**
   * Zero-shot class probabilities as a flat row-major Float32Array of length n·labels.length: image i,
   * label j at `i * labels.length + j`. 'sigmoid' (default): sigmoid(exp(s) cos + b) per label,
   * independent as in SigLIP; 'softmax': softmax over labels of exp(s) cos (each image's row sums to 1).
   */
  async zeroShotProbabilities(images: ImageInput[], labels: string[], opts: ZeroShotOptions = {}): Promise<Float32Array> {
    const img = await this.encodeImage(images);
    const lab = await this.labelEmbeddings(labels, opts.templates);
    return this.probabilitiesFromEmbeddings(img, lab, opts.mode ?? 'sigmoid');
  }

  /** Probabilities from normalised image and label embeddings (see {@link zeroShotProbabilities}). */
  probabilitiesFromEmbeddings(images: Float32Array, labels: Float32Array, mode: 'sigmoid' | 'softmax' = 'sigmoid'): Float32Array {
    const logits = this.similarity(images, labels);
    for (let i = 0; i < logits.length; i++) logits[i] = this.logitScale * logits[i] + (mode === 'sigmoid' ? this.logitBias : 0);
    if (mode === 'sigmoid') {
      for (let i = 0; i < logits.length; i++) logits[i] = sigmoid(logits[i]);
      return logits;
    }
    return softmaxRows(logits, labels.length / this.dim);
  }

  /** Release sessions and backbones. */
  async dispose(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
    await this.vision?.dispose();
    await this.text?.dispose();
  }
}

async function resolveEncoder<T>(spec: T | string | undefined, load: (name: string) => Promise<T>): Promise<T | undefined> {
  return spec === undefined || typeof spec !== 'string' ? spec : load(spec);
}

/**
 * Build a model from backbones and a head. Backbones may be omitted when only pre-encoded features are
 * used (`encodeImageFeatures` / `encodeTextFeatures`).
 */
export async function createModel(opts: CreateModelOptions): Promise<SailModel> {
  const head = typeof opts.head === 'string' ? await loadHead(opts.head) : opts.head;
  // The registry is imported lazily so the head-only API does not load backbone code.
  const registry = () => import('../encoders/registry.js');
  const vision = await resolveEncoder<ImageEncoder>(opts.visionModel, async (n) => (await registry()).loadImageEncoder(n, { threads: opts.threads }));
  const text = await resolveEncoder<TextEncoder>(opts.textModel, async (n) => (await registry()).loadTextEncoder(n, { threads: opts.threads }));
  return new SailModel(head, vision, text, { threads: opts.threads, executionProviders: opts.executionProviders });
}
