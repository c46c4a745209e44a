// Convert a TF.js convolutional graph model (the op set of MobileNet-style networks) into ONNX.
//
// Layout: TF graphs are NHWC; onnxruntime's CPU convolutions want NCHW. The ONNX model keeps the
// TF input contract (NHWC float) and transposes once after the input, so every 4-D value inside is
// NCHW. Each TF value is tracked with its TF (NHWC) static shape, which SAME padding needs.
import { GraphBuilder, float } from '../../onnx/graph.js';
import { SailError } from '../../util/errors.js';
import { attrInts, attrString, type TfGraphArtifacts, type TfNode, type TfWeight } from './tfjs-artifacts.js';

/** What to convert: graph outputs by TF node name, renamed in the ONNX model. */
export interface ConvertSpec {
  /** TF node names to expose, e.g. the node ending in `feature_vector/SpatialSqueeze` (4-D ones as NHWC). */
  outputs: { node: string; name: string }[];
  /** ONNX name of the (single) image input; default 'image'. */
  inputName?: string;
  /** ONNX model metadata. */
  metadata?: Record<string, string>;
}

/** The converted model and what was learned about it on the way. */
export interface ConvertResult {
  bytes: Uint8Array;
  /** FLOPs per input item: 2 x multiply-adds of all convolutions and matrix products. */
  flopsPerItem: number;
  /** TF (NHWC) input shape, batch as -1. */
  inputShape: number[];
  /** Per output: its shape with batch as -1. */
  outputShapes: number[][];
}

/** A TF value: its ONNX name and TF shape. 4-D values are NCHW in ONNX. */
interface Val {
  onnx: string;
  shape: number[];
}

const NHWC_TO_NCHW_AXIS = [0, 2, 3, 1];

