// Evaluation metrics as pure functions over similarity matrices, ranks and top-k lists (sail-method.md
// sections 7.6 and 9). Every accuracy is in percent. Ties are pessimistic (see similarity.ts): a tie
// counts against the query.
import { SailError } from '../util/errors.js';

/** Recall at each K: percentage of ranks <= K. */
export function recallAtK(ranks: ArrayLike<number>, ks: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of ks) {
    let hit = 0;
    for (let i = 0; i < ranks.length; i++) if (ranks[i] <= k) hit++;
    out[`R@${k}`] = ranks.length ? (100 * hit) / ranks.length : 0;
  }
  return out;
}

/** Mean and median of 1-based ranks (the median averages the two middle values for even counts). */
export function rankSummary(ranks: ArrayLike<number>): { meanRank: number; medianRank: number } {
  const n = ranks.length;
  if (n === 0) return { meanRank: NaN, medianRank: NaN };
  const sorted = Float64Array.from(ranks).sort();
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i];
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return { meanRank: sum / n, medianRank: median };
}

/**
 * Pessimistic ranks from a dense row-major similarity matrix [nq, nc]: for each query, 1 + the number of
 * non-positive candidates scoring >= its best positive. Positives: candidateGroup[c] === queryGroup[q].
 */
export function ranksFromMatrix(sim: ArrayLike<number>, nq: number, nc: number, queryGroup: ArrayLike<number>, candidateGroup: ArrayLike<number>): Int32Array {
  if (sim.length !== nq * nc) throw new SailError(`similarity matrix has ${sim.length} entries, expected ${nq} x ${nc}`);
  const ranks = new Int32Array(nq);
  for (let q = 0; q < nq; q++) {
    let best = -Infinity;
    let any = false;
    for (let c = 0; c < nc; c++) {
      if (candidateGroup[c] === queryGroup[q]) {
        any = true;
        // NaN is the worst score (see similarity.ts): it never becomes the best positive
        if (sim[q * nc + c] > best) best = sim[q * nc + c];
      }
    }
    if (!any) throw new SailError(`query ${q} has no positive candidate`, { row: q });
    let cnt = 0;
    for (let c = 0; c < nc; c++) if (candidateGroup[c] !== queryGroup[q] && sim[q * nc + c] >= best) cnt++;
    ranks[q] = 1 + cnt;
  }
  return ranks;
}

/** Retrieval metrics in both directions. */
export interface RetrievalMetrics {
  imageToText: Record<string, number> & { meanRank: number; medianRank: number };
  textToImage: Record<string, number> & { meanRank: number; medianRank: number };
  /** Alignment-probing score: mean of I2T R@10 and T2I R@10 (needs 10 in ks). */
  meanR10?: number;
  nImages: number;
  nTexts: number;
}

/** Combine per-direction ranks into {@link RetrievalMetrics}. */
export function retrievalMetrics(i2tRanks: ArrayLike<number>, t2iRanks: ArrayLike<number>, ks: readonly number[] = [1, 5, 10]): RetrievalMetrics {
  const i2t: RetrievalMetrics['imageToText'] = { ...recallAtK(i2tRanks, ks), ...rankSummary(i2tRanks) };
  const t2i: RetrievalMetrics['textToImage'] = { ...recallAtK(t2iRanks, ks), ...rankSummary(t2iRanks) };
  const m: RetrievalMetrics = { imageToText: i2t, textToImage: t2i, nImages: i2tRanks.length, nTexts: t2iRanks.length };
  if (ks.includes(10)) m.meanR10 = (i2t['R@10'] + t2i['R@10']) / 2;
  return m;
}

/**
 * Retrieval from a dense image x text similarity [nImages, nTexts] with several captions per image:
 * `imageOfText[t]` is the image of caption t. I2T: an image hits at K if ANY of its captions is in its top K;
 * T2I: a caption hits if its image is in its top K.
 */
