// The one way to apply a trained head to backbone features outside training: each side's inference graph
// (side-model.ts: LayerNorm -> mapping -> x / max(|x|, 1e-12), as torch F.normalize) on onnxruntime, in
// row blocks. Training validation, eval, the model API and the demo call this; export writes the same graph.
import type * as ortTypes from 'onnxruntime-node';
import { createSession, f32, type SessionOptions } from '../onnx/session.js';
import { SailError } from '../util/errors.js';
import { assertFiniteParams } from './check.js';
import type { HeadConfig, Side } from './config.js';
import { sideDim } from './graph.js';
import type { LoadedHead } from './load.js';
import { buildHeadSideModel, HEAD_OUTPUT, HEAD_OUTPUT_RAW } from './side-model.js';

/** Options of {@link HeadRunner.apply}. */
export interface ApplyOptions {
  /** L2-normalise the output rows (default true). */
  normalize?: boolean;
}

/** Runs one or both head sides; output rows are head embeddings [n, targetDim]. */
export interface HeadRunner {
  readonly config: HeadConfig;
  /** Head of `n` rows of `side` features (row-major [n, sideDim]); `n` defaults to all rows of `x`. */
  apply(side: Side, x: Float32Array, n?: number, opts?: ApplyOptions): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/**
 * Build onnxruntime sessions for the head sides (lazily) and apply them in row blocks of `blockRows`
 * (default 1024) so activations of wide star heads stay bounded (1024 rows of a 4096-wide star text head
 * with width factor 8 are 3 x 128 MiB of hidden activations).
 */
export function createHeadRunner(head: LoadedHead, opts: SessionOptions & { blockRows?: number } = {}): HeadRunner {
  // NaN/Inf weights would give NaN scores that rank as anything: refused before any use
  assertFiniteParams(head.params);
  const sessions = new Map<Side, Promise<ortTypes.InferenceSession>>();
  const block = Math.max(1, opts.blockRows ?? 1024);
  const cfg = head.config;
  const sessionFor = (side: Side) => {
    let s = sessions.get(side);
    if (!s) {
      s = createSession(buildHeadSideModel(cfg, head.params, side), opts);
      sessions.set(side, s);
    }
    return s;
  };
  return {
    config: cfg,
    async apply(side, x, n, o = {}) {
      const d = sideDim(cfg, side);
      if (n === undefined) {
        if (x.length % d !== 0) throw new SailError(`${side} features have ${x.length} values, not a multiple of the head input width ${d}`);
        n = x.length / d;
      }
      if (x.length < n * d) throw new SailError(`head ${side}: input holds ${x.length} values, need ${n} x ${d}`);
      const s = await sessionFor(side);
      const output = o.normalize ?? true ? HEAD_OUTPUT : HEAD_OUTPUT_RAW;
      const out = new Float32Array(n * cfg.targetDim);
      for (let r = 0; r < n; r += block) {
        const b = Math.min(block, n - r);
        const res = await s.run({ features: f32(x.subarray(r * d, (r + b) * d), [b, d]) }, [output]);
        out.set(res[output].data as Float32Array, r * cfg.targetDim);
      }
      return out;
    },
    async dispose() {
      for (const s of sessions.values()) await (await s).release();
      sessions.clear();
    },
  };
}
