// ONNX ModelProto as plain objects, with an encoder and a decoder (field numbers from onnx.proto).
import { ProtoWriter, readFields, readPackedVarints, toInt64, type ProtoField } from './protobuf.js';

/** ONNX TensorProto.DataType codes. */
export const DataType = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
} as const;
export type ElemType = keyof typeof DataType;


export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  /** Little-endian raw bytes (the form we write). */
  raw?: Uint8Array;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: number[];
  doubleData?: number[];
  /** Fields we do not model (external data, strings...), kept verbatim. */
  unknown?: Uint8Array[];
}

export type AttributeValue =
  | { type: 'float'; f: number }
  | { type: 'int'; i: number }
  | { type: 'string'; s: string }
  | { type: 'tensor'; t: OnnxTensor }
  | { type: 'graph'; g: OnnxGraph }
  | { type: 'floats'; floats: number[] }
  | { type: 'ints'; ints: number[] }
  | { type: 'strings'; strings: string[] };

export interface OnnxAttribute {
  name: string;
  value: AttributeValue;
}

export interface OnnxNode {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attributes: OnnxAttribute[];
  unknown?: Uint8Array[];
}

export interface OnnxValueInfo {
  name: string;
  elemType?: number;
  /** Each dim a size or a symbolic name; undefined = unknown rank. */
  shape?: (number | string)[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  valueInfo: OnnxValueInfo[];
  unknown?: Uint8Array[];
}

export interface OnnxModel {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producerName: string;
  producerVersion?: string;
  graph: OnnxGraph;
  metadata: Record<string, string>;
  unknown?: Uint8Array[];
}

const attrTypeCode = { float: 1, int: 2, string: 3, tensor: 4, graph: 5, floats: 6, ints: 7, strings: 8 } as const;

function writeTensor(w: ProtoWriter, t: OnnxTensor): void {
  if (t.dims.length) w.packedInts(1, t.dims);
  w.int(2, t.dataType);
  if (t.floatData?.length) w.packedFloats(4, t.floatData);
  if (t.int32Data?.length) w.packedInts(5, t.int32Data);
  if (t.int64Data?.length) w.packedInts(7, t.int64Data);
  if (t.name) w.string(8, t.name);
  if (t.raw) w.bytes(9, t.raw);
  if (t.doubleData?.length) w.bytes(10, new Uint8Array(Float64Array.from(t.doubleData).buffer));
  for (const u of t.unknown ?? []) w.raw(u);
}

function writeValueInfo(w: ProtoWriter, v: OnnxValueInfo): void {
  w.string(1, v.name);
  if (v.elemType === undefined) return;
  w.message(2, (tw) =>
    tw.message(1, (tt) => {
      tt.int(1, v.elemType!);
      if (v.shape)
        tt.message(2, (sw) => {
          for (const d of v.shape!)
            sw.message(1, (dw) => (typeof d === 'number' ? dw.int(1, d) : dw.string(2, d)));
        });
    }),
  );
}

function writeAttribute(w: ProtoWriter, a: OnnxAttribute): void {
  w.string(1, a.name);
  const v = a.value;
  switch (v.type) {
    case 'float': w.float(2, v.f); break;
    case 'int': w.int(3, v.i); break;
    case 'string': w.string(4, v.s); break;
    case 'tensor': w.message(5, (tw) => writeTensor(tw, v.t)); break;
    case 'graph': w.message(6, (gw) => writeGraph(gw, v.g)); break;
    case 'floats': for (const f of v.floats) w.float(7, f); break;
    case 'ints': for (const i of v.ints) w.int(8, i); break;
    case 'strings': for (const s of v.strings) w.string(9, s); break;
  }
  w.int(20, attrTypeCode[v.type]);
}

function writeNode(w: ProtoWriter, n: OnnxNode): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes) w.message(5, (aw) => writeAttribute(aw, a));
  if (n.domain) w.string(7, n.domain);
  for (const u of n.unknown ?? []) w.raw(u);
}

