// `sail download` as a library: URL list -> WebDataset shards of normalised JPEGs with captions.
import { resolve } from 'node:path';
import { DEFAULT_FETCH_LIMITS, fetchLimited, type FetchLimits } from './fetch.js';
import { DEFAULT_IMAGE_OPTIONS, type ImageOptions } from './image.js';
import { readUrlList, type ListFormat } from './lists.js';
import { runShardPipeline, type PipelineProgress, type SourceRow } from './pipeline.js';
import type { DataSummary, ShardSplit } from './shards.js';

/** Options of {@link download}. */
export interface DownloadOptions {
  /** URL list file (CSV, TSV, JSONL or Parquet). */
  input: string;
  format?: ListFormat;
  urlCol: string;
  /** Caption columns; the first becomes `key.txt`. */
  captionCols: string[];
  /** Output folder of shards. */
  output: string;
  /** Rows per shard (default 1000). Must stay the same across reruns into one folder. */
  shardSize?: number;
  /** Fetches in flight (default 16). */
  concurrency?: number;
  /** Process only shards k with k % count == index. */
  split?: ShardSplit;
  fetch?: Partial<FetchLimits>;
  image?: Partial<ImageOptions>;
  onProgress?: (p: PipelineProgress) => void;
}

/** What {@link download} returns. */
export interface DownloadResult {
  /** Totals over every complete shard in the output folder (including earlier runs and other workers). */
  summary: DataSummary;
  /** Counters of this run only. */
  progress: PipelineProgress;
}

/**
 * Download every row of a URL list into WebDataset shards under `output`. Resumable: complete shards are
 * skipped, so rerunning after a crash neither duplicates nor drops rows.
 */
export async function download(opts: DownloadOptions): Promise<DownloadResult> {
  const limits: FetchLimits = { ...DEFAULT_FETCH_LIMITS, ...opts.fetch };
  const image: ImageOptions = { ...DEFAULT_IMAGE_OPTIONS, ...opts.image };
  const shardSize = opts.shardSize ?? 1000;
  async function* rows(): AsyncGenerator<SourceRow> {
    for await (const r of readUrlList(opts.input, { format: opts.format, urlCol: opts.urlCol, captionCols: opts.captionCols })) {
      yield { index: r.index, ref: r.url, captions: r.captions, error: r.error };
    }
  }
  return runShardPipeline(
    rows(),
    async (row) => {
      const r = await fetchLimited(row.ref!, limits);
      return r.ok ? { ok: true, body: r.body, finalRef: r.finalUrl } : { ok: false, reason: r.reason, message: r.message };
    },
    {
      output: opts.output,
      shardSize,
      concurrency: opts.concurrency ?? 16,
      split: opts.split,
      image,
      captionCols: opts.captionCols,
      meta: { source: 'download', input: resolve(opts.input), urlCol: opts.urlCol, captionCols: opts.captionCols, image },
      onProgress: opts.onProgress,
    },
  );
}
