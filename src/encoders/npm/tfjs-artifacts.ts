// Reading TF.js graph models (topology + weight manifest + weight bytes) as shipped in npm packages.
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { SailError } from '../../util/errors.js';
import { fromHalfBits } from '../../util/fp16.js';
import { findPackage, type PackageInfo } from './packages.js';

/** A TF GraphDef attribute as the TF.js converter writes it to JSON. */
export interface TfAttr {
  i?: string;
  f?: number;
  b?: boolean;
  /** base64 of the UTF-8 bytes */
  s?: string;
  type?: string | number;
  list?: { i?: string[]; s?: string[]; f?: number[] };
  shape?: { dim?: { size: string }[] };
}

/** One node of a TF.js graph-model topology. */
export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}

/** One weight entry of a TF.js weights manifest. */
export interface TfWeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; min?: number; scale?: number };
}

/** Everything a TF.js graph model consists of, with the weight bytes concatenated in manifest order. */
export interface TfGraphArtifacts {
  /** Where it came from, for error messages. */
  source: string;
  nodes: TfNode[];
  /** The raw topology object (for handing to TF.js itself). */
  modelTopology: unknown;
  weightSpecs: TfWeightSpec[];
  weightData: Uint8Array;
}

/** A dequantised weight tensor. */
export interface TfWeight {
  shape: number[];
  dtype: 'float32' | 'int32';
  data: Float32Array | Int32Array;
}

// Bytes per stored element, by stored dtype (the quantised dtype where there is one).
const STORED_BYTES: Record<string, number> = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2, bool: 1 };

function storedBytes(spec: TfWeightSpec, source: string): number {
  const d = spec.quantization?.dtype ?? spec.dtype;
  const per = STORED_BYTES[d];
  if (per === undefined) throw new SailError(`weight '${spec.name}' has unsupported dtype ${d}`, { file: source });
  return spec.shape.reduce((a, b) => a * b, 1) * per;
}

/** The string a browserify bundle exports (`m.exports="..."`), read without executing the file. */
function base64ModuleString(path: string): Uint8Array {
  const text = readFileSync(path, 'utf8');
  const m = /exports\s*=\s*"([A-Za-z0-9+/=]+)"/.exec(text);
  if (!m) throw new SailError('no base64 weight string found in shard module', { file: path });
  return new Uint8Array(Buffer.from(m[1], 'base64'));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

interface ModelJson {
  modelTopology?: { node?: TfNode[] };
  weightsManifest?: { paths: string[]; weights: TfWeightSpec[] }[];
}

function fromModelJson(json: ModelJson, source: string, readShard: (path: string) => Uint8Array): TfGraphArtifacts {
  const nodes = json.modelTopology?.node;
  if (!Array.isArray(nodes) || !Array.isArray(json.weightsManifest)) {
    throw new SailError('not a TF.js graph model (modelTopology.node / weightsManifest missing)', { file: source });
  }
  const weightSpecs: TfWeightSpec[] = [];
  const parts: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) parts.push(readShard(p));
  }
  const weightData = concat(parts);
  const expected = weightSpecs.reduce((a, s) => a + storedBytes(s, source), 0);
  if (expected !== weightData.length) {
    throw new SailError(`weight shards hold ${weightData.length} bytes, manifest needs ${expected}`, { file: source });
  }
  return { source, nodes, modelTopology: json.modelTopology, weightSpecs, weightData };
}

/**
 * The MobileNetV2 (width 1.4) graph model inside `nsfwjs` (`dist/models/mobilenet_v2_mid`).
 * nsfwjs ships it as browserify modules: `model.min.js` exports the model.json object and each
 * shard module exports a base64 string of the weight bytes.
 */
export function loadNsfwjsMobileNet(): { pkg: PackageInfo; artifacts: TfGraphArtifacts } {
  const pkg = findPackage('nsfwjs');
  const dir = join(pkg.root, 'dist', 'models', 'mobilenet_v2_mid');
  const modelFile = join(dir, 'model.min.js');
  // The topology module is a JS object literal, not JSON: load it as the CommonJS module it is
  // (it is part of an installed dependency, the same code nsfwjs itself loads).
  const json = createRequire(import.meta.url)(modelFile) as ModelJson;
  const artifacts = fromModelJson(json, modelFile, (p) => base64ModuleString(join(dir, `${p}.min.js`)));
  return { pkg, artifacts };
}

