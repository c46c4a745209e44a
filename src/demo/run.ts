// `sail demo` as a library: emoji data -> pre-encoded stores (cached) -> star head + baselines trained with
// SigLIP -> held-out zero-shot evaluation -> results JSON, table and loss-curve SVG. Progress goes through
// a callback; nothing is printed here.
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { SailError } from '../util/errors.js';
import type { ImageEncoder, TextEncoder } from '../encoders/types.js';
import { loadImageEncoder, loadTextEncoder } from '../encoders/registry.js';
import { EMOJI_TEMPLATES, className, loadEmojiDataset, renderOnWhite, type EmojiItem } from './emoji.js';
import { ensureStore, type EncoderProvider, type StoreSpec } from './stores.js';
import { chanceMetrics, formatMarkdownTable, formatTable, type MethodResult } from './report.js';
import { lineChartSvg } from './plot.js';
import { trainDemoHead, type TrainedHead } from './train.js';
import { evaluateHead, type EvalInputs } from './evaluate.js';
import { fillTemplate } from '../eval/zeroshot.js';

/** Default backbones: the pretrained models that ship inside npm packages (no network needed). */
export const DEFAULT_IMAGE_BACKBONE = 'mobilenetv2-nsfwjs';
export const DEFAULT_TEXT_BACKBONE = 'use-lite';

/** Demo hyper-parameters (chosen by measurement on 2 cores; see docs/demo.md). */
export const DEMO_DEFAULTS = {
  steps: 150,
  batchSize: 512,
  lr: 1e-4,
  weightDecay: 1e-4,
  widthFactor: 2,
  targetDim: 512,
  seed: 42,
};

export type DemoStage = 'encode-train' | 'encode-test' | 'encode-prompts' | 'train-star' | 'train-linear' | 'eval';

/** A progress report: `done` of `total` units of `stage`. */
export interface DemoProgress {
  stage: DemoStage;
  done: number;
  total: number;
  detail?: string;
}

export interface DemoOptions {
  /** Output folder (default `sail-out/demo`). */
  out?: string;
  steps?: number;
  threads?: number;
  /** Use only this many emoji concepts (quick runs and tests). */
  limit?: number;
  seed?: number;
  batchSize?: number;
  lr?: number;
  widthFactor?: number;
  targetDim?: number;
  /** Image backbone: registry name or local model folder (default mobilenetv2-nsfwjs). */
  imageBackbone?: string;
  /** Text backbone: registry name or local model folder (default use-lite). */
  textBackbone?: string;
  /** Let hub backbones (e.g. dinov2-small) download missing model files; npm backbones never need it. */
  allowDownload?: boolean;
  onProgress?: (p: DemoProgress) => void;
}

/** Everything a demo run produced. */
export interface DemoResult {
  rows: MethodResult[];
  /** The results as a fixed-width text table (percent). */
  table: string;
  markdown: string;
  dataset: { train: number; test: number; categories: number; subcategories: number; seed: number; limit: number | null; packages: Record<string, string> };
  config: { imageBackbone: string; textBackbone: string; steps: number; batchSize: number; lr: number; widthFactor: number; targetDim: number; threads: number | null };
  /** Per-head training curves (loss every logged step). */
  curves: Record<string, { step: number; loss: number }[]>;
  timings: { encodeS: number; trainS: number; evalS: number; totalS: number; encodedStores: string[] };
  artifacts: Record<string, string>;
}

/** Backbone folder names may contain path separators: keep a safe folder-name form. */
function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);
}

function lazyEncoders(image: string, text: string, load: { threads?: number; allowDownload?: boolean }): EncoderProvider & { dispose(): Promise<void> } {
  let img: Promise<ImageEncoder> | undefined;
  let txt: Promise<TextEncoder> | undefined;
  return {
    image: () => (img ??= loadImageEncoder(image, load)),
    text: () => (txt ??= loadTextEncoder(text, load)),
    async dispose() {
      if (img) await (await img).dispose();
      if (txt) await (await txt).dispose();
    },
  };
}

