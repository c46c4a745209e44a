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

/** Options of {@link paramsFromTensors} and {@link loadHead}. */
export interface HeadTensorOptions {
  /**
   * Tensors that are not part of the head are an error, checked first (default false: they are
   * ignored, so a head can be read out of a larger checkpoint). Training uses strict checks to fit
   * weights into the head it trains (resume, `--init`), where a stray tensor means another head type.
   */
  strict?: boolean;
  /** File named in error messages. */
  file?: string;
}

/**
 * The one check of head tensors: order them as paramSpecs(cfg), strip checkpoint prefixes (`module.`,
 * ...), accept 0-d logit_scale / logit_bias for [1], and throw a SailError naming the file and tensor when
 * one is missing, mis-shaped, or (strict) not part of the head. A Map (name -> values, as training
 * checkpoints are read) is checked by size.
 */
export function paramsFromTensors(cfg: HeadConfig, tensors: readonly NamedTensor[] | Map<string, Float32Array>, opts: HeadTensorOptions = {}): ParamSet {
  const { file } = opts;
  const list = tensors instanceof Map ? [...tensors].map(([name, data]) => ({ name, shape: undefined, data })) : tensors.map((t) => ({ ...t, shape: t.shape as number[] | undefined }));
  const byName = new Map(list.map((t) => [stripName(t.name), t]));
  const specs = paramSpecs(cfg);
  if (opts.strict) {
    const wanted = new Set(specs.map((s) => s.name));
    for (const name of byName.keys()) if (!wanted.has(name)) throw new SailError(`tensor ${name} is not part of a ${cfg.type} head (head type differs?)`, { file });
  }
  return specs.map((spec) => {
    const t = byName.get(spec.name);
    if (!t) throw new SailError(`tensor ${spec.name} is missing (not a ${cfg.type} head of these widths?)`, { file });
    const size = spec.shape.reduce((a, b) => a * b, 1);
    // logit_scale / logit_bias may be stored as 0-d scalars (PyTorch) instead of [1]
    const scalarOk = spec.shape.length === 1 && spec.shape[0] === 1 && t.shape?.length === 0 && t.data.length === 1;
    const shapeOk = t.shape === undefined ? t.data.length === size : scalarOk || JSON.stringify(t.shape) === JSON.stringify(spec.shape);
    if (!shapeOk || t.data.length !== size) {
      const got = t.shape === undefined ? `${t.data.length} values` : `shape ${JSON.stringify(t.shape)}`;
      throw new SailError(`tensor ${spec.name} has ${got}, expected ${JSON.stringify(spec.shape)}`, { file });
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
export async function loadHead(path: string, opts: Omit<HeadTensorOptions, 'file'> = {}): Promise<LoadedHead> {
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
  const params = paramsFromTensors(config, tensors, { ...opts, file });
  assertFiniteParams(params, file);
  return { config, params };
}

/**
 * Weights of `path` for the head a training run builds (`sail train --init`): read exactly as createModel,
 * export and eval read a head (loadHead), then fitted strictly to `cfg`, so a file differs from those only
 * where its head is not the one being trained (and the message names the tensor).
 */
export async function loadHeadInto(path: string, cfg: HeadConfig): Promise<ParamSet> {
  const loaded = await loadHead(path);
  const file = statSync(path).isDirectory() ? pickSafetensors(path) : path;
  return paramsFromTensors(cfg, loaded.params, { strict: true, file });
}

/** Effective logit scale exp(logit_scale) and bias of a parameter set. */
export function logitScaleBias(params: ParamSet): { scale: number; bias: number } {
  const s = params.find((p) => p.name === 'logit_scale');
  const b = params.find((p) => p.name === 'logit_bias');
  if (!s || !b) throw new SailError('head has no logit_scale / logit_bias');
  return { scale: Math.exp(s.data[0]), bias: b.data[0] };
}
