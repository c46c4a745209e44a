import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ranksFromMatrix } from '../../src/eval/metrics.js';
import { l2NormalizeRows, scanSimilarity, similarityMatrix } from '../../src/eval/similarity.js';
import { Rng } from '../../src/util/rng.js';

function randRows(n: number, d: number, rng: Rng): Float32Array {
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  return l2NormalizeRows(x, d);
}

/** Naive float64 A B^T. */
function naive(a: Float32Array, b: Float32Array, d: number): Float64Array {
  const na = a.length / d;
  const nb = b.length / d;
  const s = new Float64Array(na * nb);
  for (let i = 0; i < na; i++) for (let j = 0; j < nb; j++) {
    let acc = 0;
    for (let k = 0; k < d; k++) acc += a[i * d + k] * b[j * d + k];
    s[i * nb + j] = acc;
  }
  return s;
}

test('blocked scan equals a naive float64 product: top-K lists, scores and multi-positive ranks', async () => {
  const rng = new Rng(7);
  const d = 24;
  const nq = 37;
  const nc = 53;
  const q = randRows(nq, d, rng);
  const c = randRows(nc, d, rng);
  const qg = Int32Array.from({ length: nq }, (_, i) => i % 11);
  const cg = Int32Array.from({ length: nc }, (_, i) => i % 13); // groups 11, 12 never match a query; each query has 4-5 positives
  const k = 6;
  const ref = naive(q, c, d);
  const refRanks = ranksFromMatrix(ref, nq, nc, qg, cg);
  for (const [qb, cb] of [[5, 7], [64, 1024], [1, 53]]) {
    const r = await scanSimilarity({ queries: q, candidates: c, dim: d, topK: k, queryGroup: qg, candidateGroup: cg }, { queryBlock: qb, candidateBlock: cb, threads: 1 });
    assert.deepEqual([...r.ranks!], [...refRanks], `ranks, blocks ${qb}x${cb}`);
    assert.equal(r.columnRanks, undefined);
    for (let i = 0; i < nq; i++) {
      const order = Array.from({ length: nc }, (_, j) => j).sort((a, b) => ref[i * nc + b] - ref[i * nc + a]);
      assert.deepEqual([...r.topIndices!.subarray(i * k, (i + 1) * k)], order.slice(0, k), `top-K of query ${i}`);
      for (let j = 0; j < k; j++) assert.ok(Math.abs(r.topScores![i * k + j] - ref[i * nc + order[j]]) < 1e-5);
      let best = -Infinity;
      for (let j = 0; j < nc; j++) if (cg[j] === qg[i]) best = Math.max(best, ref[i * nc + j]);
      assert.ok(Math.abs(r.positiveScores![i] - best) < 1e-5);
    }
  }
  const dense = await similarityMatrix(q, c, d, { threads: 1 });
  for (let i = 0; i < dense.length; i++) assert.ok(Math.abs(dense[i] - ref[i]) < 1e-5);
});

test('one-pass column ranks equal the ranks of the transposed float64 product', async () => {
  const rng = new Rng(8);
  const d = 16;
  const nImg = 29;
  const q = randRows(nImg, d, rng);
  const imageOfText = Int32Array.from({ length: 3 * nImg - 4 }, (_, t) => t % nImg); // 1-3 captions per image
  const c = randRows(imageOfText.length, d, rng);
  const ids = Int32Array.from({ length: nImg }, (_, i) => i);
  const ref = naive(q, c, d);
  const nc = imageOfText.length;
  const tr = new Float64Array(nc * nImg);
  for (let i = 0; i < nImg; i++) for (let j = 0; j < nc; j++) tr[j * nImg + i] = ref[i * nc + j];
  const want = ranksFromMatrix(tr, nc, nImg, imageOfText, ids);
  for (const [qb, cb] of [[4, 9], [1000, 1000]]) {
    const r = await scanSimilarity({ queries: q, candidates: c, dim: d, queryGroup: ids, candidateGroup: imageOfText, columnRanks: true }, { queryBlock: qb, candidateBlock: cb, threads: 1 });
    assert.deepEqual([...r.columnRanks!], [...want]);
    assert.deepEqual([...r.ranks!], [...ranksFromMatrix(ref, nImg, nc, ids, imageOfText)]);
  }
  // a candidate without a positive query cannot be ranked
  await assert.rejects(scanSimilarity({ queries: q, candidates: c, dim: d, queryGroup: ids, candidateGroup: imageOfText.map((g, t) => (t === 0 ? 999 : g)), columnRanks: true }), /no positive/);
});

