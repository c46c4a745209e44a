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
  // Overlap: the next part's images are loaded (SVG rasterising, file reads) while this part is encoded,
  // and the image network (worker threads) runs while the texts are encoded on this thread.
  const imageCols = spec.columns.filter((c) => c.kind === 'image');
  const loadPart = (p: number): Promise<ImageInput[][]> =>
    Promise.all(imageCols.map(async (c) => {
      const inputs: ImageInput[] = [];
      for (let r = p * partRows; r < Math.min(rows, (p + 1) * partRows); r++) inputs.push(await c.load(r));
      return inputs;
    }));
  let next = todo.length > 0 ? loadPart(todo[0]) : undefined;
  for (let p = 0; p < nParts; p++) {
    const end = Math.min(rows, (p + 1) * partRows);
    if (!todo.includes(p)) {
      onProgress?.(end, rows);
      continue;
    }
    const loaded = await next!;
    const k = todo.indexOf(p);
    next = k + 1 < todo.length ? loadPart(todo[k + 1]) : undefined;
    // an unawaited rejection of the prefetch must not crash the process before it is awaited
    next?.catch(() => {});
    const images = (async () => {
      const out: [string, Float32Array][] = [];
      for (const [i, c] of imageCols.entries()) out.push([c.name, await imageEnc!.encode(loaded[i])]);
      return out;
    })();
    images.catch(() => {});
    const data: Record<string, Float32Array> = {};
    for (const c of spec.columns) {
      if (c.kind === 'text') data[c.name] = await encodeTextsOnce(textEnc!, c.texts.slice(p * partRows, end), textCache);
    }
    for (const [name, e] of await images) data[name] = e;
    await writer.writePart(p, data);
    onProgress?.(end, rows);
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
