// Exact retrieval ranks with the counting done INSIDE onnxruntime: each run multiplies one query block
// by one candidate block and returns only per-row and per-column counts of scores >= the thresholds,
// plus the block's own scores at the positive positions (a few values per row). Nothing of size
// [queries, candidates] crosses into JS, and all work runs on onnxruntime's thread pool.
//
// Same definition as scanSimilarity (similarity.ts): rank = 1 + the number of NON-positive candidates
// scoring >= the best positive score (pessimistic ties). The in-graph count includes the positives of
// the block; they are subtracted here using the scores the same run computed, so the subtraction is
// exact whatever Gemm kernel produced them. A NaN score never counts (GreaterOrEqual is false).
import type * as ortTypes from 'onnxruntime-node';
import { GraphBuilder } from '../onnx/graph.js';
import { createSession, f32, ort, type SessionOptions } from '../onnx/session.js';
import { SailError } from '../util/errors.js';
import { bestColumnPositives, bestRowPositives, checkInput, groupIndex, lowerBound, type ScanInput } from './similarity.js';

/** Rows per best-positive product (see rankScan). */
const POSITIVE_BLOCK = 256;

/** Options of {@link rankScan}. */
export interface RankScanOptions extends SessionOptions {
  /** Query rows per run (default 2048). */
  queryBlock?: number;
  /** Candidate rows per run (default 8192). */
  candidateBlock?: number;
  /** Called after each run with (done runs, total runs). */
  onProgress?: (done: number, total: number) => void;
}

/** Ranks in both directions (rows: queries, columns: candidates) and the best positive scores. */
export interface RankScanResult {
  ranks: Int32Array;
  positiveScores: Float32Array;
  columnRanks: Int32Array;
  columnPositiveScores: Float32Array;
}

/**
 * The per-block graph. Inputs: q [R, d], c [C, d], t_row [R, 1] (best positive score per query),
 * t_col [1, C] (best positive score per candidate), pos_row [R, P] / pos_col [Q, C] (int64 positions of
 * positives inside the block, padded). Outputs: row_count [R], col_count [C] (int32 sums as float, exact below 2^24),
 * pos_row_s [R, P], pos_col_s [Q, C] (the block's scores at those positions).
 */
function buildRankBlockGraph(dim: number): Uint8Array {
  const g = new GraphBuilder('rank_block');
  const q = g.input('q', 'float32', ['R', dim]);
  const c = g.input('c', 'float32', ['C', dim]);
  const tRow = g.input('t_row', 'float32', ['R', 1]);
  const tCol = g.input('t_col', 'float32', [1, 'C']);
  const posRow = g.input('pos_row', 'int64', ['R', 'P']);
  const posCol = g.input('pos_col', 'int64', ['Q', 'C']);
  const s = g.op('Gemm', [q, c], { transB: 1 });
  // Counting: GreaterOrEqual -> Cast to uint8 (a byte copy of the bool mask) -> MatMulInteger against a
  // column/row of ones. Measured twice as fast as Cast to float + ReduceSum, whose float Cast dominates.
  const one = g.op('Cast', [g.constF(1)], { to: 2 });
  const rowsOf = (x: string) => g.op('Slice', [g.op('Shape', [x]), g.constI64([0]), g.constI64([1])]);
  const onesCol = g.op('Expand', [one, g.op('Concat', [rowsOf(c), g.constI64([1])], { axis: 0 })]); // [C, 1]
  const onesRow = g.op('Expand', [one, g.op('Concat', [g.constI64([1]), rowsOf(q)], { axis: 0 })]); // [1, R]
  const mask = (t: string) => g.op('Cast', [g.op('GreaterOrEqual', [s, t])], { to: 2 });
  const toF = (x: string) => g.op('Cast', [g.op('Reshape', [x, g.constI64([-1])])], { to: 1 });
  g.output(toF(g.op('MatMulInteger', [mask(tRow), onesCol])), 'row_count', 'float32', ['R']);
  g.output(toF(g.op('MatMulInteger', [onesRow, mask(tCol)])), 'col_count', 'float32', ['C']);
  g.output(g.op('GatherElements', [s, posRow], { axis: 1 }), 'pos_row_s', 'float32', ['R', 'P']);
  g.output(g.op('GatherElements', [s, posCol], { axis: 0 }), 'pos_col_s', 'float32', ['Q', 'C']);
  return g.toBytes();
}

