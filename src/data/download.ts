// `sail download` as a library: URL list -> WebDataset shards of normalised JPEGs with captions.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { SailError } from '../util/errors.js';
import { DEFAULT_FETCH_LIMITS, fetchLimited, type FetchLimits } from './fetch.js';
import { DEFAULT_NETWORK_POLICY, type NetworkPolicy, type Resolver } from './net-guard.js';
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
  /** Non-public destinations allowed (default: none; see net-guard.ts). */
  network?: Partial<NetworkPolicy>;
  /** Host name resolver (tests inject a fake one; default: the system's). */
  resolver?: Resolver;
  /** Replace an output folder that holds another list's shards (default: refuse). */
  overwrite?: boolean;
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
  const net = { policy: { ...DEFAULT_NETWORK_POLICY, ...opts.network }, resolver: opts.resolver };
  const shardSize = opts.shardSize ?? 1000;
  async function* rows(): AsyncGenerator<SourceRow> {
    for await (const r of readUrlList(opts.input, { format: opts.format, urlCol: opts.urlCol, captionCols: opts.captionCols })) {
      const bad = r.url !== undefined ? badPercentEncoding(r.url) : undefined;
      const error = r.error ?? (bad !== undefined ? `${r.line !== undefined ? `line ${r.line}: ` : ''}malformed percent-encoding "${bad}" in URL` : undefined);
      yield { index: r.index, ref: r.url, captions: r.captions, error };
    }
  }
  const input = resolve(opts.input);
  // The list's content, columns and image options decide which rows land in which shard: a rerun resumes
  // only when all are the same, so two lists are never mixed in one folder.
  const identity = { list: { path: input, sha256: await sha256File(input) }, urlCol: opts.urlCol, captionCols: opts.captionCols, format: opts.format ?? null, image };
  return runShardPipeline(
    rows(),
    async (row) => {
      const r = await fetchLimited(row.ref!, limits, net);
      return r.ok ? { ok: true, body: r.body, finalRef: r.finalUrl } : { ok: false, reason: r.reason, message: r.message };
    },
    {
      output: opts.output,
      shardSize,
      concurrency: opts.concurrency ?? 16,
      split: opts.split,
      image,
      captionCols: opts.captionCols,
      meta: { source: 'download', input, urlCol: opts.urlCol, captionCols: opts.captionCols, image },
      identity: { ...identity, list: { sha256: identity.list.sha256 } },
      overwrite: opts.overwrite,
      purpose: 'sail download',
      onProgress: opts.onProgress,
    },
  );
}

/** The first `%` not followed by two hex digits in `url`, with what follows it, or undefined. */
export function badPercentEncoding(url: string): string | undefined {
  const m = /%(?![0-9A-Fa-f]{2})/.exec(url);
  return m ? url.slice(m.index, m.index + 3) : undefined;
}

/** sha256 (hex) of a file's bytes, read as a stream. */
async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  } catch (err) {
    throw new SailError(`cannot read list: ${(err as Error).message}`, { file: path });
  }
  return h.digest('hex');
}
