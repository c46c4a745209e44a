// Complete training graphs (ONNX bytes) built from the head forward/backward and loss-block pieces:
// one fused graph for batches that fit, and the four pieces of the blocked path for huge batches.
import { GraphBuilder } from '../../onnx/graph.js';
import { paramSpecs, type HeadConfig } from '../../head/config.js';
import { headForward, l2Normalize, paramInputs, sideParamNames } from '../../head/graph.js';
import type { LossType } from '../engine-types.js';
import { headBackward, l2NormalizeBackward } from './head-backward.js';
import { infoNceBlock, infoNceColumnStats, siglipBlock, type BlockOutputs } from './loss.js';

/** Name of the graph output holding the gradient of parameter `name`. */
export const gradName = (name: string): string => `grad.${name}`;

const toVec1 = (g: GraphBuilder, x: string): string => g.op('Reshape', [x, g.constI64([1])]);

/**
 * Fused graph: both heads, normalisation, loss and every gradient in one run.
 * Inputs: parameters (paramSpecs names), image [N, dv], text [N, dt], extra_text [N, dt] (if `extra`),
 * inv_denom [1] (SigLIP 1/N^2 or 1/(2N^2); InfoNCE 1/N). `chunk`: lossChunk(loss, N) (the graph then
 * needs N % chunk == 0).
 * Outputs: loss, positive_loss, negative_loss, extra_loss (if `extra`) [1], then grad.<name>.
 */
export function buildFusedGraph(cfg: HeadConfig, loss: LossType, extra: boolean, chunk = 1): Uint8Array {
  if (extra && loss !== 'siglip') throw new Error('extra captions are SigLIP only');
  const g = new GraphBuilder(`sail_train_${cfg.type}_${loss}`);
  const param = paramInputs(g, cfg);
  const image = g.input('image', 'float32', ['N', cfg.visionDim]);
  const text = g.input('text', 'float32', ['N', cfg.textDim]);
  const invDenom = g.input('inv_denom', 'float32', [1]);
  const textIn = extra ? g.op('Concat', [text, g.input('extra_text', 'float32', ['N', cfg.textDim])], { axis: 0 }) : text;

  const fv = headForward(g, cfg, 'vision', image, param, true);
  const ft = headForward(g, cfg, 'text', textIn, param, true);
  const nv = l2Normalize(g, fv.out);
  const nt = l2Normalize(g, ft.out);
  const [tMain, tExtra] = extra ? g.opN('Split', [nt.v], 2, { axis: 0 }) : [nt.v, undefined];
  const blockIn = { v: nv.v, logitScale: param('logit_scale'), logitBias: param('logit_bias'), invDenom };

  const outputs: Record<string, string> = {};
  let dV: string;
  let dT: string;
  let dLogS: string;
  let dB: string;
  if (loss === 'siglip') {
    const main = siglipBlock(g, { ...blockIn, t: tMain, tDiag: tMain }, true, chunk);
    const k = g.constF(extra ? 2 : 1); // positive/negative are means over N^2 of the main caption only
    outputs.positive_loss = g.op('Mul', [g.op('Mul', [main.posSum, invDenom]), k]);
    outputs.negative_loss = g.op('Mul', [g.op('Mul', [g.op('Sub', [main.lossSum, main.posSum]), invDenom]), k]);
    let ex: BlockOutputs | undefined;
    if (tExtra) {
      ex = siglipBlock(g, { ...blockIn, t: tExtra, tDiag: tExtra }, true, chunk);
      outputs.extra_loss = g.op('Mul', [g.op('Mul', [ex.lossSum, invDenom]), k]);
    }
    const sum = ex ? g.op('Add', [main.lossSum, ex.lossSum]) : main.lossSum;
    outputs.loss = g.op('Mul', [sum, invDenom]);
    dV = ex ? g.op('Add', [main.dV, ex.dV]) : main.dV;
    dT = ex ? g.op('Concat', [main.dT, ex.dT], { axis: 0 }) : main.dT;
    dLogS = ex ? g.op('Add', [main.dLogitScale, ex.dLogitScale]) : main.dLogitScale;
    dB = ex ? g.op('Add', [main.dLogitBias!, ex.dLogitBias!]) : main.dLogitBias!;
  } else {
    const r = infoNceBlock(g, { ...blockIn, t: tMain, tDiag: tMain }, undefined);
    outputs.positive_loss = g.op('Mul', [r.posSum, invDenom]);
    outputs.negative_loss = g.op('Mul', [g.op('Mul', [g.op('Add', [r.lseRowSum, r.lseColSum!]), invDenom]), g.constF(0.5)]);
    outputs.loss = g.op('Add', [outputs.positive_loss, outputs.negative_loss]);
    dV = r.dV;
    dT = r.dT;
    dLogS = r.dLogitScale;
    dB = g.constF([0], [1]);
  }
  const gv = headBackward(g, cfg, 'vision', fv, l2NormalizeBackward(g, nv.v, nv.invNorm, dV), param);
  const gt = headBackward(g, cfg, 'text', ft, l2NormalizeBackward(g, nt.v, nt.invNorm, dT), param);
  const grads: Record<string, string> = { ...gv, ...gt, logit_scale: toVec1(g, dLogS), logit_bias: toVec1(g, dB) };
  for (const name of ['loss', 'positive_loss', 'negative_loss', 'extra_loss']) {
    if (outputs[name]) g.output(toVec1(g, outputs[name]), name, 'float32', [1]);
  }
  for (const s of paramSpecs(cfg)) g.output(grads[s.name], gradName(s.name), 'float32', s.shape);
  return g.toBytes();
}

