// In-graph rank counting (rank-blocks.ts) against the float64 dense reference and the JS scan.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ranksFromMatrix } from '../../src/eval/metrics.js';
import { rankScan, rankScanFrom } from '../../src/eval/rank-blocks.js';
import { l2NormalizeRows, scanSimilarity } from '../../src/eval/similarity.js';
import { Rng } from '../../src/util/rng.js';

function randRows(n: number, d: number, rng: Rng): Float32Array {
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  return l2NormalizeRows(x, d);
}

/** Float64 A B^T and its transpose. */
function naive(a: Float32Array, b: Float32Array, d: number): { s: Float64Array; t: Float64Array } {
  const na = a.length / d;
  const nb = b.length / d;
  const s = new Float64Array(na * nb);
  const t = new Float64Array(na * nb);
  for (let i = 0; i < na; i++) for (let j = 0; j < nb; j++) {
    let acc = 0;
    for (let k = 0; k < d; k++) acc += a[i * d + k] * b[j * d + k];
    s[i * nb + j] = acc;
    t[j * na + i] = acc;
  }
  return { s, t };
}

test('in-graph rank counts equal float64 ranks in both directions (1-3 captions per image, ragged blocks)', async () => {
  const rng = new Rng(21);
  const d = 16;
  const nImg = 31;
  const q = randRows(nImg, d, rng);
  const imageOfText = Int32Array.from({ length: 3 * nImg - 5 }, (_, t) => t % nImg);
  const c = randRows(imageOfText.length, d, rng);
  const ids = Int32Array.from({ length: nImg }, (_, i) => i);
  const ref = naive(q, c, d);
  const nc = imageOfText.length;
  const wantRows = ranksFromMatrix(ref.s, nImg, nc, ids, imageOfText);
  const wantCols = ranksFromMatrix(ref.t, nc, nImg, imageOfText, ids);
  for (const [qb, cb] of [[4, 9], [1, 1], [7, 1000], [1000, 13]]) {
    const r = await rankScan({ queries: q, candidates: c, dim: d, queryGroup: ids, candidateGroup: imageOfText }, { queryBlock: qb, candidateBlock: cb, threads: 1 });
    assert.deepEqual([...r.ranks], [...wantRows], `rows, blocks ${qb}x${cb}`);
    assert.deepEqual([...r.columnRanks], [...wantCols], `columns, blocks ${qb}x${cb}`);
    const js = await scanSimilarity({ queries: q, candidates: c, dim: d, queryGroup: ids, candidateGroup: imageOfText, columnRanks: true }, { queryBlock: qb, candidateBlock: cb, threads: 1 });
    assert.deepEqual([...r.ranks], [...js.ranks!]);
    assert.deepEqual([...r.columnRanks], [...js.columnRanks!]);
    // best positive scores (as the blocks computed them) against float64
    for (let i = 0; i < nImg; i++) {
      let best = -Infinity;
      for (let j = 0; j < nc; j++) if (imageOfText[j] === i) best = Math.max(best, ref.s[i * nc + j]);
      assert.ok(Math.abs(r.positiveScores[i] - best) < 1e-6);
    }
    for (let j = 0; j < nc; j++) assert.ok(Math.abs(r.columnPositiveScores[j] - ref.s[imageOfText[j] * nc + j]) < 1e-6);
  }
});