function samePads(inSize: number, k: number, stride: number, dilation: number): [number, number] {
  // TF SAME: output = ceil(in / stride); the odd pixel of padding goes after (bottom/right).
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + (k - 1) * dilation + 1 - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** Spatial output size and ONNX pads for one axis. */
function spatial(inSize: number, k: number, stride: number, dilation: number, padding: string, where: string): { out: number; pads: [number, number] } {
  if (padding === 'SAME') return { out: Math.ceil(inSize / stride), pads: samePads(inSize, k, stride, dilation) };
  if (padding === 'VALID') return { out: Math.floor((inSize - (k - 1) * dilation - 1) / stride) + 1, pads: [0, 0] };
  throw new SailError(`padding '${padding}' is not supported`, { file: where });
}

/** The nodes `outputs` depend on, each after its inputs (iterative DFS: graphs can be deep). */
function dependencyOrder(byName: Map<string, TfNode>, outputs: string[], inputNames: (n: TfNode) => string[], src: string): TfNode[] {
  const order: TfNode[] = [];
  const done = new Set<string>();
  for (const out of outputs) {
    if (!byName.has(out)) throw new SailError(`output node '${out}' not in graph`, { file: src });
    const stack: [string, boolean][] = [[out, false]];
    while (stack.length) {
      const [name, expanded] = stack.pop()!;
      if (done.has(name)) continue;
      const node = byName.get(name);
      if (!node) throw new SailError(`graph refers to missing node '${name}'`, { file: src });
      if (expanded) {
        order.push(node);
        done.add(name);
        continue;
      }
      stack.push([name, true]);
      for (const i of inputNames(node)) if (!done.has(i)) stack.push([i, false]);
    }
  }
  return order;
}

/**
 * Convert the subgraph of `artifacts` that computes `spec.outputs` into ONNX (opset 17).
 * Supported ops: Placeholder, Const, Identity, Mul, Sub, AddV2/Add, RealDiv, (_Fused)Conv2D,
 * (Fused)DepthwiseConv2dNative, BiasAdd, Relu, Relu6, AvgPool, MaxPool, Squeeze, (_Fused)MatMul,
 * Softmax. Anything else is reported as a SailError naming the node.
 */
export function convertTfjsGraph(artifacts: TfGraphArtifacts, weights: Map<string, TfWeight>, spec: ConvertSpec): ConvertResult {
  const cx = newConversion(artifacts, weights, spec);
  // Convert only what the outputs need, each node after its inputs.
  for (const node of dependencyOrder(cx.byName, spec.outputs.map((o) => o.node), inputNames, cx.src)) {
    const v = convertNode(cx, node);
    if (v) cx.vals.set(node.name, v);
  }
  const outputShapes = addOutputs(cx, spec.outputs);
  if (!cx.inputShape) throw new SailError('graph has no input placeholder on the output path', { file: cx.src });
  return { bytes: cx.g.toBytes({ opset: 17, metadata: spec.metadata }), flopsPerItem: cx.flops, inputShape: cx.inputShape, outputShapes };
}

/** The state of one conversion: the graph being built and what is known about each TF value so far. */
interface Conversion {
  src: string;
  spec: ConvertSpec;
  byName: Map<string, TfNode>;
  weights: Map<string, TfWeight>;
  g: GraphBuilder;
  /** Converted TF values by TF node name. */
  vals: Map<string, Val>;
  /** FLOPs per item accumulated so far. */
  flops: number;
  /** TF (NHWC) input shape once the placeholder is converted. */
  inputShape: number[] | null;
}

function newConversion(artifacts: TfGraphArtifacts, weights: Map<string, TfWeight>, spec: ConvertSpec): Conversion {
  return {
    src: artifacts.source,
    spec,
    byName: new Map<string, TfNode>(artifacts.nodes.map((n) => [n.name, n])),
    weights,
    g: new GraphBuilder('tfjs'),
    vals: new Map<string, Val>(),
    flops: 0,
    inputShape: null,
  };
}

/** Convert one TF node; undefined for constants, which are materialised where they are used. */
function convertNode(cx: Conversion, node: TfNode): Val | undefined {
  switch (node.op) {
    case 'Const':
      return undefined; // materialised where used, in the layout the user needs
    case 'Placeholder':
      return placeholder(cx, node);
    case 'Identity':
      return get(cx, inputNames(node)[0], node);
    case 'Mul': case 'Sub': case 'AddV2': case 'Add': case 'RealDiv': case 'BiasAdd':
      return binary(cx, node);
    case '_FusedConv2D': case 'Conv2D':
      return conv(cx, node, false);
    case 'FusedDepthwiseConv2dNative': case 'DepthwiseConv2dNative':
      return conv(cx, node, true);
    case 'Relu': case 'Relu6': {
      const x = get(cx, inputNames(node)[0], node);
      return { onnx: clipActivation(cx, x.onnx, node.op, node), shape: x.shape };
    }
    case 'AvgPool': case 'MaxPool':
      return pool(cx, node);
    case 'Squeeze':
      return squeeze(cx, node);
    case '_FusedMatMul': case 'MatMul':
      return matmul(cx, node);
    case 'Softmax': {
      const x = get(cx, inputNames(node)[0], node);
      if (x.shape.length !== 2) fail(cx, node, 'only 2-D softmax is supported');
      return { onnx: cx.g.op('Softmax', [x.onnx], { axis: -1 }), shape: x.shape };
    }
    default:
      return fail(cx, node, 'op is not supported by the converter');
  }
}

/** Expose each requested value as a graph output; returns their shapes (batch as -1). */
function addOutputs(cx: Conversion, outputs: ConvertSpec['outputs']): number[][] {
  const outputShapes: number[][] = [];
  for (const out of outputs) {
    const v = cx.vals.get(out.node)!;
    // 4-D values leave in the TF (NHWC) layout the caller knows.
    const value = v.shape.length === 4 ? cx.g.op('Transpose', [v.onnx], { perm: [0, 2, 3, 1] }) : v.onnx;
    cx.g.output(value, out.name, 'float32', v.shape.map((d, i) => (i === 0 ? 'N' : d)));
    outputShapes.push(v.shape);
  }
  return outputShapes;
}

// ---- per-op converters ----

/** The single NHWC image input, transposed once to NCHW. */
function placeholder(cx: Conversion, node: TfNode): Val {
  const dims = (node.attr?.shape?.shape?.dim ?? []).map((d) => Number(d.size));
  if (dims.length !== 4 || dims.slice(1).some((d) => d <= 0)) fail(cx, node, 'input must be NHWC with static H, W, C');
  if (cx.inputShape) fail(cx, node, 'only one input is supported');
  const inputShape = [-1, dims[1], dims[2], dims[3]];
  cx.inputShape = inputShape;
  const name = cx.g.input(cx.spec.inputName ?? 'image', 'float32', ['N', dims[1], dims[2], dims[3]]);
  return { onnx: cx.g.op('Transpose', [name], { perm: [0, 3, 1, 2] }), shape: inputShape };
}

/** Conv2D or depthwise convolution, with an optional fused bias and activations. */
function conv(cx: Conversion, node: TfNode, depthwise: boolean): Val {
  const { g, src } = cx;
  const [xName, wName, ...rest] = inputNames(node);
  const x = get(cx, xName, node);
  const w = constOf(cx, wName);
  if (!w || w.shape.length !== 4) return fail(cx, node, 'filter must be a 4-D constant');
  if (attrString(node.attr?.data_format?.s) !== 'NHWC' && node.attr?.data_format) fail(cx, node, 'only NHWC is supported');
  const [kh, kw, cin, m] = w.shape; // HWIO, or H W C multiplier for depthwise
  const strides = attrInts(node.attr?.strides);
  const dil = attrInts(node.attr?.dilations);
  const [sh, sw] = strides.length === 4 ? [strides[1], strides[2]] : [1, 1];
  const [dh, dw] = dil.length === 4 ? [dil[1], dil[2]] : [1, 1];
  const padding = attrString(node.attr?.padding?.s);
  const [, H, W, C] = x.shape;
  if (C !== cin) fail(cx, node, `input has ${C} channels, filter expects ${cin}`);
  const yh = spatial(H, kh, sh, dh, padding, src);
  const yw = spatial(W, kw, sw, dw, padding, src);
  const cout = depthwise ? cin * m : m;
  const wInit = g.initializer(g.fresh('W'), filterToOihw(w, depthwise), depthwise ? [cout, 1, kh, kw] : [cout, cin, kh, kw]);
  const inputs = [x.onnx, wInit];
  const fused = (node.attr?.fused_ops?.list?.s ?? []).map(attrString);
  let acts: string[] = [];
  if (fused.length > 0) {
    if (fused[0] !== 'BiasAdd') fail(cx, node, `fused ops [${fused}] not supported`);
    const b = constOf(cx, rest[0]);
    if (!b || b.data.length !== cout) return fail(cx, node, 'bias must be a constant of length ' + cout);
    inputs.push(g.initializer(g.fresh('B'), b.data, [cout]));
    acts = fused.slice(1);
  }
  let y = g.op('Conv', inputs, {
    kernel_shape: [kh, kw],
    strides: [sh, sw],
    dilations: [dh, dw],
    pads: [yh.pads[0], yw.pads[0], yh.pads[1], yw.pads[1]],
    group: depthwise ? cin : 1,
  });
  for (const a of acts) y = clipActivation(cx, y, a, node);
  cx.flops += 2 * yh.out * yw.out * cout * kh * kw * (depthwise ? 1 : cin);
  return { onnx: y, shape: [-1, yh.out, yw.out, cout] };
}

/** Re-layout a TF HWIO filter to ONNX OIHW ([C*m, 1, kh, kw] with group = C for depthwise). */
function filterToOihw(w: TfWeight, depthwise: boolean): Float32Array {
  const [kh, kw, cin, m] = w.shape;
  const wo = new Float32Array(w.data.length);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let c = 0; c < cin; c++)
        for (let o = 0; o < m; o++) {
          const v = w.data[((i * kw + j) * cin + c) * m + o];
          if (depthwise) wo[((c * m + o) * kh + i) * kw + j] = v;
          else wo[((o * cin + c) * kh + i) * kw + j] = v;
        }
  return wo;
}

