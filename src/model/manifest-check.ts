// Checks of a loaded sail_model.json: required fields, and every file it names stays inside the export.
// The server sends exactly the files the manifest names, so a name such as ../../etc/passwd must never
// get past loading (issue 10: an export folder is input, not trusted code).
import { realpathSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { SailError } from '../util/errors.js';
import { isInside } from '../data/confine.js';
import type { ExportManifest } from './export-config.js';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Resolve `name` from a manifest against `dir`: it must be a plain relative name ('/'-separated
 * segments, no '.', '..', backslash, NUL or leading '/') whose realpath lies inside the realpath of `dir`.
 * Returns the resolved path; throws a SailError naming the manifest field otherwise.
 */
export function resolveExportFile(dir: string, name: unknown, field: string, manifestFile: string): string {
  if (typeof name !== 'string' || name === '') throw new SailError(`${field} must be a file name`, { file: manifestFile });
  const segments = name.split('/');
  if (name.includes('\\') || name.includes('\0') || isAbsolute(name) || segments.some((s) => s === '' || s === '.' || s === '..'))
    throw new SailError(`${field} ${JSON.stringify(name)} is not a plain relative file name inside the export folder`, { file: manifestFile });
  let real: string;
  try {
    real = realpathSync(join(dir, ...segments));
  } catch {
    throw new SailError(`${field} names ${JSON.stringify(name)}, which is not in the export folder`, { file: manifestFile });
  }
  if (!isInside(realpathSync(dir), real)) throw new SailError(`${field} ${JSON.stringify(name)} resolves outside the export folder (symlink)`, { file: manifestFile });
  return real;
}

function need(obj: Json, key: string, path: string, file: string): Json {
  const v = obj[key];
  if (!isObject(v)) throw new SailError(`missing or invalid field ${path}${key} (not a complete sail export?)`, { file });
  return v;
}

function checkGraph(g: Json, path: string, file: string): void {
  if (!Array.isArray(g.inputs) || !g.inputs.every((x) => typeof x === 'string')) throw new SailError(`${path}.inputs must be a list of names`, { file });
  const o = need(g, 'outputs', `${path}.`, file);
  if (typeof o.normalized !== 'string') throw new SailError(`${path}.outputs.normalized must be a name`, { file });
}

/**
 * Check the structure of a parsed manifest and that every file it names resolves inside `dir`.
 * Returns a map from each named file to its realpath (what a server may send).
 */
export function checkManifest(raw: unknown, dir: string, file: string): { manifest: ExportManifest; files: Map<string, string> } {
  if (!isObject(raw)) throw new SailError('the export config is not a JSON object', { file });
  if (raw.format !== 'sail-export' || raw.version !== 1) throw new SailError('not a sail export (format/version)', { file });
  if (!Number.isInteger(raw.dim) || (raw.dim as number) < 1) throw new SailError('field dim must be a positive integer', { file });
  const files = new Map<string, string>();
  const addFile = (g: Json, path: string) => {
    files.set(g.file as string, resolveExportFile(dir, g.file, `${path}.file`, file));
  };
  for (const side of ['image', 'text'] as const) {
    const s = need(raw, side, '', file);
    const head = need(s, 'head', `${side}.`, file);
    checkGraph(head, `${side}.head`, file);
    if (!Number.isInteger(head.inputDim) || (head.inputDim as number) < 1) throw new SailError(`${side}.head.inputDim must be a positive integer`, { file });
    addFile(head, `${side}.head`);
    for (const key of ['model', 'patches']) {
      if (s[key] === undefined) continue;
      const g = need(s, key, `${side}.`, file);
      checkGraph(g, `${side}.${key}`, file);
      addFile(g, `${side}.${key}`);
    }
  }
  const pre = (raw.image as Json).model !== undefined ? ((raw.image as Json).model as Json).preprocess : undefined;
  if (pre !== undefined && (!isObject(pre) || (pre.layout !== 'nchw' && pre.layout !== 'nhwc')))
    throw new SailError('image.model.preprocess is not a sail preprocessing spec (written by an older sail? export again)', { file });
  const tok = (raw.text as Json).model !== undefined ? ((raw.text as Json).model as Json).tokenizer : undefined;
  if (tok !== undefined) {
    if (!isObject(tok)) throw new SailError('text.model.tokenizer must be an object', { file });
    if (tok.type === 'word-vocab') files.set(tok.vocabFile as string, resolveExportFile(dir, tok.vocabFile, 'text.model.tokenizer.vocabFile', file));
  }
  // required since issue 14: the server loads these backbones when the export lacks a fused model
  const bb = raw.backbones;
  if (!isObject(bb) || !isObject(bb.image) || !isObject(bb.text) || typeof bb.image.id !== 'string' || typeof bb.text.id !== 'string') {
    throw new SailError('has no backbones record (the ids of the image and text backbones): re-export the head with this version of `sail export`', { file });
  }
  return { manifest: raw as unknown as ExportManifest, files };
}
