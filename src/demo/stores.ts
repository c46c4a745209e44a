// Pre-encoding of the demo data into embedding stores, cached: a store is reused when its manifest
// records the same backbones, row count and data fingerprint; a half-written one resumes part by part.
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../util/atomic.js';
import { SailError } from '../util/errors.js';
import type { ImageEncoder, ImageInput, TextEncoder } from '../encoders/types.js';
import { MANIFEST, readJsonFile, validateManifest, type StoreManifest } from '../store/format.js';
import { createStoreWriter } from '../store/writer.js';

/** One column of a demo store: images (produced on demand) or texts. */
export type ColumnSource =
  | { name: string; kind: 'image'; rows: number; load: (row: number) => Promise<ImageInput>; keys: string[] }
  | { name: string; kind: 'text'; texts: string[] };

/** What a store must contain; `backbones` and the column keys/texts form its fingerprint. */
export interface StoreSpec {
  dir: string;
  columns: ColumnSource[];
  /** Registry names (or folders) of the backbones, as the user gave them. */
  backbones: { image: string; text: string };
  /** Rows per part file (default 256). */
  partRows?: number;
}

/** Lazily loaded encoders (loading a backbone is slow, so a fully cached run never loads one). */
export interface EncoderProvider {
  image(): Promise<ImageEncoder>;
  text(): Promise<TextEncoder>;
}

export type StoreProgress = (done: number, total: number) => void;

const SPEC_FILE = 'demo-spec.json';

function rowsOf(c: ColumnSource): number {
  return c.kind === 'image' ? c.rows : c.texts.length;
}

/** Hash of everything that determines the store contents. */
export function storeFingerprint(spec: StoreSpec): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: 1, backbones: spec.backbones, partRows: spec.partRows ?? 256 }));
  for (const c of spec.columns) h.update(JSON.stringify(c.kind === 'image' ? { n: c.name, k: c.keys } : { n: c.name, t: c.texts }));
  return h.digest('hex');
}

/** The manifest of `dir` if it is a complete store for `spec`, else undefined. */
export async function reusableStore(spec: StoreSpec): Promise<StoreManifest | undefined> {
  const file = join(spec.dir, MANIFEST);
  if (!existsSync(file)) return undefined;
  let m: StoreManifest;
  try {
    m = validateManifest(await readJsonFile(file, 'store manifest'), file);
  } catch {
    return undefined; // a corrupt cache is rebuilt, not fatal
  }
  const rows = rowsOf(spec.columns[0]);
  if (m.rows !== rows || m.meta?.fingerprint !== storeFingerprint(spec)) return undefined;
  for (const c of spec.columns) if (!m.modalities[c.name]) return undefined;
  return m;
}

/**
 * Make sure `spec.dir` holds the encoded store: reuse it when complete and matching, resume it when a
 * previous run of the same spec was interrupted, rebuild it otherwise. Returns the manifest and whether
 * anything was encoded.
 */
