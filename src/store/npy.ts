// NumPy `.npy` reading (v1/v2/v3 headers, little-endian float16/float32, C order, 2-D) and import into a store.
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { writeJsonAtomic } from '../util/atomic.js';
import { FOLDER_LOCK } from '../util/lease.js';
import { SailError } from '../util/errors.js';
import { FLOAT16_MAX, float16ToFloat32 } from '../util/fp16.js';
import { readJsonFile, type StoreDtype, type StoreManifest } from './format.js';
import { createStoreWriter } from './writer.js';

/** What a `.npy` header says. */
export interface NpyHeader {
  dtype: 'float16' | 'float32';
  rows: number;
  cols: number;
  /** Byte offset of the first element. */
  dataOffset: number;
}

/** Headers are tiny in practice; refuse anything larger rather than allocate it. */
export const MAX_NPY_HEADER = 1 << 20;
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/**
 * Parse the start of a `.npy` file. `head` must hold at least the first 12 bytes; returns the
 * header length needed when `head` is too short (call again with more bytes).
 */
export function parseNpyHeader(head: Uint8Array, file: string): NpyHeader | { need: number } {
  const bad = (reason: string): never => {
    throw new SailError(`not a supported .npy file: ${reason}`, { file });
  };
  if (head.length < 10) bad('file shorter than the .npy preamble');
  for (let i = 0; i < MAGIC.length; i++) if (head[i] !== MAGIC[i]) bad('missing \\x93NUMPY magic');
  const major = head[6];
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  let len: number;
  let start: number;
  if (major === 1) {
    len = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (head.length < 12) return { need: 12 };
    len = view.getUint32(8, true);
    start = 12;
  } else {
    return bad(`unknown format version ${major}.${head[7]}`);
  }
  if (len > MAX_NPY_HEADER) bad(`header of ${len} bytes exceeds the ${MAX_NPY_HEADER}-byte limit`);
  if (head.length < start + len) return { need: start + len };
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(head.subarray(start, start + len));
  // The header is a Python dict literal; read its three keys with patterns, never evaluate it.
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) bad(`cannot read header ${JSON.stringify(text.trim())}`);
  let dtype: NpyHeader['dtype'];
  if (descr === '<f4') dtype = 'float32';
  else if (descr === '<f2') dtype = 'float16';
  else if (descr === '>f4' || descr === '>f2') return bad(`big-endian dtype ${descr}; save it as little-endian ('<f4' or '<f2')`);
  else return bad(`dtype ${descr}; only float16 '<f2' and float32 '<f4' are supported`);
  if (fortran === 'True') bad('Fortran (column-major) order; save with np.ascontiguousarray');
  const dims = shapeText!.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (dims.length !== 2) bad(`shape (${shapeText}) is ${dims.length}-D; embeddings must be 2-D [rows, dim]`);
  const [rows, cols] = dims.map((d) => (/^\d+$/.test(d) ? Number(d) : NaN));
  if (!Number.isSafeInteger(rows) || !Number.isSafeInteger(cols) || cols === 0) bad(`invalid shape (${shapeText})`);
  return { dtype, rows, cols, dataOffset: start + len };
}

/** An open `.npy` matrix read in row ranges. */
export interface NpyReader {
  readonly file: string;
  readonly header: NpyHeader;
  /** Rows [start, start + count) as float32, row-major. */
  readRows(start: number, count: number): Promise<Float32Array>;
  close(): Promise<void>;
}

