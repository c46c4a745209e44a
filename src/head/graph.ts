// Head forward as ONNX nodes. One builder per head type; parameters are looked up through a callback so
// the same code serves training graphs (params are graph inputs), inference and export (initializers).
import { float, type GraphBuilder } from '../onnx/graph.js';
import { paramSpecs, type HeadConfig, type ParamSet, type Side } from './config.js';

/** Maps a parameter name (as in paramSpecs) to the graph value holding it. */
export type ParamValue = (name: string) => string;

/** Values produced by a head forward; the training backward reads the intermediates. */
export interface HeadForwardValues {
  /** Head output z [n, targetDim], not normalised. */
  out: string;
  /** LayerNorm output before the affine part (training only). */
  xhat?: string;
  /** LayerNorm output after the affine part. */
  y: string;
  /** mlp: proj.0 pre-activation. */
  h1?: string;
  /**
   * star, training only: what dL/da is multiplied by to give dL/dh1 and dL/dh2, the gradients of the
   * f1 and f2 pre-activations (the activation's derivatives, masks included).
   */
  gate1?: string;
  gate2?: string;
  /** star, training only: bool scalar, true when no upper clamp can act and the short gates ran. */
  noUpperClamp?: string;
  /** Input of the last Linear. */
  a?: string;
}

/** Input width of one side. */
export function sideDim(cfg: HeadConfig, side: Side): number {
  return side === 'vision' ? cfg.visionDim : cfg.textDim;
}

/** Parameter names of one side, in paramSpecs order. */
export function sideParamNames(cfg: HeadConfig, side: Side): string[] {
  return paramSpecs(cfg)
    .map((s) => s.name)
    .filter((n) => n.startsWith(`${side}_`));
}

/** Declare every parameter of `names` as a float32 graph input with its paramSpecs shape. */
export function paramInputs(g: GraphBuilder, cfg: HeadConfig, names?: string[]): ParamValue {
  const specs = paramSpecs(cfg);
  for (const s of specs) if (!names || names.includes(s.name)) g.input(s.name, 'float32', s.shape);
  return (name) => name;
}

/** Bake parameter values into the graph as initializers (export / inference). */
export function paramInitializers(g: GraphBuilder, params: ParamSet): ParamValue {
  const byName = new Map<string, string>();
  for (const p of params) byName.set(p.name, g.initializer(p.name, p.data, p.shape));
  return (name) => {
    const v = byName.get(name);
    if (!v) throw new Error(`parameter ${name} missing from ParamSet`);
    return v;
  };
}

/** Options of the inference/export form of {@link headForward}. */
export interface HeadGraphOptions {
  /**
   * Inputs of any rank [..., d] (e.g. per-patch [N, P, d]): Linear layers become MatMul with the
   * transposed weight + Add instead of the 2-D-only Gemm.
   */
  anyRank?: boolean;
  /** Opset of the graph being built (fused export keeps the backbone's); below 17 LayerNorm is spelled out. */
  opset?: number;
  /**
   * Leave out the last Linear (`out` is then ''): a backward that is handed dL/dz needs only the
   * intermediates, and the blocked training path saves that product when it recomputes a forward.
   */
  skipOutput?: boolean;
}

/**
 * Reduce over `axes` keeping dims, in the form the opset wants: axes became an input in opset 13 for
 * ReduceSum and in opset 18 for the other Reduce ops.
 */
export function appendReduce(g: GraphBuilder, op: 'ReduceSum' | 'ReduceMean', x: string, axes: number[], opset: number, keepdims = 1): string {
  const axesAsInput = op === 'ReduceSum' ? opset >= 13 : opset >= 18;
  return axesAsInput ? g.op(op, [x, g.constI64(axes)], { keepdims }) : g.op(op, [x], { axes, keepdims });
}

