// Retrieval benchmark: N x N (default 100k x 100k) random normalised 512-d embeddings, I2T and T2I exact
// pessimistic ranks from ONE blocked onnxruntime Gemm pass (row and column counts in the streaming scan), against the matrix-product FLOP floor
// 2 N^2 d / (Gemm peak measured in the same run). SAIL_BENCH_EVAL_N overrides N; SAIL_BENCH_THREADS the threads.
import { l2NormalizeRows, BlockProduct, scanSimilarity } from '../src/eval/similarity.js';
import { retrievalMetrics } from '../src/eval/metrics.js';
import { Rng } from '../src/util/rng.js';

const N = Number(process.env.SAIL_BENCH_EVAL_N ?? 100_000);
const D = 512;
const THREADS = Number(process.env.SAIL_BENCH_THREADS ?? 2);

function randomUnitRows(n: number, d: number, rng: Rng): Float32Array {
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  return l2NormalizeRows(x, d);
}

/** Gemm throughput (FLOP/s) on the block shape the scan uses, best of a few runs (output copy included). */
async function gemmPeak(qb: number, cb: number): Promise<number> {
  const rng = new Rng(1);
  const a = randomUnitRows(qb, D, rng);
  const b = randomUnitRows(cb, D, rng);
  const p = await BlockProduct.create(D, { threads: THREADS });
  let best = Infinity;
  try {
    await p.scores(a, qb, b, cb);
    for (let r = 0; r < 5; r++) {
      const t0 = performance.now();
      await p.scores(a, qb, b, cb);
      best = Math.min(best, (performance.now() - t0) / 1000);
    }
  } finally {
    await p.dispose();
  }
  return (2 * qb * cb * D) / best;
}

export async function run(): Promise<void> {
  const qb = 1024;
  const cb = 8192;
  const rng = new Rng(42);
  const images = randomUnitRows(N, D, rng);
  // texts = images + noise, so ranks are non-trivial
  const texts = new Float32Array(N * D);
  for (let i = 0; i < texts.length; i++) texts[i] = images[i] + 0.2 * rng.normal();
  l2NormalizeRows(texts, D);
  const ids = Int32Array.from({ length: N }, (_, i) => i);
  const peak = await gemmPeak(qb, cb);
  const t0 = performance.now();
  // one product: row ranks = I2T, column ranks = T2I
  const r = await scanSimilarity({ queries: images, candidates: texts, dim: D, queryGroup: ids, candidateGroup: ids, columnRanks: true }, { threads: THREADS, queryBlock: qb, candidateBlock: cb });
  const t2 = performance.now();
  const m = retrievalMetrics(r.ranks!, r.columnRanks!);
  // top-K scan alone (k = 10) for one direction on a 10% query subset
  const sub = Math.max(1, Math.floor(N / 10));
  const t3 = performance.now();
  await scanSimilarity({ queries: images.subarray(0, sub * D), candidates: texts, dim: D, topK: 10 }, { threads: THREADS, queryBlock: qb, candidateBlock: cb });
  const t4 = performance.now();
  const flops = 2 * N * N * D;
  const secs = (t2 - t0) / 1000;
  const floor = flops / peak;
  console.log(`eval retrieval: N=${N} d=${D} threads=${THREADS}, I2T and T2I exact ranks`);
  console.log(`  Gemm peak ${(peak / 1e9).toFixed(1)} GFLOP/s on [${qb}x${D}]x[${D}x${cb}]`);
  console.log(`  I2T + T2I ranks in one pass: ${secs.toFixed(1)} s`);
  console.log(`  FLOP floor ${floor.toFixed(1)} s (2N^2d = ${(flops / 1e12).toFixed(2)} TFLOP): ${(secs / floor).toFixed(2)}x the floor, ${(flops / secs / 1e9).toFixed(1)} GFLOP/s achieved`);
  console.log(`  top-10 scan of ${sub} queries: ${((t4 - t3) / 1000).toFixed(1)} s (${((t4 - t3) / 1000 / ((2 * sub * N * D) / peak)).toFixed(2)}x its floor)`);
  console.log(`  sanity: I2T R@1 ${m.imageToText['R@1'].toFixed(2)}, T2I R@1 ${m.textToImage['R@1'].toFixed(2)}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
