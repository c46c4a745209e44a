// Load a head (config + parameters) from a checkpoint path: ours (training writes config.json and the
// config in the safetensors metadata) or an original SAIL head converted to safetensors (no config: type,
// widths and width factor are inferred from the tensor shapes). One loader for eval, model and export.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { SailError } from '../util/errors.js';
import { assertFiniteParams } from './check.js';
import { defaultHeadConfig, paramSpecs, type HeadConfig, type HeadType, type ParamSet } from './config.js';
import { readSafetensors, type NamedTensor } from './safetensors.js';

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
  return { ...defaultHeadConfig, type, widthFactor, visionDim, textDim, targetDim };
}

/** Order and check tensors against paramSpecs(cfg); missing or mis-shaped tensors give a SailError. */
export function paramsFromTensors(cfg: HeadConfig, tensors: NamedTensor[], file?: string): ParamSet {
  const byName = new Map(tensors.map((t) => [stripName(t.name), t]));
  return paramSpecs(cfg).map((spec) => {
    const t = byName.get(spec.name);
    if (!t) throw new SailError(`head tensor ${spec.name} is missing (not a ${cfg.type} head of these widths?)`, { file });
    // logit_scale / logit_bias may be stored as 0-d scalars (PyTorch) instead of [1]
    const scalarOk = spec.shape.length === 1 && spec.shape[0] === 1 && t.shape.length === 0 && t.data.length === 1;
    if (!scalarOk && JSON.stringify(t.shape) !== JSON.stringify(spec.shape)) {
      throw new SailError(`head tensor ${spec.name} has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(spec.shape)}`, { file });
    }
    return { name: spec.name, shape: spec.shape, data: t.data };
  });
}

/** A bare HeadConfig, or a training run config with the head nested under "head"; widths and type checked. */
function parseConfig(text: string, file: string): HeadConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new SailError(`head config is not valid JSON (${(err as Error).message})`, { file });
  }
  const obj = (raw && typeof raw === 'object' && 'head' in raw ? (raw as { head: unknown }).head : raw) as Partial<HeadConfig> | null;
  if (!obj || typeof obj !== 'object') throw new SailError('head config is not an object', { file });
  for (const k of ['visionDim', 'textDim', 'targetDim'] as const) {
    if (!Number.isInteger(obj[k]) || (obj[k] as number) < 1) throw new SailError(`head config: ${k} must be a positive integer`, { file });
  }
  if (!['star', 'mlp', 'linear'].includes(String(obj.type))) throw new SailError(`head config: unknown type ${String(obj.type)}`, { file });
  return { ...defaultHeadConfig, ...obj } as HeadConfig;
}

/** The safetensors file of a checkpoint folder, or of a training output folder holding checkpoint/. */
function pickSafetensors(dir: string): string {
  const nested = join(dir, 'checkpoint', 'head.safetensors');
  const files = readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
  for (const pref of ['head.safetensors', 'model.safetensors']) if (files.includes(pref)) return join(dir, pref);
  if (files.length === 1) return join(dir, files[0]);
  if (!files.length && existsSync(nested)) return nested;
  throw new SailError(files.length ? `several .safetensors files (${files.join(', ')}); name one` : 'no .safetensors file in the checkpoint folder', { file: dir });
}

/**
 * Load a head checkpoint: a .safetensors file, a checkpoint folder (config.json + head.safetensors) or a
 * training output folder (checkpoint/ inside). The config comes from `<name>.json` or `config.json` beside
 * the file, else the file's metadata (`config` / `sail_config`, as training writes), else it is inferred
 * from the tensor shapes. The logit scale and bias always come from the tensors.
 */
export async function loadHead(path: string): Promise<LoadedHead> {
  if (!existsSync(path)) throw new SailError('checkpoint not found', { file: path });
  const file = statSync(path).isDirectory() ? pickSafetensors(path) : path;
  const { tensors, metadata } = await readSafetensors(file);
  const cfgFile = [join(dirname(file), basename(file).replace(/\.safetensors$/, '.json')), join(dirname(file), 'config.json')].find(
    (f) => f !== file && existsSync(f),
  );
  const metaConfig = metadata.config ?? metadata.sail_config;
  const config = cfgFile
    ? parseConfig(readFileSync(cfgFile, 'utf8'), cfgFile)
    : metaConfig !== undefined
      ? parseConfig(metaConfig, file)
      : inferHeadConfig(new Map(tensors.map((t) => [stripName(t.name), t.shape])), file);
  const params = paramsFromTensors(config, tensors, file);
  assertFiniteParams(params, file);
  return { config, params };
}

/** Effective logit scale exp(logit_scale) and bias of a parameter set. */
export function logitScaleBias(params: ParamSet): { scale: number; bias: number } {
  const s = params.find((p) => p.name === 'logit_scale');
  const b = params.find((p) => p.name === 'logit_bias');
  if (!s || !b) throw new SailError('head has no logit_scale / logit_bias');
  return { scale: Math.exp(s.data[0]), bias: b.data[0] };
}
