// The JSON written next to exported ONNX files (sail_model.json): what a browser or onnxruntime user needs.
import type { HeadConfig } from '../head/config.js';
import type { PreprocessConfig } from '../encoders/image-spec.js';

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
  preprocess: PreprocessConfig | 'model-folder';
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
    /**
     * Backbone + pooling + head: pixels -> [N, dim]. `preprocess` is the backbone's own spec (the one the
     * store was encoded with), run by src/encoders/preprocess.ts before feeding the graph.
     */
    model?: ExportedGraph & { preprocess: PreprocessConfig; pooling: string };
    /** Backbone + per-patch `[CLS ; patch_i]` + head: pixels -> [N, P, dim] (vision tower for a LLaVA-style connector). */
    patches?: ExportedGraph & { preprocess: PreprocessConfig };
  };
  text: {
    head: ExportedGraph & { inputDim: number };
    /** Backbone + pooling + head: token ids -> [N, dim]. */
    model?: ExportedGraph & { pooling: string; tokenizer?: WordVocabTokenizer };
  };
}

export const MANIFEST_FILE = 'sail_model.json';
