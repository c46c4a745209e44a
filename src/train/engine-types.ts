// The contract between the training loop and the math engine that computes loss and gradients.
import type { HeadConfig, ParamSet } from '../head/config.js';

export type LossType = 'siglip' | 'infonce';

/** One batch of rows, row-major [n, dim] float32. */
export interface Batch {
  n: number;
  image: Float32Array;
  text: Float32Array;
  /** Extra positive captions, row-aligned with `text` (SigLIP only). */
  extraText?: Float32Array;
}

/** Loss values of one step (means as in sail-method.md section 6.2) and gradients, in ParamSet order. */
export interface StepResult {
  loss: number;
  positiveLoss: number;
  negativeLoss: number;
  extraLoss?: number;
  grads: Float32Array[];
}

export interface EngineOptions {
  head: HeadConfig;
  loss: LossType;
  /** Intra-op threads for the engine. */
  threads?: number;
  /** onnxruntime execution providers, default ['cpu']. */
  executionProviders?: string[];
  /** Row-block size for the N x N similarity; batches larger than this are processed in blocks. */
  blockRows?: number;
}

/** Engine options plus tuning knobs that the loop does not need to know about. */
export interface EngineTuning extends EngineOptions {
  /** Rows per head forward/backward chunk in the blocked path (default: blockRows). */
  headChunkRows?: number;
}

/** Computes loss and gradients of the head for one batch. */
export interface TrainEngine {
  step(params: ParamSet, batch: Batch): Promise<StepResult>;
  dispose(): Promise<void>;
}
