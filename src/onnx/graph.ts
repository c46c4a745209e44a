// A small builder for ONNX graphs written from TypeScript (training graphs, heads, export, tests).
import {
  DataType,
  encodeModel,
  type AttributeValue,
  type ElemType,
  type OnnxGraph,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
} from './model.js';

/** Attribute shorthand: integers -> INT, other numbers -> FLOAT, arrays of integers -> INTS. */
export type AttrInput = number | string | number[] | string[] | AttributeValue;

/** Mark a number as FLOAT even when it is integral (e.g. `alpha: float(1)`). */
export const float = (f: number): AttributeValue => ({ type: 'float', f });
/** Mark an array as FLOATS. */
export const floats = (fs: number[]): AttributeValue => ({ type: 'floats', floats: fs });

function toAttr(v: AttrInput): AttributeValue {
  if (typeof v === 'number') return Number.isInteger(v) ? { type: 'int', i: v } : { type: 'float', f: v };
  if (typeof v === 'string') return { type: 'string', s: v };
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) return { type: 'strings', strings: v as string[] };
    const nums = v as number[];
    return nums.every(Number.isInteger) ? { type: 'ints', ints: nums } : { type: 'floats', floats: nums };
  }
  return v;
}

type TypedData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array | Int8Array;

/** A tensor proto from a typed array (raw little-endian data). */
export function makeTensor(name: string, data: TypedData, dims: number[], type?: ElemType): OnnxTensor {
  const inferred: ElemType =
    type ??
    (data instanceof Float32Array ? 'float32'
      : data instanceof Float64Array ? 'float64'
      : data instanceof Int32Array ? 'int32'
      : data instanceof BigInt64Array ? 'int64'
      : data instanceof Int8Array ? 'int8'
      : data instanceof Uint16Array ? 'float16'
      : 'uint8');
  const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return { name, dims, dataType: DataType[inferred], raw };
}

/**
 * Builds one ONNX graph. Every `op` call returns the name(s) of its output value(s), so graphs read
 * like the math: `const y = g.op('Gemm', [x, w, b], { transB: 1 })`.
 */
export class GraphBuilder {
  readonly graph: OnnxGraph;
  private counter = 0;

  /** `parent`: a branch of an If node takes its value names from the parent's counter (ONNX forbids shadowing). */
  constructor(name = 'graph', private readonly parent?: GraphBuilder) {
    this.graph = { name, nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: [] };
  }

  /** A fresh value name with a readable prefix. */
  fresh(prefix: string): string {
    if (this.parent) return this.parent.fresh(prefix);
    this.counter += 1;
    return `${prefix}_${this.counter}`;
  }

  /**
   * An If node: `cond` is a bool scalar; each branch is built on its own builder (it may read any value
   * of this graph) and returns its float32 outputs, values computed inside the branch, the same number
   * from both. Those values are the branch graph's outputs as they are, not renamed through Identity, so
   * nothing is copied.
   */
  ifElse(cond: string, thenBranch: (b: GraphBuilder) => string[], elseBranch: (b: GraphBuilder) => string[]): string[] {
    const branch = (name: string, build: (b: GraphBuilder) => string[]): OnnxGraph => {
      const b = new GraphBuilder(this.fresh(name), this);
      for (const v of build(b)) b.graph.outputs.push({ name: v, elemType: DataType.float32 });
      return b.graph;
    };
    const thenGraph = branch('then', thenBranch);
    const elseGraph = branch('else', elseBranch);
    if (elseGraph.outputs.length !== thenGraph.outputs.length) throw new Error('ifElse: both branches must return the same number of outputs');
    return this.opN('If', [cond], thenGraph.outputs.length, { then_branch: { type: 'graph', g: thenGraph }, else_branch: { type: 'graph', g: elseGraph } });
  }

  /** Declare a graph input; dims may be symbolic strings (e.g. 'N'). */
  input(name: string, type: ElemType, shape: (number | string)[]): string {
    this.graph.inputs.push({ name, elemType: DataType[type], shape });
    return name;
  }

  /** Declare a graph output under `name`, renaming `value` through Identity when needed. */
  output(value: string, name: string, type: ElemType = 'float32', shape?: (number | string)[]): string {
    if (value !== name) this.graph.nodes.push({ opType: 'Identity', inputs: [value], outputs: [name], attributes: [] });
    this.graph.outputs.push({ name, elemType: DataType[type], shape });
    return name;
  }

  /** A constant initializer. */
  initializer(name: string, data: TypedData, dims: number[], type?: ElemType): string {
    this.graph.initializers.push(makeTensor(name, data, dims, type));
    return name;
  }

  /** A float32 scalar or vector constant. */
  constF(values: number | number[], dims?: number[]): string {
    const arr = typeof values === 'number' ? [values] : values;
    return this.initializer(this.fresh('c'), Float32Array.from(arr), dims ?? (typeof values === 'number' ? [] : [arr.length]));
  }

  /** An int64 vector constant (shapes, axes). */
  constI64(values: number[], dims?: number[]): string {
    return this.initializer(this.fresh('ci'), BigInt64Array.from(values.map(BigInt)), dims ?? [values.length]);
  }

  /** Add a node with one output; returns the output name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrInput> = {}, outName?: string, domain?: string): string {
    return this.opN(opType, inputs, 1, attrs, outName ? [outName] : undefined, domain)[0];
  }

  /** Add a node with several outputs. */
  opN(
    opType: string,
    inputs: string[],
    nOutputs: number,
    attrs: Record<string, AttrInput> = {},
    outNames?: string[],
    domain?: string,
  ): string[] {
    const outputs = outNames ?? Array.from({ length: nOutputs }, () => this.fresh(opType));
    const node: OnnxNode = {
      opType,
      inputs,
      outputs,
      name: this.fresh(`n_${opType}`),
      attributes: Object.entries(attrs).map(([name, v]) => ({ name, value: toAttr(v) })),
    };
    if (domain) node.domain = domain;
    this.graph.nodes.push(node);
    return outputs;
  }

  /** Wrap the graph into a model (default opset 17, IR 8). */
  toModel(opts: { opset?: number; producer?: string; metadata?: Record<string, string>; extraOpsets?: { domain: string; version: number }[] } = {}): OnnxModel {
    return {
      irVersion: 8,
      opsets: [{ domain: '', version: opts.opset ?? 17 }, ...(opts.extraOpsets ?? [])],
      producerName: opts.producer ?? 'sail',
      graph: this.graph,
      metadata: opts.metadata ?? {},
    };
  }

  /** Serialise to ONNX bytes. */
  toBytes(opts?: Parameters<GraphBuilder['toModel']>[0]): Uint8Array {
    return encodeModel(this.toModel(opts));
  }
}
