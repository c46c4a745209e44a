// Benchmarks of the user-facing model: head inference throughput, IVF search, fused MobileNet export.
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createModel } from '../src/model/model.js';
import { exportModel } from '../src/model/export.js';
import { loadExportedModel } from '../src/model/exported.js';
import { MOBILENET_PREPROCESS } from '../src/encoders/image-spec.js';
import { initParams } from '../src/head/init.js';
import type { HeadConfig } from '../src/head/config.js';
import { IvfIndex } from '../src/serve/ivf.js';
import { Rng } from '../src/util/rng.js';

function randn(n: number, rng: Rng): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal());
}

async function headThroughput(): Promise<void> {
  // SAIL-style star head at DINOv2-small concat width (768 -> 8x -> 1024).
  const cfg: HeadConfig = { type: 'star', widthFactor: 8, visionDim: 768, textDim: 768, targetDim: 1024, logitScaleInit: 20, logitBiasInit: -10 };
  const rng = new Rng(1);
  const model = await createModel({ head: { config: cfg, params: initParams(cfg, rng) } });
  const x = randn(1024 * 768, rng);
  await model.encodeImageFeatures(x.subarray(0, 64 * 768));
  const t0 = performance.now();
  await model.encodeImageFeatures(x);
  const s = (performance.now() - t0) / 1000;
  const flops = 1024 * 2 * (2 * 768 * 6144 + 6144 * 1024);
  console.log(`head star 768->6144->1024: ${(1024 / s).toFixed(0)} rows/s, ${(flops / s / 1e9).toFixed(1)} GFLOP/s (1024 rows)`);
  await model.dispose();
}

/** IVF recall and latency against exact search on clustered random vectors. */
export async function ivfSearch(): Promise<void> {
  const n = 20_000;
  const d = 256;
  const rng = new Rng(2);
  const centres = Array.from({ length: 200 }, () => randn(d, rng));
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const c = centres[rng.int(200)];
    for (let k = 0; k < d; k++) x[i * d + k] = c[k] + 1.2 * rng.normal();
  }
  let t0 = performance.now();
  const ivf = await IvfIndex.build(x.slice(), d, { exactBelow: 0, iterations: 8 });
  const build = performance.now() - t0;
  const exact = await IvfIndex.build(x.slice(), d, { exactBelow: Infinity });
  // Fresh draws from the clusters (not perturbed indexed points), so neighbours are not near-duplicates.
  const queries = Array.from({ length: 100 }, () => {
    const c = centres[rng.int(200)];
    return Float32Array.from(c, (v) => v + 1.2 * rng.normal());
  });
  for (const nprobe of [4, 16, 32]) {
    let recall = 0;
    t0 = performance.now();
    const got = queries.map((q) => ivf.search(q, 10, nprobe));
    const tIvf = (performance.now() - t0) / queries.length;
    t0 = performance.now();
    const want = queries.map((q) => exact.search(q, 10));
    const tExact = (performance.now() - t0) / queries.length;
    got.forEach((g, i) => (recall += g.filter((h) => want[i].some((w) => w.index === h.index)).length / 10));
    console.log(`ivf n=${n} d=${d} nlist=${ivf.nlist} nprobe=${nprobe}: recall@10 ${(recall / queries.length).toFixed(3)}, ${tIvf.toFixed(2)} ms/query vs exact ${tExact.toFixed(2)} ms (build ${(build / 1000).toFixed(1)} s)`);
  }
}

async function fusedMobileNet(): Promise<void> {
  const { ensureMobileNetOnnx } = await import('../src/encoders/npm/mobilenet-onnx.js');
  const mob = await ensureMobileNetOnnx();
  const cfg: HeadConfig = { type: 'star', widthFactor: 2, visionDim: 1792, textDim: 512, targetDim: 512, logitScaleInit: 20, logitBiasInit: -10 };
  const head = { config: cfg, params: initParams(cfg, new Rng(3)) };
  const dir = mkdtempSync(join(tmpdir(), 'sail-bench-model-'));
  try {
    let t0 = performance.now();
    await exportModel(head, { outDir: dir, imageBackboneId: 'mobilenetv2-nsfwjs', textBackboneId: 'use-lite', vision: { onnx: mob.path, preprocess: MOBILENET_PREPROCESS } });
    const tExport = performance.now() - t0;
    const root = new URL('..', import.meta.url).pathname.replace(/\/dist\/$/, '/');
    const imgs = ['1f600', '1f436', '1f697', '1f34e', '2600-fe0f', '1f3e0', '1f431', '1f680'].map((c) => join(root, 'node_modules/emoji-datasource-google/img/google/64', `${c}.png`));
    const ex = loadExportedModel(dir);
    await ex.encodeImages(imgs.slice(0, 1));
    t0 = performance.now();
    const a = await ex.encodeImages(imgs);
    const tFused = (performance.now() - t0) / imgs.length;
    const lib = await createModel({ head, visionModel: 'mobilenetv2-nsfwjs' });
    const b = await lib.encodeImage(imgs);
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
    console.log(`fused mobilenetv2-nsfwjs + star head: export ${(tExport / 1000).toFixed(1)} s, ${tFused.toFixed(1)} ms/image, max |fused - library| ${diff.toExponential(2)}`);
    await ex.dispose();
    await lib.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Print the model-area benchmarks. */
export async function run(): Promise<void> {
  console.log(`# model (node ${process.version}, OPENBLAS_CORETYPE=${process.env.OPENBLAS_CORETYPE ?? 'unset'})`);
  await headThroughput();
  await ivfSearch();
  await fusedMobileNet();
}