export async function ensureStore(spec: StoreSpec, encoders: EncoderProvider, onProgress?: StoreProgress): Promise<{ manifest: StoreManifest; encoded: boolean }> {
  const rows = rowsOf(spec.columns[0]);
  for (const c of spec.columns) {
    if (rowsOf(c) !== rows) throw new SailError(`column ${c.name} has ${rowsOf(c)} rows, expected ${rows}`, { file: spec.dir });
  }
  if (rows === 0) throw new SailError('no rows to encode', { file: spec.dir });
  const cached = await reusableStore(spec);
  if (cached) {
    onProgress?.(rows, rows);
    return { manifest: cached, encoded: false };
  }
  const fingerprint = storeFingerprint(spec);
  const specFile = join(spec.dir, SPEC_FILE);
  // Parts from a different spec must not be resumed: start the folder afresh.
  const prev = existsSync(specFile) ? ((await readJsonFile(specFile, 'demo store spec').catch(() => null)) as { fingerprint?: string } | null) : null;
  if (prev?.fingerprint !== fingerprint && existsSync(spec.dir)) await fs.rm(spec.dir, { recursive: true, force: true });
  await writeJsonAtomic(specFile, { fingerprint, backbones: spec.backbones, rows });

  const needImage = spec.columns.some((c) => c.kind === 'image');
  const needText = spec.columns.some((c) => c.kind === 'text');
  const imageEnc = needImage ? await encoders.image() : undefined;
  const textEnc = needText ? await encoders.text() : undefined;
  const writer = await createStoreWriter(spec.dir, {
    modalities: spec.columns.map((c) => {
      const enc = c.kind === 'image' ? imageEnc! : textEnc!;
      return { name: c.name, dim: enc.dim, dtype: 'float16' as const, model: enc.id };
    }),
    meta: { fingerprint, backbones: spec.backbones, source: 'sail demo (emoji)' },
  });
  const partRows = spec.partRows ?? 256;
  const nParts = Math.ceil(rows / partRows);
  // every drawing of a concept repeats the concept's captions: each distinct text is encoded once
  const textCache = new Map<string, Float32Array>();
  const todo = Array.from({ length: nParts }, (_, p) => p).filter((p) => !writer.hasPart(p));
  const endOf = (p: number) => Math.min(rows, (p + 1) * partRows);
  // Two producers run side by side and a part is written when both have it: the texts (this thread,
  // part after part, running ahead) and the images (loaded one part ahead, encoded by the image
  // encoder's worker threads). The CPU stays busy instead of alternating between the two.
  const textCols = spec.columns.filter((c) => c.kind === 'text');
  const textParts = new Map<number, Promise<Record<string, Float32Array>>>();
  let chain: Promise<unknown> = Promise.resolve();
  for (const p of todo) {
    const job = chain.then(async () => {
      const out: Record<string, Float32Array> = {};
      for (const c of textCols) out[c.name] = await encodeTextsOnce(textEnc!, c.texts.slice(p * partRows, endOf(p)), textCache);
      return out;
    });
    // rejections surface when the part is awaited below; these handlers only keep them from being "unhandled"
    job.catch(() => {});
    textParts.set(p, job);
    chain = job;
  }
  const imageCols = spec.columns.filter((c) => c.kind === 'image');
  const loadPart = (p: number): Promise<ImageInput[][]> =>
    Promise.all(imageCols.map(async (c) => {
      const inputs: ImageInput[] = [];
      for (let r = p * partRows; r < endOf(p); r++) inputs.push(await c.load(r));
      return inputs;
    }));
  let next = todo.length > 0 ? loadPart(todo[0]) : undefined;
  next?.catch(() => {});
  for (let p = 0; p < nParts; p++) {
    if (!textParts.has(p)) {
      onProgress?.(endOf(p), rows);
      continue;
    }
    const loaded = await next!;
    const k = todo.indexOf(p);
    next = k + 1 < todo.length ? loadPart(todo[k + 1]) : undefined;
    next?.catch(() => {});
    const data: Record<string, Float32Array> = {};
    for (const [i, c] of imageCols.entries()) data[c.name] = await imageEnc!.encode(loaded[i]);
    Object.assign(data, await textParts.get(p)!);
    await writer.writePart(p, data);
    onProgress?.(endOf(p), rows);
  }
  return { manifest: await writer.finalize(), encoded: true };
}

/**
 * Embeddings of `texts` in order, encoding only the texts not yet in `cache` (each distinct one once,
 * in one call) and remembering them. The embedding of a text does not depend on its batch beyond float
 * rounding (use-lite: at most 2.4e-7, below fp16 storage precision).
 */
export async function encodeTextsOnce(enc: TextEncoder, texts: string[], cache: Map<string, Float32Array>): Promise<Float32Array> {
  const fresh = [...new Set(texts.filter((t) => !cache.has(t)))];
  if (fresh.length > 0) {
    const e = await enc.encode(fresh);
    fresh.forEach((t, i) => cache.set(t, e.slice(i * enc.dim, (i + 1) * enc.dim)));
  }
  const out = new Float32Array(texts.length * enc.dim);
  texts.forEach((t, i) => out.set(cache.get(t)!, i * enc.dim));
  return out;
}