/** A graph model stored the standard way: `model.json` plus binary shard files beside it. */
export function loadModelJsonDir(dir: string): TfGraphArtifacts {
  const file = join(dir, 'model.json');
  let json: ModelJson;
  try {
    // model.json of the models we load is < 1 MB; refuse anything absurd before parsing.
    if (statSync(file).size > 64 << 20) throw new SailError('model.json larger than 64 MiB', { file });
    json = JSON.parse(readFileSync(file, 'utf8')) as ModelJson;
  } catch (err) {
    if (err instanceof SailError) throw err;
    throw new SailError(`cannot read TF.js model.json: ${(err as Error).message}`, { file });
  }
  return fromModelJson(json, file, (p) => new Uint8Array(readFileSync(join(dir, p))));
}

/**
 * Decode (and dequantise) every weight. Dequantisation follows TF.js exactly
 * (`value = q * scale + min`, computed in float64 and rounded to float32), so the converted
 * model sees the same constants TF.js does.
 */
export function decodeWeights(a: TfGraphArtifacts): Map<string, TfWeight> {
  const out = new Map<string, TfWeight>();
  const expected = a.weightSpecs.reduce((sum, s) => sum + storedBytes(s, a.source), 0);
  if (expected !== a.weightData.length) {
    throw new SailError(`weight data holds ${a.weightData.length} bytes, manifest needs ${expected}`, { file: a.source });
  }
  let off = 0;
  for (const spec of a.weightSpecs) {
    const n = spec.shape.reduce((x, y) => x * y, 1);
    const nbytes = storedBytes(spec, a.source);
    const bytes = a.weightData.subarray(off, off + nbytes);
    off += nbytes;
    const q = spec.quantization;
    let data: Float32Array | Int32Array;
    if (q) {
      if (spec.dtype !== 'float32' && spec.dtype !== 'int32') {
        throw new SailError(`weight '${spec.name}': quantised ${spec.dtype} unsupported`, { file: a.source });
      }
      const vals = spec.dtype === 'float32' ? new Float32Array(n) : new Int32Array(n);
      if (q.dtype === 'uint8' || q.dtype === 'uint16') {
        if (q.min === undefined || q.scale === undefined) {
          throw new SailError(`weight '${spec.name}': quantisation lacks min/scale`, { file: a.source });
        }
        const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        for (let i = 0; i < n; i++) {
          const v = q.dtype === 'uint8' ? bytes[i] : dv.getUint16(2 * i, true);
          vals[i] = spec.dtype === 'float32' ? v * q.scale + q.min : Math.round(v * q.scale + q.min);
        }
      } else if (q.dtype === 'float16') {
        const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        for (let i = 0; i < n; i++) vals[i] = fromHalfBits(dv.getUint16(2 * i, true));
      } else {
        throw new SailError(`weight '${spec.name}': unknown quantisation ${q.dtype}`, { file: a.source });
      }
      data = vals;
    } else if (spec.dtype === 'float32') {
      data = new Float32Array(bytes.slice().buffer);
    } else if (spec.dtype === 'int32') {
      data = new Int32Array(bytes.slice().buffer);
    } else {
      throw new SailError(`weight '${spec.name}': dtype ${spec.dtype} unsupported`, { file: a.source });
    }
    out.set(spec.name, { shape: spec.shape, dtype: spec.dtype === 'int32' ? 'int32' : 'float32', data });
  }
  return out;
}

/** Decode a base64 string attribute (`padding`, `data_format`, `fused_ops`). */
export function attrString(s: string | undefined): string {
  return s === undefined ? '' : Buffer.from(s, 'base64').toString('utf8');
}

/** Integer list attribute (`strides`, `ksize`, `dilations`, `squeeze_dims`). */
export function attrInts(a: TfAttr | undefined): number[] {
  return (a?.list?.i ?? []).map((v) => Number(v));
}
