// `sail demo` as a library, as named steps: load the emoji split -> pre-encode the stores (cached) -> per
// training seed, train the SAIL star head and the linear probe with SigLIP -> fit the closed-form ridge
// baseline -> evaluate every method on the held-out concepts -> mean ± sd rows, paired comparisons ->
// results JSON, table and loss-curve SVG. Progress goes through a callback; nothing is printed here.
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { SailError } from '../util/errors.js';
import type { ImageEncoder, TextEncoder } from '../encoders/types.js';
import { loadImageEncoder, loadTextEncoder } from '../encoders/registry.js';
import { fillTemplate } from '../eval/zeroshot.js';
import { EMOJI_TEMPLATES, className, loadEmojiDataset, renderDrawing, renderOnWhite, trainingDrawings, type EmojiDataset } from './emoji.js';
import { ensureStore, type EncoderProvider, type StoreSpec } from './stores.js';
import { chanceMetrics, formatMarkdownTable, formatTable, type DemoMetrics, type MethodResult } from './report.js';
import { lineChartSvg } from './plot.js';
import { defaultHeadConfig } from '../head/config.js';
import { trainDemoHead, type TrainedHead } from './train.js';
import { evaluateHead, type EvalInputs, type QueryRanks } from './evaluate.js';
import { cachedRidgeHeads } from './ridge.js';
import type { LoadedHead } from '../head/load.js';
import { compareMethods, summariseMetrics, type Comparison } from './stats.js';
import { resolveSettings, type DemoOptions, type DemoProgress, type DemoSettings, type HeadSettings } from './options.js';

export { DEFAULT_IMAGE_BACKBONE, DEFAULT_TEXT_BACKBONE, DEMO_DEFAULTS, type DemoOptions, type DemoProgress, type DemoStage } from './options.js';

/** Everything a demo run produced. */
export interface DemoResult {
  /** One row per method; trained heads report the mean over seeds plus `sd` and `perSeed`. */
  rows: MethodResult[];
  /** Paired comparisons of SAIL star against each baseline on the goal metrics (fractions). */
  comparisons: { against: string; results: Comparison[] }[];
  /** The results as a fixed-width text table (percent). */
  table: string;
  markdown: string;
  dataset: { train: number; trainImages: number; test: number; heldOut: 'test' | 'validation'; styles: string[]; categories: number; subcategories: number; splitSeed: number; limit: number | null; packages: Record<string, string> };
  config: Omit<DemoSettings, 'out' | 'allowDownload'>;
  /** Per-head training curves of the first seed (loss every logged step). */
  curves: Record<string, { step: number; loss: number }[]>;
  timings: { encodeS: number; trainS: number; ridgeS: number; evalS: number; totalS: number; encodedStores: string[] };
  artifacts: Record<string, string>;
}

type Progress = (p: DemoProgress) => void;

/** Backbone folder names may contain path separators: keep a safe folder-name form. */
function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);
}

function shortHash(x: unknown): string {
  return createHash('sha256').update(JSON.stringify(x)).digest('hex').slice(0, 10);
}

function lazyEncoders(s: DemoSettings): EncoderProvider & { dispose(): Promise<void> } {
  const load = { threads: s.threads, allowDownload: s.allowDownload };
  let img: Promise<ImageEncoder> | undefined;
  let txt: Promise<TextEncoder> | undefined;
  return {
    image: () => (img ??= loadImageEncoder(s.imageBackbone, load)),
    text: () => (txt ??= loadTextEncoder(s.textBackbone, load)),
    async dispose() {
      if (img) await (await img).dispose();
      if (txt) await (await txt).dispose();
    },
  };
}

/** Where a run's stores and training runs live: per backbone pair and data slice. */
function demoPaths(s: DemoSettings): { storeRoot: string; sliceDir: string; runsDir: string } {
  const pair = `${safeName(s.imageBackbone)}__${safeName(s.textBackbone)}`;
  const slice = `${s.limit ? `limit${s.limit}` : 'all'}-split${s.splitSeed}${s.validation ? `-val${s.validation}` : ''}`;
  const storeRoot = join(s.out, 'stores', pair);
  return { storeRoot, sliceDir: join(storeRoot, slice), runsDir: join(s.out, 'runs', pair, slice) };
}

