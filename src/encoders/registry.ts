// Backbone registry: a name maps to a spec (kind, dimension, loader), so a new backbone is one data entry.
import { existsSync, statSync } from 'node:fs';
import { SailError } from '../util/errors.js';
import type { ImageEncoder, TextEncoder } from './types.js';
import type { ImageRecipe } from './pooling.js';
import type { TextPooling } from './pooling.js';

/** Options every backbone loader accepts. */
export interface EncoderLoadOptions {
  /** Intra-op threads for the inference session (default: onnxruntime's choice). */
  threads?: number;
  /** Execution providers in order of preference ('cpu' default; 'cuda', 'webgpu' selectable). */
  executionProviders?: string[];
  /** Largest batch handed to the model in one run; bigger inputs are split. Default 32. */
  batchSize?: number;
  /** Local model folder (transformers.js layout) overriding the registry's hub lookup. */
  modelDir?: string;
  /** Allow downloading a missing model from the Hugging Face hub into `cacheDir`. Default false. */
  allowDownload?: boolean;
  /** Where downloaded models live (default `~/.cache/sail/models`). */
  cacheDir?: string;
  /** Image aggregation recipe override ('concat' | 'cls' | 'patch'). */
  recipe?: ImageRecipe;
  /** Text pooling override ('cls' | 'mean' | 'last'). */
  pooling?: TextPooling;
  /** Instruction prefix prepended to every text (none by default, as in SAIL). */
  instruction?: string;
  /** Truncation length for text backbones (default: the registry entry's, else the tokenizer's). */
  maxLength?: number;
}

/** An image backbone entry. `dim` is the embedding width of the default recipe. */
export interface ImageBackboneSpec {
  kind: 'image';
  name: string;
  dim: number;
  description?: string;
  /** Hugging Face hub id the ONNX export comes from, where there is one. */
  hubId?: string;
  load(opts: EncoderLoadOptions): Promise<ImageEncoder>;
}

/** A text backbone entry. */
export interface TextBackboneSpec {
  kind: 'text';
  name: string;
  dim: number;
  description?: string;
  hubId?: string;
  load(opts: EncoderLoadOptions): Promise<TextEncoder>;
}

/** Any registered backbone. */
export type BackboneSpec = ImageBackboneSpec | TextBackboneSpec;

const registry = new Map<string, BackboneSpec>();

/** Add (or replace) a backbone under `spec.name`. Used by the built-in table and by npm-shipped backbones. */
export function registerBackbone(spec: BackboneSpec): void {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(spec.name)) throw new SailError(`invalid backbone name '${spec.name}'`);
  registry.set(spec.name, spec);
}

/** The spec registered under `name`, or undefined. */
export function getBackbone(name: string): BackboneSpec | undefined {
  return registry.get(name);
}

/** All registered backbones, sorted by name. */
export function listBackbones(): BackboneSpec[] {
  return [...registry.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * Split 'dinov2-small:cls' (or 'path/to/folder:cls') into name and recipe/pooling suffix. A folder whose
 * own name contains ':' is taken whole.
 */
function splitName(nameOrPath: string): { name: string; suffix?: string } {
  const i = nameOrPath.lastIndexOf(':');
  if (i <= 0 || isFolder(nameOrPath) || /[/\\]/.test(nameOrPath.slice(i))) return { name: nameOrPath };
  return { name: nameOrPath.slice(0, i), suffix: nameOrPath.slice(i + 1) };
}

/** Registry names have no path separators. */
function isPathLike(p: string): boolean {
  return /[/\\]/.test(p);
}

function isFolder(p: string): boolean {
  return existsSync(p) && statSync(p).isDirectory();
}

/**
 * The one lookup behind both loaders: registry entry of the right kind (with the ':suffix' recipe or
 * pooling), else a local model folder, else a SailError listing the known names.
 */
async function loadBackbone<E>(
  kind: 'image' | 'text', nameOrPath: string, opts: EncoderLoadOptions,
  withSuffix: (suffix: string | undefined) => EncoderLoadOptions, fromFolder: (folder: string, o: EncoderLoadOptions) => Promise<E>,
): Promise<E> {
  const { name, suffix } = splitName(nameOrPath);
  // a path never names a registry entry: skip loading the built-ins (the npm ones import TF.js)
  if (!isPathLike(name)) await ensureBuiltins();
  const o = withSuffix(suffix);
  const spec = registry.get(name);
  if (spec) {
    if (spec.kind !== kind) throw new SailError(`backbone '${name}' is ${spec.kind === 'image' ? 'an' : 'a'} ${spec.kind} backbone, not ${kind === 'image' ? 'an' : 'a'} ${kind} backbone`);
    return spec.load(o) as Promise<E>;
  }
  if (isFolder(name)) return fromFolder(name, o);
  throw new SailError(`unknown ${kind} backbone '${nameOrPath}' (not registered and not a model folder); known: ${names(kind)}`);
}

/**
 * Load an image encoder from a registry name (optionally 'name:recipe') or a local model folder in the
 * transformers.js layout (DINOv2-style ONNX emitting last_hidden_state).
 */
export function loadImageEncoder(nameOrPath: string, opts: EncoderLoadOptions = {}): Promise<ImageEncoder> {
  return loadBackbone<ImageEncoder>('image', nameOrPath, opts, (suffix) => ({ ...opts, recipe: (suffix as ImageRecipe | undefined) ?? opts.recipe }),
    async (folder, o) => (await import('./image-onnx.js')).loadOnnxImageEncoder(folder, o));
}

/** Load a text encoder from a registry name (optionally 'name:pooling') or a local model folder (tokenizer.json + onnx/model.onnx). */
export function loadTextEncoder(nameOrPath: string, opts: EncoderLoadOptions = {}): Promise<TextEncoder> {
  return loadBackbone<TextEncoder>('text', nameOrPath, opts, (suffix) => ({ ...opts, pooling: (suffix as TextPooling | undefined) ?? opts.pooling }),
    async (folder, o) => (await import('./text-onnx.js')).loadOnnxTextEncoder(folder, o));
}

function names(kind: 'image' | 'text'): string {
  return listBackbones().filter((s) => s.kind === kind).map((s) => s.name).join(', ') || '(none)';
}

let builtinsLoaded: Promise<void> | undefined;
/** Register the built-in hub backbones and the npm-shipped ones (once, lazily, to keep imports light). */
export function ensureBuiltins(): Promise<void> {
  builtinsLoaded ??= (async () => {
    const { registerHubBackbones } = await import('./builtin.js');
    registerHubBackbones();
    await registerNpmBackbones();
  })();
  return builtinsLoaded;
}

/** The npm-shipped backbones (src/encoders/npm/index.ts `backbones`), imported on first use like the hub ones. */
async function registerNpmBackbones(): Promise<void> {
  const { backbones } = await import('./npm/index.js');
  for (const spec of backbones) registerBackbone(spec);
}
