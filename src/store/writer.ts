// Resumable, atomic writer of embedding-store parts; the manifest is rebuilt from the part JSONs.
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { SailError } from '../util/errors.js';
import { FLOAT16_MAX, float32ToFloat16 } from '../util/fp16.js';
import {
  MANIFEST, checkModalityName, dtypeBytes, dtypeExt, partName, readJsonFile, validatePartInfo,
  type ModalitySpec, type PartInfo, type StoreManifest,
} from './format.js';

export interface StoreWriterOptions {
  modalities: ModalitySpec[];
  meta?: Record<string, unknown>;
}

export interface StoreWriter {
  readonly dir: string;
  /** True when part `index` is already complete on disk (its JSON exists), so a resumed job can skip it. */
  hasPart(index: number): boolean;
  /** Write one part: every modality's rows, row-major float32 [n, dim]. Data files first, part JSON last. */
  writePart(index: number, rowsByModality: Record<string, Float32Array>): Promise<PartInfo>;
  /** Rebuild `manifest.json` from the part JSONs (parts must be contiguous from 0). */
  finalize(): Promise<StoreManifest>;
}

/**
 * Create (or reopen, to resume) a store writer in `dir`. Parts may be written in any order; each
 * is atomic, and `finalize()` orders them.
 */
export async function createStoreWriter(dir: string, opts: StoreWriterOptions): Promise<StoreWriter> {
  if (opts.modalities.length === 0) throw new SailError('a store needs at least one modality', { file: dir });
  const seen = new Set<string>();
  for (const m of opts.modalities) {
    checkModalityName(m.name, dir);
    if (seen.has(m.name)) throw new SailError(`duplicate modality ${m.name}`, { file: dir });
    seen.add(m.name);
    if (!Number.isInteger(m.dim) || m.dim <= 0) throw new SailError(`modality ${m.name}: dim must be a positive integer`, { file: dir });
    if (m.dtype !== 'float16' && m.dtype !== 'float32') throw new SailError(`modality ${m.name}: dtype must be float16 or float32`, { file: dir });
  }
  await fs.mkdir(dir, { recursive: true });
  const names = opts.modalities.map((m) => m.name);
  const partJson = (i: number) => join(dir, `${partName(i)}.json`);

  return {
    dir,
    hasPart(index) {
      return existsSync(partJson(index));
    },
    async writePart(index, rowsByModality) {
      if (!Number.isInteger(index) || index < 0 || index > 99999) throw new SailError(`part index ${index} out of range 0..99999`, { file: dir });
      let rows = -1;
      for (const m of opts.modalities) {
        const data = Object.hasOwn(rowsByModality, m.name) ? rowsByModality[m.name] : undefined;
        if (!data) throw new SailError(`part ${index}: no rows given for modality ${m.name}`, { file: dir });
        if (data.length % m.dim !== 0) throw new SailError(`part ${index}: ${m.name} has ${data.length} values, not a multiple of dim ${m.dim}`, { file: dir });
        const n = data.length / m.dim;
        if (rows >= 0 && n !== rows) throw new SailError(`part ${index}: ${m.name} has ${n} rows but other modalities have ${rows}`, { file: dir });
        rows = n;
        const limit = m.dtype === 'float16' ? FLOAT16_MAX : Infinity;
        for (let i = 0; i < data.length; i++) {
          if (!Number.isFinite(data[i])) {
            throw new SailError(`part ${index}: ${m.name} value is ${data[i]} (NaN/Inf not allowed)`, { file: dir, row: Math.floor(i / m.dim) });
          }
          // float16 would store it as Inf
          if (Math.abs(data[i]) > limit) {
            throw new SailError(`part ${index}: ${m.name} value ${data[i]} is outside the float16 range (|x| <= ${FLOAT16_MAX}); store it as float32`, { file: dir, row: Math.floor(i / m.dim) });
          }
        }
      }
      for (const name of Object.keys(rowsByModality)) {
        if (!seen.has(name)) throw new SailError(`part ${index}: unknown modality ${name}`, { file: dir });
      }
      const info: PartInfo = { rows, files: {} };
      for (const m of opts.modalities) {
        const data = rowsByModality[m.name];
        const bytes = m.dtype === 'float16'
          ? new Uint8Array(float32ToFloat16(data).buffer)
          : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
        const file = `${partName(index)}.${m.name}.${dtypeExt(m.dtype)}`;
        await writeFileAtomic(join(dir, file), bytes);
        info.files[m.name] = { file, sha256: createHash('sha256').update(bytes).digest('hex'), dim: m.dim, dtype: m.dtype };
      }
      await writeJsonAtomic(partJson(index), info);
      return info;
    },
    async finalize() {
      const entries = await fs.readdir(dir);
      const indices = entries
        .map((e) => /^part-(\d{5})\.json$/.exec(e))
        .filter((x): x is RegExpExecArray => x !== null)
        .map((x) => Number(x[1]))
        .sort((a, b) => a - b);
      const parts: StoreManifest['parts'] = [];
      let total = 0;
      for (let k = 0; k < indices.length; k++) {
        if (indices[k] !== k) throw new SailError(`part ${partName(k)} is missing (found ${partName(indices[k])})`, { file: partJson(k) });
        const info = validatePartInfo(await readJsonFile(partJson(k), 'part file'), partJson(k), names);
        for (const m of opts.modalities) {
          const path = join(dir, info.files[m.name].file);
          const want = info.rows * m.dim * dtypeBytes(m.dtype);
          const st = await fs.stat(path).catch(() => null);
          if (!st) throw new SailError('data file missing', { file: path });
          if (st.size !== want) throw new SailError(`data file is ${st.size} bytes, expected ${want} (${info.rows} rows x ${m.dim} x ${dtypeBytes(m.dtype)})`, { file: path });
        }
        parts.push({ name: partName(k), rows: info.rows });
        total += info.rows;
      }
      const manifest: StoreManifest = {
        format: 'sail-store',
        version: 1,
        rows: total,
        modalities: Object.fromEntries(opts.modalities.map((m) => [m.name, { dim: m.dim, dtype: m.dtype, ...(m.model ? { model: m.model } : {}) }])),
        parts,
        ...(opts.meta ? { meta: opts.meta } : {}),
      };
      await writeJsonAtomic(join(dir, MANIFEST), manifest);
      return manifest;
    },
  };
}
