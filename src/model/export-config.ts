// The JSON written next to exported ONNX files (sail_model.json): what a browser or onnxruntime user needs.
import type { HeadConfig } from '../head/config.js';

/** Image preprocessing a fused image model expects (applied by the caller before feeding pixels). */
export interface ImagePreprocess {
  /** Height and width of the model input. */
  size: [number, number];
  /**
   * 'shortest-edge': resize so the short side is `shortestEdge` (bicubic), then center-crop `size` (HF processors);
   * 'cover': sharp's fit 'cover' straight to `size` (short side to size, centre crop; the npm MobileNet encoder);
   * 'exact': resize to `size` ignoring the aspect ratio.
   */
  resize: 'shortest-edge' | 'cover' | 'exact';
  shortestEdge?: number;
  /** Multiply 0..255 bytes by this before normalising (1/255 for most models). */
  rescale: number;
  mean: [number, number, number];
  std: [number, number, number];
  /** NCHW (PyTorch exports) or NHWC (TF/nsfwjs conversions). */
  layout: 'NCHW' | 'NHWC';
  /** Composite transparent pixels on this RGB colour first (default: drop alpha, like PIL convert('RGB')). */
  background?: [number, number, number];
}

/**
 * Close to the npm MobileNetV2 (nsfwjs) encoder's preprocessing: white background, short side to 224 and
 * centre crop, [0, 1], NHWC. That encoder resamples with its own JS filter, so pixels (and embeddings) of a
 * fused export differ slightly from the library's (max |diff| about 2e-2 on normalised embeddings).
 */
export const MOBILENET_NSFWJS_PREPROCESS: ImagePreprocess = {
  size: [224, 224],
  resize: 'cover',
  rescale: 1 / 255,
  mean: [0, 0, 0],
  std: [1, 1, 1],
  layout: 'NHWC',
  background: [255, 255, 255],
};

/** DINOv2's processor: shortest edge 256 bicubic, center crop 224, 1/255, ImageNet mean/std, NCHW. */
export const DINOV2_PREPROCESS: ImagePreprocess = {
  size: [224, 224],
  resize: 'shortest-edge',
  shortestEdge: 256,
  rescale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  layout: 'NCHW',
};

/**
 * A tokenizer the browser page can run itself. 'word-vocab': lowercase (optional), split on runs of
 * characters other than letters/digits, map each word through `vocab` (unknown -> unkId), truncate or pad
 * with padId to maxLength, feed int64 [1, maxLength] as `inputName` (plus `attention_mask` if `maskName`).
 * Any other tokenizer is not run in the browser: the page falls back to the server's /api/embed-text.
 */
export interface WordVocabTokenizer {
  type: 'word-vocab';
  /** File (in the export folder) holding a JSON object word -> id. */
  vocabFile: string;
  lowercase: boolean;
  maxLength: number;
  padId: number;
  unkId: number;
  inputName: string;
  maskName?: string;
}

/** One ONNX file of the export and the names to feed/read. */
export interface ExportedGraph {
  file: string;
  inputs: string[];
  outputs: { normalized: string; unnormalized: string };
}

/** The image backbone an export's image head expects features from. */
export interface ImageBackboneRecord {
  /** Registry name (with `:recipe` where it has several) or model folder, as the encoder reported it. */
  id: string;
  /** How its output becomes one vector per image. */
  pooling: string;
  /** Pixels it expects; 'model-folder': the folder's own preprocessor_config.json. */
  preprocess: ImagePreprocess | 'model-folder';
}

/** The text backbone an export's text head expects features from. */
export interface TextBackboneRecord {
  id: string;
  pooling: string;
}

/** Contents of sail_model.json. */
export interface ExportManifest {
  format: 'sail-export';
  version: 1;
  head: HeadConfig;
  /** Width of the aligned space. */
  dim: number;
  /**
   * Required: the backbones the heads were trained on. `sail serve` loads them when the export has no
   * fused image model or no browser-runnable text model.
   */
  backbones: { image: ImageBackboneRecord; text: TextBackboneRecord };
  /** Outputs named `normalized` are L2-normalised over the last axis; compare them by dot product. */
  normalization: 'l2';
  /** Effective exp(logit_scale) and bias: sigmoid(logitScale * cos + logitBias) is the match probability. */
  logitScale: number;
  logitBias: number;
  image: {
    /** Head alone: backbone features [N, visionDim] -> [N, dim]. */
    head: ExportedGraph & { inputDim: number };
    /** Backbone + pooling + head: pixels -> [N, dim]. */
    model?: ExportedGraph & { preprocess: ImagePreprocess; pooling: string };
    /** Backbone + per-patch `[CLS ; patch_i]` + head: pixels -> [N, P, dim] (vision tower for a LLaVA-style connector). */
    patches?: ExportedGraph & { preprocess: ImagePreprocess };
  };
  text: {
    head: ExportedGraph & { inputDim: number };
    /** Backbone + pooling + head: token ids -> [N, dim]. */
    model?: ExportedGraph & { pooling: string; tokenizer?: WordVocabTokenizer };
  };
}

export const MANIFEST_FILE = 'sail_model.json';
