// Evaluation tasks over embeddings (any encoder + head can be plugged in through callbacks) and over
// pre-encoded stores (what the training loop calls every K epochs).
import type { ImageInput } from '../encoders/types.js';
import type { Side } from '../head/config.js';
import { assertHeadFitsStore } from '../head/check.js';
import { openStore, type EmbeddingStore } from '../store/reader.js';
import { SailError } from '../util/errors.js';
import { createHeadRunner, type HeadRunner } from '../head/runner.js';
import type { LoadedHead } from '../head/load.js';
import {
  knnAccuracy, mmvpScores, retrievalMetrics, winogroundScores, type MmvpPair, type RetrievalMetrics,
} from './metrics.js';
import { rankScan } from './rank-blocks.js';
import { l2NormalizeRows, scanSimilarity, type SimilarityOptions } from './similarity.js';

/** Image embedding callback: images (paths or encoded bytes) -> embeddings [n, dim]. */
export type EmbedImages = (images: ImageInput[]) => Promise<Float32Array>;
/** Text embedding callback: texts -> embeddings [n, dim]. */
export type EmbedTextsFn = (texts: string[]) => Promise<Float32Array>;

/**
 * Image-text retrieval on embeddings (normalised here). `imageOfText[t]` is the image of caption t, so
 * an image may have several captions. Returns R@K both ways plus mean/median ranks (pessimistic ties).
 */
export async function evaluateRetrieval(
  images: Float32Array, texts: Float32Array, dim: number, imageOfText: Int32Array,
  opts: SimilarityOptions & { ks?: number[]; /** Rows are already unit length: skip the normalised copies. */ normalized?: boolean } = {},
): Promise<RetrievalMetrics> {
  const nImages = images.length / dim;
  if (texts.length !== imageOfText.length * dim) throw new SailError(`retrieval: ${texts.length / dim} text rows but ${imageOfText.length} caption->image entries`);
  for (let t = 0; t < imageOfText.length; t++) {
    if (imageOfText[t] < 0 || imageOfText[t] >= nImages) throw new SailError(`retrieval: caption ${t} points at image ${imageOfText[t]}, outside 0..${nImages - 1}`, { row: t });
  }
  const v = opts.normalized ? images : l2NormalizeRows(images, dim, new Float32Array(images.length));
  const w = opts.normalized ? texts : l2NormalizeRows(texts, dim, new Float32Array(texts.length));
  const imageIds = Int32Array.from({ length: nImages }, (_, i) => i);
  // one product: rows give I2T ranks, columns T2I ranks
  const r = await rankScan({ queries: v, candidates: w, dim, queryGroup: imageIds, candidateGroup: imageOfText }, opts);
  return retrievalMetrics(r.ranks!, r.columnRanks!, opts.ks ?? [1, 5, 10]);
}

/** Options of {@link evaluateRetrievalOnStores}. */
export interface StoreRetrievalOptions extends SimilarityOptions {
  /** A trained head (applied to both sides), or an applier already built. Omit to evaluate raw embeddings (same width needed). */
  head?: LoadedHead | HeadRunner;
  imageModality?: string;
  /** Caption modalities: row i of each is a caption of image i (default ['text']). */
  textModalities?: string[];
  /** Evaluate only these rows (default: all rows). */
  rows?: Uint32Array;
  /** Rows read per block (default 8192). */
  readBlock?: number;
  ks?: number[];
  /** Second store holding the text modalities (default: the same store). */
  textStore?: string | EmbeddingStore;
}

async function readSide(store: EmbeddingStore, name: string, rows: Uint32Array, block: number, head: HeadRunner | undefined, side: Side): Promise<{ data: Float32Array; dim: number }> {
  const inDim = store.dim(name);
  const outDim = head ? head.config.targetDim : inDim;
  const data = new Float32Array(rows.length * outDim);
  const buf = new Float32Array(Math.min(block, rows.length) * inDim);
  for (let r = 0; r < rows.length; r += block) {
    const n = Math.min(block, rows.length - r);
    const x = await store.readRows(name, rows.subarray(r, r + n), buf);
    data.set(head ? await head.apply(side, x, n) : x.subarray(0, n * inDim), r * outDim);
  }
  return { data, dim: outDim };
}

/**
 * Retrieval on pre-encoded validation stores: read rows block by block, put them through the head, and
 * score I2T/T2I as in sail-method.md 7.6 (1:1 pairs) or, with several caption modalities, COCO-style
 * (an image hits if any of its captions is in the top K). The heap holds only head outputs.
 */
