// The model in users' hands: frozen backbones + alignment head, with CLIP-like encode/similarity/zero-shot.
import type { ImageEncoder, ImageInput, TextEncoder } from '../encoders/types.js';
import type { HeadConfig, ParamSet, Side } from '../head/config.js';
import { SailError } from '../util/errors.js';
import { assertFiniteRows } from '../util/finite.js';
import { loadHead, logitScaleBias, type LoadedHead } from '../head/load.js';
import { createHeadRunner, type HeadRunner } from '../head/runner.js';
import { cosineMatrix, sigmoid, softmaxRows } from '../util/vectors.js';
import { buildClassifier } from '../eval/zeroshot.js';

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
  /** Prompt templates with `{}` or `{c}` for the label; embeddings are averaged over templates. Default ['a photo of a {}.']. */
  templates?: string[];
}

/**
 * Pre-computed backbone features with their width stated, so a matrix of another backbone is refused
 * instead of being read as rows of the head's width. A bare Float32Array is taken as [n, head input width].
 */
export interface FeatureRows {
  data: Float32Array;
  /** Width of each row. */
  dim: number;
}

/** Per-patch aligned tokens of a batch of images: data is [n, patches, dim] row-major. */
export interface PatchEmbeddings {
  data: Float32Array;
  n: number;
  patches: number;
  grid: [number, number];
  dim: number;
}

/** Backbones + head; create with {@link createModel}. */
export class SailModel {
  readonly config: HeadConfig;
  readonly params: ParamSet;
  /** Effective logit scale exp(logit_scale) and bias, as learned. */
  readonly logitScale: number;
  readonly logitBias: number;
  private readonly runner: HeadRunner;

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
    this.runner = createHeadRunner(head, sessionOpts);
    if (vision && vision.dim !== head.config.visionDim) throw new SailError(`image backbone ${vision.id} gives ${vision.dim}-d features but the head expects ${head.config.visionDim}`);
    if (text && text.dim !== head.config.textDim) throw new SailError(`text backbone ${text.id} gives ${text.dim}-d features but the head expects ${head.config.textDim}`);
  }

  /** Output width of the aligned space. */
  get dim(): number {
    return this.config.targetDim;
  }

  private async runHead(side: Side, input: Float32Array | FeatureRows, normalize: boolean): Promise<Float32Array> {
    const d = side === 'vision' ? this.config.visionDim : this.config.textDim;
    const features = input instanceof Float32Array ? input : input.data;
    if (!(input instanceof Float32Array) && input.dim !== d) throw new SailError(`${side} features are ${input.dim}-d but the head expects ${d}-d inputs`);
    if (features.length % d !== 0) throw new SailError(`${side} features have ${features.length} values, not a multiple of the head input width ${d}`);
    assertFiniteRows(features, d, `${side} features`);
    return this.runner.apply(side, features, undefined, { normalize });
  }

  /** Head of pre-computed image backbone features [n, visionDim] -> [n, dim]; pass {data, dim} to have the width checked. */
  encodeImageFeatures(features: Float32Array | FeatureRows, opts: EncodeOptions = {}): Promise<Float32Array> {
    return this.runHead('vision', features, opts.normalize ?? true);
  }

  /** Head of pre-computed text backbone features [n, textDim] -> [n, dim]; pass {data, dim} to have the width checked. */
  encodeTextFeatures(features: Float32Array | FeatureRows, opts: EncodeOptions = {}): Promise<Float32Array> {
    return this.runHead('text', features, opts.normalize ?? true);
  }

  /** Images (paths or encoded bytes) -> aligned embeddings [n, dim]. */
  async encodeImage(images: ImageInput[], opts: EncodeOptions = {}): Promise<Float32Array> {
    if (!this.vision) throw new SailError('this model has no image backbone (pass visionModel to createModel)');
    return this.encodeImageFeatures({ data: await this.vision.encode(images), dim: this.vision.dim }, opts);
  }

  /** Texts -> aligned embeddings [n, dim]. */
  async encodeText(texts: string[], opts: EncodeOptions = {}): Promise<Float32Array> {
    if (!this.text) throw new SailError('this model has no text backbone (pass textModel to createModel)');
    return this.encodeTextFeatures({ data: await this.text.encode(texts), dim: this.text.dim }, opts);
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

  /** Cosine similarity matrix [na, nb] of two row-major embedding sets (rows are re-normalised). */
  similarity(a: Float32Array, b: Float32Array): Float32Array {
    return cosineMatrix(a, b, this.dim);
  }

  /**
   * One normalised embedding per label: the zero-shot classifier of src/eval/zeroshot.ts (every template
   * filled at `{}` / `{c}`, embedded, normalised, averaged, re-normalised).
   */
  labelEmbeddings(labels: string[], templates: string[] = ['a photo of a {}.']): Promise<Float32Array> {
    return buildClassifier(labels, templates, (texts) => this.encodeText(texts, { normalize: true }), this.dim);
  }

  /**
   * Zero-shot class probabilities [n, labels]. 'sigmoid' (default): sigmoid(exp(s) cos + b) per label,
   * independent as in SigLIP; 'softmax': softmax over labels of exp(s) cos.
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
    await this.runner.dispose();
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
