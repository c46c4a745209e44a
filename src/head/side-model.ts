// The inference forward of one head side (LayerNorm -> mapping network -> optional L2 norm) as ONNX nodes.
import { GraphBuilder } from '../onnx/graph.js';
import { appendReduce, headForward } from './graph.js';
import { paramsFromTensors } from './load.js';
import type { HeadConfig, ParamSet, Side } from './config.js';

/** Output names every head graph produced here uses. */
export const HEAD_OUTPUT = 'embedding';
export const HEAD_OUTPUT_RAW = 'embedding_unnormalized';


/**
 * Append one side of the head to a graph under construction. `x` has shape [..., inDim] (any rank >= 2;
 * LayerNorm and MatMul act on the last axis, so per-patch inputs [N, P, D] work unchanged).
 * Parameters are baked in as initializers named `<prefix><param name>` (the prefix keeps them apart
 * from a fused backbone's). The math is the one head definition of src/head/graph.ts.
 * Returns the names of the unnormalised and L2-normalised outputs.
 */
export function appendHeadSide(g: GraphBuilder, x: string, cfg: HeadConfig, params: ParamSet, side: Side, opts: { prefix?: string; opset?: number } = {}): { raw: string; normalized: string } {
  const prefix = opts.prefix ?? 'head.';
  const opset = opts.opset ?? 17;
  // in-memory heads (createModel / exportModel with { config, params }) get the loader's one check
  const checked = new Map(paramsFromTensors(cfg, params).map((p) => [p.name, p]));
  const baked = new Map<string, string>();
  const value = (name: string): string => {
    let v = baked.get(name);
    if (!v) {
      const p = checked.get(name)!;
      v = g.initializer(`${prefix}${name}`, p.data, p.shape);
      baked.set(name, v);
    }
    return v;
  };
  const { out } = headForward(g, cfg, side, x, value, false, { anyRank: true, opset });
  return { raw: out, normalized: appendL2Normalize(g, out, opset) };
}

/** x / max(||x||_2, 1e-12) over the last axis (torch F.normalize semantics). */
export function appendL2Normalize(g: GraphBuilder, x: string, opset = 17): string {
  const ss = appendReduce(g, 'ReduceSum', g.op('Mul', [x, x]), [-1], opset);
  const norm = g.op('Max', [g.op('Sqrt', [ss]), g.constF(1e-12)]);
  return g.op('Div', [x, norm]);
}

/**
 * A standalone ONNX model for one side: input `features` [N, inDim] (or [N, P, inDim] with
 * `perPatch`) -> `embedding` (L2-normalised) and `embedding_unnormalized`.
 */
export function buildHeadSideModel(cfg: HeadConfig, params: ParamSet, side: Side, opts: { perPatch?: boolean; inputName?: string } = {}): Uint8Array {
  const d = side === 'vision' ? cfg.visionDim : cfg.textDim;
  const g = new GraphBuilder(`sail_${side}_head`);
  const inputName = opts.inputName ?? 'features';
  const x = g.input(inputName, 'float32', opts.perPatch ? ['N', 'P', d] : ['N', d]);
  const { raw, normalized } = appendHeadSide(g, x, cfg, params, side);
  const outShape = opts.perPatch ? ['N', 'P', cfg.targetDim] : ['N', cfg.targetDim];
  g.output(normalized, HEAD_OUTPUT, 'float32', outShape);
  g.output(raw, HEAD_OUTPUT_RAW, 'float32', outShape);
  return g.toBytes({ metadata: { sail_side: side, sail_head_type: cfg.type } });
}