export async function evaluateRetrievalOnStores(storeOrDir: string | EmbeddingStore, opts: StoreRetrievalOptions = {}): Promise<RetrievalMetrics> {
  const store = typeof storeOrDir === 'string' ? await openStore(storeOrDir) : storeOrDir;
  const tStore = opts.textStore === undefined ? store : typeof opts.textStore === 'string' ? await openStore(opts.textStore) : opts.textStore;
  const ownHead = opts.head !== undefined && !('apply' in opts.head);
  let head: HeadRunner | undefined;
  try {
    head = opts.head === undefined ? undefined : 'apply' in opts.head ? opts.head : createHeadRunner(opts.head, opts);
    const imageModality = opts.imageModality ?? 'image';
    const mods = opts.textModalities ?? ['text'];
    if (head) {
      // before reading anything: rows of another width would be silently reinterpreted
      assertHeadFitsStore(head.config, store, imageModality, 'vision');
      for (const m of mods) assertHeadFitsStore(head.config, tStore, m, 'text');
    }
    if (tStore.rows !== store.rows) throw new SailError(`text store has ${tStore.rows} rows, image store ${store.rows}: rows must be the same samples`, { file: tStore.dir });
    const rows = opts.rows ?? Uint32Array.from({ length: store.rows }, (_, i) => i);
    const block = opts.readBlock ?? 8192;
    const img = await readSide(store, imageModality, rows, block, head, 'vision');
    const parts: Float32Array[] = [];
    let dim = img.dim;
    for (const m of mods) {
      const t = await readSide(tStore, m, rows, block, head, 'text');
      if (t.dim !== img.dim) throw new SailError(`modality ${m} has width ${t.dim} but images ${img.dim}: pass a head`, { file: tStore.dir });
      dim = t.dim;
      parts.push(t.data);
    }
    const texts = parts.length === 1 ? parts[0] : new Float32Array(parts.length * rows.length * dim);
    const imageOfText = new Int32Array(parts.length * rows.length);
    // caption-major within an image: texts of image i are rows i*m .. i*m+m-1
    for (let i = 0; i < rows.length; i++) {
      for (let p = 0; p < parts.length; p++) {
        if (parts.length > 1) texts.set(parts[p].subarray(i * dim, (i + 1) * dim), (i * parts.length + p) * dim);
        imageOfText[i * parts.length + p] = i;
      }
    }
    // head outputs are already L2-normalised
    return await evaluateRetrieval(img.data, texts, dim, imageOfText, { ...opts, normalized: head !== undefined });
  } finally {
    if (ownHead) await head?.dispose();
    if (typeof opts.textStore === 'string') await tStore.close();
    if (typeof storeOrDir === 'string') await store.close();
  }
}

/**
 * Weighted k-NN classification (DINO protocol: cosine, exp(sim / T), T = 0.07) of query embeddings
 * against labelled train embeddings, for each k in `ks` (default 10, 20, 100, 200; capped at the train size).
 */
export async function evaluateKnn(
  train: Float32Array, trainLabels: Int32Array, queries: Float32Array, queryLabels: Int32Array, dim: number,
  opts: SimilarityOptions & { ks?: number[]; temperature?: number; nClasses?: number } = {},
): Promise<{ k: number; top1: number; top5: number; n: number }[]> {
  const nTrain = train.length / dim;
  if (trainLabels.length !== nTrain) throw new SailError(`k-NN: ${nTrain} train rows but ${trainLabels.length} labels`);
  const ks = (opts.ks ?? [10, 20, 100, 200]).map((k) => Math.min(k, nTrain));
  const kMax = Math.max(...ks);
  let nClasses = opts.nClasses ?? 0;
  for (const y of trainLabels) nClasses = Math.max(nClasses, y + 1);
  for (const y of queryLabels) nClasses = Math.max(nClasses, y + 1);
  const res = await scanSimilarity({
    queries: l2NormalizeRows(queries, dim, new Float32Array(queries.length)),
    candidates: l2NormalizeRows(train, dim, new Float32Array(train.length)),
    dim, topK: kMax,
  }, opts);
  return [...new Set(ks)].map((k) => knnAccuracy(res.topIndices!, res.topScores!, res.k, trainLabels, queryLabels, nClasses, k, opts.temperature ?? 0.07));
}

/** One Winoground example: two images and two captions; caption c belongs to image c. */
export interface WinogroundItem {
  images: [string, string];
  captions: [string, string];
}

/** Winoground text/image/group scores from embedding callbacks (cosine; the logit scale/bias are monotone). */
export async function evaluateWinoground(items: readonly WinogroundItem[], embedImages: EmbedImages, embedTexts: EmbedTextsFn, dim: number): Promise<ReturnType<typeof winogroundScores>> {
  const v = l2NormalizeRows(await embedImages(items.flatMap((e) => e.images)), dim);
  const t = l2NormalizeRows(await embedTexts(items.flatMap((e) => e.captions)), dim);
  const dot = (a: number, b: number) => {
    let s = 0;
    for (let j = 0; j < dim; j++) s += t[a * dim + j] * v[b * dim + j];
    return s;
  };
  return winogroundScores(items.map((_, i) => ({
    c0i0: dot(2 * i, 2 * i), c0i1: dot(2 * i, 2 * i + 1), c1i0: dot(2 * i + 1, 2 * i), c1i1: dot(2 * i + 1, 2 * i + 1),
  })));
}

/** One MMVP-VLM pair: statement k describes image k. */
export interface MmvpItem {
  category: string;
  images: [string, string];
  statements: [string, string];
}

/** MMVP-VLM pair accuracy; each statement is prompted as "a photo of " + statement. */
export async function evaluateMmvp(items: readonly MmvpItem[], embedImages: EmbedImages, embedTexts: EmbedTextsFn, dim: number): Promise<ReturnType<typeof mmvpScores>> {
  const v = l2NormalizeRows(await embedImages(items.flatMap((e) => e.images)), dim);
  const t = l2NormalizeRows(await embedTexts(items.flatMap((e) => e.statements.map((s) => 'a photo of ' + s))), dim);
  const pairs: MmvpPair[] = items.map((e, i) => {
    const dot = (a: number, b: number) => {
      let s = 0;
      for (let j = 0; j < dim; j++) s += t[(2 * i + a) * dim + j] * v[(2 * i + b) * dim + j];
      return s;
    };
    return { category: e.category, s: [[dot(0, 0), dot(0, 1)], [dot(1, 0), dot(1, 1)]] };
  });
  return mmvpScores(pairs);
}

