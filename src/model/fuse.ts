// Fuse a backbone's ONNX graph with pooling and the head, so one file maps pixels / token ids to the aligned space.
import { GraphBuilder } from '../onnx/graph.js';
import { decodeModel, encodeModel, type OnnxGraph, type OnnxModel } from '../onnx/model.js';
import { SailError } from '../util/errors.js';
import type { HeadConfig, ParamSet, Side } from '../head/config.js';
import { appendHeadSide, HEAD_OUTPUT, HEAD_OUTPUT_RAW } from '../head/side-model.js';
import type { Pooling } from '../encoders/pooling.js';
import { appendPooling, appendPatchTokens } from '../encoders/pooling-graph.js';

export { POOLINGS, type Pooling } from '../encoders/pooling.js';

/** Prefix given to every backbone value except its graph inputs (their names are the fused model's API). */
export const BACKBONE_PREFIX = 'backbone/';

export interface FuseOptions {
  /** Backbone output to pool (default: its first graph output). */
  output?: string;
  pooling: Pooling;
  /** Emit per-patch tokens `[CLS ; patch_i]` through the head instead of one pooled vector (vision only). */
  perPatch?: boolean;
}

/** Result of a fusion: model bytes plus the names users feed and read. */
export interface FusedModel {
  bytes: Uint8Array;
  inputs: { name: string; elemType?: number; shape?: (number | string)[] }[];
  outputs: { normalized: string; unnormalized: string };
  opset: number;
}

function renameGraph(graph: OnnxGraph, rename: (n: string) => string): void {
  for (const node of graph.nodes) {
    node.inputs = node.inputs.map(rename);
    node.outputs = node.outputs.map(rename);
    if (node.name) node.name = BACKBONE_PREFIX + node.name;
    // Subgraphs (If/Loop/Scan) may read outer values: rename their names with the same map.
    for (const a of node.attributes) if (a.value.type === 'graph') renameSubgraph(a.value.g, rename);
  }
  for (const t of graph.initializers) t.name = rename(t.name);
  for (const v of graph.valueInfo) v.name = rename(v.name);
}

function renameSubgraph(g: OnnxGraph, rename: (n: string) => string): void {
  renameGraph(g, rename);
  for (const v of g.inputs) v.name = rename(v.name);
  for (const v of g.outputs) v.name = rename(v.name);
}

/** The default-domain opset version of a model. */
export function defaultOpset(m: OnnxModel): number {
  const o = m.opsets.find((x) => x.domain === '' || x.domain === 'ai.onnx');
  if (!o) throw new SailError('backbone ONNX declares no default-domain opset');
  return o.version;
}

/**
 * Append pooling + one head side behind a backbone graph. The backbone's values are renamed with
 * {@link BACKBONE_PREFIX}; its graph inputs keep their names. The fused graph keeps the backbone's opset
 * (the head nodes are emitted in the form that opset wants) so backbone ops keep their semantics.
 */
export function fuseBackboneWithHead(backbone: Uint8Array, cfg: HeadConfig, params: ParamSet, side: Side, opts: FuseOptions, file?: string): FusedModel {
  let m: OnnxModel;
  try {
    m = decodeModel(backbone);
  } catch (e) {
    throw new SailError(`not a readable ONNX model (${(e as Error).message})`, { file });
  }
  const opset = defaultOpset(m);
  if (opset < 11) throw new SailError(`backbone opset ${opset} is too old (need >= 11)`, { file });
  const initNames = new Set(m.graph.initializers.map((t) => t.name));
  // Older exporters list initializers as graph inputs too; only the real ones are fed by users.
  const inputs = m.graph.inputs.filter((v) => !initNames.has(v.name));
  const inputNames = new Set(inputs.map((v) => v.name));
  const rename = (n: string) => (n === '' || inputNames.has(n) ? n : BACKBONE_PREFIX + n);
  const outName = opts.output ?? m.graph.outputs[0]?.name;
  if (!outName || !m.graph.outputs.some((o) => o.name === outName) && !m.graph.nodes.some((n) => n.outputs.includes(outName)))
    throw new SailError(`backbone has no value named ${outName ?? '(no outputs)'}; outputs: ${m.graph.outputs.map((o) => o.name).join(', ')}`, { file });
  renameGraph(m.graph, rename);

  const g = new GraphBuilder(`sail_${side}_fused`);
  g.graph.inputs.push(...inputs);
  g.graph.initializers.push(...m.graph.initializers);
  g.graph.nodes.push(...m.graph.nodes);
  g.graph.valueInfo.push(...m.graph.valueInfo);
  const feats = rename(outName);
  let x: string;
  if (opts.perPatch) {
    if (side !== 'vision') throw new SailError('per-patch export is for the vision side only');
    x = appendPatchTokens(g, feats, opset);
  } else {
    // masked poolings read the backbone's attention_mask input, as the library encoder does
    const mask = inputs.find((v) => v.name === 'attention_mask')?.name;
    x = appendPooling(g, feats, opts.pooling, opset, mask);
  }
  const { raw, normalized } = appendHeadSide(g, x, cfg, params, side, { opset });
  const shape = opts.perPatch ? ['N', 'P', cfg.targetDim] : ['N', cfg.targetDim];
  g.output(normalized, HEAD_OUTPUT, 'float32', shape);
  g.output(raw, HEAD_OUTPUT_RAW, 'float32', shape);
  const model: OnnxModel = {
    irVersion: Math.max(m.irVersion, 7),
    opsets: m.opsets,
    producerName: 'sail',
    graph: g.graph,
    metadata: { ...m.metadata, sail_side: side, sail_pooling: opts.perPatch ? 'per-patch' : opts.pooling },
  };
  return { bytes: encodeModel(model), inputs, outputs: { normalized: HEAD_OUTPUT, unnormalized: HEAD_OUTPUT_RAW }, opset };
}
