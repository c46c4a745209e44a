// Load a head (config + parameters) from a checkpoint path, inferring the config from tensor shapes if needed.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SailError } from '../util/errors.js';
import { defaultHeadConfig, paramSpecs, type HeadConfig, type HeadType, type ParamSet } from '../head/config.js';
import { readSafetensors, type NamedTensor as ReadTensor } from '../head/safetensors.js';

/** A head ready to run: its config and parameters in paramSpecs order. */
export interface LoadedHead {
  config: HeadConfig;
  params: ParamSet;
}

// Prefixes seen in original checkpoints (DDP `module.`, LLaVA `model.vlhead.`, training dict `state_dict.`).
const STRIP_PREFIXES = ['state_dict.', 'module.', 'model.vlhead.', 'vlhead.'];

function stripName(name: string): string {
  let n = name;
  for (let changed = true; changed; ) {
    changed = false;
    for (const p of STRIP_PREFIXES)
      if (n.startsWith(p)) {
        n = n.slice(p.length);
        changed = true;
      }
  }
  return n;
}

/**
 * Infer the head config from tensor shapes (original-format heads carry no config):
 * type from which mapping tensors exist, input widths from the LayerNorms, width factor from f1.
 */
export function inferHeadConfig(shapes: Map<string, number[]>, file?: string): HeadConfig {
  const dim = (name: string, axis: number): number => {
    const s = shapes.get(name);
    if (!s) throw new SailError(`cannot infer the head config: tensor ${name} is missing`, { file });
    return s[axis];
  };
  const visionDim = dim('vision_layer_norm.weight', 0);
  const textDim = dim('text_layer_norm.weight', 0);
  let type: HeadType;
  let targetDim: number;
  let widthFactor: number = defaultHeadConfig.widthFactor;
  if (shapes.has('vision_mapping_network.f1.weight')) {
    type = 'star';
    targetDim = dim('vision_mapping_network.g.weight', 0);
    widthFactor = dim('vision_mapping_network.f1.weight', 0) / visionDim;
    if (!Number.isInteger(widthFactor)) throw new SailError(`f1 width ${dim('vision_mapping_network.f1.weight', 0)} is not a multiple of the input width ${visionDim}`, { file });
  } else if (shapes.has('vision_mapping_network.proj.0.weight')) {
    type = 'mlp';
    targetDim = dim('vision_mapping_network.proj.2.weight', 0);
  } else if (shapes.has('vision_mapping_network.weight')) {
    type = 'linear';
    targetDim = dim('vision_mapping_network.weight', 0);
  } else throw new SailError('cannot infer the head type: no vision_mapping_network tensors (star f1/f2/g, mlp proj.0/proj.2 or linear)', { file });
  return { type, widthFactor, visionDim, textDim, targetDim, logitScaleInit: defaultHeadConfig.logitScaleInit, logitBiasInit: defaultHeadConfig.logitBiasInit };
}

/** Order and check tensors against paramSpecs(cfg); missing or mis-shaped tensors give a SailError. */
export function paramsFromTensors(cfg: HeadConfig, tensors: ReadTensor[], file?: string): ParamSet {
  const byName = new Map(tensors.map((t) => [stripName(t.name), t]));
  return paramSpecs(cfg).map((spec) => {
    const t = byName.get(spec.name);
    if (!t) throw new SailError(`head tensor ${spec.name} is missing`, { file });
    const size = spec.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== size) throw new SailError(`head tensor ${spec.name} has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(spec.shape)}`, { file });
    return { name: spec.name, shape: spec.shape, data: t.data };
  });
}

function readConfigJson(file: string): HeadConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new SailError(`config is not valid JSON (${(e as Error).message})`, { file });
  }
  // Accept a bare HeadConfig or one nested under "head" (training run configs).
  const obj = raw as Record<string, unknown>;
  const cfg = (obj && typeof obj === 'object' && 'head' in obj && typeof obj.head === 'object' ? obj.head : obj) as Partial<HeadConfig>;
  for (const k of ['type', 'visionDim', 'textDim', 'targetDim'] as const)
    if (cfg[k] === undefined) throw new SailError(`config has no "${k}"`, { file });
  return { ...defaultHeadConfig, ...cfg } as HeadConfig;
}

function pickSafetensors(dir: string): string {
  const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
  for (const pref of ['head.safetensors', 'model.safetensors']) if (files.includes(pref)) return join(dir, pref);
  if (files.length === 1) return join(dir, files[0]);
  throw new SailError(files.length ? `several .safetensors files (${files.join(', ')}); name one` : 'no .safetensors file in the checkpoint folder', { file: dir });
}

/**
 * Load a head checkpoint: a folder (config.json + one .safetensors), or a .safetensors file with an optional
 * config.json beside it (or a JSON HeadConfig in its metadata under `config`, as training writes). Without any config the
 * type, widths and width factor are inferred from the tensor shapes (original SAIL heads converted to
 * safetensors). The effective logit scale/bias always come from the tensors.
 */
export async function loadHead(path: string): Promise<LoadedHead> {
  if (!existsSync(path)) throw new SailError('checkpoint not found', { file: path });
  const file = statSync(path).isDirectory() ? pickSafetensors(path) : path;
  const { tensors, metadata } = await readSafetensors(file);
  let config: HeadConfig;
  const cfgFile = [join(dirname(file), basename(file).replace(/\.safetensors$/, '.json')), join(dirname(file), 'config.json')].find(
    (f) => f !== file && existsSync(f),
  );
  if (cfgFile) config = readConfigJson(cfgFile);
  else if (metadata.config ?? metadata.sail_config) {
    // src/train/checkpoint.ts saveHead() stores the HeadConfig as JSON under `config`.
    try {
      config = { ...defaultHeadConfig, ...(JSON.parse(metadata.config ?? metadata.sail_config) as HeadConfig) };
    } catch {
      throw new SailError('safetensors metadata config is not valid JSON', { file });
    }
  } else config = inferHeadConfig(new Map(tensors.map((t) => [stripName(t.name), t.shape])), file);
  const params = paramsFromTensors(config, tensors, file);
  return { config, params };
}

/** Effective logit scale exp(logit_scale) and bias of a parameter set. */
export function logitScaleBias(params: ParamSet): { scale: number; bias: number } {
  const s = params.find((p) => p.name === 'logit_scale');
  const b = params.find((p) => p.name === 'logit_bias');
  if (!s || !b) throw new SailError('head has no logit_scale / logit_bias');
  return { scale: Math.exp(s.data[0]), bias: b.data[0] };
}
