// `sail download`: URL list -> WebDataset shards (thin wrapper over src/data/download.ts).
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { download } from '../data/download.js';
import type { ListFormat } from '../data/lists.js';
import type { PipelineProgress } from '../data/pipeline.js';
import { parseShardSplit, type DataSummary } from '../data/shards.js';
import type { ImageOptions } from '../data/image.js';
import { SailError } from '../util/errors.js';
import { parseNumber } from './flags.js';

/** Parse an integer flag within [min, max]. */
export function intFlag(v: string, flag: string, min = 1, max?: number): number {
  return parseNumber(v, flag, { int: true, min, max });
}

/** Parse a duration in seconds (may be fractional, at most `maxSeconds`) into whole milliseconds (>= 1). */
export function secondsFlag(v: string, flag: string, maxSeconds: number): number {
  return Math.max(1, Math.round(parseNumber(v, flag, { positive: true, max: maxSeconds }) * 1000));
}

/** Upper bounds of the numeric flags of `download` and `data import`. */
export const FLAG_LIMITS = {
  shardSize: 1_000_000,
  concurrency: 1024,
  imageSize: 16_384,
  maxPixels: 1_000_000_000,
  maxBytes: 1024 * 1024 * 1024,
  timeoutSeconds: 3600,
  bodyTimeoutSeconds: 86_400,
  backoffSeconds: 600,
  retries: 100,
  maxRedirects: 20,
} as const;

/** Flags shared by `download` and `data import`. */
export interface CommonFlags {
  output: string;
  shardSize: string;
  concurrency: string;
  shard?: string;
  imageSize: string;
  quality: string;
  maxPixels: string;
  maxBytes: string;
  json?: boolean;
}

/** Add the shard and image options shared by `download` and `data import`. */
export function addCommonOptions(cmd: Command): Command {
  return cmd
    .requiredOption('-o, --output <dir>', 'output folder of shards')
    .option('--shard-size <n>', 'samples per shard (fixed row ranges; keep it the same across reruns)', '1000')
    .option('--concurrency <n>', 'items processed at once', '16')
    .option('--shard <i/n>', 'only process shards k with k % n == i (split work across processes/machines)')
    .option('--image-size <px>', 'resize so the shortest edge is this many pixels (never upscales; 0 keeps size)', '256')
    .option('--quality <q>', 'JPEG quality of the re-encoded images (1-100)', '90')
    .option('--max-pixels <n>', 'reject images whose header declares more pixels than this', '50000000')
    .option('--max-bytes <n>', 'reject files/bodies larger than this many bytes', String(20 * 1024 * 1024))
    .option('--json', 'print the summary as JSON');
}

/** Image options from the shared flags. */
export function imageFlags(f: CommonFlags): ImageOptions {
  return {
    size: intFlag(f.imageSize, '--image-size', 0, FLAG_LIMITS.imageSize),
    quality: intFlag(f.quality, '--quality', 1, 100),
    maxPixels: intFlag(f.maxPixels, '--max-pixels', 1, FLAG_LIMITS.maxPixels),
  };
}

/** A counter display on stderr (shown only on a terminal). */
export function progressBar(label: string): { update: (p: PipelineProgress) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    { format: `${label} {rows} done | {ok} ok | {failed} failed | {shards} shards written, {skippedShards} already done`, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      const payload = { rows: p.rows, ok: p.ok, failed: p.failed, shards: p.shardsWritten, skippedShards: p.shardsSkipped };
      if (!started) { bar.start(0, 0, payload); started = true; }
      bar.update(p.rows, payload);
    },
    stop() { if (started) bar.stop(); },
  };
}

/** Print a summary (JSON or one human line per fact). */
export function printSummary(summary: DataSummary, progress: PipelineProgress, output: string, json?: boolean, examples?: { file: string; caption: string }[]): void {
  if (json) { console.log(JSON.stringify({ output, run: progress, summary, ...(examples ? { examples } : {}) }, null, 2)); return; }
  console.log(`${output}: ${summary.completedShards} shards, ${summary.rows} rows, ${summary.ok} ok, ${summary.failed} failed or skipped`);
  for (const [reason, n] of Object.entries(summary.failedByReason)) console.log(`  ${reason}: ${n}`);
  console.log(`this run: ${progress.rows} rows, ${progress.shardsWritten} shards written, ${progress.shardsSkipped} already complete`);
  if (examples?.length) {
    console.log('first captions (check the parse; see --caption-line / --caption-regex):');
    for (const e of examples) console.log(`  ${e.file}: ${JSON.stringify(e.caption.length > 120 ? e.caption.slice(0, 117) + '...' : e.caption)}`);
  }
}

