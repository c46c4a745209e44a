// `sail data split`: a seeded train/test split of a shard folder, by groups of related files, written as two
// shard folders that `sail encode` reads directly.
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../util/atomic.js';
import { lockFolder } from '../util/lease.js';
import { SailError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { readWds, type WdsSample } from './wds.js';
import { sampleKey, writeShard, writeSummary, type DataSummary, type ShardSample, type StatusEntry } from './shards.js';

/** Which samples must land on the same side of the split. */
export type SplitGroupBy =
  /** Same folder and same name stem (`cats/tabby.png`, `cats/tabby_2.jpg`, `cats/Tabby-03.svg`). */
  | 'stem'
  /** Same folder (`cats/*`). */
  | 'folder'
  /** Every sample on its own. */
  | 'none';

/** Options of {@link splitShards}. */
export interface SplitOptions {
  /** Shard folder written by `sail data import` or `sail download`. */
  input: string;
  /** Gets `train/` and `test/` shard folders and `split.json`. */
  output: string;
  /** Fraction of samples (0 < f < 1) to hold out; whole groups move, so the count is approximate. */
  testFraction: number;
  seed: number;
  groupBy: SplitGroupBy;
  /** Samples per output shard (default 1000). */
  shardSize?: number;
}

/** What {@link splitShards} wrote. */
export interface SplitResult {
  output: string;
  train: { dir: string; rows: number; groups: number };
  test: { dir: string; rows: number; groups: number };
  groupBy: SplitGroupBy;
  seed: number;
  testFraction: number;
  /** True when an identical earlier split was found and reused. */
  reused: boolean;
}

/** Where a sample came from: the imported path or the URL, as recorded in its `key.json`. */
function sourceOf(s: WdsSample): string {
  const u = s.json?.url;
  return typeof u === 'string' ? u : s.key;
}

/**
 * Group key of a source path or URL: folder + stem, lower-cased, with trailing copy numbers removed, so
 * `a/Cat.png`, `a/cat_2.jpg` and `a/cat-03.svg` share `a/cat` ('stem'); or just the folder ('folder').
 */
export function groupKey(source: string, groupBy: SplitGroupBy): string {
  if (groupBy === 'none') return source;
  const path = source.replace(/[?#].*$/, '');
  const slash = path.lastIndexOf('/');
  const folder = slash >= 0 ? path.slice(0, slash) : '';
  if (groupBy === 'folder') return folder;
  const name = path.slice(slash + 1).toLowerCase();
  const dot = name.indexOf('.');
  let stem = dot > 0 ? name.slice(0, dot) : name;
  for (let prev = ''; prev !== stem;) {
    prev = stem;
    stem = stem.replace(/[\s_-]*(\d+|copy)$/, '');
  }
  return `${folder}/${stem || name}`;
}

/** Assign whole groups to the test side in a seeded random order until it holds round(f * rows) samples. */
export function assignGroups(groupSizes: Map<string, number>, testFraction: number, seed: number): Set<string> {
  const keys = [...groupSizes.keys()].sort();
  const total = keys.reduce((a, k) => a + groupSizes.get(k)!, 0);
  const target = Math.max(1, Math.round(total * testFraction));
  const perm = new Rng(seed).permutation(keys.length);
  const test = new Set<string>();
  let n = 0;
  for (const i of perm) {
    if (n >= target || test.size === keys.length - 1) break;
    test.add(keys[i]);
    n += groupSizes.get(keys[i])!;
  }
  return test;
}

interface SideWriter {
  dir: string;
  rows: number;
  groups: Set<string>;
  buffer: ShardSample[];
  status: StatusEntry[];
  shards: number;
}

/**
 * Split a shard folder into `OUT/train` and `OUT/test` (each a complete shard folder with dataset.json,
 * status files and summary.json). Deterministic in (input, fraction, seed, groupBy). Shards are written
 * atomically and `split.json` last, so a killed run is redone and a finished one is reused.
 */
export async function splitShards(o: SplitOptions): Promise<SplitResult> {
  if (!(o.testFraction > 0 && o.testFraction < 1)) throw new SailError(`--test-fraction must be between 0 and 1 (exclusive), got ${o.testFraction}`);
  const shardSize = o.shardSize ?? 1000;
  const params = { input: o.input, testFraction: o.testFraction, seed: o.seed, groupBy: o.groupBy, shardSize };
  // one writer per output folder: a second split into it is refused, naming the holder
  const lease = await lockFolder(o.output, 'sail data split');
  try {
    return await splitLocked(o, params, shardSize);
  } finally {
    await lease.release();
  }
}

async function splitLocked(o: SplitOptions, params: Record<string, unknown>, shardSize: number): Promise<SplitResult> {
  const marker = join(o.output, 'split.json');
  if (existsSync(marker)) {
    const prev = JSON.parse(await fs.readFile(marker, 'utf8')) as SplitResult & { params: unknown };
    if (JSON.stringify(prev.params) !== JSON.stringify(params)) throw new SailError(`holds a different split (${JSON.stringify(prev.params)}); choose another --out`, { file: marker });
    return { ...prev, reused: true };
  }
  // Pass 1: group sizes (metadata only is kept).
  const sizes = new Map<string, number>();
  for await (const s of readWds(o.input)) {
    const g = groupKey(sourceOf(s), o.groupBy);
    sizes.set(g, (sizes.get(g) ?? 0) + 1);
  }
  if (sizes.size < 2) throw new SailError(`has ${sizes.size} group(s) under --group-by ${o.groupBy}; a split needs at least 2 (try --group-by none)`, { file: o.input });
  const testGroups = assignGroups(sizes, o.testFraction, o.seed);

  // Pass 2: stream samples into the two folders, renumbered from 0 in input order.
  const side = (name: string): SideWriter => ({ dir: join(o.output, name), rows: 0, groups: new Set(), buffer: [], status: [], shards: 0 });
  const train = side('train');
  const test = side('test');
  const meta = { source: 'split', input: o.input, testFraction: o.testFraction, seed: o.seed, groupBy: o.groupBy };
  for (const w of [train, test]) {
    await fs.rm(w.dir, { recursive: true, force: true });
    await fs.mkdir(w.dir, { recursive: true });
    await writeJsonAtomic(join(w.dir, 'dataset.json'), { format: 'sail-wds', version: 1, shardSize, ...meta, side: w === train ? 'train' : 'test' });
  }
  const flush = async (w: SideWriter) => {
    await writeShard(w.dir, w.shards++, w.buffer, w.status);
    w.buffer = [];
    w.status = [];
  };
  for await (const s of readWds(o.input)) {
    const g = groupKey(sourceOf(s), o.groupBy);
    const w = testGroups.has(g) ? test : train;
    const key = sampleKey(w.rows);
    w.groups.add(g);
    w.buffer.push({ key, jpg: s.image, txt: s.text, json: { ...(s.json ?? {}), key, row: w.rows, source_key: s.key, split_group: g } });
    w.status.push({ row: w.rows, key, url: sourceOf(s), status: 'ok', outputBytes: s.image.length });
    w.rows++;
    if (w.buffer.length === shardSize) await flush(w);
  }
  const summaries: DataSummary[] = [];
  for (const w of [train, test]) {
    if (w.buffer.length) await flush(w);
    summaries.push(await writeSummary(w.dir, shardSize, { ...meta, side: w === train ? 'train' : 'test' }));
  }
  const result: SplitResult = {
    output: o.output,
    train: { dir: train.dir, rows: summaries[0].ok, groups: train.groups.size },
    test: { dir: test.dir, rows: summaries[1].ok, groups: test.groups.size },
    groupBy: o.groupBy, seed: o.seed, testFraction: o.testFraction, reused: false,
  };
  await writeJsonAtomic(marker, { ...result, params });
  return result;
}
