// Blocked cosine similarity on onnxruntime (one [b, d] x [d, M] product per run) with streaming top-K and
// exact ground-truth ranks, so an N x N similarity never exists in memory.
//
// Tie rule (used everywhere in src/eval): ranks are PESSIMISTIC. The rank of a query is
// 1 + the number of non-positive candidates whose score is >= the best positive score. A tie therefore
// counts against the query: a model that gives every candidate the same score gets the worst rank, never
// R@1 = 100%. Top-K lists are ordered by score descending, then candidate index ascending.
//
// NaN rule: embeddings with NaN/Inf are refused (SailError). A NaN score that still arises (overflow in
// the product) is the worst score: it never beats another candidate, never enters a top-K list, and a
// query whose positives all score NaN gets the worst rank.
import { insertTopK } from '../util/top-k.js';
import type * as ortTypes from 'onnxruntime-node';
import { GraphBuilder } from '../onnx/graph.js';
import { createSession, f32, type SessionOptions } from '../onnx/session.js';
import { assertFiniteRows } from '../util/finite.js';
import { SailError } from '../util/errors.js';

/** Inputs of one similarity scan. All embeddings are row-major float32 and should be L2-normalised. */
export interface ScanInput {
  /** Query rows [nQueries, dim]. */
  queries: Float32Array;
  /** Candidate rows [nCandidates, dim]. */
  candidates: Float32Array;
  dim: number;
  /** Keep the best `topK` candidates per query (0 or absent: no lists). */
  topK?: number;
  /**
   * Group ids that define positives: candidate c is a positive of query q when
   * `candidateGroup[c] === queryGroup[q]`. With both given, `ranks` are computed.
   */
  queryGroup?: Int32Array;
  candidateGroup?: Int32Array;
  /**
   * Also rank in the other direction in the same pass (needs groups): for each candidate, 1 + the number
   * of non-positive queries scoring >= its best positive query. Retrieval gets I2T and T2I from one product.
   */
  columnRanks?: boolean;
}

/** Result of a scan. */
export interface ScanResult {
  nQueries: number;
  nCandidates: number;
  /** Present when topK > 0: [nQueries, k] indices (-1 padding when fewer candidates than k) and scores. */
  topIndices?: Int32Array;
  topScores?: Float32Array;
  k: number;
  /** Present with groups: pessimistic 1-based rank of the best positive (see the tie rule above). */
  ranks?: Int32Array;
  /** Best positive score per query (with groups). */
  positiveScores?: Float32Array;
  /** With `columnRanks`: pessimistic rank of each candidate's best positive query, and that score. */
  columnRanks?: Int32Array;
  columnPositiveScores?: Float32Array;
}

export interface SimilarityOptions extends SessionOptions {
  /** Query rows per product (default 1024). */
  queryBlock?: number;
  /** Candidate rows per product (default 8192). */
  candidateBlock?: number;
  /** Called after each product with (done products, total products). */
  onProgress?: (done: number, total: number) => void;
}

export { l2NormalizeRows } from '../util/vectors.js';

/**
 * A reusable product session: `scores(a, rowsA, b, rowsB)` = A B^T as [rowsA, rowsB] float32.
 * One Gemm with transB (B stays row-major, no transposed copy).
 */
export class BlockProduct {
  private constructor(private readonly session: ortTypes.InferenceSession, readonly dim: number) {}

  static async create(dim: number, opts: SessionOptions = {}): Promise<BlockProduct> {
    const g = new GraphBuilder('similarity');
    const a = g.input('a', 'float32', ['m', dim]);
    const b = g.input('b', 'float32', ['n', dim]);
    g.output(g.op('Gemm', [a, b], { transB: 1 }), 's', 'float32', ['m', 'n']);
    return new BlockProduct(await createSession(g.toBytes(), opts), dim);
  }

