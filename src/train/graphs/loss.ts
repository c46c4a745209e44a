// Loss forward+backward over one row block of the similarity matrix, as ONNX nodes. A block is rows
// [i0, i0 + r) of the images against all N texts, so the fused graph (r = N) and the blocked path
// (r << N, never materialising N x N) share this code.
import type { GraphBuilder } from '../../onnx/graph.js';
import type { LossType } from '../engine-types.js';

/** Inputs of a loss block: normalised features and the scalar parameters (all [1]). */
export interface BlockInputs {
  /** Image rows of the block, normalised [r, D]. */
  v: string;
  /** All texts, normalised [N, D]. */
  t: string;
  /** The block's own texts (rows i0..i0+r of t, the positives) [r, D]. */
  tDiag: string;
  logitScale: string;
  logitBias?: string;
  /** SigLIP: 1 / (N^2) or 1 / (2 N^2) with extra captions; InfoNCE: 1 / N. */
  invDenom: string;
}

/** Outputs of a loss block. Sums are raw (not divided by the denominator) scalars. */
export interface BlockOutputs {
  /** Sum of the block's loss terms. */
  lossSum: string;
  /** SigLIP: sum of the diagonal terms; InfoNCE: -sum of the diagonal logits. */
  posSum: string;
  /** Gradient w.r.t. the block's image rows [r, D]. */
  dV: string;
  /** Gradient w.r.t. all texts from the block, without the diagonal term [N, D] (or with it when fused). */
  dT: string;
  /** The diagonal term of the text gradient for rows i0..i0+r [r, D] (blocked path only). */
  dTDiag?: string;
  /** d loss / d logit_scale and d loss / d logit_bias contributions (scalars). */
  dLogitScale: string;
  dLogitBias?: string;
}

const sumAll = (g: GraphBuilder, x: string): string => g.op('ReduceSum', [x], { keepdims: 0 });
const rowSum = (g: GraphBuilder, x: string): string => g.op('ReduceSum', [x, g.constI64([1])], { keepdims: 0 });
/**
 * Sum of a matrix as the sum of its row sums. onnxruntime's ReduceSum over all elements keeps one
 * float32 running sum: over the 16.7M loss terms of N = 4096 it was 0.5% off. Row sums of N terms,
 * then N of those, keep float32's digits.
 */
const sumByRows = (g: GraphBuilder, x: string): string => sumAll(g, rowSum(g, x));

/** Largest power of two up to 64 that divides n: the chunk length of the products in {@link sumLogSigmoidAbs}. */
export function logChunk(n: number): number {
  let k = 1;
  while (k < 64 && n % (2 * k) === 0) k *= 2;
  return k;
}

/** The `chunk` a loss graph over N texts is built with: logChunk(N) for SigLIP; InfoNCE takes no logs of sigmoids (1). */
export const lossChunk = (loss: LossType, n: number): number => (loss === 'siglip' ? logChunk(n) : 1);

/**
 * Sum of log(sigmoid(absL)) over a [r, N] block, with N % chunk == 0. sigmoid(|L|) lies in [1/2, 1],
 * so a product of 64 of them stays above 2^-64, far from float32's underflow: one Log per chunk of
 * `chunk` columns instead of one per element (Log is the slowest element-wise op here). The products
 * round like the sum of logs they replace (half an ulp per factor).
 */
function sumLogSigmoidAbs(g: GraphBuilder, absL: string, chunk: number): string {
  const sig = g.op('Sigmoid', [absL]);
  if (chunk === 1) return sumByRows(g, g.op('Log', [sig]));
  const prods = g.op('ReduceProd', [g.op('Reshape', [sig, g.constI64([0, -1, chunk])])], { axes: [2], keepdims: 0 });
  return sumByRows(g, g.op('Log', [prods]));
}

/**
 * SigLIP block. With L = s V T^T + b and y = 2I - 1, softplus(-yL) = softplus(L) - L on the diagonal,
 * and d/dL = (sigmoid(L) - I) / denom everywhere, so no label matrix is ever built:
 * dV = c (S T - T_diag), dT = c (S^T V - V_diag) with c = s / denom, d/dlogS = sum(V * dV),
 * d/db = (sum S - r) / denom. `fused` folds the diagonal term of dT into the Gemm (needs r = N).
 * `chunk` (from {@link logChunk} of N) groups the loss's logarithms.
 */
