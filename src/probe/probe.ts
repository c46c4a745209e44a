// Alignment probing (sail-method.md 7.7): train a LayerNorm + Linear head per backbone pair on the same
// rows with SigLIP + Lion, score each on held-out rows by the mean of I2T R@10 and T2I R@10, and rank.
// Every stage is resumable: the train split store, the training run and each pair's result are reused.
import { defaultHeadConfig } from '../head/config.js';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { openStore, type EmbeddingStore } from '../store/reader.js';
import { createStoreWriter } from '../store/writer.js';
import type { EngineOptions, TrainEngine } from '../train/engine-types.js';
import { trainLoop, type TrainProgress } from '../train/loop.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { SailError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { loadHead } from '../head/load.js';
import type { RetrievalMetrics } from '../eval/metrics.js';
import { barChartSvg } from '../eval/svg.js';
import { evaluateRetrievalOnStores } from '../eval/tasks.js';

/** One backbone pair: an image store and a text store (or one store holding both modalities). */
export interface ProbePair {
  name: string;
  imageStore: string;
  /** Default: the image store. */
  textStore?: string;
  imageModality?: string;
  textModality?: string;
  /**
   * A held-out store of other rows (same backbones and modalities): train on every row of the pair's
   * stores and score on all rows of this one, instead of holding out rows of the training store.
   */
  heldOutImageStore?: string;
  /** Default: the held-out image store. */
  heldOutTextStore?: string;
}

/** Probing defaults (sail-method.md 7.7): linear head to 2048, Lion, wd 1e-7; `sail probe` shows the same. */
export const PROBE_DEFAULTS = {
  targetDim: 2048,
  lr: 1e-4,
  weightDecay: 1e-7,
  batchSize: 32768,
  epochs: 10,
  seed: 42,
};

export interface ProbeOptions {
  pairs: ProbePair[];
  outDir: string;
  /** Builds the training engine (e.g. createTrainEngine from src/train/engine.ts). */
  createEngine: (opts: EngineOptions) => Promise<TrainEngine>;
  /** Held-out rows: a count (>= 1) or a fraction (< 1). Default: 10% capped at 5000. */
  heldOut?: number;
  /** Defaults: {@link PROBE_DEFAULTS}. */
  targetDim?: number;
  lr?: number;
  weightDecay?: number;
  batchSize?: number;
  epochs?: number;
  steps?: number;
  warmupSteps?: number;
  seed?: number;
  threads?: number;
  onProgress?: (e: { pair: string; stage: 'split' | 'train' | 'eval' | 'done'; train?: TrainProgress }) => void;
}

export interface ProbeResult {
  name: string;
  imageModel?: string;
  textModel?: string;
  /** Mean of I2T R@10 and T2I R@10 on the held-out rows (%). */
  score: number;
  i2tR10: number;
  t2iR10: number;
  retrieval: RetrievalMetrics;
  trainRows: number;
  heldOutRows: number;
  steps: number;
  finalLoss?: number;
}

export interface ProbeReport {
  ranking: ProbeResult[];
  json: string;
  markdown: string;
  svg: string;
}

const PART_ROWS = 8192;

/** Deterministic split of 0..rows-1 into sorted train and held-out row lists. */
export function splitRows(rows: number, heldOut: number | undefined, seed: number): { train: Uint32Array; val: Uint32Array } {
  let nVal = heldOut === undefined ? Math.min(5000, Math.round(rows * 0.1)) : heldOut < 1 ? Math.round(rows * heldOut) : heldOut;
  nVal = Math.floor(nVal);
  if (nVal < 1 || nVal >= rows) throw new SailError(`held-out size ${nVal} must be between 1 and ${rows - 1} (store has ${rows} rows)`);
  const perm = new Rng(seed ^ 0x5eed).permutation(rows);
  const val = perm.slice(0, nVal).sort();
  const train = perm.slice(nVal).sort();
  return { train, val };
}

function safeName(name: string): string {
  if (!/^[A-Za-z0-9._+-]{1,100}$/.test(name) || name === '.' || name === '..') throw new SailError(`pair name ${JSON.stringify(name)}: use 1-100 letters, digits, . _ + -`);
  return name;
}