// LayerNormalization only exists from opset 17; older graphs get the same math from primitives.
function manualLayerNorm(g: GraphBuilder, x: string, w: string, b: string, opset: number): string {
  const xc = g.op('Sub', [x, appendReduce(g, 'ReduceMean', x, [-1], opset)]);
  const v = appendReduce(g, 'ReduceMean', g.op('Mul', [xc, xc]), [-1], opset);
  const xhat = g.op('Div', [xc, g.op('Sqrt', [g.op('Add', [v, g.constF(1e-5)])])]);
  return g.op('Add', [g.op('Mul', [xhat, w]), b]);
}

/**
 * Head forward for one side on x [n, d] (n symbolic). With `training`, the LayerNorm is split into a
 * plain normalisation plus an explicit affine so that xhat is available for the LayerNorm gradients.
 * The same function builds the training graphs, evaluation and export (`opts` for the latter).
 */
export function headForward(g: GraphBuilder, cfg: HeadConfig, side: Side, x: string, param: ParamValue, training = false, opts: HeadGraphOptions = {}): HeadForwardValues {
  const gamma = param(`${side}_layer_norm.weight`);
  const beta = param(`${side}_layer_norm.bias`);
  const opset = opts.opset ?? 17;
  let y: string;
  let xhat: string | undefined;
  const linear = (inp: string, w: string, b: string): string =>
    opts.anyRank
      ? g.op('Add', [g.op('MatMul', [inp, g.op('Transpose', [param(w)], { perm: [1, 0] })]), param(b)])
      : g.op('Gemm', [inp, param(w), param(b)], { transB: 1 });
  if (training) {
    // ones/zeros shaped like gamma (not like `d`), so graphs with symbolic widths work too
    const shape = g.op('Shape', [gamma]);
    const ones = g.op('Expand', [g.constF(1), shape]);
    const zeros = g.op('Expand', [g.constF(0), shape]);
    xhat = g.op('LayerNormalization', [x, ones, zeros], { axis: -1, epsilon: 1e-5 });
    y = g.op('Add', [g.op('Mul', [xhat, gamma]), beta]);
  } else if (opset >= 17) {
    y = g.op('LayerNormalization', [x, gamma, beta], { axis: -1, epsilon: 1e-5 });
  } else {
    y = manualLayerNorm(g, x, gamma, beta, opset);
  }
  const m = `${side}_mapping_network`;
  if (cfg.type === 'star') {
    const h1 = linear(y, `${m}.f1.weight`, `${m}.f1.bias`);
    const h2 = linear(y, `${m}.f2.weight`, `${m}.f2.bias`);
    const act = training ? starTraining(g, y, h1, h2, param(`${m}.f2.weight`), param(`${m}.f2.bias`)) : { a: starActivation(g, h1, h2).a };
    const out = opts.skipOutput ? '' : linear(act.a, `${m}.g.weight`, `${m}.g.bias`);
    return { out, xhat, y, ...act };
  }
  if (cfg.type === 'mlp') {
    const h1 = linear(y, `${m}.proj.0.weight`, `${m}.proj.0.bias`);
    // exact GELU 0.5 x (1 + erf(x / sqrt 2)); onnxruntime fuses this pattern into one kernel
    const e = g.op('Erf', [g.op('Mul', [h1, g.constF(Math.SQRT1_2)])]);
    const a = g.op('Mul', [g.op('Mul', [h1, g.constF(0.5)]), g.op('Add', [e, g.constF(1)])]);
    const out = opts.skipOutput ? '' : linear(a, `${m}.proj.2.weight`, `${m}.proj.2.bias`);
    return { out, xhat, y, h1, a };
  }
  const out = opts.skipOutput ? '' : linear(y, `${m}.weight`, `${m}.bias`);
  return { out, xhat, y };
}