function imageColumn(name: string, items: EmojiItem[], style: 'googleImage' | 'twitterImage'): StoreSpec['columns'][number] {
  return {
    name,
    kind: 'image',
    rows: items.length,
    keys: items.map((e) => e[style]),
    load: (row) => renderOnWhite(items[row][style]),
  };
}

/** Run the whole demo. */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const t0 = performance.now();
  const out = resolve(opts.out ?? 'sail-out/demo');
  const imageBackbone = opts.imageBackbone ?? DEFAULT_IMAGE_BACKBONE;
  const textBackbone = opts.textBackbone ?? DEFAULT_TEXT_BACKBONE;
  const cfg = {
    steps: opts.steps ?? DEMO_DEFAULTS.steps,
    batchSize: opts.batchSize ?? DEMO_DEFAULTS.batchSize,
    lr: opts.lr ?? DEMO_DEFAULTS.lr,
    widthFactor: opts.widthFactor ?? DEMO_DEFAULTS.widthFactor,
    targetDim: opts.targetDim ?? DEMO_DEFAULTS.targetDim,
    seed: opts.seed ?? DEMO_DEFAULTS.seed,
  };
  const progress = opts.onProgress ?? (() => undefined);

  // (a) data
  const data = loadEmojiDataset({ seed: cfg.seed, limit: opts.limit });
  if (data.train.length < 2) throw new SailError(`only ${data.train.length} training emoji; use a larger --limit`);
  const batchSize = Math.min(cfg.batchSize, data.train.length);

  // (b) stores, cached per backbone pair and data slice
  const backbones = { image: imageBackbone, text: textBackbone };
  const storeRoot = join(out, 'stores', `${safeName(imageBackbone)}__${safeName(textBackbone)}`);
  const slice = opts.limit ? `limit${opts.limit}-seed${cfg.seed}` : `all-seed${cfg.seed}`;
  const categoryNames = data.categories.map(className);
  const subcategoryNames = data.subcategories.map(className);
  const promptTexts = [...categoryNames, ...subcategoryNames].flatMap((c) => EMOJI_TEMPLATES.map((t) => fillTemplate(t, c)));
  const specs: { stage: DemoStage; spec: StoreSpec }[] = [
    {
      stage: 'encode-train',
      spec: {
        dir: join(storeRoot, slice, 'train'),
        backbones,
        columns: [
          imageColumn('image', data.train, 'googleImage'),
          { name: 'text', kind: 'text', texts: data.train.map((e) => e.caption) },
          { name: 'extra_text', kind: 'text', texts: data.train.map((e) => e.extraCaption) },
        ],
      },
    },
    {
      stage: 'encode-test',
      spec: {
        dir: join(storeRoot, slice, 'test'),
        backbones,
        columns: [imageColumn('image', data.test, 'twitterImage'), { name: 'text', kind: 'text', texts: data.test.map((e) => e.caption) }],
      },
    },
    {
      stage: 'encode-prompts',
      spec: { dir: join(storeRoot, 'prompts'), backbones, columns: [{ name: 'text', kind: 'text', texts: promptTexts }] },
    },
  ];
  const encoders = lazyEncoders(imageBackbone, textBackbone, { threads: opts.threads, allowDownload: opts.allowDownload });
  const encodedStores: string[] = [];
  const tEnc = performance.now();
  try {
    for (const { stage, spec } of specs) {
      const r = await ensureStore(spec, encoders, (done, total) => progress({ stage, done, total }));
      if (r.encoded) encodedStores.push(spec.dir);
    }
  } finally {
    await encoders.dispose();
  }
  const encodeS = (performance.now() - tEnc) / 1000;
  const [trainDir, testDir, promptDir] = specs.map((s) => s.spec.dir);

  // (c) train the SAIL star head and the linear probe with the same recipe
  const tTrain = performance.now();
  const runsDir = join(out, 'runs', `${safeName(imageBackbone)}__${safeName(textBackbone)}`, slice);
  const common = { storeDir: trainDir, steps: cfg.steps, batchSize, lr: cfg.lr, weightDecay: DEMO_DEFAULTS.weightDecay, targetDim: cfg.targetDim, seed: cfg.seed, threads: opts.threads };
  const star: TrainedHead = await trainDemoHead({ ...common, type: 'star', widthFactor: cfg.widthFactor, runDir: join(runsDir, 'star') },
    (done, total, loss) => progress({ stage: 'train-star', done, total, detail: loss === undefined ? '' : `loss ${loss.toFixed(4)}` }));
  const linear: TrainedHead = await trainDemoHead({ ...common, type: 'linear', widthFactor: 1, runDir: join(runsDir, 'linear') },
    (done, total, loss) => progress({ stage: 'train-linear', done, total, detail: loss === undefined ? '' : `loss ${loss.toFixed(4)}` }));
  const trainS = (performance.now() - tTrain) / 1000;

  // (d) evaluate on the held-out Twemoji concepts
  const tEval = performance.now();
  const evalInputs: EvalInputs = {
    testStoreDir: testDir,
    promptStoreDir: promptDir,
    promptTexts,
    templates: EMOJI_TEMPLATES,
    category: { classNames: categoryNames, labels: data.test.map((e) => data.categories.indexOf(e.category)) },
    subcategory: { classNames: subcategoryNames, labels: data.test.map((e) => data.subcategories.indexOf(e.subcategory)) },
    threads: opts.threads,
  };
  const heads = [
    { method: 'untrained star', note: 'same init as SAIL star, 0 steps', head: star.initial },
    { method: 'linear probe', note: `linear head, ${cfg.steps} steps, same recipe`, head: linear.final },
    { method: 'SAIL star', note: `star head (width x${cfg.widthFactor}), ${cfg.steps} steps`, head: star.final },
  ];
  const rows: MethodResult[] = [
    { method: 'chance', note: 'uniform random ranking (closed form)', metrics: chanceMetrics(data.test.length, data.categories.length, data.subcategories.length) },
  ];
  for (const [i, h] of heads.entries()) {
    progress({ stage: 'eval', done: i, total: heads.length, detail: h.method });
    rows.push({ method: h.method, note: h.note, metrics: await evaluateHead(h.head, evalInputs) });
  }
  progress({ stage: 'eval', done: heads.length, total: heads.length });
  const evalS = (performance.now() - tEval) / 1000;

  // (e) artifacts
  const plotPath = join(runsDir, 'loss.svg');
  const curves = { 'SAIL star': star.curve, 'linear probe': linear.curve };
  await writeFileAtomic(plotPath, lineChartSvg(
    Object.entries(curves).map(([name, c]) => ({ name, points: c.map((p) => ({ x: p.step, y: p.loss })) })),
    { title: `SigLIP training loss (${imageBackbone} + ${textBackbone}, emoji)`, xLabel: 'step', yLabel: 'loss' },
  ));
  const resultsPath = join(runsDir, 'results.json');
  const result: DemoResult = {
    rows,
    table: formatTable(rows),
    markdown: formatMarkdownTable(rows),
    dataset: {
      train: data.train.length,
      test: data.test.length,
      categories: data.categories.length,
      subcategories: data.subcategories.length,
      seed: cfg.seed,
      limit: data.split.limit,
      packages: data.split.packages,
    },
    config: { imageBackbone, textBackbone, steps: cfg.steps, batchSize, lr: cfg.lr, widthFactor: cfg.widthFactor, targetDim: cfg.targetDim, threads: opts.threads ?? null },
    curves,
    timings: { encodeS, trainS, evalS, totalS: (performance.now() - t0) / 1000, encodedStores },
    artifacts: {
      trainStore: trainDir,
      testStore: testDir,
      promptStore: promptDir,
      starCheckpoint: star.checkpoint,
      linearCheckpoint: linear.checkpoint,
      results: resultsPath,
      lossPlot: plotPath,
    },
  };
  await writeJsonAtomic(resultsPath, result);
  return result;
}
