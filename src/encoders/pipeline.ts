// `sail encode` as a library: rows from a source -> frozen backbones -> embedding store, in fixed-size parts
// (resumable, shardable across processes), decoding the next batch while the model runs on this one.
import { resolve } from 'node:path';
import { createStoreWriter, type StoreWriter } from '../store/writer.js';
import type { ModalitySpec, StoreDtype, StoreManifest } from '../store/format.js';
import { SailError } from '../util/errors.js';
import { checkRunSettings, mergeRecords, removeStaleTemps, writePartRecord, RECORD_DIR, type RowError } from './encode-records.js';
import { openSource } from './sources.js';
import type { CaptionSpec, SourceRow } from './source-row.js';
import { lockSlot, withLease, type Lease } from '../util/lease.js';
import type { ImageEncoder, ImageInput, PreparedBatch, TextEncoder } from './types.js';
import { join } from 'node:path';

/** Lock around the shared settings check and the final manifest rebuild (held briefly; others wait). */
const FINALIZE_LOCK = '.sail-finalize.lock';

/** Progress of a run, reported after every batch. */
export interface EncodeProgress {
  /** Rows this process has finished in this run. */
  rowsDone: number;
  /** Rows this process has to do (undefined for tar input, whose length is unknown up front). */
  rowsTodo?: number;
  itemsPerSec: number;
  etaSec?: number;
  partsWritten: number;
  dropped: number;
}

/** Everything `encode` needs. */
export interface EncodeOptions {
  /** Image folder, manifest (.csv/.tsv/.jsonl), .tar shard(s) (comma-separated) or a folder of shards. */
  input: string;
  /** Store folder (created or resumed). */
  out: string;
  imageEncoder?: ImageEncoder;
  textEncoder?: TextEncoder;
  /** Manifest image column. */
  imageColumn?: string;
  /** Caption sources; the first should be modality 'text'. Default per input kind (see sources.ts). */
  captions?: CaptionSpec[];
  imageRoot?: string;
  /** Source rows per store part (default 4096). Part i holds rows [i*partSize, (i+1)*partSize) minus drops. */
  partSize?: number;
  /** Rows per inference batch (default 32). */
  batchSize?: number;
  /** Handle only parts with index % count == index. */
  shard?: { index: number; count: number };
  /** 'skip' (default): drop bad rows from every modality and record them; 'fail': stop at the first. */
  onError?: 'skip' | 'fail';
  dtype?: StoreDtype;
  /** Use only the first `limit` source rows. */
  limit?: number;
  onProgress?: (p: EncodeProgress) => void;
}

/** What a run did. */
export interface EncodeResult {
  partsWritten: number;
  partsSkipped: number;
  rowsEncoded: number;
  dropped: number;
  sourceRows: number;
  /** The manifest, when this process found every part complete and finalised the store. */
  manifest?: StoreManifest;
}

interface BatchResult {
  rows: number[];
  image?: Float32Array;
  texts: Record<string, Float32Array>;
  errors: RowError[];
}

/** Run the images of a batch; unreadable ones come back in `failed` (per item, never the whole batch). */
async function imagesOf(enc: ImageEncoder, prep: Promise<PreparedBatch> | undefined, images: ImageInput[]): Promise<{ ok: number[]; failed: { index: number; reason: string }[]; emb: Float32Array }> {
  if (prep && enc.encodePrepared) {
    const p = await prep;
    return { ok: p.ok, failed: p.failed, emb: await enc.encodePrepared(p) };
  }
  try {
    return { ok: images.map((_, i) => i), failed: [], emb: await enc.encode(images) };
  } catch {
    // encoders without prepare(): isolate the bad items one by one (rare, so the cost does not matter)
    const ok: number[] = [];
    const failed: { index: number; reason: string }[] = [];
    const embs: Float32Array[] = [];
    for (let i = 0; i < images.length; i++) {
      try {
        embs.push(await enc.encode([images[i]]));
        ok.push(i);
      } catch (err) {
        failed.push({ index: i, reason: (err as Error).message });
      }
    }
    const emb = new Float32Array(ok.length * enc.dim);
    embs.forEach((e, k) => emb.set(e, k * enc.dim));
    return { ok, failed, emb };
  }
}

