// Apply a trained head to backbone embeddings for evaluation: run the head forward (src/head/graph.ts) on onnxruntime in row blocks, L2-normalising the outputs.
import type * as ortTypes from 'onnxruntime-node';
import type { HeadConfig, Side } from '../head/config.js';
import type { LoadedHead } from '../head/load.js';
import { assertFiniteParams } from '../head/check.js';
import { headForward, l2Normalize, paramInitializers, sideDim } from '../head/graph.js';
import { GraphBuilder } from '../onnx/graph.js';
import { createSession, f32, type SessionOptions } from '../onnx/session.js';
import { SailError } from '../util/errors.js';

/** A head ready for evaluation (loaded with `loadHead` from src/head/load.ts, or trained in memory). */
export type EvalHead = LoadedHead;

/** Runs one or both head sides; output rows are L2-normalised head embeddings [n, targetDim]. */
export interface HeadApplier {
  readonly config: HeadConfig;
  apply(side: Side, x: Float32Array, n: number): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/**
 * Build onnxruntime sessions for the head sides (LayerNorm -> mapping -> L2 norm) and apply them in
 * row blocks of `blockRows` (default 1024) so activations of wide star heads stay bounded (1024 rows of a
 * 4096-wide star text head with width factor 8 are 3 x 128 MiB of hidden activations).
 */
export async function createHeadApplier(head: EvalHead, opts: SessionOptions & { blockRows?: number } = {}): Promise<HeadApplier> {
  const sessions = new Map<Side, ortTypes.InferenceSession>();
  const block = Math.max(1, opts.blockRows ?? 1024);
  const cfg = head.config;
  assertFiniteParams(head.params);
  const sessionFor = async (side: Side) => {
    let s = sessions.get(side);
    if (!s) {
      const g = new GraphBuilder(`head_${side}`);
      const x = g.input('x', 'float32', ['n', sideDim(cfg, side)]);
      const sideParams = head.params.filter((p) => p.name.startsWith(`${side}_`));
      const fwd = headForward(g, cfg, side, x, paramInitializers(g, sideParams));
      g.output(l2Normalize(g, fwd.out).v, 'z', 'float32', ['n', cfg.targetDim]);
      s = await createSession(g.toBytes(), opts);
      sessions.set(side, s);
    }
    return s;
  };
  return {
    config: cfg,
    async apply(side, x, n) {
      const d = sideDim(cfg, side);
      if (x.length < n * d) throw new SailError(`head ${side}: input holds ${x.length} values, need ${n} x ${d}`);
      const s = await sessionFor(side);
      const out = new Float32Array(n * cfg.targetDim);
      for (let r = 0; r < n; r += block) {
        const b = Math.min(block, n - r);
        const res = await s.run({ x: f32(x.subarray(r * d, (r + b) * d), [b, d]) });
        out.set(res.z.data as Float32Array, r * cfg.targetDim);
      }
      return out;
    },
    async dispose() {
      for (const s of sessions.values()) await s.release();
      sessions.clear();
    },
  };
}