/** Copy the train rows of both modalities into a store of its own (what trainLoop reads). Resumable by part. */
async function writeTrainStore(dir: string, img: EmbeddingStore, imgMod: string, txt: EmbeddingStore, txtMod: string, train: Uint32Array): Promise<void> {
  if (existsSync(join(dir, 'manifest.json'))) {
    const s = await openStore(dir);
    const rows = s.rows;
    await s.close();
    if (rows === train.length) return;
  }
  const writer = await createStoreWriter(dir, {
    modalities: [
      { name: 'image', dim: img.dim(imgMod), dtype: img.dtype(imgMod), ...(img.model(imgMod) ? { model: img.model(imgMod) } : {}) },
      { name: 'text', dim: txt.dim(txtMod), dtype: txt.dtype(txtMod), ...(txt.model(txtMod) ? { model: txt.model(txtMod) } : {}) },
    ],
    meta: { probeTrainSplit: true, imageStore: img.dir, textStore: txt.dir },
  });
  for (let p = 0; p * PART_ROWS < train.length; p++) {
    if (writer.hasPart(p)) continue;
    const idx = train.subarray(p * PART_ROWS, Math.min(train.length, (p + 1) * PART_ROWS));
    const [image, text] = await Promise.all([img.readRows(imgMod, idx), txt.readRows(txtMod, idx)]);
    await writer.writePart(p, { image, text });
  }
  await writer.finalize();
}

async function probePair(pair: ProbePair, o: ProbeOptions): Promise<ProbeResult> {
  const dir = join(o.outDir, safeName(pair.name));
  const resultPath = join(dir, 'result.json');
  if (existsSync(resultPath)) return JSON.parse(await fs.readFile(resultPath, 'utf8')) as ProbeResult;
  const imgMod = pair.imageModality ?? 'image';
  const txtMod = pair.textModality ?? 'text';
  const seed = o.seed ?? PROBE_DEFAULTS.seed;
  const img = await openStore(pair.imageStore);
  const txt = pair.textStore ? await openStore(pair.textStore) : img;
  try {
    if (!img.modalities().includes(imgMod)) throw new SailError(`store has no modality ${imgMod}`, { file: img.dir });
    if (!txt.modalities().includes(txtMod)) throw new SailError(`store has no modality ${txtMod}`, { file: txt.dir });
    if (txt.rows !== img.rows) throw new SailError(`pair ${pair.name}: image store has ${img.rows} rows, text store ${txt.rows}; probing needs the same rows`, { file: txt.dir });
    const external = pair.heldOutImageStore !== undefined;
    const { train, val } = external ? { train: Uint32Array.from({ length: img.rows }, (_, i) => i), val: undefined } : splitRows(img.rows, o.heldOut, seed);
    const splitPath = join(dir, 'split.json');
    const splitInfo = external
      ? { rows: img.rows, heldOutImageStore: pair.heldOutImageStore, heldOutTextStore: pair.heldOutTextStore ?? pair.heldOutImageStore, seed }
      : { rows: img.rows, heldOut: val!.length, seed };
    if (existsSync(splitPath)) {
      const prev = await fs.readFile(splitPath, 'utf8');
      if (prev.trim() !== JSON.stringify(splitInfo)) throw new SailError(`split differs from the earlier run (${prev.trim()} vs ${JSON.stringify(splitInfo)}); use another --out`, { file: splitPath });
    } else await writeFileAtomic(splitPath, JSON.stringify(splitInfo) + '\n');
    o.onProgress?.({ pair: pair.name, stage: 'split' });
    const storeDir = join(dir, 'train-store');
    await writeTrainStore(storeDir, img, imgMod, txt, txtMod, train);
    const runDir = join(dir, 'run');
    const summary = await trainLoop({
      storeDir, outDir: runDir, createEngine: o.createEngine,
      head: { type: 'linear', targetDim: o.targetDim ?? PROBE_DEFAULTS.targetDim, logitScaleInit: defaultHeadConfig.logitScaleInit, logitBiasInit: defaultHeadConfig.logitBiasInit },
      loss: 'siglip', optimizer: 'lion', lr: o.lr ?? PROBE_DEFAULTS.lr, weightDecay: o.weightDecay ?? PROBE_DEFAULTS.weightDecay,
      batchSize: Math.min(o.batchSize ?? PROBE_DEFAULTS.batchSize, train.length), epochs: o.epochs ?? PROBE_DEFAULTS.epochs, steps: o.steps, warmupSteps: o.warmupSteps,
      seed, resume: true, threads: o.threads, checkpointEvery: 500,
      onProgress: (p) => o.onProgress?.({ pair: pair.name, stage: 'train', train: p }),
    });
    o.onProgress?.({ pair: pair.name, stage: 'eval' });
    const head = await loadHead(join(runDir, 'checkpoint', 'head.safetensors'));
    const retrieval = external ? await heldOutRetrieval(pair, head, imgMod, txtMod, img, txt, o.threads) : await evaluateRetrievalOnStores(img, {
      head, rows: val, imageModality: imgMod, textModalities: [txtMod], textStore: txt, threads: o.threads, ks: [1, 5, 10],
    });
    const i2t = retrieval.imageToText['R@10'];
    const t2i = retrieval.textToImage['R@10'];
    const result: ProbeResult = {
      name: pair.name, imageModel: img.model(imgMod), textModel: txt.model(txtMod),
      score: (i2t + t2i) / 2, i2tR10: i2t, t2iR10: t2i, retrieval,
      trainRows: train.length, heldOutRows: retrieval.nImages, steps: summary.steps, finalLoss: summary.last?.loss,
    };
    await writeJsonAtomic(resultPath, result);
    o.onProgress?.({ pair: pair.name, stage: 'done' });
    return result;
  } finally {
    if (txt !== img) await txt.close();
    await img.close();
  }
}