/** Step 1: the concept split (the test concepts, or validation concepts carved from the training ones). */
function loadDemoData(s: DemoSettings): EmojiDataset {
  const data = loadEmojiDataset({ seed: s.splitSeed, limit: s.limit, validation: s.validation });
  if (data.train.length < 2) throw new SailError(`only ${data.train.length} training emoji; use a larger --limit`);
  return data;
}

interface EncodedStores {
  trainDir: string;
  testDir: string;
  promptDir: string;
  promptTexts: string[];
  trainImages: number;
  encodedStores: string[];
  encodeS: number;
}

/** Step 2: pre-encode the training drawings, the held-out Twemoji and the zero-shot prompts (cached). */
async function encodeDemoStores(s: DemoSettings, data: EmojiDataset, progress: Progress): Promise<EncodedStores> {
  const t0 = performance.now();
  const backbones = { image: s.imageBackbone, text: s.textBackbone };
  const { storeRoot, sliceDir } = demoPaths(s);
  const drawings = trainingDrawings(data.train, s.styles);
  const promptTexts = [...data.categories, ...data.subcategories].map(className).flatMap((c) => EMOJI_TEMPLATES.map((t) => fillTemplate(t, c)));
  const specs: { stage: 'encode-train' | 'encode-test' | 'encode-prompts'; spec: StoreSpec }[] = [
    {
      stage: 'encode-train',
      spec: {
        dir: join(sliceDir, `train-${s.styles.join('+')}`),
        backbones,
        columns: [
          { name: 'image', kind: 'image', rows: drawings.length, keys: drawings.map((d) => d.drawing.key), load: (row) => renderDrawing(drawings[row].drawing) },
          { name: 'text', kind: 'text', texts: drawings.map((d) => d.item.caption) },
          { name: 'extra_text', kind: 'text', texts: drawings.map((d) => d.item.extraCaption) },
        ],
      },
    },
    {
      stage: 'encode-test',
      spec: {
        dir: join(sliceDir, 'test'),
        backbones,
        columns: [
          { name: 'image', kind: 'image', rows: data.test.length, keys: data.test.map((e) => e.twitterImage), load: (row) => renderOnWhite(data.test[row].twitterImage) },
          { name: 'text', kind: 'text', texts: data.test.map((e) => e.caption) },
        ],
      },
    },
    { stage: 'encode-prompts', spec: { dir: join(storeRoot, 'prompts'), backbones, columns: [{ name: 'text', kind: 'text', texts: promptTexts }] } },
  ];
  const encoders = lazyEncoders(s);
  const encodedStores: string[] = [];
  try {
    for (const { stage, spec } of specs) {
      const r = await ensureStore(spec, encoders, (done, total) => progress({ stage, done, total }));
      if (r.encoded) encodedStores.push(spec.dir);
    }
  } finally {
    await encoders.dispose();
  }
  const [trainDir, testDir, promptDir] = specs.map((x) => x.spec.dir);
  return { trainDir, testDir, promptDir, promptTexts, trainImages: drawings.length, encodedStores, encodeS: (performance.now() - t0) / 1000 };
}

/** Step 3: train one head for one seed (reused when a finished run with the same settings exists). */
async function trainHead(s: DemoSettings, st: EncodedStores, type: 'star' | 'linear', h: HeadSettings, seed: number, nTrain: number, progress: Progress): Promise<TrainedHead> {
  const { batchSize: wanted, ...rest } = h;
  const batchSize = Math.min(wanted, nTrain);
  // key order as before batchSize moved into HeadSettings, so finished runs keep their hash
  const settings = { store: st.trainDir, type, ...rest, batchSize, seed };
  const stage = type === 'star' ? 'train-star' : 'train-linear';
  return trainDemoHead(
    { storeDir: st.trainDir, runDir: join(demoPaths(s).runsDir, `${type}-${shortHash(settings)}`), type, ...rest, batchSize, seed, threads: s.threads },
    (done, total, loss) => progress({ stage, done, total, detail: `seed ${seed}${loss === undefined ? '' : ` loss ${loss.toFixed(4)}`}` }),
  );
}