/** Positions of positives inside one block, padded to the widest entry (at least 1), with a validity mask. */
interface BlockPositives {
  idx: BigInt64Array;
  valid: Uint8Array;
  width: number;
}

/** For each of `n` owners, the members of its group list that fall in [lo, lo + size), as offsets from lo. */
function blockPositives(n: number, listOf: (i: number) => number[], lo: number, size: number, rowMajor: boolean): BlockPositives {
  const lists: number[][] = [];
  let width = 1;
  for (let i = 0; i < n; i++) {
    const list = listOf(i);
    const inBlock: number[] = [];
    for (let p = lowerBound(list, lo); p < list.length && list[p] < lo + size; p++) inBlock.push(list[p] - lo);
    lists.push(inBlock);
    width = Math.max(width, inBlock.length);
  }
  const idx = new BigInt64Array(n * width);
  const valid = new Uint8Array(n * width);
  for (let i = 0; i < n; i++) {
    lists[i].forEach((v, p) => {
      // rows: [n, width] (owner-major); columns: [width, n] (the gather runs along axis 0)
      const at = rowMajor ? i * width + p : p * n + i;
      idx[at] = BigInt(v);
      valid[at] = 1;
    });
  }
  return { idx, valid, width };
}

/** Counts of one full pass, and the best positive scores as the pass's own blocks computed them. */
interface PassResult {
  rowCount: Float64Array;
  colCount: Float64Array;
  rowBest: Float32Array;
  colBest: Float32Array;
}

/**
 * Exact pessimistic ranks in both directions from one pass of block products (queries x candidates);
 * needs `queryGroup` and `candidateGroup`. Thresholds (best positive scores) come from a cheap pre-pass
 * of products against the gathered positives, then {@link rankScanFrom} counts.
 */
export async function rankScan(inp: ScanInput, opts: RankScanOptions = {}): Promise<RankScanResult> {
  const groups = checkedGroups(inp);
  // Small blocks for the best-positive products: each is [block x its positives], of which only the
  // pairs are used, so its cost grows with the block (at 8192 it was 16% of the whole scan's FLOPs).
  const rows = await bestRowPositives(inp, groups.candidatesByGroup, POSITIVE_BLOCK, opts);
  const columns = await bestColumnPositives(inp, groups.queriesByGroup, POSITIVE_BLOCK, opts);
  return countFrom(inp, { rows, columns }, groups, opts);
}

/** Rounds of recounting after the full pass (each round normally settles every block it visits). */
const MAX_RECOUNTS = 3;

/**
 * The counting pass of {@link rankScan}, from given thresholds (best positive score per query and per
 * candidate, normally from the pre-pass). A Gemm kernel may round a pair differently in another shape
 * (in practice: in the ragged last blocks), so the pass also returns each positive's score as ITS block
 * computed it. Where a threshold differs from that, only the query blocks and candidate blocks holding
 * such rows and columns are counted again, with the blocks' own values (same shapes, so the same scores):
 * the ranks always follow the definition on one consistent set of scores, at a fraction of a second pass.
 */
export async function rankScanFrom(inp: ScanInput, thresholds: { rows: Float32Array; columns: Float32Array }, opts: RankScanOptions = {}): Promise<RankScanResult> {
  const groups = checkedGroups(inp);
  const [nq, nc] = [inp.queryGroup!.length, inp.candidateGroup!.length];
  if (thresholds.rows.length !== nq || thresholds.columns.length !== nc) {
    throw new SailError(`thresholds: ${thresholds.rows.length} rows and ${thresholds.columns.length} columns for ${nq} queries and ${nc} candidates`);
  }
  return countFrom(inp, thresholds, groups, opts);
}