/** AvgPool / MaxPool over the spatial axes. */
function pool(cx: Conversion, node: TfNode): Val {
  const x = get(cx, inputNames(node)[0], node);
  const k = attrInts(node.attr?.ksize);
  const s = attrInts(node.attr?.strides);
  const padding = attrString(node.attr?.padding?.s);
  if (x.shape.length !== 4 || k.length !== 4 || k[0] !== 1 || k[3] !== 1) fail(cx, node, 'only spatial 4-D pooling is supported');
  const [, H, W, C] = x.shape;
  const yh = spatial(H, k[1], s[1], 1, padding, cx.src);
  const yw = spatial(W, k[2], s[2], 1, padding, cx.src);
  const opType = node.op === 'AvgPool' ? 'AveragePool' : 'MaxPool';
  const y = cx.g.op(opType, [x.onnx], {
    kernel_shape: [k[1], k[2]],
    strides: [s[1], s[2]],
    pads: [yh.pads[0], yw.pads[0], yh.pads[1], yw.pads[1]],
  });
  return { onnx: y, shape: [-1, yh.out, yw.out, C] };
}

/** Elementwise Mul/Sub/Add/Div of two values, or of a value and a constant. */
function binary(cx: Conversion, node: TfNode): Val {
  const [a, b] = inputNames(node);
  const onnxOp = { Mul: 'Mul', Sub: 'Sub', AddV2: 'Add', Add: 'Add', RealDiv: 'Div', BiasAdd: 'Add' }[node.op] as string;
  const ca = constOf(cx, a);
  const cb = constOf(cx, b);
  if (ca && cb) fail(cx, node, 'constant folding of two constants is not supported');
  const va = ca ? undefined : get(cx, a, node);
  const vb = cb ? undefined : get(cx, b, node);
  const rank = (va ?? vb)!.shape.length;
  const ia = va ?? elementwiseConst(cx, ca!, rank, node);
  const ib = vb ?? elementwiseConst(cx, cb!, rank, node);
  const shape = (va ?? vb)!.shape;
  if (va && vb && va.shape.join() !== vb.shape.join()) fail(cx, node, `shapes [${va.shape}] and [${vb.shape}] differ`);
  return { onnx: cx.g.op(onnxOp, [ia.onnx, ib.onnx]), shape };
}