export function retrievalFromMatrix(simImageText: ArrayLike<number>, nImages: number, imageOfText: ArrayLike<number>, ks: readonly number[] = [1, 5, 10]): RetrievalMetrics {
  const nTexts = imageOfText.length;
  const imgGroup = Int32Array.from({ length: nImages }, (_, i) => i);
  const i2t = ranksFromMatrix(simImageText, nImages, nTexts, imgGroup, imageOfText);
  const t = new Float64Array(nTexts * nImages);
  for (let i = 0; i < nImages; i++) for (let j = 0; j < nTexts; j++) t[j * nImages + i] = simImageText[i * nTexts + j];
  const t2i = ranksFromMatrix(t, nTexts, nImages, imageOfText, imgGroup);
  return retrievalMetrics(i2t, t2i, ks);
}

/** Zero-shot / classification summary. */
export interface ClassificationMetrics {
  top1: number;
  top5: number;
  /** Mean of per-class top-1 accuracies over classes that have samples. */
  meanPerClass: number;
  perClass: { class: number; name?: string; n: number; top1: number }[];
  /** Most frequent (true, predicted) confusions, largest first. */
  confusions: { true: number; predicted: number; trueName?: string; predictedName?: string; count: number }[];
  n: number;
}

/**
 * Classification metrics from the pessimistic rank of the true class and the top-1 prediction of each
 * sample (top-1 = rank 1, top-5 = rank <= 5).
 */
export function classificationMetrics(
  trueRanks: ArrayLike<number>, predicted: ArrayLike<number>, labels: ArrayLike<number>, nClasses: number,
  opts: { classNames?: readonly string[]; maxConfusions?: number } = {},
): ClassificationMetrics {
  const n = labels.length;
  if (trueRanks.length !== n || predicted.length !== n) throw new SailError('classification: ranks, predictions and labels differ in length');
  const count = new Float64Array(nClasses);
  const correct = new Float64Array(nClasses);
  const conf = new Map<number, number>();
  let top1 = 0;
  let top5 = 0;
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= nClasses) throw new SailError(`label ${y} outside 0..${nClasses - 1}`, { row: i });
    count[y]++;
    if (trueRanks[i] <= 1) {
      top1++;
      correct[y]++;
    } else {
      // a wrong top-1 (or a tie, which counts as wrong): record what the model picked
      const key = y * nClasses + predicted[i];
      conf.set(key, (conf.get(key) ?? 0) + 1);
    }
    if (trueRanks[i] <= 5) top5++;
  }
  const names = opts.classNames;
  const perClass = [];
  let sumAcc = 0;
  let present = 0;
  for (let c = 0; c < nClasses; c++) {
    if (count[c] === 0) continue;
    const acc = (100 * correct[c]) / count[c];
    perClass.push({ class: c, ...(names ? { name: names[c] } : {}), n: count[c], top1: acc });
    sumAcc += acc;
    present++;
  }
  const confusions = [...conf.entries()]
    .filter(([key]) => Math.floor(key / nClasses) !== key % nClasses)
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, opts.maxConfusions ?? 10)
    .map(([key, c]) => {
      const t = Math.floor(key / nClasses);
      const p = key % nClasses;
      return { true: t, predicted: p, ...(names ? { trueName: names[t], predictedName: names[p] } : {}), count: c };
    });
  return { top1: n ? (100 * top1) / n : 0, top5: n ? (100 * top5) / n : 0, meanPerClass: present ? sumAcc / present : 0, perClass, confusions, n };
}

/** Scores of one Winoground example: c{caption}_i{image} similarity (any monotone score). */
export interface WinogroundExample {
  c0i0: number;
  c0i1: number;
  c1i0: number;
  c1i1: number;
}

