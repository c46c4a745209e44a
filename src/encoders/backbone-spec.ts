// What a registry entry is (a leaf module of types): loaders and backbone lists import these, the
// registry (registry.ts) holds the entries.
import type { ImageEncoder, TextEncoder } from './types.js';
import type { ImageRecipe, TextPooling } from './pooling.js';

/** Options every backbone loader accepts. */
export interface EncoderLoadOptions {
  /** Intra-op threads for the inference session (default: onnxruntime's choice). */
  threads?: number;
  /** Execution providers in order of preference ('cpu' default; 'cuda', 'webgpu' selectable). */
  executionProviders?: string[];
  /** Largest batch handed to the model in one run; bigger inputs are split. Default 32. */
  batchSize?: number;
  /** Local model folder (transformers.js layout) overriding the registry's hub lookup. */
  modelDir?: string;
  /** Allow downloading a missing model from the Hugging Face hub into `cacheDir`. Default false. */
  allowDownload?: boolean;
  /** Where downloaded models live (default `~/.cache/sail/models`). */
  cacheDir?: string;
  /** Image aggregation recipe override ('concat' | 'cls' | 'patch'). */
  recipe?: ImageRecipe;
  /** Text pooling override ('cls' | 'mean' | 'last'). */
  pooling?: TextPooling;
  /** Instruction prefix prepended to every text (none by default, as in SAIL). */
  instruction?: string;
  /** Truncation length for text backbones (default: the registry entry's, else the tokenizer's). */
  maxLength?: number;
}

/** An image backbone entry. `dim` is the embedding width of the default recipe. */
export interface ImageBackboneSpec {
  kind: 'image';
  name: string;
  dim: number;
  description?: string;
  /** Hugging Face hub id the ONNX export comes from, where there is one. */
  hubId?: string;
  load(opts: EncoderLoadOptions): Promise<ImageEncoder>;
}

/** A text backbone entry. */
export interface TextBackboneSpec {
  kind: 'text';
  name: string;
  dim: number;
  description?: string;
  hubId?: string;
  load(opts: EncoderLoadOptions): Promise<TextEncoder>;
}

/** Any registered backbone. */
export type BackboneSpec = ImageBackboneSpec | TextBackboneSpec;
