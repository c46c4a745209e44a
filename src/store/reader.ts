// Reading an embedding store: validated manifest, batched positioned reads, checksums.
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, promises as fs, readSync } from 'node:fs';
import { join } from 'node:path';
import { SailError } from '../util/errors.js';
import { float16ToFloat32 } from '../util/fp16.js';
import {
  MANIFEST, dtypeBytes, readJsonFile, validateManifest, validatePartInfo,
  type StoreDtype, type StoreManifest,
} from './format.js';

export interface EmbeddingStore {
  readonly dir: string;
  readonly rows: number;
  readonly manifest: StoreManifest;
  modalities(): string[];
  dim(name: string): number;
  dtype(name: string): StoreDtype;
  model(name: string): string | undefined;
  /**
   * Gather rows (any order, duplicates allowed) into `out` as float32 [indices.length, dim].
   * Reads are positioned and coalesced over sorted contiguous runs; non-finite values throw.
   */
  readRows(name: string, indices: ArrayLike<number>, out?: Float32Array): Promise<Float32Array>;
  /** Rows [start, start + count). */
  readRange(name: string, start: number, count: number, out?: Float32Array): Promise<Float32Array>;
  /** Recompute every file's sha256; throws a SailError naming the first bad file. */
  verify(onFile?: (file: string, done: number, total: number) => void): Promise<{ files: number; bytes: number }>;
  close(): Promise<void>;
}

interface PartFile { path: string; sha256: string }

/** Merge reads separated by at most this many bytes: one larger read beats two syscalls. */
const GAP_BYTES = 4096;
/** Cap on cached open file handles. */
const MAX_HANDLES = 64;

/**
 * Open a store and validate it: manifest and part JSONs parse, every data file has exactly
 * rows x dim x bytes bytes, and all modalities have the same rows. Data is not read.
 */