/** Winoground text / image / group scores in percent (strict inequalities: a tie fails). */
export function winogroundScores(examples: readonly WinogroundExample[]): { text: number; image: number; group: number; n: number } {
  let t = 0;
  let im = 0;
  let g = 0;
  for (const e of examples) {
    const ts = e.c0i0 > e.c1i0 && e.c1i1 > e.c0i1;
    const is = e.c0i0 > e.c0i1 && e.c1i1 > e.c1i0;
    if (ts) t++;
    if (is) im++;
    if (ts && is) g++;
  }
  const n = examples.length;
  const pct = (x: number) => (n ? (100 * x) / n : 0);
  return { text: pct(t), image: pct(im), group: pct(g), n };
}

/**
 * One MMVP-VLM pair: statement 1 belongs to image 1, statement 2 to image 2.
 * `s[a][b]` = similarity of statement a+1 with image b+1.
 */
export interface MmvpPair {
  category: string;
  s: [[number, number], [number, number]];
}

/**
 * MMVP-VLM: each statement picks the image with the larger softmax probability (equivalently the larger
 * similarity); a pair is correct only if both statements pick their own image. Per-category accuracy in %,
 * and `average` = mean over categories. Deviation from the original for exact ties only: a tie
 * (p = 0.5) counts as wrong for both statements (the original predicts image 2).
 */
export function mmvpScores(pairs: readonly MmvpPair[]): { average: number; categories: Record<string, number>; pairs: number } {
  const tot = new Map<string, [number, number]>();
  for (const p of pairs) {
    const ok = p.s[0][0] > p.s[0][1] && p.s[1][1] > p.s[1][0];
    const e = tot.get(p.category) ?? [0, 0];
    e[0] += ok ? 1 : 0;
    e[1] += 1;
    tot.set(p.category, e);
  }
  const categories: Record<string, number> = {};
  let sum = 0;
  for (const [c, [ok, n]] of tot) {
    categories[c] = (100 * ok) / n;
    sum += categories[c];
  }
  return { average: tot.size ? sum / tot.size : 0, categories, pairs: pairs.length };
}

/** Two-way softmax probability of the first entry of (a, b) at `scale` (MMVP uses the model's logits). */
export function softmax2(a: number, b: number, scale = 1): number {
  const m = Math.max(a, b) * scale;
  const ea = Math.exp(a * scale - m);
  const eb = Math.exp(b * scale - m);
  return ea / (ea + eb);
}

/**
 * Weighted k-NN (DINO protocol): for each query take its k nearest train rows from a top-K list
 * ([nQueries, kMax] indices/scores, score desc), weight each by exp(sim / T), sum per class, and rank the
 * classes. Returns top-1/top-5 in % using pessimistic ranks (a class tied with the true class beats it).
 */
export function knnAccuracy(
  topIndices: Int32Array, topScores: Float32Array, kMax: number, trainLabels: ArrayLike<number>, queryLabels: ArrayLike<number>,
  nClasses: number, k: number, temperature = 0.07,
): { k: number; top1: number; top5: number; n: number } {
  const nq = queryLabels.length;
  if (topIndices.length !== nq * kMax) throw new SailError(`k-NN: top-K list holds ${topIndices.length} entries, expected ${nq} x ${kMax}`);
  if (k > kMax) throw new SailError(`k-NN: k = ${k} exceeds the ${kMax} neighbours kept`);
  const w = new Float64Array(nClasses);
  let top1 = 0;
  let top5 = 0;
  for (let q = 0; q < nq; q++) {
    w.fill(0);
    for (let j = 0; j < k; j++) {
      const idx = topIndices[q * kMax + j];
      if (idx < 0) break;
      w[trainLabels[idx]] += Math.exp(topScores[q * kMax + j] / temperature);
    }
    const y = queryLabels[q];
    let rank = 1;
    for (let c = 0; c < nClasses; c++) if (c !== y && w[c] >= w[y]) rank++;
    if (rank <= 1) top1++;
    if (rank <= 5) top5++;
  }
  return { k, top1: nq ? (100 * top1) / nq : 0, top5: nq ? (100 * top5) / nq : 0, n: nq };
}