/** Retrieval on a pair's held-out store(s): same modalities and backbones as the training stores. */
async function heldOutRetrieval(pair: ProbePair, head: Awaited<ReturnType<typeof loadHead>>, imgMod: string, txtMod: string, trainImg: EmbeddingStore, trainTxt: EmbeddingStore, threads?: number): Promise<RetrievalMetrics> {
  const img = await openStore(pair.heldOutImageStore!);
  const txt = pair.heldOutTextStore ? await openStore(pair.heldOutTextStore) : img;
  try {
    for (const [s, mod, ref] of [[img, imgMod, trainImg], [txt, txtMod, trainTxt]] as const) {
      if (!s.modalities().includes(mod)) throw new SailError(`held-out store has no modality ${mod}`, { file: s.dir });
      if (s.dim(mod) !== ref.dim(mod) || s.model(mod) !== ref.model(mod)) {
        throw new SailError(`held-out ${mod} (${s.model(mod) ?? '?'}, ${s.dim(mod)}-d) does not match the training store (${ref.model(mod) ?? '?'}, ${ref.dim(mod)}-d)`, { file: s.dir });
      }
    }
    if (txt.rows !== img.rows) throw new SailError(`held-out image store has ${img.rows} rows, text store ${txt.rows}`, { file: txt.dir });
    return await evaluateRetrievalOnStores(img, { head, imageModality: imgMod, textModalities: [txtMod], textStore: txt, threads, ks: [1, 5, 10] });
  } finally {
    if (txt !== img) await txt.close();
    await img.close();
  }
}

/** Markdown table of a ranking. */
export function probeMarkdown(ranking: readonly ProbeResult[]): string {
  const f = (x: number) => x.toFixed(2);
  const lines = [
    '| rank | pair | image model | text model | score (mean R@10) | I2T R@1 | I2T R@10 | T2I R@1 | T2I R@10 | held-out |',
    '|---:|---|---|---|---:|---:|---:|---:|---:|---:|',
    ...ranking.map((r, i) => `| ${i + 1} | ${r.name} | ${r.imageModel ?? ''} | ${r.textModel ?? ''} | ${f(r.score)} | ${f(r.retrieval.imageToText['R@1'])} | ${f(r.i2tR10)} | ${f(r.retrieval.textToImage['R@1'])} | ${f(r.t2iR10)} | ${r.heldOutRows} |`),
  ];
  return lines.join('\n') + '\n';
}

/**
 * Probe every pair (sequentially, each resumable), rank by score (ties keep the given order), and write
 * `probe.json`, `probe.md` and `probe.svg` (bar chart) into `outDir`.
 */
export async function runProbe(o: ProbeOptions): Promise<ProbeReport> {
  if (!o.pairs.length) throw new SailError('probe: no pairs given');
  const names = new Set<string>();
  for (const p of o.pairs) {
    if (names.has(p.name)) throw new SailError(`probe: pair name ${p.name} given twice`);
    names.add(safeName(p.name));
  }
  await fs.mkdir(o.outDir, { recursive: true });
  const results: ProbeResult[] = [];
  for (const p of o.pairs) results.push(await probePair(p, o));
  const ranking = results.map((r, i) => ({ r, i })).sort((a, b) => b.r.score - a.r.score || a.i - b.i).map((x) => x.r);
  const markdown = probeMarkdown(ranking);
  const svg = barChartSvg(ranking.map((r) => ({ label: r.name, value: r.score, note: `I2T ${r.i2tR10.toFixed(1)} / T2I ${r.t2iR10.toFixed(1)}` })), {
    title: 'Alignment probing: mean of I2T and T2I R@10 (held-out)', unit: '%',
  });
  const json = join(o.outDir, 'probe.json');
  await writeJsonAtomic(json, { ranking });
  await writeFileAtomic(join(o.outDir, 'probe.md'), markdown);
  await writeFileAtomic(join(o.outDir, 'probe.svg'), svg);
  return { ranking, json, markdown, svg };
}