/** The star activation ReLU6(h1) * clamp(h2, +-1e3) (ReLU6(clamp(h1, +-1e3)) == clamp(h1, 0, 6): one Clip). */
function starActivation(g: GraphBuilder, h1: string, h2: string): { a: string; r: string; c2: string } {
  const r = g.op('Clip', [h1, g.constF(0), g.constF(6)]);
  const c2 = g.op('Clip', [h2, g.constF(-1e3), g.constF(1e3)]);
  return { a: g.op('Mul', [r, c2]), r, c2 };
}

/** Below this bound on |h2| the clamp at +-1e3 cannot act; the 1% margin covers float32 rounding of h2 and of the bound. */
const H2_BOUND = 990;

/**
 * The star activation and its gates (dL/dh1 = dL/da * gate1, dL/dh2 = dL/da * gate2) for training.
 * In practice no pre-activation reaches the upper clamps (h1 >= 6, |h2| >= 1e3), and then the gates
 * are h2 * [h1 > 0] and ReLU(h1): with the backward's two products, six passes over [n, hidden]
 * instead of eleven, plus one read of h1 for the check. An If node checks
 * that case on every batch: max(h1) < 6, and |h2| < 990 proven from |h2_ij| <= |y_i| |W2_j| + |b2_j|
 * (Cauchy-Schwarz on small tensors, instead of two more passes over h2). Otherwise the general form
 * runs, with masks Cast(Equal(clamped, unclamped)) (onnxruntime's Where is slower than Cast + Mul).
 * The [h1 > 0] mask is HardSigmoid(2^126 h1): 1 for every positive normal float, one pass instead of
 * Greater + Cast; only a subnormal h1 (below 2^-126) would get a fraction of the gradient.
 */
function starTraining(g: GraphBuilder, y: string, h1: string, h2: string, w2: string, b2: string): { a: string; gate1: string; gate2: string; noUpperClamp: string } {
  const maxRowNorm = (x: string) => g.op('ReduceMax', [g.op('Sqrt', [g.op('ReduceSumSquare', [x], { axes: [1], keepdims: 0 })])], { keepdims: 0 });
  const h2Bound = g.op('Add', [g.op('Mul', [maxRowNorm(y), maxRowNorm(w2)]), g.op('ReduceMax', [g.op('Abs', [b2])], { keepdims: 0 })]);
  const noUpperClamp = g.op('And', [
    g.op('Less', [g.op('ReduceMax', [h1], { keepdims: 0 }), g.constF(6)]),
    g.op('Less', [h2Bound, g.constF(H2_BOUND)]),
  ]);
  const [a, gate1, gate2] = g.ifElse(
    noUpperClamp,
    (b) => {
      const r = b.op('Relu', [h1]);
      const positive = b.op('HardSigmoid', [h1], { alpha: float(2 ** 126), beta: float(0) });
      return [b.op('Mul', [r, h2]), b.op('Mul', [h2, positive]), r];
    },
    (b) => {
      const { a, r, c2 } = starActivation(b, h1, h2);
      // r == h1 exactly where ReLU6 passes the gradient, c2 == h2 where the clamp does (up to the kinks)
      const mask = (clamped: string, raw: string) => b.op('Cast', [b.op('Equal', [clamped, raw])], { to: 1 });
      return [a, b.op('Mul', [c2, mask(r, h1)]), b.op('Mul', [r, mask(c2, h2)])];
    },
  );
  return { a, gate1, gate2, noUpperClamp };
}

/**
 * Row-wise L2 normalisation z / max(|z|, 1e-12), as torch F.normalize and the inference graphs
 * (side-model.ts); also returns 1/max(|z|, 1e-12) [n, 1] for the backward pass.
 */
export function l2Normalize(g: GraphBuilder, z: string): { v: string; invNorm: string } {
  const ss = g.op('ReduceSumSquare', [z], { axes: [1], keepdims: 1 });
  const invNorm = g.op('Reciprocal', [g.op('Max', [g.op('Sqrt', [ss]), g.constF(1e-12)])]);
  return { v: g.op('Mul', [z, invNorm]), invNorm };
}
