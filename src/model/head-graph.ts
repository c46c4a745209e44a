// The inference forward of one head side (LayerNorm -> mapping network -> optional L2 norm) as ONNX nodes.
import { GraphBuilder, float } from '../onnx/graph.js';
import { SailError } from '../util/errors.js';
import { paramSpecs, type HeadConfig, type ParamSet, type Side } from '../head/config.js';

/** Output names every head graph produced here uses. */
export const HEAD_OUTPUT = 'embedding';
export const HEAD_OUTPUT_RAW = 'embedding_unnormalized';

/** Look up a parameter by name, checking its shape against the config. */
export function param(params: ParamSet, cfg: HeadConfig, name: string): Float32Array {
  const spec = paramSpecs(cfg).find((s) => s.name === name);
  const t = params.find((p) => p.name === name);
  if (!spec || !t) throw new SailError(`head parameter ${name} is missing`);
  const size = spec.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== size) throw new SailError(`head parameter ${name} has ${t.data.length} values, expected ${size} (shape ${spec.shape.join('x')})`);
  return t.data;
}

/** [out, in] row-major -> [in, out] row-major, so MatMul works on inputs of any rank [..., in]. */
function transpose(w: Float32Array, out: number, inp: number): Float32Array {
  const t = new Float32Array(w.length);
  for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) t[i * out + o] = w[o * inp + i];
  return t;
}

/**
 * Append one side of the head to a graph under construction. `x` has shape [..., inDim] (any rank >= 2;
 * LayerNorm and MatMul act on the last axis, so per-patch inputs [N, P, D] work unchanged).
 * Parameters are baked in as initializers named `<prefix><param name>`.
 * Returns the names of the unnormalised and L2-normalised outputs.
 */
export function appendHeadSide(g: GraphBuilder, x: string, cfg: HeadConfig, params: ParamSet, side: Side, opts: { prefix?: string; opset?: number } = {}): { raw: string; normalized: string } {
  const prefix = opts.prefix ?? 'head.';
  const opset = opts.opset ?? 17;
  const d = side === 'vision' ? cfg.visionDim : cfg.textDim;
  const p = (n: string) => param(params, cfg, `${n}`);
  const init = (name: string, data: Float32Array, dims: number[]) => g.initializer(`${prefix}${name}`, data, dims);
  const ln = `${side}_layer_norm`;
  const lnW = init(`${ln}.weight`, p(`${ln}.weight`), [d]);
  const lnB = init(`${ln}.bias`, p(`${ln}.bias`), [d]);
  // eps 1e-5 over the last axis, as torch.nn.LayerNorm in the reference.
  const h = opset >= 17 ? g.op('LayerNormalization', [x, lnW, lnB], { axis: -1, epsilon: float(1e-5) }) : manualLayerNorm(g, x, lnW, lnB, opset);
  const m = `${side}_mapping_network`;
  const linear = (inp: string, name: string, out: number, inDim: number) => {
    const wT = init(`${name}.weight_t`, transpose(p(`${name}.weight`), out, inDim), [inDim, out]);
    const b = init(`${name}.bias`, p(`${name}.bias`), [out]);
    return g.op('Add', [g.op('MatMul', [inp, wT]), b]);
  };
  let y: string;
  if (cfg.type === 'star') {
    const hid = cfg.widthFactor * d;
    const lo = g.constF(-1000);
    const hi = g.constF(1000);
    const h1 = g.op('Clip', [linear(h, `${m}.f1`, hid, d), lo, hi]);
    const h2 = g.op('Clip', [linear(h, `${m}.f2`, hid, d), lo, hi]);
    const relu6 = g.op('Clip', [h1, g.constF(0), g.constF(6)]);
    y = linear(g.op('Mul', [relu6, h2]), `${m}.g`, cfg.targetDim, hid);
  } else if (cfg.type === 'mlp') {
    const hid = 4 * d;
    const a = linear(h, `${m}.proj.0`, hid, d);
    // Exact (erf) GELU: 0.5 * a * (1 + erf(a / sqrt 2)); opset 17 has no Gelu op.
    const erf = g.op('Erf', [g.op('Mul', [a, g.constF(Math.SQRT1_2)])]);
    const gelu = g.op('Mul', [g.op('Mul', [a, g.constF(0.5)]), g.op('Add', [erf, g.constF(1)])]);
    y = linear(gelu, `${m}.proj.2`, cfg.targetDim, hid);
  } else {
    y = linear(h, m, cfg.targetDim, d);
  }
  return { raw: y, normalized: appendL2Normalize(g, y, opset) };
}

/**
 * Reduce over `axes` keeping dims, in the form the opset wants: axes became an input in opset 13 for
 * ReduceSum and in opset 18 for the other Reduce ops (fused graphs keep the backbone's opset).
 */
export function appendReduce(g: GraphBuilder, op: 'ReduceSum' | 'ReduceMean', x: string, axes: number[], opset: number, keepdims = 1): string {
  const axesAsInput = op === 'ReduceSum' ? opset >= 13 : opset >= 18;
  return axesAsInput ? g.op(op, [x, g.constI64(axes)], { keepdims }) : g.op(op, [x], { axes, keepdims });
}

// LayerNormalization only exists from opset 17; older backbones get the same math from primitives.
function manualLayerNorm(g: GraphBuilder, x: string, w: string, b: string, opset: number): string {
  const xc = g.op('Sub', [x, appendReduce(g, 'ReduceMean', x, [-1], opset)]);
  const v = appendReduce(g, 'ReduceMean', g.op('Mul', [xc, xc]), [-1], opset);
  const xhat = g.op('Div', [xc, g.op('Sqrt', [g.op('Add', [v, g.constF(1e-5)])])]);
  return g.op('Add', [g.op('Mul', [xhat, w]), b]);
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
