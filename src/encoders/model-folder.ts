// Model folders in the transformers.js layout, and the opt-in Hugging Face hub download into a cache.
import { createWriteStream, existsSync, promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SailError } from '../util/errors.js';

/** Largest JSON config we parse (tokenizer.json of big vocabularies is a few tens of MB). */
const MAX_JSON_BYTES = 64 * 1024 * 1024;

/** The ONNX graph of a model folder. */
export function onnxPath(folder: string): string {
  const p = join(folder, 'onnx', 'model.onnx');
  if (!existsSync(p)) throw new SailError('model folder has no onnx/model.onnx', { file: folder });
  return p;
}

/** Read a JSON file of a model folder; `optional` returns undefined when it is missing. */
export async function readModelJson(folder: string, name: string, optional = false): Promise<Record<string, unknown> | undefined> {
  const path = join(folder, name);
  let st;
  try {
    st = await fs.stat(path);
  } catch {
    if (optional) return undefined;
    throw new SailError(`${name} not found in model folder`, { file: path });
  }
  if (st.size > MAX_JSON_BYTES) throw new SailError(`${name} is larger than ${MAX_JSON_BYTES} bytes`, { file: path });
  try {
    const v = JSON.parse(await fs.readFile(path, 'utf8'));
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new SailError(`invalid JSON: ${(err as Error).message}`, { file: path });
  }
}

/** Default cache for downloaded models. */
export function defaultCacheDir(): string {
  return process.env.SAIL_CACHE ? join(process.env.SAIL_CACHE, 'models') : join(homedir(), '.cache', 'sail', 'models');
}

/** Where to find a model and whether fetching it is allowed. */
export interface ResolveModelOptions {
  /** Explicit local folder: used as is. */
  modelDir?: string;
  /** Hub repository (owner/name) holding the transformers.js layout. */
  hubId?: string;
  allowDownload?: boolean;
  cacheDir?: string;
  /** Files the folder must have (relative paths). */
  required: string[];
  /** Files fetched when present on the hub (404 ignored), e.g. external ONNX weights. */
  optional?: string[];
}

/**
 * The local folder of a model: `modelDir` if given, else `<cacheDir>/<hubId>` when it already holds the
 * required files, else (only with `allowDownload`) a download from https://huggingface.co into that cache
 * folder. Without permission a missing model is a SailError telling the user what to pass.
 */
export async function resolveModelFolder(opts: ResolveModelOptions): Promise<string> {
  if (opts.modelDir) {
    for (const f of opts.required) if (!existsSync(join(opts.modelDir, f))) throw new SailError(`model folder lacks ${f}`, { file: opts.modelDir });
    return opts.modelDir;
  }
  if (!opts.hubId) throw new SailError('no model folder given (--model-dir) and the backbone has no hub id');
  if (!/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(opts.hubId) || opts.hubId.includes('..')) throw new SailError(`invalid hub id '${opts.hubId}'`);
  const folder = join(opts.cacheDir ?? defaultCacheDir(), opts.hubId);
  if (opts.required.every((f) => existsSync(join(folder, f)))) return folder;
  if (!opts.allowDownload) {
    throw new SailError(
      `model ${opts.hubId} is not in the cache (${folder}); pass a local transformers.js folder with --model-dir, ` +
        'or --allow-download to fetch it from huggingface.co',
    );
  }
  for (const f of opts.required) await downloadHubFile(opts.hubId, f, join(folder, f), false);
  for (const f of opts.optional ?? []) await downloadHubFile(opts.hubId, f, join(folder, f), true);
  return folder;
}

/**
 * Fetch one file of a hub repository to `dest` (temp file + rename, so a killed download leaves no
 * half file under the real name). Returns false for a 404 when `optional`.
 */
export async function downloadHubFile(hubId: string, file: string, dest: string, optional: boolean): Promise<boolean> {
  if (existsSync(dest)) return true;
  const url = `https://huggingface.co/${hubId}/resolve/main/${file}`;
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (err) {
    throw new SailError(`download failed: ${(err as Error).message}`, { file: url });
  }
  if (res.status === 404 && optional) return false;
  if (!res.ok || !res.body) throw new SailError(`download failed: HTTP ${res.status}`, { file: url });
  await fs.mkdir(dirname(dest), { recursive: true });
  const tmp = `${dest}.${process.pid}.part`;
  try {
    await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), createWriteStream(tmp));
    await fs.rename(tmp, dest);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw new SailError(`download failed: ${(err as Error).message}`, { file: url });
  }
  return true;
}
