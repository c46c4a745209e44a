// Which backbones an export needs, recorded in sail_model.json (ids, pooling, preprocessing), and fusing a
// registry backbone by name (its ONNX and preprocessing come from the registry, not from a guessed path).
import { join } from 'node:path';
import { HUB_IMAGE_BACKBONES, HUB_TEXT_BACKBONES } from '../encoders/builtin.js';
import { resolveModelFolder } from '../encoders/model-folder.js';
import { SailError } from '../util/errors.js';
import type { ImageBackboneRecord, TextBackboneRecord } from './export-config.js';
import { DINOV2_PREPROCESS, MOBILENET_PREPROCESS, type PreprocessConfig } from '../encoders/image-spec.js';
import type { Pooling } from '../encoders/pooling.js';

const MOBILENET = 'mobilenetv2-nsfwjs';
const USE_LITE = 'use-lite';

function split(id: string): { name: string; suffix?: string } {
  const i = id.lastIndexOf(':');
  return i > 0 && !/[/\\]/.test(id.slice(i)) ? { name: id.slice(0, i), suffix: id.slice(i + 1) } : { name: id };
}

/** What is known about an image backbone id (registry facts; a model folder keeps its own preprocessing). */
export function describeImageBackbone(id: string): ImageBackboneRecord {
  const { name, suffix } = split(id);
  if (name === MOBILENET) return { id, pooling: 'pooled (the network\'s global average pool)', preprocess: MOBILENET_PREPROCESS };
  const hub = HUB_IMAGE_BACKBONES.find((r) => r.name === name);
  if (hub) return { id, pooling: suffix ?? hub.recipe, preprocess: DINOV2_PREPROCESS };
  return { id, pooling: suffix ?? 'concat', preprocess: 'model-folder' };
}

/** What is known about a text backbone id. */
export function describeTextBackbone(id: string): TextBackboneRecord {
  const { name, suffix } = split(id);
  if (name === USE_LITE) return { id, pooling: 'use (the model\'s own sentence embedding)' };
  const hub = HUB_TEXT_BACKBONES.find((r) => r.name === name);
  return { id, pooling: suffix ?? hub?.pooling ?? 'cls' };
}

/** A registry backbone ready to fuse: ONNX path, output, pooling and preprocessing. */
export interface RegistryImageOnnx {
  id: string;
  onnx: string;
  output?: string;
  pooling: Pooling;
  preprocess: PreprocessConfig;
}

/**
 * The ONNX of a registry image backbone, for `sail export --vision-backbone NAME`. mobilenetv2-nsfwjs is
 * converted from the nsfwjs npm package (cached); DINOv2 comes from the local model folder (cache or
 * `modelDir`), never downloaded here.
 */
export async function registryImageOnnx(id: string, opts: { cacheDir?: string; modelDir?: string } = {}): Promise<RegistryImageOnnx> {
  const { name, suffix } = split(id);
  if (name === MOBILENET) {
    const { ensureMobileNetOnnx } = await import('../encoders/npm/mobilenet-onnx.js');
    const onnx = await ensureMobileNetOnnx({ cacheDir: opts.cacheDir });
    return { id: name, onnx: onnx.path, output: 'features', pooling: 'none', preprocess: MOBILENET_PREPROCESS };
  }
  const hub = HUB_IMAGE_BACKBONES.find((r) => r.name === name);
  if (hub) {
    const recipe = suffix ?? hub.recipe;
    const pooling: Record<string, Pooling> = { concat: 'concat', cls: 'cls', patch: 'patch' };
    if (!pooling[recipe]) throw new SailError(`--vision-backbone ${id}: recipe '${recipe}' cannot be fused (one of ${Object.keys(pooling).join(', ')})`);
    const folder = await resolveModelFolder({ modelDir: opts.modelDir, hubId: hub.hubId, cacheDir: opts.cacheDir, allowDownload: false, required: ['onnx/model.onnx'], optional: ['onnx/model.onnx_data'] });
    return { id: `${name}:${recipe}`, onnx: join(folder, 'onnx', 'model.onnx'), pooling: pooling[recipe], preprocess: DINOV2_PREPROCESS };
  }
  const known = [MOBILENET, ...HUB_IMAGE_BACKBONES.map((r) => r.name)].join(', ');
  throw new SailError(`--vision-backbone: '${id}' is not a registry image backbone with an ONNX graph (${known}); for any other ONNX use --vision-backbone-onnx FILE`);
}

/** Why a registry text backbone cannot be fused (all of them today: use-lite runs in TF.js, hub tokenizers do not run in the page). */
export function registryTextOnnxUnavailable(id: string): SailError {
  if (split(id).name === USE_LITE) {
    return new SailError(`--text-backbone ${id}: use-lite runs in TF.js and has no ONNX graph to fuse; export without it: sail_model.json records use-lite and \`sail serve\` embeds queries with it on the server`);
  }
  return new SailError(`--text-backbone ${id}: fusing registry text backbones is not supported (their tokenizers do not run in the page); use --text-backbone-onnx FILE with --text-tokenizer, or let \`sail serve\` embed queries on the server`);
}
