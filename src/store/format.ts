// The on-disk layout of an embedding store (docs/ARCHITECTURE.md): names, JSON shapes and their validation.
import { promises as fs } from 'node:fs';
import { SailError } from '../util/errors.js';

/** Element type of a modality's part files. */
export type StoreDtype = 'float16' | 'float32';

/** One named embedding column of a store (e.g. `image`, `text`, `extra_text`). */
export interface ModalitySpec {
  name: string;
  dim: number;
  dtype: StoreDtype;
  /** Backbone id that produced these embeddings, informational. */
  model?: string;
}

/** `manifest.json`. */
export interface StoreManifest {
  format: 'sail-store';
  version: 1;
  rows: number;
  modalities: Record<string, { dim: number; dtype: StoreDtype; model?: string }>;
  parts: { name: string; rows: number }[];
  meta?: Record<string, unknown>;
}

/** `part-XXXXX.json`: written last, so its presence marks the part complete. */
export interface PartInfo {
  rows: number;
  /** Per modality: data file, its checksum, and (recorded since format checks began) its dim and dtype. */
  files: Record<string, { file: string; sha256: string; dim?: number; dtype?: StoreDtype }>;
}

export const MANIFEST = 'manifest.json';
/** Guard against absurd JSON files before parsing them. */
export const MAX_JSON_BYTES = 64 * 1024 * 1024;

/** Bytes per element of a dtype. */
export function dtypeBytes(dtype: StoreDtype): number {
  return dtype === 'float16' ? 2 : 4;
}

/** File-name extension of a dtype. */
export function dtypeExt(dtype: StoreDtype): string {
  return dtype === 'float16' ? 'f16' : 'f32';
}

/** `part-00012` for index 12. */
export function partName(index: number): string {
  return `part-${String(index).padStart(5, '0')}`;
}

/** Modality names become file-name components, so keep them to a safe alphabet. */
export function checkModalityName(name: string, file?: string): void {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
    throw new SailError(`invalid modality name ${JSON.stringify(name)} (use letters, digits, _ and -)`, { file });
  }
}

function isPosInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x > 0;
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0;
}

/** Validate a parsed manifest; throws a SailError naming `file` and the problem. */
export function validateManifest(value: unknown, file: string): StoreManifest {
  const bad = (reason: string): never => {
    throw new SailError(`corrupt store manifest: ${reason}`, { file });
  };
  if (typeof value !== 'object' || value === null) bad('not a JSON object');
  const m = value as Record<string, unknown>;
  if (m.format !== 'sail-store') bad(`format is ${JSON.stringify(m.format)}, expected "sail-store"`);
  if (m.version !== 1) bad(`unsupported version ${JSON.stringify(m.version)}`);
  if (!isCount(m.rows)) bad('"rows" must be a non-negative integer');
  if (typeof m.modalities !== 'object' || m.modalities === null) bad('"modalities" missing');
  const mods = m.modalities as Record<string, unknown>;
  if (Object.keys(mods).length === 0) bad('no modalities');
  for (const [name, spec] of Object.entries(mods)) {
    checkModalityName(name, file);
    const s = spec as Record<string, unknown>;
    if (typeof s !== 'object' || s === null) bad(`modality ${name} is not an object`);
    if (!isPosInt(s.dim)) bad(`modality ${name}: "dim" must be a positive integer`);
    if (s.dtype !== 'float16' && s.dtype !== 'float32') bad(`modality ${name}: dtype ${JSON.stringify(s.dtype)} (float16|float32)`);
    if (s.model !== undefined && typeof s.model !== 'string') bad(`modality ${name}: "model" must be a string`);
  }
  if (!Array.isArray(m.parts)) bad('"parts" must be an array');
  let total = 0;
  (m.parts as unknown[]).forEach((p, i) => {
    const part = p as Record<string, unknown>;
    if (typeof part !== 'object' || part === null || part.name !== partName(i)) bad(`parts[${i}] must be named ${partName(i)}`);
    if (!isCount(part.rows)) bad(`parts[${i}].rows must be a non-negative integer`);
    total += part.rows as number;
  });
  if (total !== m.rows) bad(`parts hold ${total} rows but "rows" is ${m.rows}`);
  return m as unknown as StoreManifest;
}

/** Validate a parsed part JSON against the modalities it must cover. */
export function validatePartInfo(value: unknown, file: string, modalities: string[]): PartInfo {
  const bad = (reason: string): never => {
    throw new SailError(`corrupt part file: ${reason}`, { file });
  };
  if (typeof value !== 'object' || value === null) bad('not a JSON object');
  const p = value as Record<string, unknown>;
  if (!isCount(p.rows)) bad('"rows" must be a non-negative integer');
  if (typeof p.files !== 'object' || p.files === null) bad('"files" missing');
  const files = p.files as Record<string, unknown>;
  for (const name of modalities) {
    const f = (Object.hasOwn(files, name) ? files[name] : undefined) as Record<string, unknown> | undefined;
    if (!f || typeof f.file !== 'string' || typeof f.sha256 !== 'string') bad(`no file entry for modality ${name}`);
    if (f!.dim !== undefined && !isPosInt(f!.dim)) bad(`modality ${name}: "dim" must be a positive integer`);
    if (f!.dtype !== undefined && f!.dtype !== 'float16' && f!.dtype !== 'float32') bad(`modality ${name}: dtype ${JSON.stringify(f!.dtype)} (float16|float32)`);
    // file names are joined to the store folder: never let them escape it
    if (!/^[A-Za-z0-9_.-]+$/.test(f!.file as string) || (f!.file as string).startsWith('.')) bad(`unsafe file name ${JSON.stringify(f!.file)}`);
  }
  return p as unknown as PartInfo;
}

/** Read and parse a JSON file with a size bound; missing or unparsable files give a SailError naming the file. */
export async function readJsonFile(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    const st = await fs.stat(path);
    if (st.size > MAX_JSON_BYTES) throw new SailError(`${what} is ${st.size} bytes, larger than the ${MAX_JSON_BYTES}-byte limit`, { file: path });
    text = await fs.readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof SailError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new SailError(code === 'ENOENT' ? `${what} not found` : `cannot read ${what}: ${(err as Error).message}`, { file: path });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new SailError(`corrupt ${what}: invalid JSON (${(err as Error).message})`, { file: path });
  }
}
