// Backbone registry: a name maps to a spec (kind, dimension, loader), so a new backbone is one data entry.
import { existsSync, statSync } from 'node:fs';
import { SailError } from '../util/errors.js';
import type { ImageEncoder, TextEncoder } from './types.js';
import type { ImageRecipe, TextPooling } from './pooling.js';
import type { BackboneSpec, EncoderLoadOptions } from './backbone-spec.js';

export type { BackboneSpec, EncoderLoadOptions, ImageBackboneSpec, TextBackboneSpec } from './backbone-spec.js';

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
    const { hubBackbones } = await import('./builtin.js');
    for (const spec of hubBackbones()) registerBackbone(spec);
    await registerNpmBackbones();
  })();
  return builtinsLoaded;
}

/** The npm-shipped backbones (src/encoders/npm/index.ts `backbones`), imported on first use like the hub ones. */
async function registerNpmBackbones(): Promise<void> {
  const { backbones } = await import('./npm/index.js');
  for (const spec of backbones) registerBackbone(spec);
}