test('ties: a candidate equal to the positive counts against the query; top-K ties keep index order', async () => {
  const d = 2;
  // candidates: 0 = (1,0), 1 = (0,1), 2 = (1,0) duplicate of 0, 3 = (0.6,0.8)
  const c = Float32Array.from([1, 0, 0, 1, 1, 0, 0.6, 0.8]);
  const q = Float32Array.from([1, 0, 0, 1]);
  const r = await scanSimilarity(
    { queries: q, candidates: c, dim: d, topK: 4, queryGroup: Int32Array.from([2, 1]), candidateGroup: Int32Array.from([0, 1, 2, 3]) },
    { queryBlock: 1, candidateBlock: 2, threads: 1 },
  );
  // query 0's positive is candidate 2 (score 1), tied with candidate 0 -> rank 2
  // query 1's positive is candidate 1 (score 1), nothing else >= 1 -> rank 1
  assert.deepEqual([...r.ranks!], [2, 1]);
  assert.deepEqual([...r.topIndices!.subarray(0, 4)], [0, 2, 3, 1]);
  assert.deepEqual([...r.topIndices!.subarray(4, 8)], [1, 3, 0, 2]);
  assert.deepEqual([...r.topScores!.subarray(0, 4)].map((x) => Math.round(x * 1e6) / 1e6), [1, 1, 0.6, 0]);
});

test('ties in both directions of a one-pass scan count against the query', async () => {
  // queries q0 = q1 = (1,0), q2 = (0,1); candidates c0 = (1,0), c1 = (0.6,0.8), c2 = (0,1); positives qi <-> ci
  const q = Float32Array.from([1, 0, 1, 0, 0, 1]);
  const c = Float32Array.from([1, 0, 0.6, 0.8, 0, 1]);
  const g = Int32Array.from([0, 1, 2]);
  for (const [qb, cb] of [[1, 1], [2, 2], [3, 3]]) {
    const r = await scanSimilarity({ queries: q, candidates: c, dim: 2, queryGroup: g, candidateGroup: g, columnRanks: true }, { queryBlock: qb, candidateBlock: cb, threads: 1 });
    // rows: q1's positive scores 0.6 but c0 scores 1 -> 2; columns: c0 tied by q1 -> 2, c1 tied by q0 and beaten by q2 -> 3
    assert.deepEqual([...r.ranks!], [1, 2, 1], `rows ${qb}x${cb}`);
    assert.deepEqual([...r.columnRanks!], [2, 3, 1], `columns ${qb}x${cb}`);
  }
});

test('top-K larger than the candidate count is capped; bad inputs are SailErrors', async () => {
  const q = Float32Array.from([1, 0]);
  const c = Float32Array.from([0, 1, 1, 0]);
  const r = await scanSimilarity({ queries: q, candidates: c, dim: 2, topK: 10 }, { threads: 1 });
  assert.equal(r.k, 2);
  assert.deepEqual([...r.topIndices!], [1, 0]);
  await assert.rejects(scanSimilarity({ queries: q, candidates: Float32Array.from([1, 2, 3]), dim: 2 }), /multiple of dim/);
  await assert.rejects(scanSimilarity({ queries: q, candidates: c, dim: 2, queryGroup: Int32Array.from([5]), candidateGroup: Int32Array.from([0, 1]) }), /no positive/);
  await assert.rejects(scanSimilarity({ queries: q, candidates: c, dim: 2, queryGroup: Int32Array.from([0]) }), /both/);
});
