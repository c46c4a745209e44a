// WebDataset shard files on disk: names, the completion rule, atomic writing of a shard (tar, then its
// status file as the completion marker) and the summary rebuilt from status files.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import tar from 'tar-stream';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { SailError } from '../util/errors.js';

/** Digits of shard numbers in file names (`00000.tar`). */
export const SHARD_DIGITS = 5;
/** Digits of sample keys (zero-padded row index). */
export const KEY_DIGITS = 9;

/** `00012` for shard 12. */
export function shardName(k: number): string {
  return String(k).padStart(SHARD_DIGITS, '0');
}

/** Stable sample key of a row: its zero-padded index. */
export function sampleKey(rowIndex: number): string {
  return String(rowIndex).padStart(KEY_DIGITS, '0');
}

/** Paths of shard k inside `dir`. */
export function shardPaths(dir: string, k: number): { tar: string; status: string } {
  const n = shardName(k);
  return { tar: join(dir, `${n}.tar`), status: join(dir, `${n}.status.jsonl`) };
}

/** `i/n` work split: shard k belongs to worker i when k % n == i. */
export interface ShardSplit {
  index: number;
  count: number;
}

/** Parse `i/n` (0 <= i < n). */
export function parseShardSplit(text: string): ShardSplit {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) throw new SailError(`--shard must look like i/n (for example 0/4), got "${text}"`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index >= count) throw new SailError(`--shard ${text}: need 0 <= i < n`);
  return { index, count };
}

/** Whether shard k is this worker's. */
export function ownsShard(k: number, split?: ShardSplit): boolean {
  return !split || k % split.count === split.index;
}

/** One line of a shard's status file. */
export interface StatusEntry {
  row: number;
  key: string;
  url?: string;
  status: 'ok' | 'failed';
  /** Failure reason code (see docs/data.md), on failed rows. */
  error?: string;
  /** Human-readable detail of the failure. */
  message?: string;
  /** Bytes downloaded / read. */
  bytes?: number;
  /** Bytes of the re-encoded JPEG. */
  outputBytes?: number;
  width?: number;
  height?: number;
  originalWidth?: number;
  originalHeight?: number;
}

/** One sample to store: `key.jpg`, optional `key.txt`, and `key.json`. */
export interface ShardSample {
  key: string;
  jpg: Buffer;
  txt?: string;
  json: Record<string, unknown>;
}

/** Shard numbers whose status file exists (complete shards) in `dir`. */
export async function completedShards(dir: string): Promise<Set<number>> {
  const done = new Set<number>();
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return done;
  }
  for (const n of names) {
    const m = /^(\d+)\.status\.jsonl$/.exec(n);
    if (m) done.add(Number(m[1]));
  }
  return done;
}

/** Remove temp files a killed run left for shards this worker owns (others may be in use by other workers). */
export async function removeStaleTemps(dir: string, split?: ShardSplit): Promise<number> {
  let removed = 0;
  for (const n of await fs.readdir(dir).catch(() => [] as string[])) {
    const m = /^\.(\d+)\.(tar|status\.jsonl)\..*\.tmp$/.exec(n);
    if (m && ownsShard(Number(m[1]), split)) {
      await fs.rm(join(dir, n), { force: true });
      removed++;
    }
  }
  return removed;
}

/** Fixed metadata of tar members, so that reruns produce identical bytes. */
const MTIME = new Date(0);

/** Pack samples into an in-memory tar (members in the given order). */
export async function packTar(samples: ShardSample[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => { chunks.push(c as Buffer); });
  const ended = new Promise<void>((resolve, reject) => { pack.on('end', resolve); pack.on('error', reject); });
  const add = (name: string, data: Buffer | string) =>
    new Promise<void>((resolve, reject) => pack.entry({ name, mtime: MTIME, mode: 0o644 }, data, (err) => (err ? reject(err) : resolve())));
  for (const s of samples) {
    await add(`${s.key}.jpg`, s.jpg);
    if (s.txt !== undefined) await add(`${s.key}.txt`, s.txt);
    await add(`${s.key}.json`, JSON.stringify(s.json));
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/**
 * Write shard k: the tar first, then the status file, each atomically. The status file is the completion
 * marker, so a crash between the two leaves an incomplete shard that the next run redoes.
 */
export async function writeShard(dir: string, k: number, samples: ShardSample[], status: StatusEntry[]): Promise<void> {
  const p = shardPaths(dir, k);
  await writeFileAtomic(p.tar, await packTar(samples));
  await writeFileAtomic(p.status, status.map((s) => JSON.stringify(s)).join('\n') + (status.length ? '\n' : ''));
}

/** Totals over all complete shards of a folder. */
export interface DataSummary {
  format: 'sail-wds';
  version: 1;
  shardSize: number;
  completedShards: number;
  rows: number;
  ok: number;
  failed: number;
  failedByReason: Record<string, number>;
  /** Whatever the writer recorded (input, columns, image options...). */
  meta: Record<string, unknown>;
}

/** Read one status file. */
export async function readStatus(path: string): Promise<StatusEntry[]> {
  const text = await fs.readFile(path, 'utf8');
  const out: StatusEntry[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    try {
      out.push(JSON.parse(line) as StatusEntry);
    } catch {
      throw new SailError('bad JSON in status file', { file: path, row: i + 1 });
    }
  });
  return out;
}

/** Rebuild `summary.json` from every status file in `dir`, write it atomically, and return it. */
export async function writeSummary(dir: string, shardSize: number, meta: Record<string, unknown>): Promise<DataSummary> {
  const s: DataSummary = { format: 'sail-wds', version: 1, shardSize, completedShards: 0, rows: 0, ok: 0, failed: 0, failedByReason: {}, meta };
  for (const k of [...(await completedShards(dir))].sort((a, b) => a - b)) {
    s.completedShards++;
    for (const e of await readStatus(shardPaths(dir, k).status)) {
      s.rows++;
      if (e.status === 'ok') s.ok++;
      else {
        s.failed++;
        const r = e.error ?? 'unknown';
        s.failedByReason[r] = (s.failedByReason[r] ?? 0) + 1;
      }
    }
  }
  await writeJsonAtomic(join(dir, 'summary.json'), s);
  return s;
}
