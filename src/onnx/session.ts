// onnxruntime-node sessions with the project's defaults (threads, execution provider).
import * as ort from 'onnxruntime-node';
import { deviceError, executionProvidersFor, getDefaultDevice, isProviderLoadError, type Device } from './device.js';
import { ensureOrtEnvironment } from './ort-init.js';

/** Options shared by every session the project creates. */
export interface SessionOptions {
  /** Intra-op threads; default: all cores onnxruntime sees. */
  threads?: number;
  /** Execution providers in order of preference, e.g. ['cuda', 'cpu'] or ['webgpu', 'cpu']. Default: from `device`. */
  executionProviders?: string[];
  /** Compute device (used when executionProviders is not given); default: setDefaultDevice's (device.ts), else 'cpu'. */
  device?: Device;
}

/** Execution providers of a session: explicit ones, else those of its device. */
export function providersOf(opts: SessionOptions): string[] {
  return opts.executionProviders ?? executionProvidersFor(opts.device ?? getDefaultDevice());
}

/** Create an inference session from ONNX bytes or a file path. */
export async function createSession(model: Uint8Array | string, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const providers = providersOf(opts);
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: providers,
    graphOptimizationLevel: 'all',
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
  if (opts.threads && opts.threads > 0) options.intraOpNumThreads = opts.threads;
  await ensureOrtEnvironment();
  try {
    return typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
  } catch (e) {
    // a provider that cannot load (no CUDA libraries, no WebGPU adapter) gets one line with the fix
    const message = (e as Error).message ?? String(e);
    const device = providers.find((p) => p === 'cuda' || p === 'webgpu') as Device | undefined;
    if (device && isProviderLoadError(message)) throw deviceError(device, message);
    throw e;
  }
}

/** A float32 tensor over an existing buffer (no copy). */
export function f32(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export { ort };
