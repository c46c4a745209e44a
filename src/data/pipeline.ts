// The shard pipeline shared by `sail download` and `sail data import`: rows are cut into fixed ranges
// (shard k = rows [k*S, (k+1)*S)), each row is loaded and normalised with bounded concurrency, and each
// shard is written atomically once all its rows are settled. Completed shards are skipped on rerun.
import { join } from 'node:path';
import { SailError } from '../util/errors.js';
import { lockSlot, withLease } from '../util/lease.js';
import { checkDatasetConfig, identityTag } from './dataset-config.js';
import { ImageRejected, processImage, type ImageOptions } from './image.js';
import { completedShards, ownsShard, removeStaleTemps, sampleKey, writeShard, writeSummary, type DataSummary, type ShardSample, type ShardSplit, type StatusEntry } from './shards.js';

/** A row to turn into a sample: `ref` is a URL or a file path. */
export interface SourceRow {
  index: number;
  ref?: string;
  captions: Record<string, string>;
  /** Extra fields copied into `key.json` (e.g. a folder label). */
  extra?: Record<string, unknown>;
  /** Set on unusable rows; recorded as failure reason `errorReason` (default `invalid_row`). */
  error?: string;
  errorReason?: string;
}

/** Result of loading a row's bytes. */
export type LoadResult = { ok: true; body: Buffer; finalRef?: string } | { ok: false; reason: string; message: string };

/** Options of {@link runShardPipeline}. */
export interface PipelineOptions {
  output: string;
  shardSize: number;
  concurrency: number;
  split?: ShardSplit;
  image: ImageOptions;
  /** Caption columns in order; the first is written as `key.txt`. */
  captionCols: string[];
  /** Recorded in `dataset.json` and `summary.json` (input, columns, options). */
  meta: Record<string, unknown>;
  /** What must match for a rerun to resume (e.g. the URL list's content hash); see dataset-config.ts. */
  identity?: Record<string, unknown>;
  /** Replace a folder that holds another input or shard size instead of refusing. */
  overwrite?: boolean;
  /** Names the command in lock messages (`sail download`). */
  purpose?: string;
  /** Shards buffered in memory at once (the finished one being written and the next being filled). */
  maxOpenShards?: number;
  onProgress?: (p: PipelineProgress) => void;
}

/** Counters reported while running. */
export interface PipelineProgress {
  /** Rows processed in this run. */
  rows: number;
  ok: number;
  failed: number;
  /** Rows skipped because their shard was already complete or belongs to another worker. */
  skipped: number;
  shardsWritten: number;
  shardsSkipped: number;
}

interface Outcome {
  status: StatusEntry;
  sample?: ShardSample;
}

/** Turn one row into a status entry and, when it succeeds, a sample. Never throws. */
async function processRow(row: SourceRow, load: (row: SourceRow) => Promise<LoadResult>, opts: PipelineOptions): Promise<Outcome> {
  const key = sampleKey(row.index);
  const status: StatusEntry = { row: row.index, key, url: row.ref, status: 'failed' };
  if (row.error !== undefined || row.ref === undefined) {
    status.error = row.errorReason ?? 'invalid_row';
    status.message = row.error ?? 'no URL';
    return { status };
  }
  let loaded: LoadResult;
  try {
    loaded = await load(row);
  } catch (err) {
    loaded = { ok: false, reason: 'network', message: (err as Error).message };
  }
  if (!loaded.ok) {
    status.error = loaded.reason;
    status.message = loaded.message;
    return { status };
  }
  status.bytes = loaded.body.length;
  try {
    const img = await processImage(loaded.body, opts.image);
    Object.assign(status, { status: 'ok', outputBytes: img.data.length, width: img.width, height: img.height, originalWidth: img.originalWidth, originalHeight: img.originalHeight });
    const main = opts.captionCols.length ? row.captions[opts.captionCols[0]] : undefined;
    const json: Record<string, unknown> = {
      key, row: row.index, url: row.ref, ...(loaded.finalRef && loaded.finalRef !== row.ref ? { final_url: loaded.finalRef } : {}),
      caption: main ?? null, captions: row.captions,
      width: img.width, height: img.height, original_width: img.originalWidth, original_height: img.originalHeight,
      source_format: img.sourceFormat, ...row.extra,
    };
    return { status, sample: { key, jpg: img.data, txt: main, json } };
  } catch (err) {
    status.error = err instanceof ImageRejected ? err.reason : 'decode_error';
    status.message = (err as Error).message;
    return { status };
  }
}

/**
 * Run the pipeline over `rows` (in index order). Returns the summary rebuilt from all complete shards.
 * Killing the process at any point loses at most the shards in flight; a rerun redoes exactly those.
 */
