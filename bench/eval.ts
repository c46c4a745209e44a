// Retrieval benchmark, two parts:
// 1. `sail eval --task retrieval` (a child process, wall time incl. start-up) on an N x N store
//    (SAIL_BENCH_EVAL_CLI_N, default 50k) with a linear 512 -> 512 head, side by side with the numpy
//    peer (bench/peers/numpy_retrieval.py) in alternating runs (SAIL_BENCH_PAIRS, default 3); R@1/5/10
//    of both must be identical. Skipped with a message without a Python that has numpy.
// 2. In-process exact I2T + T2I ranks (rankScan: counting inside onnxruntime) on N x N random 512-d
//    rows (SAIL_BENCH_EVAL_N, default 100k; 0 skips), against the FLOP floor 2 N^2 d / (Gemm peak).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { HeadConfig } from '../src/head/config.js';
import { initParams } from '../src/head/init.js';
import { rankScan } from '../src/eval/rank-blocks.js';
import { l2NormalizeRows, BlockProduct } from '../src/eval/similarity.js';
import { retrievalMetrics } from '../src/eval/metrics.js';
import { createStoreWriter } from '../src/store/writer.js';
import { saveHead } from '../src/train/checkpoint.js';
import { Rng } from '../src/util/rng.js';
import { chooseOpenblasCore, envLine, findPython, median, peerEnv, peersDir, runPeer } from './peers.js';

const N = Number(process.env.SAIL_BENCH_EVAL_N ?? 100_000);
const CLI_N = Number(process.env.SAIL_BENCH_EVAL_CLI_N ?? 50_000);
const D = 512;
const THREADS = Number(process.env.SAIL_BENCH_THREADS ?? 2);

function randomUnitRows(n: number, d: number, rng: Rng): Float32Array {
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  return l2NormalizeRows(x, d);
}