export async function openStore(dir: string): Promise<EmbeddingStore> {
  const manifestPath = join(dir, MANIFEST);
  const manifest = validateManifest(await readJsonFile(manifestPath, 'store manifest'), manifestPath);
  const names = Object.keys(manifest.modalities);
  const files: Record<string, PartFile[]> = Object.fromEntries(names.map((n) => [n, []]));
  const starts = new Float64Array(manifest.parts.length + 1);
  for (let p = 0; p < manifest.parts.length; p++) {
    const part = manifest.parts[p];
    const jsonPath = join(dir, `${part.name}.json`);
    const info = validatePartInfo(await readJsonFile(jsonPath, 'part file'), jsonPath, names);
    if (info.rows !== part.rows) throw new SailError(`part holds ${info.rows} rows but the manifest says ${part.rows}`, { file: jsonPath });
    for (const name of names) {
      const { dim, dtype } = manifest.modalities[name];
      const path = join(dir, info.files[name].file);
      const want = part.rows * dim * dtypeBytes(dtype);
      const st = await fs.stat(path).catch(() => null);
      if (!st) throw new SailError(`data file of modality ${name} is missing`, { file: path });
      if (st.size !== want) {
        const got = st.size / (dim * dtypeBytes(dtype));
        throw new SailError(
          `truncated or mismatched data file: ${st.size} bytes, expected ${want} (${part.rows} rows x dim ${dim} x ${dtypeBytes(dtype)} bytes)` +
          (Number.isInteger(got) ? `; it holds ${got} rows, other modalities ${part.rows}` : '; size is not a whole number of rows (wrong dim?)'),
          { file: path });
      }
      files[name].push({ path, sha256: info.files[name].sha256 });
    }
    starts[p + 1] = starts[p] + part.rows;
  }

  // Open descriptors, least recently used first (Map order). Reads are synchronous and never overlap,
  // so evicting the oldest is always safe.
  const handles = new Map<string, number>();
  const handle = (path: string): number => {
    let fd = handles.get(path);
    if (fd !== undefined) {
      handles.delete(path);
      handles.set(path, fd);
      return fd;
    }
    if (handles.size >= MAX_HANDLES) {
      const [oldPath, oldFd] = handles.entries().next().value as [string, number];
      handles.delete(oldPath);
      closeSync(oldFd);
    }
    fd = openSync(path, 'r');
    handles.set(path, fd);
    return fd;
  };
  let scratch = new ArrayBuffer(1 << 16);

  const spec = (name: string) => {
    const s = manifest.modalities[name];
    if (!s) throw new SailError(`store has no modality ${JSON.stringify(name)} (it has ${names.join(', ')})`, { file: manifestPath });
    return s;
  };

  /** Index of the part holding global row r (binary search over part starts). */
  const partOf = (r: number): number => {
    let lo = 0;
    let hi = manifest.parts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= r) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };

  interface Run { part: number; first: number; last: number; members: number[] }

  async function gather(name: string, indices: ArrayLike<number>, out: Float32Array): Promise<void> {
    const { dim, dtype } = spec(name);
    const n = indices.length;
    const bytes = dtypeBytes(dtype);
    const rowBytes = dim * bytes;
    const gapRows = Math.floor(GAP_BYTES / rowBytes);
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const r = indices[i];
      if (!Number.isInteger(r) || r < 0 || r >= manifest.rows) throw new SailError(`row index ${r} out of range 0..${manifest.rows - 1}`, { file: manifestPath });
      order[i] = i;
    }
    order.sort((a, b) => indices[a] - indices[b]);
    // Coalesce sorted indices into runs within one part file.
    const runs: Run[] = [];
    let cur: Run | null = null;
    for (let k = 0; k < n; k++) {
      const pos = order[k];
      const r = indices[pos];
      if (cur && r <= cur.last + 1 + gapRows && r < starts[cur.part + 1]) {
        cur.last = Math.max(cur.last, r);
        cur.members.push(pos);
      } else {
        cur = { part: partOf(r), first: r, last: r, members: [pos] };
        runs.push(cur);
      }
    }
    // Synchronous preads: from the page cache a pread costs a few microseconds, while a libuv
    // round trip per row costs tens; the engine computes on its own threads meanwhile.
    for (const run of runs) {
      const file = files[name][run.part];
      const count = run.last - run.first + 1;
      const len = count * rowBytes;
      if (scratch.byteLength < len) scratch = new ArrayBuffer(Math.max(len, scratch.byteLength * 2));
      const view = new Uint8Array(scratch, 0, len);
      const position = (run.first - starts[run.part]) * rowBytes;
      let got = 0;
      while (got < len) {
        const r = readSync(handle(file.path), view, got, len - got, position + got);
        if (r === 0) throw new SailError(`short read (${got} of ${len} bytes): file changed since open?`, { file: file.path });
        got += r;
      }
      for (const pos of run.members) {
        const off = (indices[pos] - run.first) * rowBytes;
        const dst = out.subarray(pos * dim, (pos + 1) * dim);
        if (bytes === 2) float16ToFloat32(new Uint16Array(scratch, off, dim), dst as Float32Array<ArrayBuffer>);
        else dst.set(new Float32Array(scratch, off, dim));
        for (let j = 0; j < dim; j++) {
          if (!Number.isFinite(dst[j])) {
            throw new SailError(`non-finite value ${dst[j]} in modality ${name} (column ${j})`, { file: file.path, row: indices[pos] });
          }
        }
      }
    }
  }

  const readRows = async (name: string, indices: ArrayLike<number>, out?: Float32Array): Promise<Float32Array> => {
    const dim = spec(name).dim;
    const dst = out ?? new Float32Array(indices.length * dim);
    if (dst.length < indices.length * dim) throw new SailError(`output buffer holds ${dst.length} values, need ${indices.length * dim}`);
    await gather(name, indices, dst);
    return dst;
  };

  return {
    dir,
    rows: manifest.rows,
    manifest,
    modalities: () => [...names],
    dim: (name) => spec(name).dim,
    dtype: (name) => spec(name).dtype,
    model: (name) => spec(name).model,
    readRows,
    async readRange(name, start, count, out) {
      if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > manifest.rows) {
        throw new SailError(`row range ${start}+${count} out of range 0..${manifest.rows}`, { file: manifestPath });
      }
      const idx = new Uint32Array(count);
      for (let i = 0; i < count; i++) idx[i] = start + i;
      return readRows(name, idx, out);
    },
    async verify(onFile) {
      const all = names.flatMap((n) => files[n]);
      let bytes = 0;
      for (let i = 0; i < all.length; i++) {
        const f = all[i];
        const hash = createHash('sha256');
        await new Promise<void>((resolve, reject) => {
          createReadStream(f.path)
            .on('data', (c) => { hash.update(c); bytes += c.length; })
            .on('end', () => resolve())
            .on('error', reject);
        });
        const got = hash.digest('hex');
        if (got !== f.sha256) throw new SailError(`checksum mismatch: sha256 ${got}, part file says ${f.sha256}`, { file: f.path });
        onFile?.(f.path, i + 1, all.length);
      }
      return { files: all.length, bytes };
    },
    async close() {
      for (const fd of handles.values()) closeSync(fd);
      handles.clear();
    },
  };
}