/** Members of each group, both ways (groupIndex). */
interface Groups {
  candidatesByGroup: Map<number, number[]>;
  queriesByGroup: Map<number, number[]>;
}

/** Checks a scan's input (groups required) and indexes its groups. */
function checkedGroups(inp: ScanInput): Groups {
  checkInput(inp);
  if (!inp.queryGroup || !inp.candidateGroup) throw new SailError('ranks need queryGroup and candidateGroup');
  return { candidatesByGroup: groupIndex(inp.candidateGroup), queriesByGroup: groupIndex(inp.queryGroup) };
}

/** rankScanFrom on checked input. */
async function countFrom(inp: ScanInput, thresholds: { rows: Float32Array; columns: Float32Array }, groups: Groups, opts: RankScanOptions): Promise<RankScanResult> {
  const grid = blockGrid(thresholds.rows.length, thresholds.columns.length, opts);
  const session: ortTypes.InferenceSession = await createSession(buildRankBlockGraph(inp.dim), opts);
  try {
    let t = { rows: thresholds.rows, columns: thresholds.columns };
    let todo = { rowBlocks: range(grid.rowBlocks), columnBlocks: range(grid.columnBlocks) };
    const r = await countPass(session, inp, groups, t, grid, todo, opts);
    for (let round = 0; round < MAX_RECOUNTS; round++) {
      todo = { rowBlocks: blocksDiffering(t.rows, r.rowBest, grid.qb), columnBlocks: blocksDiffering(t.columns, r.colBest, grid.cb) };
      if (todo.rowBlocks.length === 0 && todo.columnBlocks.length === 0) break;
      t = { rows: r.rowBest.slice(), columns: r.colBest.slice() };
      const again = await countPass(session, inp, groups, t, grid, todo, opts);
      for (const b of todo.rowBlocks) {
        const [lo, hi] = [b * grid.qb, Math.min(grid.nq, (b + 1) * grid.qb)];
        r.rowCount.set(again.rowCount.subarray(lo, hi), lo);
        r.rowBest.set(again.rowBest.subarray(lo, hi), lo);
      }
      for (const b of todo.columnBlocks) {
        const [lo, hi] = [b * grid.cb, Math.min(grid.nc, (b + 1) * grid.cb)];
        r.colCount.set(again.colCount.subarray(lo, hi), lo);
        r.colBest.set(again.colBest.subarray(lo, hi), lo);
      }
    }
    return {
      ranks: Int32Array.from(r.rowCount, (x) => 1 + x),
      positiveScores: r.rowBest,
      columnRanks: Int32Array.from(r.colCount, (x) => 1 + x),
      columnPositiveScores: r.colBest,
    };
  } finally {
    await session.release();
  }
}

/** Block sizes and counts of a scan. */
interface BlockGrid {
  nq: number;
  nc: number;
  qb: number;
  cb: number;
  rowBlocks: number;
  columnBlocks: number;
}

function blockGrid(nq: number, nc: number, opts: RankScanOptions): BlockGrid {
  const qb = Math.max(1, opts.queryBlock ?? 2048);
  const cb = Math.max(1, opts.candidateBlock ?? 8192);
  return { nq, nc, qb, cb, rowBlocks: Math.ceil(nq / qb), columnBlocks: Math.ceil(nc / cb) };
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Indices of the blocks (of `size` entries) holding an entry where `a` and `b` differ (NaN equals NaN). */
function blocksDiffering(a: Float32Array, b: Float32Array, size: number): number[] {
  const out = new Set<number>();
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) out.add(Math.floor(i / size));
  return [...out].sort((x, y) => x - y);
}

/**
 * One pass with fixed thresholds over the blocks in the rows of `todo.rowBlocks` and the columns of
 * `todo.columnBlocks`. Row counts are complete (summed over every candidate block) for the rows of
 * `todo.rowBlocks` only, column counts for the columns of `todo.columnBlocks` only; the rest stay 0.
 */