/** Side-neutral parameter name: 'text_mapping_network.g.weight' -> 'mapping_network.g.weight'. */
export const neutralName = (name: string): string => name.replace(/^(vision|text)_/, '');

/**
 * Parameter inputs of a side-neutral head graph: every dimension symbolic, names without the side
 * prefix, so ONE session serves both sides (and one memory arena instead of two). Returns the lookup
 * for headForward, which is built with the vision names.
 */
function neutralParamInputs(g: GraphBuilder, cfg: HeadConfig): { param: (name: string) => string; names: string[] } {
  const names = sideParamNames(cfg, 'vision');
  const specs = paramSpecs(cfg);
  for (const name of names) {
    const shape = specs.find((s) => s.name === name)!.shape;
    g.input(neutralName(name), 'float32', shape.map((_, i) => `${neutralName(name)}:${i}`));
  }
  return { param: neutralName, names };
}

/**
 * Blocked path, piece 1: a head forward on a row chunk, normalised, for either side (feed that side's
 * parameters under their neutral names). Inputs: params, x [R, d]. Outputs: v [R, D], inv_norm [R, 1].
 */
export function buildForwardGraph(cfg: HeadConfig): Uint8Array {
  const g = new GraphBuilder('sail_fwd');
  const { param } = neutralParamInputs(g, cfg);
  const x = g.input('x', 'float32', ['R', 'Din']);
  const f = headForward(g, cfg, 'vision', x, param, false);
  const n = l2Normalize(g, f.out);
  g.output(n.v, 'v', 'float32', ['R', cfg.targetDim]);
  g.output(n.invNorm, 'inv_norm', 'float32', ['R', 1]);
  return g.toBytes();
}

/**
 * Blocked path, piece 3: recompute a head forward on a chunk (up to the last Linear, whose output the
 * backward does not need: v and 1/|z| come from piece 1) and backpropagate dv (gradient w.r.t. the
 * normalised output) to the parameters, for either side. Inputs: neutral params, x [R, d], v [R, D],
 * inv_norm [R, 1], dv [R, D]. Outputs: grad.<neutral name>.
 */
export function buildBackwardGraph(cfg: HeadConfig): Uint8Array {
  const g = new GraphBuilder('sail_bwd');
  const { param, names } = neutralParamInputs(g, cfg);
  const x = g.input('x', 'float32', ['R', 'Din']);
  const v = g.input('v', 'float32', ['R', cfg.targetDim]);
  const invNorm = g.input('inv_norm', 'float32', ['R', 1]);
  const dv = g.input('dv', 'float32', ['R', cfg.targetDim]);
  const f = headForward(g, cfg, 'vision', x, param, true, { skipOutput: true });
  const grads = headBackward(g, cfg, 'vision', f, l2NormalizeBackward(g, v, invNorm, dv), param);
  for (const name of names) g.output(grads[name], gradName(neutralName(name)), 'float32');
  return g.toBytes();
}

/**
 * Blocked path, piece 2: the loss over one row block. Inputs: v [R, D], t [N, D], t_diag [R, D],
 * logit_scale, logit_bias (SigLIP), inv_denom [1], lse_col [N] (InfoNCE). Outputs: loss_sum, pos_sum,
 * d_logit_scale, d_logit_bias (SigLIP), lse_row_sum (InfoNCE) [1]; dv [R, D]; dt [N, D]; dt_diag [R, D].
 * `chunk`: as for buildFusedGraph.
 */
export function buildLossBlockGraph(loss: LossType, dim: number, chunk = 1): Uint8Array {
  const g = new GraphBuilder(`sail_loss_${loss}`);
  const v = g.input('v', 'float32', ['R', dim]);
  const t = g.input('t', 'float32', ['N', dim]);
  const tDiag = g.input('t_diag', 'float32', ['R', dim]);
  const logitScale = g.input('logit_scale', 'float32', [1]);
  const invDenom = g.input('inv_denom', 'float32', [1]);
  const common = { v, t, tDiag, logitScale, invDenom };
  let r: BlockOutputs;
  if (loss === 'siglip') {
    r = siglipBlock(g, { ...common, logitBias: g.input('logit_bias', 'float32', [1]) }, false, chunk);
    g.output(toVec1(g, r.dLogitBias!), 'd_logit_bias', 'float32', [1]);
  } else {
    r = infoNceBlock(g, common, g.input('lse_col', 'float32', ['N']));
  }
  g.output(toVec1(g, r.lossSum), 'loss_sum', 'float32', [1]);
  g.output(toVec1(g, r.posSum), 'pos_sum', 'float32', [1]);
  g.output(toVec1(g, r.dLogitScale), 'd_logit_scale', 'float32', [1]);
  g.output(r.dV, 'dv', 'float32', ['R', dim]);
  g.output(r.dT, 'dt', 'float32', ['N', dim]);
  g.output(r.dTDiag!, 'dt_diag', 'float32', ['R', dim]);
  return g.toBytes();
}

/** Blocked InfoNCE pre-pass: per-column max and sum of exp over one row block. Outputs col_max, col_sum_exp [N]. */
export function buildInfoNceStatsGraph(dim: number): Uint8Array {
  const g = new GraphBuilder('sail_infonce_stats');
  const v = g.input('v', 'float32', ['R', dim]);
  const t = g.input('t', 'float32', ['N', dim]);
  const logitScale = g.input('logit_scale', 'float32', [1]);
  const s = infoNceColumnStats(g, v, t, logitScale);
  g.output(s.colMax, 'col_max', 'float32', ['N']);
  g.output(s.colSumExp, 'col_sum_exp', 'float32', ['N']);
  return g.toBytes();
}
