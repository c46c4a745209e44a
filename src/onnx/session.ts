// onnxruntime-node sessions with the project's defaults (threads, execution provider).
import * as ort from 'onnxruntime-node';
import { ensureOrtEnvironment } from './ort-init.js';

/** Options shared by every session the project creates. */
export interface SessionOptions {
  /** Intra-op threads; default: all cores onnxruntime sees. */
  threads?: number;
  /** Execution providers in order of preference, e.g. ['cuda', 'cpu'] or ['webgpu', 'cpu']. Default ['cpu']. */
  executionProviders?: string[];
}

/** Create an inference session from ONNX bytes or a file path. */
export async function createSession(model: Uint8Array | string, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: opts.executionProviders ?? ['cpu'],
    graphOptimizationLevel: 'all',
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
  if (opts.threads && opts.threads > 0) options.intraOpNumThreads = opts.threads;
  await ensureOrtEnvironment();
  if (typeof model === 'string') return ort.InferenceSession.create(model, options);
  return ort.InferenceSession.create(model, options);
}

/** A float32 tensor over an existing buffer (no copy). */
export function f32(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export { ort };
