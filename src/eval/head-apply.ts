// Apply a trained head to backbone embeddings for evaluation: load (config + params) from safetensors, then
// run the head forward (src/head/graph.ts) on onnxruntime in row blocks, L2-normalising the outputs.
import { existsSync, promises as fs, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as ortTypes from 'onnxruntime-node';
import { defaultHeadConfig, paramSpecs, type HeadConfig, type HeadType, type ParamSet, type Side } from '../head/config.js';
import { headForward, l2Normalize, paramInitializers, sideDim } from '../head/graph.js';
import { readSafetensors } from '../head/safetensors.js';
import { GraphBuilder } from '../onnx/graph.js';
import { createSession, f32, type SessionOptions } from '../onnx/session.js';
import { SailError } from '../util/errors.js';

/** A head ready for evaluation. */
export interface EvalHead {
  config: HeadConfig;
  params: ParamSet;
}

function parseConfig(text: string, file: string): HeadConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SailError(`head config is not valid JSON (${(err as Error).message})`, { file });
  }
  const obj = (raw && typeof raw === 'object' && 'head' in raw ? (raw as { head: unknown }).head : raw) as Partial<HeadConfig> | null;
  if (!obj || typeof obj !== 'object') throw new SailError('head config is not an object', { file });
  for (const k of ['visionDim', 'textDim', 'targetDim'] as const) {
    if (!Number.isInteger(obj[k]) || (obj[k] as number) < 1) throw new SailError(`head config: ${k} must be a positive integer`, { file });
  }
  if (!['star', 'mlp', 'linear'].includes(String(obj.type))) throw new SailError(`head config: unknown type ${String(obj.type)}`, { file });
  return { ...defaultHeadConfig, ...obj } as HeadConfig;
}

/** Infer type and widths from tensor shapes (heads converted from the original .pt files carry no config). */
function inferConfig(shapes: Map<string, number[]>, file: string): HeadConfig {
  const get = (n: string): number[] => {
    const s = shapes.get(n);
    if (!s) throw new SailError(`cannot infer the head config: tensor ${n} is missing`, { file });
    return s;
  };
  const visionDim = get('vision_layer_norm.weight')[0];
  const textDim = get('text_layer_norm.weight')[0];
  let type: HeadType = 'linear';
  let targetDim: number;
  let widthFactor = defaultHeadConfig.widthFactor;
  if (shapes.has('vision_mapping_network.f1.weight')) {
    type = 'star';
    targetDim = get('vision_mapping_network.g.weight')[0];
    widthFactor = get('vision_mapping_network.f1.weight')[0] / visionDim;
  } else if (shapes.has('vision_mapping_network.proj.0.weight')) {
    type = 'mlp';
    targetDim = get('vision_mapping_network.proj.2.weight')[0];
  } else targetDim = get('vision_mapping_network.weight')[0];
  return { ...defaultHeadConfig, type, widthFactor, visionDim, textDim, targetDim };
}

/**
 * Load a head from a `.safetensors` file, a checkpoint folder (`head.safetensors` + `config.json`) or a
 * training output folder (`checkpoint/` inside). The
 * config comes from `config.json` beside the file (a bare HeadConfig or a training config with `head`),
 * the file's metadata (`config` or `sail_config`), or else is inferred from the tensor shapes.
 */
export async function loadEvalHead(path: string): Promise<EvalHead> {
  if (!existsSync(path)) throw new SailError('head checkpoint not found', { file: path });
  let file = path;
  if (statSync(path).isDirectory()) {
    // a checkpoint folder, or a training output folder holding checkpoint/
    file = [join(path, 'head.safetensors'), join(path, 'checkpoint', 'head.safetensors')].find((f) => existsSync(f)) ?? join(path, 'head.safetensors');
  }
  const st = await readSafetensors(file);
  const cfgFile = join(dirname(file), 'config.json');
  let config: HeadConfig;
  if (existsSync(cfgFile)) config = parseConfig(await fs.readFile(cfgFile, 'utf8'), cfgFile);
  else if (st.metadata.config ?? st.metadata.sail_config) config = parseConfig((st.metadata.config ?? st.metadata.sail_config)!, file);
  else config = inferConfig(new Map(st.tensors.map((t) => [t.name, t.shape])), file);
  const byName = new Map(st.tensors.map((t) => [t.name, t]));
  const params = paramSpecs(config).map((s) => {
    const t = byName.get(s.name);
    if (!t) throw new SailError(`head tensor ${s.name} is missing (not a ${config.type} head of these widths?)`, { file });
    if (t.shape.join(',') !== s.shape.join(',')) throw new SailError(`head tensor ${s.name} has shape [${t.shape}], expected [${s.shape}]`, { file });
    return { name: s.name, shape: s.shape, data: t.data };
  });
  return { config, params };
}

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
