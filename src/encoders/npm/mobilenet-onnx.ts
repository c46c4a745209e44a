// The nsfwjs MobileNetV2-1.4 feature extractor as an ONNX file, converted once and cached on disk.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../util/atomic.js';
import { SailError } from '../../util/errors.js';
import { MOBILENET_DIM, MOBILENET_SIZE } from './ids.js';
import { cacheDir, findPackage } from './packages.js';
import { decodeWeights, loadNsfwjsMobileNet } from './tfjs-artifacts.js';
import { convertTfjsGraph } from './tfjs-to-onnx.js';

/** Bump when the converter's output changes: cached files carry it in their name. */
export const CONVERTER_VERSION = 2;
/** Suffix of the TF node whose output is the pooled 1792-d feature vector. */
export const FEATURE_NODE_SUFFIX = 'feature_vector/SpatialSqueeze';
/** Suffix of the last conv (ReLU6) node: the 7x7 grid of 1792-d features the pool averages. */
export const GRID_NODE_SUFFIX = 'MobilenetV2/Conv_1/Relu6';
/** Side of that grid. */
export const MOBILENET_GRID = 7;
export { MOBILENET_DIM, MOBILENET_SIZE } from './ids.js';

/** A ready-to-load ONNX file and facts about it. */
export interface MobileNetOnnx {
  /**
   * Path of the cached `.onnx` file. Input `image` [N,224,224,3] float NHWC in [0,1]; outputs
   * `features` [N,1792] and `grid` [N,7,7,1792] (the map `features` is the mean of).
   */
  path: string;
  flopsPerImage: number;
  nsfwjsVersion: string;
  /** True when this call did the conversion (false: served from cache). */
  converted: boolean;
}

interface Sidecar {
  converter: number;
  nsfwjs: string;
  flopsPerImage: number;
  bytes: number;
}

/** Convert in memory (no cache). Returns the ONNX bytes and the per-image FLOP count. */
export function convertMobileNetV2Nsfwjs(): { bytes: Uint8Array; flopsPerImage: number; nsfwjsVersion: string } {
  const { pkg, artifacts } = loadNsfwjsMobileNet();
  const find = (suffix: string) => {
    const node = artifacts.nodes.find((n) => n.name.endsWith(suffix));
    if (!node) throw new SailError(`no node ending in ${suffix}`, { file: artifacts.source });
    return node.name;
  };
  const res = convertTfjsGraph(artifacts, decodeWeights(artifacts), {
    outputs: [{ node: find(FEATURE_NODE_SUFFIX), name: 'features' }, { node: find(GRID_NODE_SUFFIX), name: 'grid' }],
    inputName: 'image',
    metadata: {
      source: `nsfwjs@${pkg.version} dist/models/mobilenet_v2_mid (TF-Hub MobileNetV2 1.4 feature vector)`,
      converter: `sail tfjs-to-onnx v${CONVERTER_VERSION}`,
      input: 'image: [N,224,224,3] float32 NHWC RGB in [0,1]',
      output: 'features: [N,1792] float32 (SpatialSqueeze, before the NSFW classifier); grid: [N,7,7,1792] (Conv_1 ReLU6)',
    },
  });
  const [, h, w, c] = res.inputShape;
  const grid = res.outputShapes[1].join();
  if (h !== MOBILENET_SIZE || w !== MOBILENET_SIZE || c !== 3 || res.outputShapes[0][1] !== MOBILENET_DIM ||
      grid !== [-1, MOBILENET_GRID, MOBILENET_GRID, MOBILENET_DIM].join()) {
    throw new SailError(`unexpected model shapes: input [${res.inputShape}] output [${res.outputShapes[0]}]`, { file: artifacts.source });
  }
  return { bytes: res.bytes, flopsPerImage: res.flopsPerItem, nsfwjsVersion: pkg.version };
}

/**
 * The cached ONNX model, converting it first when absent. The file name carries the nsfwjs and
 * converter versions; a JSON sidecar (written after the model, both atomically) marks it complete,
 * so an interrupted conversion is simply redone.
 */
export async function ensureMobileNetOnnx(opts: { cacheDir?: string } = {}): Promise<MobileNetOnnx> {
  const version = findPackage('nsfwjs').version;
  const dir = cacheDir(opts.cacheDir);
  const base = join(dir, `mobilenetv2-nsfwjs-${version}-c${CONVERTER_VERSION}`);
  const path = `${base}.onnx`;
  const side = `${base}.json`;
  if (existsSync(path) && existsSync(side)) {
    try {
      const meta = JSON.parse(readFileSync(side, 'utf8')) as Sidecar;
      const size = statSync(path).size;
      if (meta.converter === CONVERTER_VERSION && meta.nsfwjs === version && meta.bytes === size) {
        return { path, flopsPerImage: meta.flopsPerImage, nsfwjsVersion: version, converted: false };
      }
    } catch {
      // unreadable sidecar: fall through and convert again
    }
  }
  const res = convertMobileNetV2Nsfwjs();
  await writeFileAtomic(path, res.bytes);
  const meta: Sidecar = { converter: CONVERTER_VERSION, nsfwjs: version, flopsPerImage: res.flopsPerImage, bytes: res.bytes.length };
  await writeFileAtomic(side, JSON.stringify(meta, null, 2) + '\n');
  return { path, flopsPerImage: res.flopsPerImage, nsfwjsVersion: version, converted: true };
}