  async scores(a: Float32Array, rowsA: number, b: Float32Array, rowsB: number): Promise<Float32Array> {
    const d = this.dim;
    const out = await this.session.run({ a: f32(a.subarray(0, rowsA * d), [rowsA, d]), b: f32(b.subarray(0, rowsB * d), [rowsB, d]) });
    return out.s.data as Float32Array;
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

export function checkInput(inp: ScanInput): { nq: number; nc: number } {
  const { dim } = inp;
  if (!Number.isInteger(dim) || dim < 1) throw new SailError(`similarity: dim must be a positive integer, got ${dim}`);
  if (inp.queries.length % dim !== 0) throw new SailError(`similarity: query buffer of ${inp.queries.length} values is not a multiple of dim ${dim}`);
  if (inp.candidates.length % dim !== 0) throw new SailError(`similarity: candidate buffer of ${inp.candidates.length} values is not a multiple of dim ${dim}`);
  const nq = inp.queries.length / dim;
  const nc = inp.candidates.length / dim;
  if (nc === 0) throw new SailError('similarity: no candidates');
  if ((inp.queryGroup === undefined) !== (inp.candidateGroup === undefined)) throw new SailError('similarity: give both queryGroup and candidateGroup, or neither');
  if (inp.queryGroup && inp.queryGroup.length !== nq) throw new SailError(`similarity: queryGroup has ${inp.queryGroup.length} entries for ${nq} queries`);
  if (inp.candidateGroup && inp.candidateGroup.length !== nc) throw new SailError(`similarity: candidateGroup has ${inp.candidateGroup.length} entries for ${nc} candidates`);
  if (inp.columnRanks && !inp.queryGroup) throw new SailError('similarity: columnRanks needs queryGroup and candidateGroup');
  const k = inp.topK ?? 0;
  if (!Number.isInteger(k) || k < 0) throw new SailError(`similarity: topK must be a non-negative integer, got ${k}`);
  assertFiniteRows(inp.queries, dim, 'similarity: query rows');
  assertFiniteRows(inp.candidates, dim, 'similarity: candidate rows');
  return { nq, nc };
}

/** First position in an ascending list whose entry is >= lo (binary search). */
export function lowerBound(list: number[], lo: number): number {
  let a = 0;
  let b = list.length;
  while (a < b) {
    const m = (a + b) >> 1;
    if (list[m] < lo) a = m + 1;
    else b = m;
  }
  return a;
}

/** Indices of each group in ascending order, for gathering positives. */
export function groupIndex(groups: Int32Array): Map<number, number[]> {
  const m = new Map<number, number[]>();
  for (let c = 0; c < groups.length; c++) {
    const list = m.get(groups[c]);
    if (list) list.push(c);
    else m.set(groups[c], [c]);
  }
  return m;
}

/**
 * Scan queries against candidates block by block ([queryBlock, d] x [d, candidateBlock] per run, the next
 * run computing while the current block is scanned). Per query it keeps the K best candidates and, with
 * groups, counts the non-positives scoring >= the best positive (the pessimistic rank); with `columnRanks`
 * it also counts per candidate, so both retrieval directions cost one product. Best positive scores come
 * from the same Gemm kernel and operand order (a product against the gathered positives), so a candidate
 * that duplicates a positive compares equal to it.
 */
export async function scanSimilarity(inp: ScanInput, opts: SimilarityOptions = {}): Promise<ScanResult> {
  const { nq, nc } = checkInput(inp);
  const d = inp.dim;
  const k = Math.min(inp.topK ?? 0, nc);
  const qb = Math.max(1, opts.queryBlock ?? 1024);
  const cb = Math.max(1, opts.candidateBlock ?? 8192);
  const product = await BlockProduct.create(d, opts);
  const topIdx = k > 0 ? new Int32Array(nq * k).fill(-1) : undefined;
  const topSc = k > 0 ? new Float32Array(nq * k).fill(-Infinity) : undefined;
  const withRanks = inp.queryGroup !== undefined;
  const ranks = withRanks ? new Int32Array(nq) : undefined;
  const posScores = withRanks ? new Float32Array(nq) : undefined;
  const qg = inp.queryGroup;
  const cg = inp.candidateGroup;
  const byGroup = cg ? groupIndex(cg) : undefined;
  const withCols = inp.columnRanks === true;
  const colBest = withCols ? new Float32Array(nc) : undefined;
  const colCount = withCols ? new Int32Array(nc) : undefined;
  const totalRuns = Math.ceil(nq / qb) * Math.ceil(nc / cb);
  let runs = 0;
  try {
    const queriesByGroup = withCols ? groupIndex(qg!) : undefined;
    if (withCols) await columnBest(product, inp, queriesByGroup!, cb, colBest!);
    for (let q0 = 0; q0 < nq; q0 += qb) {
      const bq = Math.min(qb, nq - q0);
      const qBlock = inp.queries.subarray(q0 * d, (q0 + bq) * d);
      const best = new Float32Array(bq).fill(Infinity);
      const count = new Int32Array(bq);
      if (withRanks) await bestPositive(product, qBlock, bq, q0, inp, byGroup!, best);
      const run = (c0: number) => product.scores(qBlock, bq, inp.candidates.subarray(c0 * d, Math.min(nc, c0 + cb) * d), Math.min(cb, nc - c0));
      let pending: Promise<Float32Array> | undefined = run(0);
      for (let c0 = 0; c0 < nc; c0 += cb) {
        const bc = Math.min(cb, nc - c0);
        const s = await pending!;
        // onnxruntime computes the next block on its own threads while this one is scanned here
        pending = c0 + cb < nc ? run(c0 + cb) : undefined;
        pending?.catch(() => undefined);
        let minCol = Infinity;
        if (withCols) for (let j = 0; j < bc; j++) minCol = Math.min(minCol, colBest![c0 + j]);
        for (let i = 0; i < bq; i++) {
          const row = i * bc;
          if (withRanks) {
            // Hot loop: count every score >= the thresholds (one pre-test against the lower of the two
            // skips almost all entries); positives are subtracted below from these same scores.
            const t = best[i];
            const lo = Math.min(t, minCol);
            let cnt = 0;
            for (let j = 0; j < bc; j++) {
              const v = s[row + j];
              if (v >= lo) {
                if (v >= t) cnt++;
                if (withCols && v >= colBest![c0 + j]) colCount![c0 + j]++;
              }
            }
            const pos = byGroup!.get(qg![q0 + i])!;
            for (let p = lowerBound(pos, c0); p < pos.length && pos[p] < c0 + bc; p++) if (s[row + pos[p] - c0] >= t) cnt--;
            count[i] += cnt;
          }
          if (k > 0) pushTopK(s, row, bc, c0, topIdx!, topSc!, (q0 + i) * k, k);
        }
        if (withCols) {
          for (let j = 0; j < bc; j++) {
            const list = queriesByGroup!.get(cg![c0 + j]);
            if (!list) continue;
            for (let p = lowerBound(list, q0); p < list.length && list[p] < q0 + bq; p++) if (s[(list[p] - q0) * bc + j] >= colBest![c0 + j]) colCount![c0 + j]--;
          }
        }
        runs += 1;
        opts.onProgress?.(runs, totalRuns);
      }
      if (withRanks) {
        for (let i = 0; i < bq; i++) {
          ranks![q0 + i] = 1 + count[i];
          posScores![q0 + i] = best[i];
        }
      }
    }
  } finally {
    await product.dispose();
  }
  const res: ScanResult = { nQueries: nq, nCandidates: nc, k, topIndices: topIdx, topScores: topSc, ranks, positiveScores: posScores };
  if (withCols) {
    res.columnRanks = colCount!.map((c) => c + 1);
    res.columnPositiveScores = colBest;
  }
  return res;
}

/**
 * Best positive query score of every candidate, block by block, with the queries as the left operand
 * (the orientation of the main scan) so the values match the scan's bit for bit.
 */
async function columnBest(product: BlockProduct, inp: ScanInput, queriesByGroup: Map<number, number[]>, cb: number, colBest: Float32Array): Promise<void> {
  const d = inp.dim;
  const nc = colBest.length;
  for (let c0 = 0; c0 < nc; c0 += cb) {
    const bc = Math.min(cb, nc - c0);
    const lists: number[][] = [];
    const rowsOf = new Map<number, number>();
    const gathered: number[] = [];
    for (let j = 0; j < bc; j++) {
      const list = queriesByGroup.get(inp.candidateGroup![c0 + j]);
      if (!list) throw new SailError(`similarity: candidate ${c0 + j} (group ${inp.candidateGroup![c0 + j]}) has no positive query`, { row: c0 + j });
      lists.push(list);
      for (const q of list) {
        if (!rowsOf.has(q)) {
          rowsOf.set(q, gathered.length);
          gathered.push(q);
        }
      }
    }
    const a = new Float32Array(gathered.length * d);
    for (let r = 0; r < gathered.length; r++) a.set(inp.queries.subarray(gathered[r] * d, (gathered[r] + 1) * d), r * d);
    const s = await product.scores(a, gathered.length, inp.candidates.subarray(c0 * d, (c0 + bc) * d), bc);
    for (let j = 0; j < bc; j++) {
      colBest[c0 + j] = maxIgnoringNaN(lists[j], (q) => s[rowsOf.get(q)! * bc + j]);
    }
  }
}

/** Best positive score of each query of the block, via one product against the gathered positives. */
async function bestPositive(
  product: BlockProduct, qBlock: Float32Array, bq: number, q0: number, inp: ScanInput, byGroup: Map<number, number[]>, best: Float32Array,
): Promise<void> {
  const d = inp.dim;
  const lists: number[][] = [];
  const cols = new Map<number, number>();
  const gathered: number[] = [];
  for (let i = 0; i < bq; i++) {
    const list = byGroup.get(inp.queryGroup![q0 + i]);
    if (!list) throw new SailError(`similarity: query ${q0 + i} (group ${inp.queryGroup![q0 + i]}) has no positive candidate`, { row: q0 + i });
    lists.push(list);
    for (const c of list) {
      if (!cols.has(c)) {
        cols.set(c, gathered.length);
        gathered.push(c);
      }
    }
  }
  const p = new Float32Array(gathered.length * d);
  for (let j = 0; j < gathered.length; j++) p.set(inp.candidates.subarray(gathered[j] * d, (gathered[j] + 1) * d), j * d);
  const s = await product.scores(qBlock, bq, p, gathered.length);
  for (let i = 0; i < bq; i++) best[i] = maxIgnoringNaN(lists[i], (c) => s[i * gathered.length + cols.get(c)!]);
}

/** Best score over a list, NaN counting as the worst (all NaN: -Infinity, so the rank is the worst). */
function maxIgnoringNaN(list: number[], score: (i: number) => number): number {
  let m = -Infinity;
  for (const i of list) {
    const v = score(i);
    if (v > m) m = v;
  }
  return m;
}

/**
 * Merge one block row into a query's sorted top-K list (score desc, index asc). Candidates arrive in
 * ascending index order, so an equal score never displaces an earlier candidate.
 */
function pushTopK(s: Float32Array, row: number, bc: number, c0: number, idx: Int32Array, sc: Float32Array, o: number, k: number): void {
  let thr = sc[o + k - 1];
  for (let j = 0; j < bc; j++) {
    const v = s[row + j];
    if (!(v > thr)) continue;
    insertTopK(idx, sc, o, k, c0 + j, v);
    thr = sc[o + k - 1];
  }
}

/** Best positive score of every query (rows of `inp`), in query blocks of `qb`; groups required. */
export async function bestRowPositives(inp: ScanInput, candidatesByGroup: Map<number, number[]>, qb: number, opts: SessionOptions = {}): Promise<Float32Array> {
  const d = inp.dim;
  const nq = inp.queries.length / d;
  const best = new Float32Array(nq);
  const product = await BlockProduct.create(d, opts);
  try {
    for (let q0 = 0; q0 < nq; q0 += qb) {
      const bq = Math.min(qb, nq - q0);
      await bestPositive(product, inp.queries.subarray(q0 * d, (q0 + bq) * d), bq, q0, inp, candidatesByGroup, best.subarray(q0, q0 + bq));
    }
  } finally {
    await product.dispose();
  }
  return best;
}

/** Best positive query score of every candidate, in candidate blocks of `cb`; groups required. */
export async function bestColumnPositives(inp: ScanInput, queriesByGroup: Map<number, number[]>, cb: number, opts: SessionOptions = {}): Promise<Float32Array> {
  const colBest = new Float32Array(inp.candidates.length / inp.dim);
  const product = await BlockProduct.create(inp.dim, opts);
  try {
    await columnBest(product, inp, queriesByGroup, cb, colBest);
  } finally {
    await product.dispose();
  }
  return colBest;
}

/** Dense similarity of small sets (A B^T, [rowsA, rowsB]) through the same Gemm kernel. */
export async function similarityMatrix(a: Float32Array, b: Float32Array, dim: number, opts: SessionOptions = {}): Promise<Float32Array> {
  if (a.length % dim !== 0 || b.length % dim !== 0) throw new SailError(`similarity: buffers are not multiples of dim ${dim}`);
  const product = await BlockProduct.create(dim, opts);
  try {
    return Float32Array.from(await product.scores(a, a.length / dim, b, b.length / dim));
  } finally {
    await product.dispose();
  }
}