interface DownloadFlags extends CommonFlags {
  input: string;
  format?: string;
  urlCol: string;
  captionCol: string[];
  timeout: string;
  bodyTimeout: string;
  retries: string;
  backoff: string;
  maxRedirects: string;
  userAgent?: string;
  allowLoopback?: boolean;
  allowPrivateNetwork?: boolean;
  overwrite?: boolean;
}

/** Register `sail download`. */
export function register(program: Command): void {
  const cmd = program
    .command('download')
    .description('download the images of a URL list (CSV/TSV/JSONL/Parquet) into WebDataset tar shards; resumable')
    .requiredOption('-i, --input <file>', 'URL list')
    .option('--format <fmt>', 'csv, tsv, jsonl or parquet (default: from the extension)')
    .option('--url-col <name>', 'column holding the image URL', 'url')
    .option('--caption-col <name>', 'caption column (repeat for several; the first is key.txt)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--timeout <s>', 'seconds to wait for response headers', '10')
    .option('--body-timeout <s>', 'seconds allowed for a whole request including its body', '30')
    .option('--retries <n>', 'retries after 5xx/network errors/timeouts (never after 4xx)', '2')
    .option('--backoff <s>', 'first retry delay in seconds (doubles each retry)', '0.5')
    .option('--max-redirects <n>', 'redirects followed', '5')
    .option('--user-agent <ua>', 'User-Agent header')
    .option('--allow-loopback', 'allow URLs on this machine (127.0.0.0/8, ::1); refused by default')
    .option('--allow-private-network', 'allow private-network URLs (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7); refused by default')
    .option('--overwrite', 'replace an output folder that holds shards of a different list (default: refuse; the same list resumes)');
  addCommonOptions(cmd).action(async (f: DownloadFlags) => {
    const formats = ['csv', 'tsv', 'jsonl', 'parquet'];
    if (f.format !== undefined && !formats.includes(f.format)) throw new SailError(`--format must be one of ${formats.join(', ')}, got ${f.format}`);
    const captionCols = f.captionCol.length ? f.captionCol : ['caption'];
    const bar = progressBar('download');
    const result = await download({
      input: f.input,
      format: f.format as ListFormat | undefined,
      urlCol: f.urlCol,
      captionCols,
      output: f.output,
      shardSize: intFlag(f.shardSize, '--shard-size', 1, FLAG_LIMITS.shardSize),
      concurrency: intFlag(f.concurrency, '--concurrency', 1, FLAG_LIMITS.concurrency),
      split: f.shard !== undefined ? parseShardSplit(f.shard) : undefined,
      fetch: {
        timeoutMs: secondsFlag(f.timeout, '--timeout', FLAG_LIMITS.timeoutSeconds),
        bodyTimeoutMs: secondsFlag(f.bodyTimeout, '--body-timeout', FLAG_LIMITS.bodyTimeoutSeconds),
        retries: intFlag(f.retries, '--retries', 0, FLAG_LIMITS.retries),
        backoffMs: secondsFlag(f.backoff, '--backoff', FLAG_LIMITS.backoffSeconds),
        maxRedirects: intFlag(f.maxRedirects, '--max-redirects', 0, FLAG_LIMITS.maxRedirects),
        maxBytes: intFlag(f.maxBytes, '--max-bytes', 1, FLAG_LIMITS.maxBytes),
        ...(f.userAgent ? { userAgent: f.userAgent } : {}),
      },
      network: { allowLoopback: f.allowLoopback === true, allowPrivateNetwork: f.allowPrivateNetwork === true },
      overwrite: f.overwrite === true,
      image: imageFlags(f),
      onProgress: bar.update,
    }).finally(bar.stop);
    printSummary(result.summary, result.progress, f.output, f.json);
  });
}