/** Step 4: the closed-form ridge baselines, one per (target, lambda), cached in the runs folder. */
async function fitRidgeBaselines(s: DemoSettings, st: EncodedStores, progress: Progress): Promise<{ method: string; note: string; head: LoadedHead }[]> {
  const fits = await cachedRidgeHeads(st.trainDir, demoPaths(s).runsDir, s.ridgeTargets, s.ridgeLambdas, { threads: s.threads }, (done, total) => progress({ stage: 'ridge', done, total }));
  const single = fits.length === 1;
  return fits.map((f) => ({ method: single ? 'ridge' : `ridge ${f.target} λ=${f.lambda}`, note: `closed-form ridge image -> ${f.target} features, lambda ${f.lambda}`, head: f.head }));
}

function evalInputs(s: DemoSettings, data: EmojiDataset, st: EncodedStores): EvalInputs {
  const task = (names: string[], of: (e: EmojiDataset['test'][number]) => string) => ({ classNames: names.map(className), labels: data.test.map((e) => names.indexOf(of(e))) });
  return {
    testStoreDir: st.testDir,
    promptStoreDir: st.promptDir,
    promptTexts: st.promptTexts,
    templates: EMOJI_TEMPLATES,
    category: task(data.categories, (e) => e.category),
    subcategory: task(data.subcategories, (e) => e.subcategory),
    threads: s.threads,
  };
}

/** A method evaluated once per seed (or once, when deterministic). */
interface MethodRuns {
  method: string;
  note: string;
  metrics: DemoMetrics[];
  ranks: QueryRanks[];
}

function summaryRow(r: MethodRuns): MethodResult {
  if (r.metrics.length === 1) return { method: r.method, note: r.note, metrics: r.metrics[0] };
  const { mean, sd } = summariseMetrics(r.metrics);
  return { method: r.method, note: `${r.note}; mean ± sd over ${r.metrics.length} seeds`, metrics: mean, sd, perSeed: r.metrics };
}

/** Every evaluated method, per seed, plus what the first seed's training left behind. */
interface SeedRuns {
  runs: Map<string, MethodRuns>;
  curves: DemoResult['curves'];
  checkpoints: Record<string, string>;
  trainS: number;
  evalS: number;
}

/** Step 3+5: per training seed, train the star head and the linear probe, and evaluate them (and the untrained star). */
async function trainAndEvaluateSeeds(s: DemoSettings, st: EncodedStores, inputs: EvalInputs, progress: Progress): Promise<SeedRuns> {
  const out: SeedRuns = { runs: new Map(), curves: {}, checkpoints: {}, trainS: 0, evalS: 0 };
  for (const seed of s.trainSeeds) {
    const t0 = performance.now();
    const star = await trainHead(s, st, 'star', s.star, seed, st.trainImages, progress);
    const linear = await trainHead(s, st, 'linear', s.linear, seed, st.trainImages, progress);
    if (seed === s.trainSeeds[0]) {
      out.curves = { 'SAIL star': star.curve, 'linear probe': linear.curve };
      out.checkpoints = { starCheckpoint: star.checkpoint, linearCheckpoint: linear.checkpoint };
    }
    const t1 = performance.now();
    out.trainS += (t1 - t0) / 1000;
    progress({ stage: 'eval', done: 0, total: 3, detail: `seed ${seed}` });
    await recordEvaluation(out.runs, 'untrained star', 'same init as SAIL star, 0 steps', star.initial, inputs);
    await recordEvaluation(out.runs, 'linear probe', `linear head (target ${s.linear.targetDim}), ${s.linear.steps} steps, batch ${s.linear.batchSize}, lr ${s.linear.lr}, wd ${s.linear.weightDecay}`, linear.final, inputs);
    await recordEvaluation(out.runs, 'SAIL star', `star head (width x${s.star.widthFactor}), ${s.star.steps} steps, batch ${s.star.batchSize}, lr ${s.star.lr}, wd ${s.star.weightDecay}, logit scale/bias init ${s.star.logitScale ?? defaultHeadConfig.logitScaleInit}/${s.star.logitBias ?? defaultHeadConfig.logitBiasInit}`, star.final, inputs);
    progress({ stage: 'eval', done: 3, total: 3, detail: `seed ${seed}` });
    out.evalS += (performance.now() - t1) / 1000;
  }
  return out;
}

