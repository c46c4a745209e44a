// Throughput of the npm-shipped backbones (MobileNetV2-1.4 image features, USE-lite text features)
// next to the compute floor of the image model on this CPU.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GraphBuilder } from '../src/onnx/graph.js';
import { createSession, f32 } from '../src/onnx/session.js';
import { loadMobileNetV2Nsfwjs } from '../src/encoders/npm/mobilenet.js';
import { decodeBatch } from '../src/encoders/npm/image-preprocess.js';
import { loadUseLite } from '../src/encoders/npm/use-lite.js';

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

/**
 * Best-of-`reps` wall seconds of `fn` and the process CPU seconds per call, after `warm` warm-up
 * calls (onnxruntime grows its arena and plans memory over the first runs of a shape).
 */
async function best(fn: () => Promise<unknown>, reps: number, warm = 1): Promise<{ wall: number; cpu: number }> {
  for (let i = 0; i < warm; i++) await fn();
  let wall = Infinity;
  const u0 = process.cpuUsage();
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    wall = Math.min(wall, (performance.now() - t0) / 1000);
  }
  const u = process.cpuUsage(u0);
  return { wall, cpu: (u.user + u.system) / 1e6 / reps };
}

/** sgemm-ish peak: onnxruntime MatMul [n,n] x [n,n] with a constant right side, GFLOP/s. */
async function matmulPeak(threads: number, n = 1024): Promise<number> {
  const g = new GraphBuilder('peak');
  const a = g.input('a', 'float32', [n, n]);
  const w = g.initializer('w', Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5), [n, n]);
  g.output(g.op('MatMul', [a, w]), 'y', 'float32', [n, n]);
  const s = await createSession(g.toBytes(), { threads });
  const x = f32(Float32Array.from({ length: n * n }, (_, i) => ((i * 104729) % 1000) / 1000 - 0.5), [n, n]);
  const sec = await best(() => s.run({ a: x }), 8);
  await s.release();
  return (2 * n * n * n) / sec.wall / 1e9;
}

const fmt = (v: number, d = 1): string => v.toFixed(d).padStart(8);