/** Images and captions = images + noise (so ranks are non-trivial), unit rows. */
function pairs(n: number, seed: number): { images: Float32Array; texts: Float32Array } {
  const rng = new Rng(seed);
  const images = randomUnitRows(n, D, rng);
  const texts = new Float32Array(n * D);
  for (let i = 0; i < texts.length; i++) texts[i] = images[i] + 0.2 * rng.normal();
  return { images, texts: l2NormalizeRows(texts, D) };
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

type Recalls = Record<string, Record<string, number>>;

/** `sail eval --task retrieval` as a child: wall seconds and the R@K both ways from results.json. */
function sailEval(store: string, head: string, out: string): { seconds: number; recalls: Recalls } {
  const root = join(peersDir(), '..', '..');
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [join(root, 'bin', 'sail.js'), 'eval', '--task', 'retrieval', '--store', store, '--head', head, '--threads', String(THREADS), '--out', out], { encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`sail eval failed: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { retrieval: Recalls };
  return { seconds, recalls: { imageToText: res.retrieval.imageToText, textToImage: res.retrieval.textToImage } };
}

const recallLine = (r: Recalls): string => ['imageToText', 'textToImage'].map((k) => ['R@1', 'R@5', 'R@10'].map((x) => r[k][x].toFixed(3)).join('/')).join(' | ');

/** Writes the N x N fp16 store and the linear head the CLI comparison uses into `dir`. */
export async function makeRetrievalFixture(dir: string, n: number): Promise<{ store: string; head: string }> {
  const store = join(dir, 'store');
  const { images, texts } = pairs(n, 7);
  const w = await createStoreWriter(store, { modalities: [{ name: 'image', dim: D, dtype: 'float16' }, { name: 'text', dim: D, dtype: 'float16' }] });
  for (let p = 0, r0 = 0; r0 < n; p++, r0 += 16384) {
    const rows = Math.min(16384, n - r0);
    await w.writePart(p, { image: images.subarray(r0 * D, (r0 + rows) * D), text: texts.subarray(r0 * D, (r0 + rows) * D) });
  }
  await w.finalize();
  const cfg: HeadConfig = { type: 'linear', widthFactor: 1, visionDim: D, textDim: D, targetDim: D, logitScaleInit: 20, logitBiasInit: -10 };
  const head = join(dir, 'head.safetensors');
  // the same weights on both sides, so the head keeps image i closest to caption i (ranks are non-trivial)
  const params = initParams(cfg, new Rng(3));
  const byName = new Map(params.map((p) => [p.name, p]));
  for (const p of params) if (p.name.startsWith('text_')) p.data.set(byName.get(p.name.replace(/^text_/, 'vision_'))!.data);
  await saveHead(head, params, cfg);
  return { store, head };
}

async function benchCliVsNumpy(): Promise<void> {
  const py = findPython(['numpy']);
  if (!py.python) {
    console.log(`numpy peer skipped: ${py.reason}`);
    return;
  }
  const dir = mkdtempSync(join(os.tmpdir(), 'sail-bench-eval-'));
  try {
    const { store, head } = await makeRetrievalFixture(dir, CLI_N);
    const nPairs = Number(process.env.SAIL_BENCH_PAIRS ?? 3);
    const env = peerEnv({ core: chooseOpenblasCore(py.python, THREADS) });
    const ratios: number[] = [];
    const sails: number[] = [];
    const peers: number[] = [];
    console.log(`sail eval --task retrieval vs numpy, ${CLI_N} x ${CLI_N}, ${D}-d fp16 store, linear head, ${THREADS} threads (wall time incl. start-up)`);
    for (let p = 0; p < nPairs; p++) {
      const s = sailEval(store, head, join(dir, `out${p}`));
      const n = runPeer(py.python, 'numpy_retrieval.py', ['--store', store, '--head', head, '--threads', String(THREADS)], env);
      const peerRecalls = { imageToText: n.result.imageToText, textToImage: n.result.textToImage } as Recalls;
      if (p === 0) console.log(`  numpy ${String(n.result.numpy)}, BLAS: ${String(n.result.blas)} (${(n.result.blas_libraries as string[]).join(', ')})`);
      const same = recallLine(s.recalls) === recallLine(peerRecalls);
      sails.push(s.seconds);
      peers.push(n.wallSeconds);
      ratios.push(n.wallSeconds / s.seconds);
      console.log(`  pair ${p + 1}: sail ${s.seconds.toFixed(1)} s, numpy ${n.wallSeconds.toFixed(1)} s -> ${(n.wallSeconds / s.seconds).toFixed(2)}x; ` +
        `R@1/5/10 I2T | T2I sail ${recallLine(s.recalls)}, numpy ${recallLine(peerRecalls)} (${same ? 'identical' : 'DIFFERENT'})`);
    }
    console.log(`  median sail ${median(sails).toFixed(1)} s, numpy ${median(peers).toFixed(1)} s, median of pair ratios ${median(ratios).toFixed(2)}x (target >= 1.0x, goal 1.5x)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchScan(): Promise<void> {
  const qb = 2048;
  const cb = 8192;
  const { images, texts } = pairs(N, 42);
  const ids = Int32Array.from({ length: N }, (_, i) => i);
  const peak = await gemmPeak(qb, cb);
  const t0 = performance.now();
  // one product: row ranks = I2T, column ranks = T2I
  const r = await rankScan({ queries: images, candidates: texts, dim: D, queryGroup: ids, candidateGroup: ids }, { threads: THREADS, queryBlock: qb, candidateBlock: cb });
  const secs = (performance.now() - t0) / 1000;
  const m = retrievalMetrics(r.ranks, r.columnRanks);
  const flops = 2 * N * N * D;
  const floor = flops / peak;
  console.log(`eval retrieval (in process): N=${N} d=${D} threads=${THREADS}, I2T and T2I exact ranks`);
  console.log(`  Gemm peak ${(peak / 1e9).toFixed(1)} GFLOP/s on [${qb}x${D}]x[${D}x${cb}]`);
  console.log(`  I2T + T2I ranks in one pass: ${secs.toFixed(1)} s (target < 80 s at 100k)`);
  console.log(`  FLOP floor ${floor.toFixed(1)} s (2N^2d = ${(flops / 1e12).toFixed(2)} TFLOP): ${(secs / floor).toFixed(2)}x the floor, ${(flops / secs / 1e9).toFixed(1)} GFLOP/s achieved`);
  console.log(`  sanity: I2T R@1 ${m.imageToText['R@1'].toFixed(2)}, T2I R@1 ${m.textToImage['R@1'].toFixed(2)}`);
}

export async function run(): Promise<void> {
  console.log(`  environment: ${envLine()}`);
  if (CLI_N > 0) await benchCliVsNumpy();
  if (N > 0) await benchScan();
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
