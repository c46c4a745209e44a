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

/** One Linear layer fed by the LayerNorm output y: its pre-activation gradient and parameter names. */
interface FirstLayer {
  dh: string;
  weight: string;
  bias: string;
}

/**
 * Gradients of the Linear layers that read y = xhat * gamma + beta, and of gamma and beta, WITHOUT the
 * gradient w.r.t. y: the backbone features are frozen, so dL/dy is only needed for dgamma and dbeta,
 * and those follow from G = dh^T xhat (one product the size of the weight gradient, which it replaces):
 *   dW = dh^T y = G * gamma + (sum_i dh_i) beta^T
 *   dgamma_j = sum_i dy_ij xhat_ij = sum_k (W * G)_kj      (summed over the layers)
 *   dbeta = sum_i dy_i = (sum_i dh_i)^T W                  (summed over the layers)
 * This drops the two n x h x d products dy = dh W per layer (about 16% of a star step's FLOPs).
 */
function firstLayerGrads(g: GraphBuilder, layers: FirstLayer[], xhat: string, gamma: string, beta: string, ones: string, param: ParamValue, grads: GradValues, side: Side): void {
  const beta2d = g.op('Unsqueeze', [beta, g.constI64([0])]); // [1, d]
  let dGamma: string | undefined;
  let dBeta: string | undefined;
  for (const { dh, weight, bias } of layers) {
    const G = g.op('Gemm', [dh, xhat], { transA: 1 }); // [h, d]
    const sb = g.op('MatMul', [ones, dh]); // [1, h]
    grads[bias] = g.op('Reshape', [sb, g.constI64([-1])]);
    const outer = g.op('MatMul', [g.op('Transpose', [sb], { perm: [1, 0] }), beta2d]); // [h, d]
    grads[weight] = g.op('Add', [g.op('Mul', [G, gamma]), outer]);
    const w = param(weight);
    const hOnes = onesRow(g, w);
    const gam = g.op('MatMul', [hOnes, g.op('Mul', [w, G])]); // [1, d]
    const bet = g.op('MatMul', [sb, w]); // [1, d]
    dGamma = dGamma ? g.op('Add', [dGamma, gam]) : gam;
    dBeta = dBeta ? g.op('Add', [dBeta, bet]) : bet;
  }
  grads[`${side}_layer_norm.weight`] = g.op('Reshape', [dGamma!, g.constI64([-1])]);
  grads[`${side}_layer_norm.bias`] = g.op('Reshape', [dBeta!, g.constI64([-1])]);
}

/**
 * Parameter gradients of one head given dz [n, targetDim] (gradient w.r.t. the unnormalised output).
 * Weight gradients come out as [out, in] straight from Gemm(transA=1), so no Transpose is needed.
 */
export function headBackward(g: GraphBuilder, cfg: HeadConfig, side: Side, fwd: HeadForwardValues, dz: string, param: ParamValue): GradValues {
  if (!fwd.xhat) throw new Error('headBackward needs a forward built with training = true');
  const m = `${side}_mapping_network`;
  const grads: GradValues = {};
  const ones = onesRow(g, dz);
  const gamma = param(`${side}_layer_norm.weight`);
  const beta = param(`${side}_layer_norm.bias`);
  let layers: FirstLayer[];
  if (cfg.type === 'star') {
    const { gate1, gate2, a } = fwd as Required<HeadForwardValues>;
    grads[`${m}.g.weight`] = g.op('Gemm', [dz, a], { transA: 1 });
    grads[`${m}.g.bias`] = colSum(g, ones, dz);
    const da = g.op('Gemm', [dz, param(`${m}.g.weight`)]);
    // the gates carry the activation's derivatives and masks (starTraining in head/graph.ts)
    const dh1 = g.op('Mul', [da, gate1]);
    const dh2 = g.op('Mul', [da, gate2]);
    layers = [
      { dh: dh1, weight: `${m}.f1.weight`, bias: `${m}.f1.bias` },
      { dh: dh2, weight: `${m}.f2.weight`, bias: `${m}.f2.bias` },
    ];
  } else if (cfg.type === 'mlp') {
    const { h1, a } = fwd as Required<HeadForwardValues>;
    grads[`${m}.proj.2.weight`] = g.op('Gemm', [dz, a], { transA: 1 });
    grads[`${m}.proj.2.bias`] = colSum(g, ones, dz);
    const da = g.op('Gemm', [dz, param(`${m}.proj.2.weight`)]);
    // GELU'(h) = Phi(h) + h phi(h) = 0.5 (1 + erf(h / sqrt 2)) + h exp(-h^2 / 2) / sqrt(2 pi)
    const cdf = g.op('Mul', [g.op('Add', [g.op('Erf', [g.op('Mul', [h1, g.constF(Math.SQRT1_2)])]), g.constF(1)]), g.constF(0.5)]);
    const pdf = g.op('Mul', [g.op('Exp', [g.op('Mul', [g.op('Mul', [h1, h1]), g.constF(-0.5)])]), g.constF(1 / Math.sqrt(2 * Math.PI))]);
    const dgelu = g.op('Add', [cdf, g.op('Mul', [h1, pdf])]);
    layers = [{ dh: g.op('Mul', [da, dgelu]), weight: `${m}.proj.0.weight`, bias: `${m}.proj.0.bias` }];
  } else {
    layers = [{ dh: dz, weight: `${m}.weight`, bias: `${m}.bias` }];
  }
  firstLayerGrads(g, layers, fwd.xhat, gamma, beta, ones, param, grads, side);
  return grads;
}

/** Backward of v = z * invNorm (row-wise L2 normalisation): dz = (dv - v <v, dv>) * invNorm. */
export function l2NormalizeBackward(g: GraphBuilder, v: string, invNorm: string, dv: string): string {
  const dot = g.op('ReduceSum', [g.op('Mul', [v, dv]), g.constI64([1])], { keepdims: 1 });
  return g.op('Mul', [g.op('Sub', [dv, g.op('Mul', [v, dot])]), invNorm]);
}