/** Evaluate one head and append its metrics and per-query ranks to its method's record. */
async function recordEvaluation(runs: Map<string, MethodRuns>, method: string, note: string, head: Parameters<typeof evaluateHead>[0], inputs: EvalInputs): Promise<void> {
  let r = runs.get(method);
  if (!r) runs.set(method, (r = { method, note, metrics: [], ranks: [] }));
  const ev = await evaluateHead(head, inputs);
  r.metrics.push(ev.metrics);
  r.ranks.push(ev.ranks);
}

/** Step 6: rows (chance first, then mean ± sd per method) and SAIL star's paired comparisons. */
function summarise(runs: Map<string, MethodRuns>, data: EmojiDataset): Pick<DemoResult, 'rows' | 'comparisons'> {
  const chance: MethodResult = { method: 'chance', note: 'uniform random ranking (closed form)', metrics: chanceMetrics(data.test.length, data.categories.length, data.subcategories.length) };
  const star = runs.get('SAIL star')!;
  const comparisons = [...runs.values()]
    .filter((r) => r.method === 'linear probe' || r.method.startsWith('ridge'))
    .map((b) => ({ against: b.method, results: compareMethods(star.ranks, b.ranks) }));
  return { rows: [chance, ...[...runs.values()].map(summaryRow)], comparisons };
}

/** Run the whole demo. */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const t0 = performance.now();
  const s = resolveSettings(opts, resolve(opts.out ?? 'sail-out/demo'));
  const progress: Progress = opts.onProgress ?? (() => undefined);
  const data = loadDemoData(s);
  const st = await encodeDemoStores(s, data, progress);
  const inputs = evalInputs(s, data, st);
  const seeds = await trainAndEvaluateSeeds(s, st, inputs, progress);
  const tRidge = performance.now();
  for (const r of await fitRidgeBaselines(s, st, progress)) await recordEvaluation(seeds.runs, r.method, r.note, r.head, inputs);
  const ridgeS = (performance.now() - tRidge) / 1000;
  const { rows, comparisons } = summarise(seeds.runs, data);

  // Step 7: artifacts, named by a hash of the settings so tuning runs in one folder do not collide
  const { runsDir } = demoPaths(s);
  const runTag = shortHash(s);
  const plotPath = join(runsDir, `loss-${runTag}.svg`);
  await writeFileAtomic(plotPath, lineChartSvg(
    Object.entries(seeds.curves).map(([name, c]) => ({ name, points: c.map((p) => ({ x: p.step, y: p.loss })) })),
    { title: `SigLIP training loss (${s.imageBackbone} + ${s.textBackbone}, emoji)`, xLabel: 'step', yLabel: 'loss' },
  ));
  const resultsPath = join(runsDir, `results-${runTag}.json`);
  const { out: _out, allowDownload: _dl, ...config } = s;
  const result: DemoResult = {
    rows,
    comparisons,
    table: formatTable(rows),
    markdown: formatMarkdownTable(rows),
    dataset: {
      train: data.train.length,
      trainImages: st.trainImages,
      test: data.test.length,
      heldOut: s.validation ? 'validation' : 'test',
      styles: s.styles,
      categories: data.categories.length,
      subcategories: data.subcategories.length,
      splitSeed: s.splitSeed,
      limit: data.split.limit,
      packages: data.split.packages,
    },
    config,
    curves: seeds.curves,
    timings: { encodeS: st.encodeS, trainS: seeds.trainS, ridgeS, evalS: seeds.evalS, totalS: (performance.now() - t0) / 1000, encodedStores: st.encodedStores },
    artifacts: { trainStore: st.trainDir, testStore: st.testDir, promptStore: st.promptDir, ...seeds.checkpoints, results: resultsPath, lossPlot: plotPath },
  };
  await writeJsonAtomic(resultsPath, result);
  return result;
}