function concat(chunks: Float32Array[]): Float32Array {
  const out = new Float32Array(chunks.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/**
 * Encode `opts.input` into the store at `opts.out`. Parts whose JSON exists are skipped (resume); with
 * `shard` only this process's parts are done. The process that finds every part complete writes the
 * manifest (with the kept source row ids in `meta.encode.keptRows`) and `errors.jsonl`.
 */
export async function encode(opts: EncodeOptions): Promise<EncodeResult> {
  const run = await openRun(opts);
  // This process's slot (`--shard i/n`) is locked for the whole run: no second process writes its parts.
  const lease = await lockSlot(opts.out, run.shard, `sail encode --shard ${run.shard.index}/${run.shard.count}`);
  try {
    return await encodeLocked(opts, { ...run, lease });
  } finally {
    await lease.release();
  }
}

/** What {@link encode} prepared before taking its slot lock, and the lock. */
interface EncodeRun {
  source: Awaited<ReturnType<typeof openSource>>;
  captions: CaptionSpec[];
  modalities: ModalitySpec[];
  settings: Record<string, unknown> & { input: string };
  partSize: number;
  batchSize: number;
  shard: { index: number; count: number };
  onError: 'skip' | 'fail';
  lease: Lease;
}

/** Check the options, open the source and plan the store's modalities and the run's settings record. */
async function openRun(opts: EncodeOptions): Promise<Omit<EncodeRun, 'lease'>> {
  const { imageEncoder, textEncoder } = opts;
  if (!imageEncoder && !textEncoder) throw new SailError('encode needs an image backbone, a text backbone, or both');
  const partSize = opts.partSize ?? 4096;
  const batchSize = Math.max(1, opts.batchSize ?? 32);
  const shard = opts.shard ?? { index: 0, count: 1 };
  if (!Number.isInteger(partSize) || partSize < 1) throw new SailError(`part size must be a positive integer, got ${partSize}`);
  if (!(shard.count >= 1 && shard.index >= 0 && shard.index < shard.count)) throw new SailError(`invalid shard ${shard.index}/${shard.count}`);
  const onError = opts.onError ?? 'skip';

  const source = await openSource(opts.input, { wantImage: !!imageEncoder, imageColumn: opts.imageColumn, imageRoot: opts.imageRoot, captions: textEncoder ? opts.captions : [] });
  const captions = textEncoder ? source.captions : [];
  if (textEncoder && captions.length === 0) throw new SailError('a text backbone was given but the input has no captions', { file: opts.input });
  const dtype = opts.dtype ?? 'float16';
  const modalities: ModalitySpec[] = [];
  if (imageEncoder) modalities.push({ name: 'image', dim: imageEncoder.dim, dtype, model: imageEncoder.id });
  for (const c of captions) modalities.push({ name: c.modality, dim: textEncoder!.dim, dtype, model: textEncoder!.id });

  const settings = {
    input: resolve(opts.input), kind: source.kind, partSize, dtype, limit: opts.limit ?? null, imageColumn: opts.imageColumn ?? null,
    captions, models: Object.fromEntries(modalities.map((m) => [m.name, { model: m.model, dim: m.dim }])),
  };
  return { source, captions, modalities, settings, partSize, batchSize, shard, onError };
}

/** One locked run: its options, plan, store writer, result so far and progress reporter. */
interface RunState {
  opts: EncodeOptions;
  run: EncodeRun;
  writer: StoreWriter;
  res: EncodeResult;
  progress: Progress;
  /** Whether part k belongs to this process's shard. */
  mine(k: number): boolean;
}

/** Counts rows done and reports progress after every batch and part. */
interface Progress {
  rowsDone: number;
  report(): void;
}

async function encodeLocked(opts: EncodeOptions, run: EncodeRun): Promise<EncodeResult> {
  const { source, modalities, settings, partSize, shard } = run;
  await withLease(join(opts.out, FINALIZE_LOCK), { purpose: 'checking encode settings', waitMs: 60_000 }, () => checkRunSettings(opts.out, settings));
  // a single-shard run owns the folder; with several shards only clearly abandoned temps are removed
  const tempAge = shard.count === 1 ? 0 : 3_600_000;
  await removeStaleTemps(opts.out, tempAge);
  await removeStaleTemps(join(opts.out, RECORD_DIR), tempAge);
  const writer: StoreWriter = await createStoreWriter(opts.out, { modalities });
  const mine = (k: number) => k % shard.count === shard.index;

  const total = source.count === undefined ? undefined : Math.min(source.count, opts.limit ?? Infinity);
  const rowsTodo = total === undefined ? undefined : rowsLeft(total, partSize, (k) => mine(k) && !writer.hasPart(k));
  const res: EncodeResult = { partsWritten: 0, partsSkipped: 0, rowsEncoded: 0, dropped: 0, sourceRows: 0 };
  const state: RunState = { opts, run, writer, res, progress: startProgress(opts.onProgress, rowsTodo, res), mine };
  await encodeParts(state);
  if (res.sourceRows === 0) throw new SailError('the input has no rows', { file: opts.input });
  await finishStore(state);
  return res;
}

/** Rows of the parts still to do among the first `total` source rows. */
function rowsLeft(total: number, partSize: number, todo: (k: number) => boolean): number {
  let rows = 0;
  for (let k = 0; k * partSize < total; k++) if (todo(k)) rows += Math.min(partSize, total - k * partSize);
  return rows;
}

/** A progress reporter whose rate counts from now. */
function startProgress(onProgress: EncodeOptions['onProgress'], rowsTodo: number | undefined, res: EncodeResult): Progress {
  const t0 = Date.now();
  const progress: Progress = {
    rowsDone: 0,
    report() {
      const { rowsDone } = progress;
      const secs = Math.max(1e-3, (Date.now() - t0) / 1000);
      const rate = rowsDone / secs;
      onProgress?.({ rowsDone, rowsTodo, itemsPerSec: rate, etaSec: rowsTodo !== undefined && rate > 0 ? (rowsTodo - rowsDone) / rate : undefined, partsWritten: res.partsWritten, dropped: res.dropped });
    },
  };
  return progress;
}

/** Stream the source once, encoding the parts of this shard not done yet and passing over the rest. */
async function encodeParts(state: RunState): Promise<void> {
  const { opts, run, writer, res } = state;
  let current = -1;
  let job: PartJob | undefined;
  const close = async () => {
    if (current < 0) return;
    if (job) await job.finish();
    else res.partsSkipped += 1;
    job = undefined;
  };
  for await (const r of run.source.rows()) {
    if (opts.limit !== undefined && r.row >= opts.limit) break;
    const k = Math.floor(r.row / run.partSize);
    if (k !== current) {
      await close();
      current = k;
      // parts done already, or of other shards, are passed over without decoding
      job = state.mine(k) && !writer.hasPart(k) ? startPart(state, k) : undefined;
    }
    if (job) await job.add(r);
    res.sourceRows = r.row + 1;
  }
  await close();
}

/** One part being encoded: rows go in as they stream, `finish` writes the part. */
interface PartJob {
  add(r: SourceRow): Promise<void>;
  finish(): Promise<void>;
}

/**
 * Encode one part's rows as they stream in, in batches, decoding batch k+1 while batch k runs (so at
 * most two batches of image bytes are held), then write the part.
 */
function startPart(state: RunState, k: number): PartJob {
  const { opts, run, res, progress } = state;
  const imageEncoder = opts.imageEncoder;
  const results: BatchResult[] = [];
  let pending: Promise<void> = Promise.resolve();
  let batch: SourceRow[] = [];
  const dispatch = async (b: SourceRow[]) => {
    // prepare() sees only the rows without a source error; runBatch indexes the same list
    const valid = b.filter((r) => !r.error);
    const prep = imageEncoder?.prepare ? imageEncoder.prepare(valid.map((r) => r.image!)) : undefined;
    prep?.catch(() => undefined); // surfaced in runBatch
    await pending; // the previous batch's inference must end before this one's starts
    pending = runBatch(opts, run, b, prep).then((r) => {
      results.push(r);
      progress.rowsDone += b.length;
      res.dropped += r.errors.length;
      progress.report();
    });
    pending.catch(() => undefined); // surfaced by the next await
  };
  return {
    async add(r) {
      batch.push(r);
      if (batch.length < run.batchSize) return;
      const full = batch;
      batch = [];
      await dispatch(full);
    },
    async finish() {
      if (batch.length) await dispatch(batch);
      await pending;
      await writePart(state, k, results);
    },
  };
}

/** Write a finished part: its record (row ids, errors) first, then its embeddings. */
async function writePart(state: RunState, k: number, results: BatchResult[]): Promise<void> {
  const { opts, run, writer, res, progress } = state;
  const keptRows = results.flatMap((r) => r.rows);
  const data: Record<string, Float32Array> = {};
  if (opts.imageEncoder) data.image = concat(results.map((r) => r.image!));
  for (const c of run.captions) data[c.modality] = concat(results.map((r) => r.texts[c.modality]));
  // the record goes first: a part whose JSON exists always has its row ids and errors
  await run.lease.check();
  await writePartRecord(opts.out, k, { rows: keptRows, errors: results.flatMap((r) => r.errors) });
  await writer.writePart(k, data);
  res.partsWritten += 1;
  res.rowsEncoded += keptRows.length;
  progress.report();
}

/** Inference for one batch, once its decode (already started) is done. */
async function runBatch(opts: EncodeOptions, run: EncodeRun, rows: SourceRow[], prep: Promise<PreparedBatch> | undefined): Promise<BatchResult> {
  const { imageEncoder, textEncoder } = opts;
  const errors: RowError[] = [];
  const fail = (r: SourceRow, reason: string) => {
    if (run.onError === 'fail') throw new SailError(reason, { file: r.file, row: r.row });
    errors.push({ row: r.row, file: r.file, reason });
  };
  const usable = rows.filter((r) => (r.error ? (fail(r, r.error), false) : true));
  let kept = usable;
  let image: Float32Array | undefined;
  if (imageEncoder) {
    const got = await imagesOf(imageEncoder, prep, usable.map((r) => r.image!));
    for (const f of got.failed) fail(usable[f.index], `unreadable image: ${f.reason}`);
    kept = got.ok.map((i) => usable[i]);
    image = got.emb;
  }
  const texts: Record<string, Float32Array> = {};
  for (const c of run.captions) texts[c.modality] = kept.length ? await textEncoder!.encode(kept.map((r) => r.texts[c.modality] ?? '')) : new Float32Array(0);
  errors.sort((a, b) => a.row - b.row);
  return { rows: kept.map((r) => r.row), image, texts, errors };
}

/**
 * Slots finishing together: one at a time checks completeness and, when every part is there, rebuilds
 * errors.jsonl and the manifest (into `res.manifest`).
 */
async function finishStore(state: RunState): Promise<void> {
  const { opts, run, writer, res } = state;
  const parts = Math.ceil(res.sourceRows / run.partSize);
  await withLease(join(opts.out, FINALIZE_LOCK), { purpose: 'finalising the store', waitMs: 60_000 }, async () => {
    const complete = Array.from({ length: parts }, (_, k) => writer.hasPart(k)).every(Boolean);
    if (!complete) return;
    const merged = await mergeRecords(opts.out, parts, res.sourceRows);
    // the image spec is recorded so an export of this backbone preprocesses exactly as the store was encoded
    const meta = { encode: { source: run.settings.input, kind: run.source.kind, partSize: run.partSize, sourceRows: merged.sourceRows, dropped: merged.dropped, keptRows: merged.keptRows, imagePreprocess: opts.imageEncoder?.preprocess } };
    res.manifest = await (await createStoreWriter(opts.out, { modalities: run.modalities, meta })).finalize();
  });
}