test('in-graph ranks: exact ties count against the query in both directions; several positives per query', async () => {
  // queries q0 = q1 = (1,0), q2 = (0,1); candidates c0 = (1,0), c1 = (0.6,0.8), c2 = (0,1); positives qi <-> ci
  const q = Float32Array.from([1, 0, 1, 0, 0, 1]);
  const c = Float32Array.from([1, 0, 0.6, 0.8, 0, 1]);
  const g = Int32Array.from([0, 1, 2]);
  for (const [qb, cb] of [[1, 1], [2, 2], [3, 3]]) {
    const r = await rankScan({ queries: q, candidates: c, dim: 2, queryGroup: g, candidateGroup: g }, { queryBlock: qb, candidateBlock: cb, threads: 1 });
    assert.deepEqual([...r.ranks], [1, 2, 1], `rows ${qb}x${cb}`);
    assert.deepEqual([...r.columnRanks], [2, 3, 1], `columns ${qb}x${cb}`);
  }
  // several positives: a duplicate of the best positive that is itself a positive does not count, a
  // non-positive duplicate does (q0 = (1,0) has positives c0, c1 and the tied non-positive c2)
  const q2 = Float32Array.from([1, 0, 0.6, 0.8, 0, 1]);
  const c2 = Float32Array.from([1, 0, 1, 0, 1, 0, 0, 1]);
  for (const [qb, cb] of [[1, 1], [2, 3], [3, 4]]) {
    const r = await rankScan({ queries: q2, candidates: c2, dim: 2, queryGroup: Int32Array.from([0, 1, 2]), candidateGroup: Int32Array.from([0, 0, 1, 2]) }, { queryBlock: qb, candidateBlock: cb, threads: 1 });
    assert.deepEqual([...r.ranks], [2, 4, 1], `rows ${qb}x${cb}`);
    assert.deepEqual([...r.columnRanks], [1, 1, 2, 1], `columns ${qb}x${cb}`);
  }
});

test('a threshold that differs from its block\'s own score recounts only that query block and candidate block, with the block values', async () => {
  const rng = new Rng(33);
  const d = 8;
  const n = 31;
  const q = randRows(n, d, rng);
  const c = randRows(n, d, rng);
  const ids = Int32Array.from({ length: n }, (_, i) => i);
  const inp = { queries: q, candidates: c, dim: d, queryGroup: ids, candidateGroup: ids };
  const ref = naive(q, c, d);
  const wantRows = ranksFromMatrix(ref.s, n, n, ids, ids);
  const wantCols = ranksFromMatrix(ref.t, n, n, ids, ids);
  const blocks = { queryBlock: 4, candidateBlock: 9, threads: 1 }; // 8 query blocks x 4 candidate blocks
  const exact = await rankScan(inp, blocks);
  assert.deepEqual([...exact.ranks], [...wantRows]);
  // thresholds as a pre-pass whose Gemm rounded two pairs differently: query 5 (block 1) and candidate 20 (block 2)
  const rows = exact.positiveScores.slice();
  const columns = exact.columnPositiveScores.slice();
  rows[5] += 0.5; // far off: the first pass miscounts query 5 (and would keep doing so without the recount)
  columns[20] -= 0.5;
  const passes: number[] = [];
  const r = await rankScanFrom(inp, { rows, columns }, { ...blocks, onProgress: (done, total) => { if (done === total) passes.push(total); } });
  assert.deepEqual([...r.ranks], [...wantRows], 'rows after the recount');
  assert.deepEqual([...r.columnRanks], [...wantCols], 'columns after the recount');
  assert.deepEqual([...r.positiveScores], [...exact.positiveScores]);
  assert.deepEqual([...r.columnPositiveScores], [...exact.columnPositiveScores]);
  // the full pass (32 runs), then query block 1 x all 4 candidate blocks + the 7 other query blocks x candidate block 2
  assert.deepEqual(passes, [32, 4 + 7]);
  // consistent thresholds: one pass only
  passes.length = 0;
  await rankScanFrom(inp, { rows: exact.positiveScores, columns: exact.columnPositiveScores }, { ...blocks, onProgress: (done, total) => { if (done === total) passes.push(total); } });
  assert.deepEqual(passes, [32]);
});

test('in-graph ranks: bad groups are SailErrors', async () => {
  const q = Float32Array.from([1, 0]);
  const c = Float32Array.from([0, 1, 1, 0]);
  await assert.rejects(rankScan({ queries: q, candidates: c, dim: 2, queryGroup: Int32Array.of(5), candidateGroup: Int32Array.from([0, 1]) }), /no positive/);
  await assert.rejects(rankScan({ queries: q, candidates: c, dim: 2 }), /queryGroup/);
});
