// Head backward as ONNX nodes: from dL/dz and the forward intermediates to every parameter gradient of
// one side. Written by hand (onnxruntime-node has no autograd); checked against test/head/reference.ts.
import type { GraphBuilder } from '../../onnx/graph.js';
import type { HeadConfig, Side } from '../../head/config.js';
import type { HeadForwardValues, ParamValue } from '../../head/graph.js';

/** Gradient value names by parameter name. */
export type GradValues = Record<string, string>;

/** A [1, n] row of ones, n = rows of `like` (symbolic). */
function onesRow(g: GraphBuilder, like: string): string {
  const n = g.op('Slice', [g.op('Shape', [like]), g.constI64([0]), g.constI64([1])]);
  return g.op('Expand', [g.constF(1), g.op('Concat', [g.constI64([1]), n], { axis: 0 })]);
}

/** Column sums as ones[1, n] @ t: onnxruntime's MatMul is several times faster here than ReduceSum over axis 0. */
const colSum = (g: GraphBuilder, ones: string, t: string): string => g.op('Reshape', [g.op('MatMul', [ones, t]), g.constI64([-1])]);

/**
 * Parameter gradients of one head given dz [n, targetDim] (gradient w.r.t. the unnormalised output).
 * Weight gradients come out as [out, in] straight from Gemm(transA=1), so no Transpose is needed.
 */
export function headBackward(g: GraphBuilder, cfg: HeadConfig, side: Side, fwd: HeadForwardValues, dz: string, param: ParamValue): GradValues {
  if (!fwd.xhat) throw new Error('headBackward needs a forward built with training = true');
  const m = `${side}_mapping_network`;
  const grads: GradValues = {};
  const ones = onesRow(g, dz);
  let dy: string;
  if (cfg.type === 'star') {
    const { h1, h2, c2, r, a } = fwd as Required<HeadForwardValues>;
    grads[`${m}.g.weight`] = g.op('Gemm', [dz, a], { transA: 1 });
    grads[`${m}.g.bias`] = colSum(g, ones, dz);
    const da = g.op('Gemm', [dz, param(`${m}.g.weight`)]);
    // r = clamp(h1, 0, 6) equals h1 exactly where ReLU6 passes the gradient (0 < h1 < 6, up to the
    // measure-zero kinks); c2 equals h2 exactly where clamp(+-1e3) passes it. Masks are applied as
    // Mul by Cast(Equal) because onnxruntime's Where is about 1.5x slower than Cast + Mul here.
    const mask = (a: string, b: string) => g.op('Cast', [g.op('Equal', [a, b])], { to: 1 });
    const dh1 = g.op('Mul', [g.op('Mul', [da, c2]), mask(r, h1)]);
    const dh2 = g.op('Mul', [g.op('Mul', [da, r]), mask(c2, h2)]);
    grads[`${m}.f1.weight`] = g.op('Gemm', [dh1, fwd.y], { transA: 1 });
    grads[`${m}.f1.bias`] = colSum(g, ones, dh1);
    grads[`${m}.f2.weight`] = g.op('Gemm', [dh2, fwd.y], { transA: 1 });
    grads[`${m}.f2.bias`] = colSum(g, ones, dh2);
    const dy1 = g.op('Gemm', [dh1, param(`${m}.f1.weight`)]);
    dy = g.op('Gemm', [dh2, param(`${m}.f2.weight`), dy1]);
  } else if (cfg.type === 'mlp') {
    const { h1, a } = fwd as Required<HeadForwardValues>;
    grads[`${m}.proj.2.weight`] = g.op('Gemm', [dz, a], { transA: 1 });
    grads[`${m}.proj.2.bias`] = colSum(g, ones, dz);
    const da = g.op('Gemm', [dz, param(`${m}.proj.2.weight`)]);
    // GELU'(h) = Phi(h) + h phi(h) = 0.5 (1 + erf(h / sqrt 2)) + h exp(-h^2 / 2) / sqrt(2 pi)
    const cdf = g.op('Mul', [g.op('Add', [g.op('Erf', [g.op('Mul', [h1, g.constF(Math.SQRT1_2)])]), g.constF(1)]), g.constF(0.5)]);
    const pdf = g.op('Mul', [g.op('Exp', [g.op('Mul', [g.op('Mul', [h1, h1]), g.constF(-0.5)])]), g.constF(1 / Math.sqrt(2 * Math.PI))]);
    const dgelu = g.op('Add', [cdf, g.op('Mul', [h1, pdf])]);
    const dh = g.op('Mul', [da, dgelu]);
    grads[`${m}.proj.0.weight`] = g.op('Gemm', [dh, fwd.y], { transA: 1 });
    grads[`${m}.proj.0.bias`] = colSum(g, ones, dh);
    dy = g.op('Gemm', [dh, param(`${m}.proj.0.weight`)]);
  } else {
    grads[`${m}.weight`] = g.op('Gemm', [dz, fwd.y], { transA: 1 });
    grads[`${m}.bias`] = colSum(g, ones, dz);
    dy = g.op('Gemm', [dz, param(`${m}.weight`)]);
  }
  grads[`${side}_layer_norm.weight`] = colSum(g, ones, g.op('Mul', [dy, fwd.xhat]));
  grads[`${side}_layer_norm.bias`] = colSum(g, ones, dy);
  return grads;
}

/** Backward of v = z * invNorm (row-wise L2 normalisation): dz = (dv - v <v, dv>) * invNorm. */
export function l2NormalizeBackward(g: GraphBuilder, v: string, invNorm: string, dv: string): string {
  const dot = g.op('ReduceSum', [g.op('Mul', [v, dv]), g.constI64([1])], { keepdims: 1 });
  return g.op('Mul', [g.op('Sub', [dv, g.op('Mul', [v, dot])]), invNorm]);
}