export async function runShardPipeline(rows: AsyncIterable<SourceRow>, load: (row: SourceRow) => Promise<LoadResult>, opts: PipelineOptions): Promise<{ summary: DataSummary; progress: PipelineProgress }> {
  if (!Number.isInteger(opts.shardSize) || opts.shardSize < 1) throw new SailError(`shard size must be a positive integer, got ${opts.shardSize}`);
  if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) throw new SailError(`concurrency must be a positive integer, got ${opts.concurrency}`);
  // Pull the first row before touching the output, so a bad list (missing column, unreadable file) fails
  // without creating or pinning an output folder.
  const it = rows[Symbol.asyncIterator]();
  const first = await it.next();
  // This worker's slot (`--shard i/n`, or 0/1) is locked for the whole run: no second process writes its shards.
  const slot = opts.split ?? { index: 0, count: 1 };
  const lease = await lockSlot(opts.output, slot, `${opts.purpose ?? 'sail'} --shard ${slot.index}/${slot.count}`, { tag: identityTag(opts.identity) });
  try {
    await checkDatasetConfig(opts.output, { shardSize: opts.shardSize, meta: opts.meta, identity: opts.identity, overwrite: opts.overwrite, split: slot });
    return await runLocked(it, first, load, opts, lease.check);
  } finally {
    await lease.release();
  }
}

/** The body of {@link runShardPipeline}, run while this worker's slot lock is held. */
async function runLocked(it: AsyncIterator<SourceRow>, first: IteratorResult<SourceRow>, load: (row: SourceRow) => Promise<LoadResult>, opts: PipelineOptions, stillHeld: () => Promise<void>): Promise<{ summary: DataSummary; progress: PipelineProgress }> {
  await removeStaleTemps(opts.output, opts.split);
  const done = await completedShards(opts.output);
  const progress: PipelineProgress = { rows: 0, ok: 0, failed: 0, skipped: 0, shardsWritten: 0, shardsSkipped: 0 };
  const report = () => opts.onProgress?.({ ...progress });

  // Semaphore over rows in flight.
  let active = 0;
  const waiters: Array<() => void> = [];
  const acquire = async () => { if (active < opts.concurrency) { active++; return; } await new Promise<void>((r) => waiters.push(r)); };
  const release = () => { const w = waiters.shift(); if (w) w(); else active--; };

  const maxOpen = Math.max(1, opts.maxOpenShards ?? 2);
  const finalizers: Promise<void>[] = [];
  let failure: unknown;
  let current: { k: number; tasks: Promise<Outcome>[] } | undefined;

  const close = (shard: { k: number; tasks: Promise<Outcome>[] }) => {
    const p = Promise.all(shard.tasks).then(async (outcomes) => {
      outcomes.sort((a, b) => a.status.row - b.status.row);
      const samples = outcomes.flatMap((o) => (o.sample ? [o.sample] : []));
      await stillHeld();
      await writeShard(opts.output, shard.k, samples, outcomes.map((o) => o.status));
      progress.shardsWritten++;
      report();
    });
    p.catch((err) => { failure ??= err; });
    finalizers.push(p);
  };

  let lastK = -1;
  let prevIndex = -1;
  const rest: AsyncIterable<SourceRow> = { [Symbol.asyncIterator]: () => it };
  async function* all(): AsyncGenerator<SourceRow> {
    if (first.done) return;
    yield first.value;
    yield* rest;
  }
  for await (const row of all()) {
    if (failure) break;
    if (row.index <= prevIndex) throw new SailError(`rows out of order: ${row.index} after ${prevIndex}`);
    prevIndex = row.index;
    const k = Math.floor(row.index / opts.shardSize);
    if (k !== lastK) {
      if (current) { close(current); current = undefined; }
      lastK = k;
      if (done.has(k) && ownsShard(k, opts.split)) progress.shardsSkipped++;
      if (ownsShard(k, opts.split) && !done.has(k)) {
        // Bound memory: wait for the oldest finished-but-unwritten shards before opening another.
        while (finalizers.length >= maxOpen) await finalizers.shift()!.catch(() => undefined);
        current = { k, tasks: [] };
      }
    }
    if (!current) { progress.skipped++; continue; }
    await acquire();
    const task = processRow(row, load, opts).finally(release);
    task.then((o) => {
      progress.rows++;
      if (o.status.status === 'ok') progress.ok++; else progress.failed++;
      report();
    }, () => undefined);
    current.tasks.push(task);
  }
  if (current && !failure) close(current);
  await Promise.allSettled(finalizers);
  if (failure) throw failure;
  // Workers finishing together each rebuild the shared summary: one at a time, each from what is on disk.
  const summary = await withLease(join(opts.output, '.sail-summary.lock'), { purpose: 'rebuilding summary.json', waitMs: 60_000 }, () => writeSummary(opts.output, opts.shardSize, opts.meta));
  return { summary, progress };
}