async function countPass(
  session: ortTypes.InferenceSession, inp: ScanInput, groups: Groups,
  thresholds: { rows: Float32Array; columns: Float32Array }, grid: BlockGrid, todo: { rowBlocks: number[]; columnBlocks: number[] }, opts: RankScanOptions,
): Promise<PassResult> {
  const { candidatesByGroup, queriesByGroup } = groups;
  const best = thresholds.rows;
  const colBest = thresholds.columns;
  const d = inp.dim;
  const { nq, nc, qb, cb } = grid;
  const qg = inp.queryGroup!;
  const cg = inp.candidateGroup!;
  const rowBlocks = new Set(todo.rowBlocks);
  const columnBlocks = new Set(todo.columnBlocks);
  const rowCount = new Float64Array(nq);
  const colCount = new Float64Array(nc);
  // NaN is the worst score: it never becomes the best (v > m is false), as in similarity.ts
  const rowBest = new Float32Array(nq).fill(-Infinity);
  const colBestSeen = new Float32Array(nc).fill(-Infinity);
  const total = rowBlocks.size * grid.columnBlocks + (grid.rowBlocks - rowBlocks.size) * columnBlocks.size;
  let done = 0;
  for (let q0 = 0; q0 < nq; q0 += qb) {
    const bq = Math.min(qb, nq - q0);
    const qBlock = f32(inp.queries.subarray(q0 * d, (q0 + bq) * d), [bq, d]);
    const tRow = f32(best.subarray(q0, q0 + bq), [bq, 1]);
    const rowOut = new Float32Array(bq);
    const wholeRow = rowBlocks.has(q0 / qb);
    for (let c0 = 0; c0 < nc; c0 += cb) {
      const wholeColumn = columnBlocks.has(c0 / cb);
      if (!wholeRow && !wholeColumn) continue;
      const bc = Math.min(cb, nc - c0);
      const pr = blockPositives(bq, (i) => candidatesByGroup.get(qg[q0 + i])!, c0, bc, true);
      const pc = blockPositives(bc, (j) => queriesByGroup.get(cg[c0 + j]) ?? [], q0, bq, false);
      const colOut = new Float32Array(bc);
      const prS = new Float32Array(bq * pr.width);
      const pcS = new Float32Array(pc.width * bc);
      const out = await session.run(
        {
          q: qBlock, c: f32(inp.candidates.subarray(c0 * d, (c0 + bc) * d), [bc, d]), t_row: tRow,
          t_col: f32(colBest.subarray(c0, c0 + bc), [1, bc]),
          pos_row: new ort.Tensor('int64', pr.idx, [bq, pr.width]), pos_col: new ort.Tensor('int64', pc.idx, [pc.width, bc]),
        },
        { row_count: f32(rowOut, [bq]), col_count: f32(colOut, [bc]), pos_row_s: f32(prS, [bq, pr.width]), pos_col_s: f32(pcS, [pc.width, bc]) },
      );
      const rc = out.row_count.data as Float32Array;
      const cc = out.col_count.data as Float32Array;
      const rs = out.pos_row_s.data as Float32Array;
      const cs = out.pos_col_s.data as Float32Array;
      for (let i = 0; wholeRow && i < bq; i++) {
        let pos = 0;
        for (let p = i * pr.width; p < (i + 1) * pr.width; p++) {
          if (!pr.valid[p]) continue;
          if (rs[p] >= best[q0 + i]) pos++;
          if (rs[p] > rowBest[q0 + i]) rowBest[q0 + i] = rs[p];
        }
        rowCount[q0 + i] += rc[i] - pos;
      }
      for (let j = 0; wholeColumn && j < bc; j++) {
        let pos = 0;
        for (let p = j; p < pc.width * bc; p += bc) {
          if (!pc.valid[p]) continue;
          if (cs[p] >= colBest[c0 + j]) pos++;
          if (cs[p] > colBestSeen[c0 + j]) colBestSeen[c0 + j] = cs[p];
        }
        colCount[c0 + j] += cc[j] - pos;
      }
      done += 1;
      opts.onProgress?.(done, total);
    }
  }
  return { rowCount, colCount, rowBest, colBest: colBestSeen };
}