/** Open a `.npy` file, validate its header and that its size matches the shape. */
export async function openNpy(file: string): Promise<NpyReader> {
  let fh: FileHandle;
  try {
    fh = await fs.open(file, 'r');
  } catch (err) {
    throw new SailError(`cannot open: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file });
  }
  try {
    const size = (await fh.stat()).size;
    let want = 12;
    let header: NpyHeader | undefined;
    for (let tries = 0; tries < 2 && !header; tries++) {
      const buf = Buffer.alloc(Math.min(want, size));
      await fh.read(buf, 0, buf.length, 0);
      const r = parseNpyHeader(buf, file);
      if ('need' in r) {
        if (r.need > size) throw new SailError(`truncated header (file is ${size} bytes, header needs ${r.need})`, { file });
        want = r.need;
      } else header = r;
    }
    if (!header) throw new SailError('cannot read the .npy header', { file });
    const bytes = header.dtype === 'float16' ? 2 : 4;
    const expect = header.dataOffset + header.rows * header.cols * bytes;
    if (size !== expect) {
      throw new SailError(`file is ${size} bytes but shape (${header.rows}, ${header.cols}) ${header.dtype} needs ${expect}: truncated or padded`, { file });
    }
    const h = header;
    return {
      file,
      header: h,
      async readRows(start, count) {
        const buf = Buffer.allocUnsafe(count * h.cols * bytes);
        const { bytesRead } = await fh.read(buf, 0, buf.length, h.dataOffset + start * h.cols * bytes);
        if (bytesRead !== buf.length) throw new SailError(`short read at row ${start}`, { file, row: start });
        const copy = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length);
        return bytes === 2 ? float16ToFloat32(new Uint16Array(copy)) : new Float32Array(copy);
      },
      close: () => fh.close(),
    };
  } catch (err) {
    await fh.close();
    throw err;
  }
}

export interface NpyImportOptions {
  images: string;
  texts: string;
  extraTexts?: string;
  out: string;
  dtype?: StoreDtype;
  imageModel?: string;
  textModel?: string;
  /** Rows per part file (default: about 64 MiB of float32 for the widest modality, 256..16384 rows). */
  rowsPerPart?: number;
  /** Replace a store in `out` that was imported from other inputs (default: refuse). */
  overwrite?: boolean;
  onProgress?: (rowsDone: number, rows: number) => void;
}

/** One store modality read from a block of rows of an opened `.npy` file. */
interface ImportColumn {
  name: string;
  reader: NpyReader;
  /** First file row of this modality (caption set j of k starts at j x n). */
  rowOffset: number;
  model?: string;
}

/**
 * Modality name of caption set `j` of `k` for `base` (`text`, `extra_text`): set 0 keeps the base name,
 * the others get `_2`, `_3`, ... (so `text`, `text_2`, `text_3` for k = 3).
 */
export function captionModality(base: string, j: number): string {
  return j === 0 ? base : `${base}_${j + 1}`;
}

/**
 * Caption sets of a text file with k x n rows for n images, as in the original loader: caption row i
 * describes image i mod n, so rows [j n, (j + 1) n) form caption set j, row-aligned with the images.
 */
function captionColumns(base: string, reader: NpyReader, n: number, model: string | undefined, what: string): ImportColumn[] {
  const rows = reader.header.rows;
  if (n === 0 || rows === 0 || rows % n !== 0) {
    throw new SailError(`has ${rows} rows but the images file has ${n}; row i of every file must be the same sample (${what} may also hold k x ${n} rows: row i describes image i mod ${n})`, { file: reader.file });
  }
  return Array.from({ length: rows / n }, (_, j) => ({ name: captionModality(base, j), reader, rowOffset: j * n, model }));
}

/**
 * Stream `.npy` matrices (row i of each is one sample) into a store, part by part. Rerunning with the
 * same inputs (by content hash) and settings resumes (complete parts are skipped); other inputs are
 * refused unless `overwrite`. Memory is bounded by one part of each modality. A caption file may hold
 * k x n rows for n images (caption row i describes image i mod n, the original's convention): it becomes
 * k caption modalities `text`, `text_2`, ... (`extra_text`, `extra_text_2`, ... for extra captions, which
 * must then have the same k).
 */
export async function importNpy(opts: NpyImportOptions): Promise<StoreManifest> {
  const readers: NpyReader[] = [];
  const open = async (file: string): Promise<NpyReader> => {
    const r = await openNpy(file);
    readers.push(r);
    return r;
  };
  try {
    const images = await open(opts.images);
    const n = images.header.rows;
    const texts = await open(opts.texts);
    if (texts.header.rows !== n && (n === 0 || texts.header.rows % n !== 0)) {
      throw new SailError(`has ${texts.header.rows} rows but ${images.file} has ${n}; row i of every file must be the same sample (or k x ${n} rows: caption row i describes image i mod ${n})`, { file: texts.file });
    }
    const columns: ImportColumn[] = [{ name: 'image', reader: images, rowOffset: 0, model: opts.imageModel }, ...captionColumns('text', texts, n, opts.textModel, '--texts')];
    if (opts.extraTexts) {
      const extra = await open(opts.extraTexts);
      if (extra.header.rows !== texts.header.rows) {
        throw new SailError(`has ${extra.header.rows} rows but ${texts.file} has ${texts.header.rows}; extra caption row i pairs with caption row i`, { file: extra.file });
      }
      if (extra.header.cols !== texts.header.cols) {
        throw new SailError(`extra texts have dim ${extra.header.cols} but texts have ${texts.header.cols} (they go through the same text head)`, { file: extra.file });
      }
      columns.push(...captionColumns('extra_text', extra, n, opts.textModel, '--extra-texts'));
    }
    const rows = n;
    const dtype = opts.dtype ?? 'float16';
    // default: parts of about 64 MiB of float32 for the widest modality (bounded memory while importing)
    const widest = Math.max(...readers.map((r) => r.header.cols));
    const per = opts.rowsPerPart ?? Math.max(256, Math.min(16384, Math.floor(2 ** 26 / (4 * widest))));
    if (!Number.isInteger(per) || per <= 0) throw new SailError(`rowsPerPart must be a positive integer, got ${per}`);
    const files: Record<string, string> = {};
    for (const c of columns) files[c.name] = c.reader.file;
    // one hash per input file (a k x n caption file is one input for k modalities)
    const inputNames: [string, string][] = [['image', opts.images], ['text', opts.texts], ...(opts.extraTexts ? [['extra_text', opts.extraTexts] as [string, string]] : [])];
    const identity: ImportIdentity = {
      inputs: Object.fromEntries(await Promise.all(inputNames.map(async ([name, file]) => [name, await sha256File(file)] as const))),
      dtype, rowsPerPart: per, models: Object.fromEntries(columns.filter((c) => c.model).map((c) => [c.name, c.model!])),
    };
    await prepareImportFolder(opts.out, identity, opts.overwrite === true);
    const writer = await createStoreWriter(opts.out, {
      modalities: columns.map((c) => ({ name: c.name, dim: c.reader.header.cols, dtype, ...(c.model ? { model: c.model } : {}) })),
      meta: { source: 'npy', files, sha256: identity.inputs, ...(columns.some((c) => c.rowOffset > 0) ? { captionSets: columns.filter((c) => c.name.startsWith('text')).length } : {}) },
    });
    const parts = Math.ceil(rows / per);
    for (let p = 0; p < parts; p++) {
      const start = p * per;
      const count = Math.min(per, rows - start);
      if (!writer.hasPart(p)) {
        const data: Record<string, Float32Array> = {};
        for (const c of columns) {
          const block = await c.reader.readRows(c.rowOffset + start, count);
          checkValues(block, c.reader, c.rowOffset + start, dtype);
          data[c.name] = block;
        }
        await writer.writePart(p, data);
      }
      opts.onProgress?.(start + count, rows);
    }
    return await writer.finalize();
  } finally {
    await Promise.all(readers.map((r) => r.close()));
  }
}

/** Every value must be finite, and fit float16 when that is the storage type (it would become Inf). */
function checkValues(block: Float32Array, reader: NpyReader, start: number, dtype: StoreDtype): void {
  const cols = reader.header.cols;
  const limit = dtype === 'float16' ? FLOAT16_MAX : Infinity;
  for (let k = 0; k < block.length; k++) {
    const v = block[k];
    const where = { file: reader.file, row: start + Math.floor(k / cols) };
    if (!Number.isFinite(v)) throw new SailError(`non-finite value ${v} at column ${k % cols}`, where);
    if (Math.abs(v) > limit) {
      throw new SailError(`value ${v} at column ${k % cols} does not fit float16 (largest ${FLOAT16_MAX}); import with --dtype float32`, where);
    }
  }
}

/** What makes two imports the same: input contents and the settings that shape the parts. */
interface ImportIdentity {
  /** sha256 of each input file, by modality. */
  inputs: Record<string, string>;
  dtype: StoreDtype;
  rowsPerPart: number;
  models: Record<string, string>;
}

/** Written before the first part, so a rerun can tell a resume from a different import. */
const IMPORT_FILE = 'import.json';

/** Files a store folder may hold: manifest, import record, parts and the temp files of atomic writes. */
const STORE_FILE = /^(manifest\.json|import\.json|part-\d{5}\.json|part-\d{5}\.[A-Za-z0-9_-]+\.f(16|32)|\..*\.tmp)$/;

/**
 * Make `out` ready for this import: create it, resume an import of the same inputs, or (with
 * `overwrite`) clear a store of other inputs. Anything else is refused, naming what differs.
 */
async function prepareImportFolder(out: string, identity: ImportIdentity, overwrite: boolean): Promise<void> {
  const st = await fs.stat(out).catch(() => null);
  if (st && !st.isDirectory()) throw new SailError('--out exists and is not a folder', { file: out });
  // the writer's own folder lock (`sail store import` takes it before calling this) is not store content
  const entries = st ? (await fs.readdir(out)).filter((e) => !e.startsWith(FOLDER_LOCK)) : [];
  const foreign = entries.filter((e) => !STORE_FILE.test(e));
  if (foreign.length) throw new SailError(`folder is not empty and holds files that are not part of a store (${foreign.slice(0, 3).join(', ')}); choose a new --out`, { file: out });
  const recordPath = join(out, IMPORT_FILE);
  if (entries.length) {
    const diffs = entries.includes(IMPORT_FILE) ? identityDiffs(await readJsonFile(recordPath, 'import record'), identity) : ['it holds a store that was not made by `sail store import` (or by an older version)'];
    if (diffs.length === 0) return;
    if (!overwrite) throw new SailError(`holds a store imported from other inputs (${diffs.join('; ')}); pass --overwrite to replace it, or choose another --out`, { file: out });
    // manifest first, then part JSONs: a half-cleared folder never looks like a complete store
    const order = (e: string) => (e === 'manifest.json' ? 0 : e.endsWith('.json') ? 1 : 2);
    for (const e of [...entries].sort((a, b) => order(a) - order(b))) await fs.rm(join(out, e), { force: true });
  }
  await writeJsonAtomic(recordPath, identity);
}

/** Human-readable differences between a recorded import and this one. */
function identityDiffs(saved: unknown, now: ImportIdentity): string[] {
  const s = (saved ?? {}) as Partial<ImportIdentity>;
  const diffs: string[] = [];
  const names = new Set([...Object.keys(s.inputs ?? {}), ...Object.keys(now.inputs)]);
  for (const n of names) {
    const a = s.inputs && Object.hasOwn(s.inputs, n) ? s.inputs[n] : undefined;
    const b = Object.hasOwn(now.inputs, n) ? now.inputs[n] : undefined;
    if (a !== b) diffs.push(`${n} input: sha256 ${a ? a.slice(0, 12) : '(none)'} before, ${b ? b.slice(0, 12) : '(none)'} now`);
  }
  if (s.dtype !== now.dtype) diffs.push(`dtype: ${s.dtype} before, ${now.dtype} now`);
  if (s.rowsPerPart !== now.rowsPerPart) diffs.push(`rows per part: ${s.rowsPerPart} before, ${now.rowsPerPart} now`);
  if (JSON.stringify(s.models ?? {}) !== JSON.stringify(now.models)) diffs.push(`backbone ids: ${JSON.stringify(s.models ?? {})} before, ${JSON.stringify(now.models)} now`);
  return diffs;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await new Promise<void>((resolve, reject) => {
    createReadStream(path).on('data', (c) => hash.update(c)).on('end', () => resolve()).on('error', reject);
  });
  return hash.digest('hex');
}