/** Squeeze of unit spatial axes down to [N, C]. */
function squeeze(cx: Conversion, node: TfNode): Val {
  const x = get(cx, inputNames(node)[0], node);
  const dims = attrInts(node.attr?.squeeze_dims);
  if (x.shape.length !== 4 || dims.length === 0) fail(cx, node, 'only Squeeze of explicit axes of a 4-D value is supported');
  if (dims.some((d) => x.shape[d] !== 1)) fail(cx, node, `axes [${dims}] are not of size 1 in [${x.shape}]`);
  const axes = dims.map((d) => NHWC_TO_NCHW_AXIS[d]);
  const kept = x.shape.filter((_, i) => !dims.includes(i));
  // Only valid when what remains keeps TF order: [N, C] (or [N, H, W, C] minus unit dims of H/W).
  if (kept.length !== 2) fail(cx, node, 'only squeezing to [N, C] is supported');
  return { onnx: cx.g.op('Squeeze', [x.onnx, cx.g.constI64(axes)]), shape: kept };
}

/** [N,K] x const [K,M] as Gemm, with an optional fused bias and activation. */
function matmul(cx: Conversion, node: TfNode): Val {
  const { g } = cx;
  const [xName, wName, bName] = inputNames(node);
  const x = get(cx, xName, node);
  const w = constOf(cx, wName);
  if (!w || w.shape.length !== 2 || x.shape.length !== 2) return fail(cx, node, 'only [N,K] x const [K,M] is supported');
  if (node.attr?.transpose_a?.b) fail(cx, node, 'transpose_a is not supported');
  const tb = node.attr?.transpose_b?.b === true;
  const [k, mOut] = tb ? [w.shape[1], w.shape[0]] : w.shape;
  const inputs = [x.onnx, g.initializer(g.fresh('W'), w.data, w.shape)];
  const fused = (node.attr?.fused_ops?.list?.s ?? []).map(attrString);
  if (fused.length > 0) {
    const b = fused[0] === 'BiasAdd' ? constOf(cx, bName) : undefined;
    if (!b || fused.length > 2) return fail(cx, node, `fused ops [${fused}] not supported`);
    inputs.push(g.initializer(g.fresh('B'), b.data, [mOut]));
  }
  let y = g.op('Gemm', inputs, { transB: tb ? 1 : 0, alpha: float(1), beta: float(1) });
  if (fused.length === 2) y = clipActivation(cx, y, fused[1], node);
  cx.flops += 2 * k * mOut;
  return { onnx: y, shape: [-1, mOut] };
}

// ---- shared helpers ----

/** A SailError naming the node and the file. */
function fail(cx: Conversion, node: TfNode, reason: string): never {
  throw new SailError(`node '${node.name}' (${node.op}): ${reason}`, { file: cx.src });
}

/** Data inputs of a node (control inputs `^x` dropped, `:0` suffixes removed). */
function inputNames(n: TfNode): string[] {
  return (n.input ?? []).filter((s) => !s.startsWith('^')).map((s) => s.replace(/:0$/, ''));
}

/** The weight of a Const node, or undefined when `name` is not a constant. */
function constOf(cx: Conversion, name: string): TfWeight | undefined {
  const n = cx.byName.get(name);
  return n?.op === 'Const' ? cx.weights.get(name) : undefined;
}

/** An already converted value; fails the node when its input is not one. */
function get(cx: Conversion, name: string, node: TfNode): Val {
  const v = cx.vals.get(name);
  if (!v) fail(cx, node, `input '${name}' is not a supported value`);
  return v as Val;
}

// A const used as an elementwise operand next to an NCHW value: scalars stay, per-channel
// vectors become [1, C, 1, 1].
function elementwiseConst(cx: Conversion, w: TfWeight, otherRank: number, node: TfNode): Val {
  const { g } = cx;
  const n = w.data.length;
  if (w.shape.length === 0 || n === 1) return { onnx: g.initializer(g.fresh('k'), w.data.slice(0, 1), []), shape: [] };
  if (w.shape.length === 1 && otherRank === 4) return { onnx: g.initializer(g.fresh('k'), w.data, [1, n, 1, 1]), shape: w.shape };
  if (otherRank === 4) fail(cx, node, `constant of shape [${w.shape}] next to a 4-D value`);
  return { onnx: g.initializer(g.fresh('k'), w.data, w.shape), shape: w.shape };
}

/** Relu or Relu6 (as Clip 0..6) applied to `x`. */
function clipActivation(cx: Conversion, x: string, act: string, node: TfNode): string {
  if (act === 'Relu') return cx.g.op('Relu', [x]);
  if (act === 'Relu6') return cx.g.op('Clip', [x, cx.g.constF(0), cx.g.constF(6)]);
  return fail(cx, node, `fused activation '${act}' not supported`);
}
