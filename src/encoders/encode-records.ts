// Book-keeping of an encode run inside the store folder: the run settings (checked on resume), one record
// per part (kept source rows + errors), the merged errors.jsonl and the row-id meta written at finalize.
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { SailError } from '../util/errors.js';
import { isAlive } from '../util/lease.js';

/** One dropped row. */
export interface RowError {
  row: number;
  file: string;
  reason: string;
}

/** `encode/part-XXXXX.json`: written before the store part, so a complete store part always has one. */
export interface PartRecord {
  /** Source row ids kept in this part, in store order. */
  rows: number[];
  errors: RowError[];
}

export const RECORD_DIR = 'encode';

/** Path of a part's record. */
export function recordPath(out: string, index: number): string {
  return join(out, RECORD_DIR, `part-${String(index).padStart(5, '0')}.json`);
}

/**
 * Record the run settings on first start; on resume they must match, otherwise rows from two different
 * runs would be mixed in one store.
 */
export async function checkRunSettings(out: string, settings: Record<string, unknown>): Promise<void> {
  const path = join(out, RECORD_DIR, 'settings.json');
  const want = JSON.stringify(settings);
  if (existsSync(path)) {
    const have = JSON.stringify(JSON.parse(await fs.readFile(path, 'utf8')));
    if (have !== want) throw new SailError(`this store was started with different encode settings: ${have} (now ${want}); use a new --out folder`, { file: path });
    return;
  }
  // parts without settings were not written by an encode run: resuming would mistake them for ours
  if (existsSync(out) && (await fs.readdir(out)).some((n) => n === 'manifest.json' || /^part-\d{5}\.json$/.test(n))) {
    throw new SailError('folder already holds a store that `sail encode` did not start; use a new --out folder', { file: out });
  }
  await writeJsonAtomic(path, settings);
}

/** Write a part's record atomically. */
export async function writePartRecord(out: string, index: number, rec: PartRecord): Promise<void> {
  await writeJsonAtomic(recordPath(out, index), rec);
}

/** Read a part's record. */
export async function readPartRecord(out: string, index: number): Promise<PartRecord> {
  const path = recordPath(out, index);
  try {
    const r = JSON.parse(await fs.readFile(path, 'utf8')) as PartRecord;
    if (!Array.isArray(r.rows) || !Array.isArray(r.errors)) throw new Error('rows/errors missing');
    return r;
  } catch (err) {
    throw new SailError(`corrupt encode record: ${(err as Error).message}`, { file: path });
  }
}

/** Compress sorted row ids into half-open ranges [start, end). */
export function toRanges(rows: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const r of rows) {
    const last = out[out.length - 1];
    if (last && last[1] === r) last[1] = r + 1;
    else out.push([r, r + 1]);
  }
  return out;
}

/** Expand ranges back to ids. */
export function fromRanges(ranges: [number, number][]): number[] {
  const out: number[] = [];
  for (const [a, b] of ranges) for (let r = a; r < b; r++) out.push(r);
  return out;
}

/**
 * Merge the records of parts 0..parts-1: writes `errors.jsonl` (one JSON line per dropped row, in row
 * order) and returns the meta for the manifest (`sourceRows` as ranges of kept source row ids).
 */
export async function mergeRecords(out: string, parts: number, totalRows: number): Promise<{ keptRows: [number, number][]; dropped: number; sourceRows: number }> {
  const kept: number[] = [];
  const lines: string[] = [];
  for (let i = 0; i < parts; i++) {
    const rec = await readPartRecord(out, i);
    kept.push(...rec.rows);
    for (const e of rec.errors) lines.push(JSON.stringify(e));
  }
  await writeFileAtomic(join(out, 'errors.jsonl'), lines.length ? lines.join('\n') + '\n' : '');
  return { keptRows: toRanges(kept), dropped: lines.length, sourceRows: totalRows };
}

/**
 * Remove temp files (`.<name>.<pid>.<n>.tmp`) left by writers that were killed. Files of a process that
 * is still alive on this machine are left alone, and so are files younger than `minAgeMs`: with shards
 * on several machines sharing the folder, a pid that is dead here may be alive there.
 */
export async function removeStaleTemps(dir: string, minAgeMs = 0): Promise<number> {
  if (!existsSync(dir)) return 0;
  let removed = 0;
  for (const name of await fs.readdir(dir)) {
    const m = /^\..+\.(\d+)\.\d+\.tmp$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && isAlive(pid)) continue;
    const st = await fs.stat(join(dir, name)).catch(() => undefined);
    if (!st || Date.now() - st.mtimeMs < minAgeMs) continue;
    await fs.rm(join(dir, name), { force: true });
    removed += 1;
  }
  return removed;
}
