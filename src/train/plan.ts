// What a training run is: its options, and the validated plan (modalities, step counts, schedule, head
// and the full configuration recorded in every checkpoint). A resume must plan the same run.
import { join, resolve } from 'node:path';
import { defaultHeadConfig, paramSpecs, type HeadConfig, type HeadType, type ParamSet } from '../head/config.js';
import type { EmbeddingStore } from '../store/reader.js';
import { SailError } from '../util/errors.js';
import type { CheckpointConfig } from './checkpoint.js';
import { TRAIN_DEFAULTS } from './defaults.js';
import type { EngineOptions, LossType, TrainEngine } from './engine-types.js';
import { resolveOptimizerHyper, type OptimizerKind } from './optimizer.js';
import { makeSchedule, type Schedule } from './schedule.js';

/** One line of `OUT/train.jsonl`. */
export interface StepMetrics {
  /** Completed steps (1-based: the first step logs 1). */
  step: number;
  epoch: number;
  lr: number;
  loss: number;
  positive: number;
  negative: number;
  extra?: number;
  /** Effective logit scale exp(s) AFTER this step's update and clamp (the original logs it before the update). */
  scale: number;
  /** Logit bias after this step's update (the original logs it before). */
  bias: number;
  pairsPerSec: number;
}

export interface TrainProgress extends StepMetrics {
  totalSteps: number;
}

export interface TrainLoopOptions {
  storeDir: string;
  outDir: string;
  /** Builds the engine once the head config (which depends on the store's widths) is known. */
  createEngine: (opts: EngineOptions) => Promise<TrainEngine>;
  head?: { type?: HeadType; widthFactor?: number; targetDim?: number; logitScaleInit?: number; logitBiasInit?: number };
  loss?: LossType;
  optimizer?: OptimizerKind;
  lr: number;
  weightDecay: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  batchSize: number;
  /** Total steps; otherwise `epochs` full passes (drop_last; default TRAIN_DEFAULTS.epochs). */
  steps?: number;
  epochs?: number;
  warmupSteps?: number;
  seed?: number;
  shuffle?: boolean;
  /** Modality name of extra positive captions (SigLIP only). */
  extraText?: string;
  imageModality?: string;
  textModality?: string;
  /** Safetensors head to start from (ignored when resuming from a checkpoint). */
  initFile?: string;
  /** Continue from OUT/checkpoint if there is one. */
  resume?: boolean;
  /** Recompute every store file's sha256 before training (opening the store checks layout and sizes only). */
  verifyStore?: boolean;
  /** Checkpoint every K steps (0: only at the end; default TRAIN_DEFAULTS.checkpointEvery). */
  checkpointEvery?: number;
  threads?: number;
  executionProviders?: string[];
  onProgress?: (p: TrainProgress) => void;
  /**
   * Validation every `everyEpochs` epochs (and after the last step): `run` gets the current head and
   * returns metrics, which are appended to `OUT/val.jsonl` with the step and epoch. Training does not
   * depend on evaluation code: the caller supplies it (the CLI uses eval's retrieval on stores).
   * `check`, when given, runs once before the first step, so a validation set that cannot fit the
   * head is refused before any training time is spent.
   */
  validate?: {
    everyEpochs: number;
    run: (head: { config: HeadConfig; params: ParamSet }, at: { step: number; epoch: number }) => Promise<Record<string, unknown>>;
    check?: (head: HeadConfig) => Promise<void>;
  };
  /** Stop early (after the current step), saving a checkpoint. */
  signal?: AbortSignal;
}

/** Parameters (float32, plus two optimizer moments each) beyond this are a typo rather than a head. */
const MAX_HEAD_PARAMS = 2 ** 30;

/** The validated shape of a run. */
export interface RunPlan {
  loss: LossType;
  modalities: { image: string; text: string; extraText?: string };
  batchSize: number;
  stepsPerEpoch: number;
  totalSteps: number;
  epochs: number;
  seed: number;
  shuffle: boolean;
  schedule: Schedule;
  head: HeadConfig;
  /** Everything that determines the result, as recorded in the checkpoint's config.json. */
  config: CheckpointConfig;
}