export function siglipBlock(g: GraphBuilder, inp: BlockInputs, fused: boolean, chunk = 1): BlockOutputs {
  if (!inp.logitBias) throw new Error('siglipBlock needs logitBias');
  const s = g.op('Exp', [inp.logitScale]);
  const vs = g.op('Mul', [inp.v, s]);
  const L = g.op('Gemm', [vs, inp.t, inp.logitBias], { transB: 1 });
  const diagL = g.op('Add', [rowSum(g, g.op('Mul', [vs, inp.tDiag])), inp.logitBias]);
  // sum softplus(L) without onnxruntime's Softplus kernel (20x slower than Sigmoid here):
  // softplus(x) = relu(x) + log(1 + e^-|x|) = (x + |x|) / 2 - log(sigmoid(|x|)), with the row sums of
  // L in closed form, vs_i . (sum_j t_j) + N b, so no pass over L is spent on them
  const absL = g.op('Abs', [L]);
  const tSum = g.op('ReduceSum', [inp.t, g.constI64([0])], { keepdims: 1 }); // [1, D]
  const nCols = g.op('Cast', [g.op('Slice', [g.op('Shape', [inp.t]), g.constI64([0]), g.constI64([1])])], { to: 1 });
  const rowL = g.op('Add', [rowSum(g, g.op('Mul', [vs, tSum])), g.op('Mul', [nCols, inp.logitBias])]);
  const reluSum = g.op('Mul', [sumAll(g, g.op('Add', [rowL, rowSum(g, absL)])), g.constF(0.5)]);
  const softplusSum = g.op('Sub', [reluSum, sumLogSigmoidAbs(g, absL, chunk)]);
  const lossSum = g.op('Sub', [softplusSum, sumAll(g, diagL)]);
  const posSum = sumAll(g, g.op('Softplus', [g.op('Neg', [diagL])]));
  const S = g.op('Sigmoid', [L]);
  const c = g.op('Mul', [s, inp.invDenom]);
  const e = g.op('Gemm', [S, inp.t, g.op('Neg', [inp.tDiag])]);
  const dV = g.op('Mul', [e, c]);
  const vc = g.op('Mul', [inp.v, c]);
  const dT = fused ? g.op('Gemm', [S, vc, g.op('Neg', [vc])], { transA: 1 }) : g.op('Gemm', [S, vc], { transA: 1 });
  const dTDiag = fused ? undefined : g.op('Neg', [vc]);
  const dLogitScale = sumByRows(g, g.op('Mul', [inp.v, dV]));
  const dLogitBias = g.op('Mul', [sumAll(g, g.op('Sub', [rowSum(g, S), g.constF(1)])), inp.invDenom]);
  return { lossSum, posSum, dV, dT, dTDiag, dLogitScale, dLogitBias };
}

/**
 * InfoNCE block. Blocked: `lseColIn` is the column log-sum-exp over all rows ([N]); fused (undefined):
 * computed here, and its sum returned. Row terms are complete inside a block. With Q = softmax_rows(L) + softmax_cols(L) and c = s / (2N):
 * dV = c (Q T - 2 T_diag), dT = c (Q^T V - 2 V_diag), d/dlogS = sum(V * dV).
 * lossSum = the log-sum-exp part of the row terms only (the column part is added by the caller).
 */
export function infoNceBlock(g: GraphBuilder, inp: BlockInputs, lseColIn: string | undefined): BlockOutputs & { lseRowSum: string; lseColSum?: string } {
  const fused = lseColIn === undefined;
  const s = g.op('Exp', [inp.logitScale]);
  const vs = g.op('Mul', [inp.v, s]);
  const L = g.op('Gemm', [vs, inp.t], { transB: 1 });
  const lseCol = lseColIn ?? g.op('ReduceLogSumExp', [L], { axes: [0], keepdims: 1 });
  const lseRow = g.op('ReduceLogSumExp', [L], { axes: [1], keepdims: 1 });
  const q = g.op('Add', [g.op('Exp', [g.op('Sub', [L, lseRow])]), g.op('Exp', [g.op('Sub', [L, lseCol])])]);
  const c = g.op('Mul', [g.op('Mul', [s, inp.invDenom]), g.constF(0.5)]);
  const two = g.constF(-2);
  const e = g.op('Gemm', [q, inp.t, g.op('Mul', [inp.tDiag, two])]);
  const dV = g.op('Mul', [e, c]);
  const vc = g.op('Mul', [inp.v, c]);
  const dT = fused ? g.op('Gemm', [q, vc, g.op('Mul', [vc, two])], { transA: 1 }) : g.op('Gemm', [q, vc], { transA: 1 });
  const dTDiag = fused ? undefined : g.op('Mul', [vc, two]);
  const posSum = g.op('Neg', [sumByRows(g, g.op('Mul', [vs, inp.tDiag]))]);
  const lseRowSum = sumAll(g, lseRow);
  const dLogitScale = sumByRows(g, g.op('Mul', [inp.v, dV]));
  const lseColSum = fused ? sumAll(g, lseCol) : undefined;
  return { lossSum: lseRowSum, lseRowSum, lseColSum, posSum, dV, dT, dTDiag, dLogitScale };
}

/** Column statistics of one InfoNCE block for the two-pass column log-sum-exp: max and sum exp(L - max). */
export function infoNceColumnStats(g: GraphBuilder, v: string, t: string, logitScale: string): { colMax: string; colSumExp: string } {
  const vs = g.op('Mul', [v, g.op('Exp', [logitScale])]);
  const L = g.op('Gemm', [vs, t], { transB: 1 });
  const colMax = g.op('ReduceMax', [L], { axes: [0], keepdims: 1 });
  const colSumExp = g.op('ReduceSum', [g.op('Exp', [g.op('Sub', [L, colMax])]), g.constI64([0])], { keepdims: 0 });
  return { colMax: g.op('Reshape', [colMax, g.constI64([-1])]), colSumExp };
}
