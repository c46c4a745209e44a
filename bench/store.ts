// Store benchmark: random-batch gather throughput, and peak RSS of training on a store vs one 4x larger
// (the loop must stream batches, never load a modality). Each training run is a child process so its
// peak RSS (maxRSS) is its own.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createStoreWriter } from '../src/store/writer.js';
import { openStore } from '../src/store/reader.js';
import { trainLoop } from '../src/train/loop.js';
import { createTrainEngine } from '../src/train/engine.js';
import { Rng } from '../src/util/rng.js';

const DIM = 128;
const BASE_ROWS = 100_000;
const PART_ROWS = 16_384;
const BATCH = 1024;
const STEPS = 30;

async function makeStore(dir: string, rows: number, dtype: 'float16' | 'float32'): Promise<void> {
  const rng = new Rng(1);
  const w = await createStoreWriter(dir, { modalities: [{ name: 'image', dim: DIM, dtype }, { name: 'text', dim: DIM, dtype }] });
  for (let p = 0, start = 0; start < rows; p++, start += PART_ROWS) {
    const n = Math.min(PART_ROWS, rows - start);
    const a = new Float32Array(n * DIM);
    for (let i = 0; i < a.length; i++) a[i] = rng.normal();
    await w.writePart(p, { image: a, text: a });
  }
  await w.finalize();
}

/** Child mode: train STEPS steps on the store and print peak RSS in MiB. */
async function child(store: string, out: string): Promise<void> {
  await trainLoop({ storeDir: store, outDir: out, createEngine: createTrainEngine, head: { type: 'linear', targetDim: 64 }, lr: 1e-4, weightDecay: 1e-4, batchSize: BATCH, steps: STEPS, threads: 1 });
  console.log(JSON.stringify({ maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
}

function trainChild(store: string, out: string): number {
  const self = fileURLToPath(import.meta.url);
  const args = self.endsWith('.ts') ? ['--import', 'tsx', self] : [self];
  const r = spawnSync(process.execPath, args, { env: { ...process.env, SAIL_BENCH_STORE_CHILD: JSON.stringify({ store, out }) }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!).maxRssMiB;
}

/** Print gather throughput and the peak-RSS comparison. */
export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sail-bench-store-'));
  try {
    for (const dtype of ['float16', 'float32'] as const) {
      const path = join(dir, `gather-${dtype}`);
      await makeStore(path, BASE_ROWS, dtype);
      const s = await openStore(path);
      const rng = new Rng(2);
      const perm = rng.permutation(BASE_ROWS);
      const out = new Float32Array(BATCH * DIM);
      const t0 = performance.now();
      let rows = 0;
      for (let b = 0; b + BATCH <= BASE_ROWS && rows < 50 * BATCH; b += BATCH) {
        await s.readRows('image', perm.subarray(b, b + BATCH), out);
        rows += BATCH;
      }
      const sec = (performance.now() - t0) / 1000;
      console.log(`gather ${dtype}: ${Math.round(rows / sec)} random rows/s (dim ${DIM}, batch ${BATCH}, ${(rows * DIM * (dtype === 'float16' ? 2 : 4) / sec / 2 ** 20).toFixed(0)} MiB/s from page cache)`);
      await s.close();
      rmSync(path, { recursive: true });
    }
    const small = join(dir, 'small');
    const large = join(dir, 'large');
    await makeStore(small, BASE_ROWS, 'float16');
    await makeStore(large, 4 * BASE_ROWS, 'float16');
    const a = trainChild(small, join(dir, 'run-small'));
    const b = trainChild(large, join(dir, 'run-large'));
    const growth = (b - a) / a;
    console.log(`train peak RSS: ${a.toFixed(1)} MiB on ${BASE_ROWS} rows, ${b.toFixed(1)} MiB on ${4 * BASE_ROWS} rows ` +
      `(${(growth * 100).toFixed(1)}% growth; store data ${(4 * BASE_ROWS * DIM * 2 * 2 / 2 ** 20).toFixed(0)} MiB) -> ${growth <= 0.1 ? 'OK (within 10%)' : 'FAIL (over 10%)'}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const childArgs = process.env.SAIL_BENCH_STORE_CHILD;
if (childArgs) {
  const { store, out } = JSON.parse(childArgs) as { store: string; out: string };
  child(store, out).catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