/** Validate the options against the store and derive the run (the head's widths come from the store). */
export function planRun(o: TrainLoopOptions, store: EmbeddingStore): RunPlan {
  const image = o.imageModality ?? 'image';
  const text = o.textModality ?? 'text';
  const loss: LossType = o.loss ?? TRAIN_DEFAULTS.loss;
  const kind: OptimizerKind = o.optimizer ?? TRAIN_DEFAULTS.optimizer;
  const seed = o.seed ?? TRAIN_DEFAULTS.seed;
  const shuffle = o.shuffle ?? true;
  const B = o.batchSize;
  const mods = store.modalities();
  for (const m of [image, text, ...(o.extraText ? [o.extraText] : [])]) {
    if (!mods.includes(m)) throw new SailError(`store has no modality ${m} (it has ${mods.join(', ')})`, { file: store.dir });
  }
  if (o.extraText && store.dim(o.extraText) !== store.dim(text)) {
    throw new SailError(`extra-text modality ${o.extraText} has dim ${store.dim(o.extraText)}, text has ${store.dim(text)}`, { file: store.dir });
  }
  if (!(o.weightDecay >= 0) || !Number.isFinite(o.weightDecay)) throw new SailError(`weight decay must be a finite number >= 0, got ${o.weightDecay}`);
  if (!Number.isInteger(B) || B < 2) throw new SailError(`batch size must be an integer >= 2, got ${B}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new SailError(`seed must be an integer in 0..4294967295, got ${seed}`);
  if (store.rows < B) throw new SailError(`store has ${store.rows} rows, fewer than the batch size ${B}`, { file: store.dir });
  const stepsPerEpoch = Math.floor(store.rows / B);
  const totalSteps = o.steps ?? stepsPerEpoch * (o.epochs ?? TRAIN_DEFAULTS.epochs);
  if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new SailError(`number of steps must be a positive integer, got ${totalSteps}`);
  const epochs = Math.ceil(totalSteps / stepsPerEpoch);
  const schedule = makeSchedule(o.lr, totalSteps, o.warmupSteps);
  const head: HeadConfig = {
    ...defaultHeadConfig,
    ...Object.fromEntries(Object.entries(o.head ?? {}).filter(([, v]) => v !== undefined)),
    visionDim: store.dim(image),
    textDim: store.dim(text),
    ...(store.model(image) ? { visionModel: store.model(image) } : {}),
    ...(store.model(text) ? { textModel: store.model(text) } : {}),
  };
  const params = paramSpecs(head).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  if (params > MAX_HEAD_PARAMS) {
    throw new SailError(`a ${head.type} head of width ${head.targetDim} (width factor ${head.widthFactor}) on ${head.visionDim}/${head.textDim}-d inputs has ${params} parameters, more than ${MAX_HEAD_PARAMS}; lower the output width (--dim) or --width-factor`);
  }
  const modalities = { image, text, ...(loss === 'siglip' && o.extraText !== undefined ? { extraText: o.extraText } : {}) };
  const config: CheckpointConfig = {
    head, loss,
    optimizer: { kind, lr: o.lr, ...resolveOptimizerHyper(kind, { weightDecay: o.weightDecay, beta1: o.beta1, beta2: o.beta2, eps: o.eps }) },
    batchSize: B, totalSteps, epochs, warmupSteps: schedule.warmup, seed, shuffle,
    store: resolve(o.storeDir),
    storeFingerprint: store.fingerprint,
    modalities,
    storeRows: store.rows,
    ...(o.initFile !== undefined ? { init: resolve(o.initFile) } : {}),
    execution: { threads: o.threads ?? null, executionProviders: o.executionProviders ?? null, checkpointEvery: o.checkpointEvery ?? TRAIN_DEFAULTS.checkpointEvery },
  };
  return { loss, modalities, batchSize: B, stepsPerEpoch, totalSteps, epochs, seed, shuffle, schedule, head, config };
}

/**
 * Config fields a resume may change: where the store lives (its contents are the fingerprint), the
 * --init file (only the first run reads it) and execution settings (threads, device, checkpoint cadence).
 */
const MAY_CHANGE = new Set(['store', 'init', 'execution']);

/** A resume must continue the same run: every other field of the config must match, else name them all. */
export function checkResumable(saved: CheckpointConfig, now: CheckpointConfig, dir: string): void {
  const a = leaves(saved);
  const b = leaves(now);
  const diffs: string[] = [];
  for (const key of new Set([...a.keys(), ...b.keys()])) {
    if (MAY_CHANGE.has(key.split('.')[0]) || a.get(key) === b.get(key)) continue;
    diffs.push(`${key}: checkpoint ${short(a.get(key))}, now ${short(b.get(key))}`);
  }
  if (diffs.length) throw new SailError(`cannot resume with different settings (${diffs.join('; ')}); use another --out for a new run`, { file: join(dir, 'config.json') });
}

/** Flatten nested objects to dotted keys with JSON values (arrays stay whole). */
function leaves(value: unknown, prefix = '', out = new Map<string, string>()): Map<string, string> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) leaves(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (value !== undefined) out.set(prefix, JSON.stringify(value));
  return out;
}

function short(json: string | undefined): string {
  if (json === undefined) return '(not recorded)';
  return /^"[0-9a-f]{64}"$/.test(json) ? `${json.slice(0, 13)}…"` : json;
}
