// Head forward as ONNX nodes. One builder per head type; parameters are looked up through a callback so
// the same code serves training graphs (params are graph inputs), inference and export (initializers).
import type { GraphBuilder } from '../onnx/graph.js';
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
  /** star: f1/f2 pre-activations; mlp: proj.0 pre-activation. */
  h1?: string;
  h2?: string;
  /** star: clamp(h2, +-1e3) and ReLU6(clamp(h1)). */
  c2?: string;
  r?: string;
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

/**
 * Head forward for one side on x [n, d] (n symbolic). With `training`, the LayerNorm is split into a
 * plain normalisation plus an explicit affine so that xhat is available for the LayerNorm gradients.
 */
export function headForward(g: GraphBuilder, cfg: HeadConfig, side: Side, x: string, param: ParamValue, training = false): HeadForwardValues {
  const gamma = param(`${side}_layer_norm.weight`);
  const beta = param(`${side}_layer_norm.bias`);
  let y: string;
  let xhat: string | undefined;
  if (training) {
    // ones/zeros shaped like gamma (not like `d`), so graphs with symbolic widths work too
    const shape = g.op('Shape', [gamma]);
    const ones = g.op('Expand', [g.constF(1), shape]);
    const zeros = g.op('Expand', [g.constF(0), shape]);
    xhat = g.op('LayerNormalization', [x, ones, zeros], { axis: -1, epsilon: 1e-5 });
    y = g.op('Add', [g.op('Mul', [xhat, gamma]), beta]);
  } else {
    y = g.op('LayerNormalization', [x, gamma, beta], { axis: -1, epsilon: 1e-5 });
  }
  const m = `${side}_mapping_network`;
  if (cfg.type === 'star') {
    const lo = g.constF(-1e3);
    const hi = g.constF(1e3);
    const h1 = g.op('Gemm', [y, param(`${m}.f1.weight`), param(`${m}.f1.bias`)], { transB: 1 });
    const h2 = g.op('Gemm', [y, param(`${m}.f2.weight`), param(`${m}.f2.bias`)], { transB: 1 });
    // ReLU6(clamp(h1, +-1e3)) == clamp(h1, 0, 6): one Clip instead of two
    const r = g.op('Clip', [h1, g.constF(0), g.constF(6)]);
    const c2 = g.op('Clip', [h2, lo, hi]);
    const a = g.op('Mul', [r, c2]);
    const out = g.op('Gemm', [a, param(`${m}.g.weight`), param(`${m}.g.bias`)], { transB: 1 });
    return { out, xhat, y, h1, h2, c2, r, a };
  }
  if (cfg.type === 'mlp') {
    const h1 = g.op('Gemm', [y, param(`${m}.proj.0.weight`), param(`${m}.proj.0.bias`)], { transB: 1 });
    // exact GELU 0.5 x (1 + erf(x / sqrt 2)); onnxruntime fuses this pattern into one kernel
    const e = g.op('Erf', [g.op('Mul', [h1, g.constF(Math.SQRT1_2)])]);
    const a = g.op('Mul', [g.op('Mul', [h1, g.constF(0.5)]), g.op('Add', [e, g.constF(1)])]);
    const out = g.op('Gemm', [a, param(`${m}.proj.2.weight`), param(`${m}.proj.2.bias`)], { transB: 1 });
    return { out, xhat, y, h1, a };
  }
  const out = g.op('Gemm', [y, param(`${m}.weight`), param(`${m}.bias`)], { transB: 1 });
  return { out, xhat, y };
}

/** Row-wise L2 normalisation z / |z|; also returns 1/|z| [n, 1] for the backward pass. */
export function l2Normalize(g: GraphBuilder, z: string): { v: string; invNorm: string } {
  const ss = g.op('ReduceSumSquare', [z], { axes: [1], keepdims: 1 });
  const invNorm = g.op('Reciprocal', [g.op('Sqrt', [ss])]);
  return { v: g.op('Mul', [z, invNorm]), invNorm };
}