async function benchImages(root: string): Promise<void> {
  const dir = join(root, 'node_modules', 'emoji-datasource-google', 'img', 'google', '64');
  const files = readdirSync(dir).filter((f) => f.endsWith('.png')).sort().slice(0, 128).map((f) => join(dir, f));
  const buffers = files.map((f) => readFileSync(f)); // in memory: measure decode, not disk
  const peaks = new Map<number, number>();
  for (const t of [1, 2]) peaks.set(t, await matmulPeak(t));
  console.log(`onnxruntime MatMul 1024^3 peak: 1 thread ${peaks.get(1)!.toFixed(0)} GFLOP/s, 2 threads ${peaks.get(2)!.toFixed(0)} GFLOP/s`);
  const decodeBuf = new Float32Array(8 * 224 * 224 * 3); // reused, as the encoder does
  const dec = await best(async () => {
    for (let i = 0; i < buffers.length; i += 8) await decodeBatch(buffers.slice(i, i + 8), 224, 'crop', i, decodeBuf);
  }, 2);
  console.log(`decode 64x64 PNG (sharp) + resample to 224x224 float (JS), batches of 8: ${(buffers.length / dec.wall).toFixed(0)} img/s alone, ` +
    `${((1000 * dec.cpu) / buffers.length).toFixed(2)} CPU ms/img`);

  console.log('mobilenetv2-nsfwjs inference only (pre-decoded batch; CPU ms = all threads of the process)');
  console.log('threads  batch    img/s  CPU ms/img   floor img/s  % of floor');
  let flops = 0;
  for (const threads of [1, 2]) {
    for (const batch of [1, 4, 8]) {
      const enc = await loadMobileNetV2Nsfwjs({ threads, batchSize: batch });
      flops = enc.flopsPerImage;
      const pixels = await decodeBatch(buffers.slice(0, batch), 224, 'crop');
      const r = await best(() => enc.encodeTensor(pixels, batch), Math.max(4, Math.ceil(32 / batch)), 3);
      const floor = (peaks.get(threads)! * 1e9) / flops;
      const rate = batch / r.wall;
      console.log(`${String(threads).padStart(7)} ${String(batch).padStart(6)} ${fmt(rate)} ${fmt((1000 * r.cpu) / batch, 2)}` +
        `      ${fmt(floor)}    ${fmt((100 * rate) / floor)}`);
      await enc.dispose();
    }
  }
  console.log(`FLOPs per image: ${(flops / 1e9).toFixed(3)} G (2 x multiply-adds of convs); floor = FLOPs / MatMul peak`);

  console.log(`end to end: encode(${buffers.length} PNG buffers), decode of batch k+1 overlapped with inference of batch k, 2 threads`);
  // Under contention wall time says little; CPU time per image does not depend on the neighbours as
  // much, and 2000 / (CPU ms) is what two otherwise idle cores would sustain if fully busy.
  console.log('batch  spinning    img/s  CPU ms/img  2-core est. img/s');
  let bestRate = 0;
  for (const spinning of [false, true]) {
    for (const batch of [4, 8, 16]) {
      const enc = await loadMobileNetV2Nsfwjs({ threads: 2, batchSize: batch, spinning });
      const r = await best(() => enc.encode(buffers), 2);
      const rate = buffers.length / r.wall;
      if (!spinning) bestRate = Math.max(bestRate, rate);
      const cpuMs = (1000 * r.cpu) / buffers.length;
      console.log(`${String(batch).padStart(5)} ${String(spinning).padStart(9)} ${fmt(rate)} ${fmt(cpuMs, 2)}    ${fmt(2000 / cpuMs)}`);
      await enc.dispose();
    }
  }
  // Worker pool: one single-threaded session per core, each decoding its own batches (the registry default).
  console.log('worker pool (1-thread session + own decoding per worker; CPU ms from this process, workers included)');
  console.log('workers  batch    img/s  CPU ms/img');
  for (const batch of [4, 8]) {
    const encPool = await loadMobileNetV2Nsfwjs({ workers: 2, batchSize: batch });
    const r = await best(() => encPool.encode(buffers), 2);
    const rate = buffers.length / r.wall;
    bestRate = Math.max(bestRate, rate);
    console.log(`${String(2).padStart(7)} ${String(batch).padStart(6)} ${fmt(rate)} ${fmt((1000 * r.cpu) / buffers.length, 2)}`);
    await encPool.dispose();
  }
  // The naive loop: one image at a time, decode then infer, nothing overlapped (2 threads).
  const enc = await loadMobileNetV2Nsfwjs({ threads: 2, batchSize: 1 });
  const naive = await best(async () => {
    for (const b of buffers.slice(0, 32)) await enc.encodeTensor(await decodeBatch([b], 224, 'crop'), 1);
  }, 2);
  await enc.dispose();
  const naiveRate = 32 / naive.wall;
  console.log(`naive loop (batch 1, decode then infer): ${naiveRate.toFixed(1)} img/s; best overlapped (no spinning, or pool): ` +
    `${bestRate.toFixed(1)} img/s; speedup ${(bestRate / naiveRate).toFixed(2)}x; target >= 150 img/s on 2 quiet cores`);
}

async function benchTexts(root: string): Promise<void> {
  const meta = JSON.parse(readFileSync(join(root, 'node_modules', 'emoji-datasource-google', 'emoji.json'), 'utf8')) as { name?: string; short_name?: string }[];
  const texts = meta.map((m) => (m.name ?? m.short_name ?? 'emoji').toLowerCase()).slice(0, 256);
  console.log(`use-lite (TF.js wasm backend, single-threaded in Node; ${texts.length} emoji names)`);
  console.log('  batch  texts/s');
  let naive = 0;
  let bestRate = 0;
  for (const batch of [1, 16, 64]) {
    const enc = await loadUseLite({ batchSize: batch });
    const n = batch === 1 ? 64 : 256;
    const sec = (await best(() => enc.encode(texts.slice(0, n)), 2)).wall;
    const rate = n / sec;
    if (batch === 1) naive = rate;
    bestRate = Math.max(bestRate, rate);
    console.log(`${String(batch).padStart(7)} ${fmt(rate)}`);
    await enc.dispose();
  }
  console.log(`speedup of the best batch over one text at a time: ${(bestRate / naive).toFixed(2)}x`);
}

/** Print images/s and texts/s of both npm backbones. */
export async function run(): Promise<void> {
  const root = repoRoot();
  await benchImages(root);
  await benchTexts(root);
}