function writeGraph(w: ProtoWriter, g: OnnxGraph): void {
  for (const n of g.nodes) w.message(1, (nw) => writeNode(nw, n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, (tw) => writeTensor(tw, t));
  for (const v of g.inputs) w.message(11, (vw) => writeValueInfo(vw, v));
  for (const v of g.outputs) w.message(12, (vw) => writeValueInfo(vw, v));
  for (const v of g.valueInfo) w.message(13, (vw) => writeValueInfo(vw, v));
  for (const u of g.unknown ?? []) w.raw(u);
}

/** Serialise a model to ONNX protobuf bytes. */
export function encodeModel(m: OnnxModel): Uint8Array {
  const w = new ProtoWriter();
  w.int(1, m.irVersion);
  w.string(2, m.producerName);
  if (m.producerVersion) w.string(3, m.producerVersion);
  w.message(7, (gw) => writeGraph(gw, m.graph));
  for (const o of m.opsets)
    w.message(8, (ow) => {
      if (o.domain) ow.string(1, o.domain);
      ow.int(2, o.version);
    });
  for (const [key, value] of Object.entries(m.metadata))
    w.message(14, (kw) => {
      kw.string(1, key);
      kw.string(2, value);
    });
  for (const u of m.unknown ?? []) w.raw(u);
  return w.finish();
}

const utf8 = new TextDecoder();
const str = (f: ProtoField) => utf8.decode(f.value as Uint8Array);
const num = (f: ProtoField) => toInt64(f.value as bigint);

function readTensor(buf: Uint8Array): OnnxTensor {
  const t: OnnxTensor = { name: '', dims: [], dataType: 0 };
  for (const f of readFields(buf)) {
    switch (f.field) {
      case 1: t.dims.push(...readPackedVarints(f).map(toInt64)); break;
      case 2: t.dataType = num(f); break;
      case 4: {
        if (f.wire === 5) (t.floatData ??= []).push(f.value as number);
        else {
          const b = f.value as Uint8Array;
          (t.floatData ??= []).push(...new Float32Array(b.slice().buffer));
        }
        break;
      }
      case 5: (t.int32Data ??= []).push(...readPackedVarints(f).map(toInt64)); break;
      case 7: (t.int64Data ??= []).push(...readPackedVarints(f).map(toInt64)); break;
      case 8: t.name = str(f); break;
      case 9: t.raw = f.value as Uint8Array; break;
      case 10: {
        if (f.wire === 1) (t.doubleData ??= []).push(f.value as number);
        else (t.doubleData ??= []).push(...new Float64Array((f.value as Uint8Array).slice().buffer));
        break;
      }
      default: (t.unknown ??= []).push(f.encoded);
    }
  }
  return t;
}

function readValueInfo(buf: Uint8Array): OnnxValueInfo {
  const v: OnnxValueInfo = { name: '' };
  for (const f of readFields(buf)) {
    if (f.field === 1) v.name = str(f);
    else if (f.field === 2) {
      for (const tf of readFields(f.value as Uint8Array)) {
        if (tf.field !== 1) continue; // only tensor types are modelled
        for (const tt of readFields(tf.value as Uint8Array)) {
          if (tt.field === 1) v.elemType = num(tt);
          else if (tt.field === 2) {
            v.shape = [];
            for (const d of readFields(tt.value as Uint8Array)) {
              if (d.field !== 1) continue;
              let dim: number | string = '?';
              for (const df of readFields(d.value as Uint8Array)) {
                if (df.field === 1) dim = num(df);
                else if (df.field === 2) dim = str(df);
              }
              v.shape.push(dim);
            }
          }
        }
      }
    }
  }
  return v;
}

function readAttribute(buf: Uint8Array): OnnxAttribute {
  let name = '';
  let type = 0;
  const vals: Record<string, any> = { floats: [], ints: [], strings: [] };
  for (const f of readFields(buf)) {
    switch (f.field) {
      case 1: name = str(f); break;
      case 2: vals.f = f.value as number; break;
      case 3: vals.i = num(f); break;
      case 4: vals.s = str(f); break;
      case 5: vals.t = readTensor(f.value as Uint8Array); break;
      case 6: vals.g = readGraph(f.value as Uint8Array); break;
      case 7:
        if (f.wire === 5) vals.floats.push(f.value as number);
        else vals.floats.push(...new Float32Array((f.value as Uint8Array).slice().buffer));
        break;
      case 8: vals.ints.push(...readPackedVarints(f).map(toInt64)); break;
      case 9: vals.strings.push(str(f)); break;
      case 20: type = num(f); break;
    }
  }
  const byCode: Record<number, () => AttributeValue> = {
    1: () => ({ type: 'float', f: vals.f ?? 0 }),
    2: () => ({ type: 'int', i: vals.i ?? 0 }),
    3: () => ({ type: 'string', s: vals.s ?? '' }),
    4: () => ({ type: 'tensor', t: vals.t }),
    5: () => ({ type: 'graph', g: vals.g }),
    6: () => ({ type: 'floats', floats: vals.floats }),
    7: () => ({ type: 'ints', ints: vals.ints }),
    8: () => ({ type: 'strings', strings: vals.strings }),
  };
  const make = byCode[type];
  if (!make) throw new Error(`unsupported ONNX attribute type ${type} for '${name}'`);
  return { name, value: make() };
}

function readNode(buf: Uint8Array): OnnxNode {
  const n: OnnxNode = { opType: '', inputs: [], outputs: [], attributes: [] };
  for (const f of readFields(buf)) {
    switch (f.field) {
      case 1: n.inputs.push(str(f)); break;
      case 2: n.outputs.push(str(f)); break;
      case 3: n.name = str(f); break;
      case 4: n.opType = str(f); break;
      case 5: n.attributes.push(readAttribute(f.value as Uint8Array)); break;
      case 7: n.domain = str(f); break;
      default: (n.unknown ??= []).push(f.encoded);
    }
  }
  return n;
}

function readGraph(buf: Uint8Array): OnnxGraph {
  const g: OnnxGraph = { name: '', nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: [] };
  for (const f of readFields(buf)) {
    const b = f.value as Uint8Array;
    switch (f.field) {
      case 1: g.nodes.push(readNode(b)); break;
      case 2: g.name = str(f); break;
      case 5: g.initializers.push(readTensor(b)); break;
      case 11: g.inputs.push(readValueInfo(b)); break;
      case 12: g.outputs.push(readValueInfo(b)); break;
      case 13: g.valueInfo.push(readValueInfo(b)); break;
      default: (g.unknown ??= []).push(f.encoded);
    }
  }
  return g;
}

/** Parse ONNX protobuf bytes. */
export function decodeModel(buf: Uint8Array): OnnxModel {
  const m: OnnxModel = { irVersion: 0, opsets: [], producerName: '', graph: undefined as unknown as OnnxGraph, metadata: {} };
  for (const f of readFields(buf)) {
    switch (f.field) {
      case 1: m.irVersion = num(f); break;
      case 2: m.producerName = str(f); break;
      case 3: m.producerVersion = str(f); break;
      case 7: m.graph = readGraph(f.value as Uint8Array); break;
      case 8: {
        let domain = '';
        let version = 0;
        for (const of of readFields(f.value as Uint8Array)) {
          if (of.field === 1) domain = str(of);
          else if (of.field === 2) version = num(of);
        }
        m.opsets.push({ domain, version });
        break;
      }
      case 14: {
        let key = '';
        let value = '';
        for (const kf of readFields(f.value as Uint8Array)) {
          if (kf.field === 1) key = str(kf);
          else if (kf.field === 2) value = str(kf);
        }
        m.metadata[key] = value;
        break;
      }
      default: (m.unknown ??= []).push(f.encoded);
    }
  }
  if (!m.graph) throw new Error('ONNX model has no graph');
  return m;
}
