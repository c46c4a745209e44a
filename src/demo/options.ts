// `sail demo` settings: the options a caller may give, the defaults (chosen on a validation split, see
// docs/demo.md) and the resolved settings every step of run.ts reads.
import { SailError } from '../util/errors.js';
import { TRAIN_STYLES, type TrainStyle } from './styles.js';

/** Default backbones: the pretrained models that ship inside npm packages (no network needed). */
export const DEFAULT_IMAGE_BACKBONE = 'mobilenetv2-nsfwjs';
export const DEFAULT_TEXT_BACKBONE = 'use-lite';

/** Ridge targets: the main caption, or the mean of main and extra caption (the SAIL multi-positive). */
export type RidgeTarget = 'text' | 'text+extra';

/**
 * Demo hyper-parameters. Every value was chosen on the validation split (`--validation 300`: 300 of the
 * training concepts held out, their Twemoji), never on the test set; docs/demo.md lists the grid.
 */
export const DEMO_DEFAULTS = {
  /** SAIL star head (batch 256 x 300 steps: the same pairs seen as 512 x 150, twice the updates; validation). */
  steps: 300,
  batchSize: 256,
  lr: 1e-4,
  weightDecay: 1e-4,
  widthFactor: 2,
  targetDim: 512,
  /**
   * Initial logit scale / bias of the star head (SAIL's are 20 / -10). With Lion at lr 1e-4 for 300 steps they
   * move by at most 0.03, so the init acts as the temperature; 10 / -5 was better on validation (3 seeds).
   */
  logitScale: 10,
  logitBias: -5,
  /** Linear probe (same loss, optimizer and validation protocol; its own tuned values). */
  linearSteps: 150,
  linearBatchSize: 512,
  linearLr: 3e-4,
  linearWeightDecay: 1e-4,
  linearTargetDim: 512,
  /** Closed-form ridge baseline. */
  ridgeLambda: 0.1,
  ridgeTarget: 'text' as RidgeTarget,
  /** Training drawing styles. */
  styles: ['noto', 'openmoji', 'fluent'] as TrainStyle[],
  /** First training seed (init + shuffling); seeds are seed, seed+1, ... */
  seed: 42,
  seeds: 1,
  /** Seed of the concept split (fixed across training seeds). */
  splitSeed: 42,
};

export type DemoStage = 'encode-train' | 'encode-test' | 'encode-prompts' | 'train-star' | 'train-linear' | 'ridge' | 'eval';

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
  threads?: number;
  /** Use only this many emoji concepts (quick runs and tests). */
  limit?: number;
  /** First training seed (init and shuffling). */
  seed?: number;
  /** Number of training seeds (seed, seed+1, ...); rows report mean ± sd over them. */
  seeds?: number;
  /** Seed of the concept split (kept fixed while the training seed varies). */
  splitSeed?: number;
  /** Tuning mode: hold out this many TRAINING concepts as validation; the test concepts are not used. */
  validation?: number;
  /** Drawing styles to train on (Noto, OpenMoji, Fluent). */
  styles?: TrainStyle[];
  steps?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  widthFactor?: number;
  targetDim?: number;
  /** Star head: initial logit scale (effective, default 10) and bias (default -5), as `sail train --logit-scale/--logit-bias`. */
  logitScale?: number;
  logitBias?: number;
  linearSteps?: number;
  linearBatchSize?: number;
  linearLr?: number;
  linearWeightDecay?: number;
  linearTargetDim?: number;
  /** Linear probe: initial logit scale and bias (default 20 / -10). */
  linearLogitScale?: number;
  linearLogitBias?: number;
  /** Ridge penalties (relative to the mean Gram diagonal); each gives a row. */
  ridgeLambdas?: number[];
  ridgeTargets?: RidgeTarget[];
  /** Image backbone: registry name or local model folder (default mobilenetv2-nsfwjs). */
  imageBackbone?: string;
  /** Text backbone: registry name or local model folder (default use-lite). */
  textBackbone?: string;
  /** Let hub backbones (e.g. dinov2-small) download missing model files; npm backbones never need it. */
  allowDownload?: boolean;
  onProgress?: (p: DemoProgress) => void;
}

/** Training settings of one head. */
export interface HeadSettings {
  steps: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  widthFactor: number;
  targetDim: number;
  /** Initial logit scale / bias; absent = the head defaults (20 / -10; the linear probe's), which keeps the settings hash of earlier runs. */
  logitScale?: number;
  logitBias?: number;
}

/** Everything a run needs, defaults filled in. */
export interface DemoSettings {
  out: string;
  imageBackbone: string;
  textBackbone: string;
  threads?: number;
  allowDownload?: boolean;
  limit?: number;
  validation?: number;
  splitSeed: number;
  trainSeeds: number[];
  styles: TrainStyle[];
  star: HeadSettings;
  linear: HeadSettings;
  ridgeLambdas: number[];
  ridgeTargets: RidgeTarget[];
}

/** Fill in defaults and check the values a library caller may pass (the CLI checks its flags itself). */
export function resolveSettings(o: DemoOptions, out: string): DemoSettings {
  const D = DEMO_DEFAULTS;
  const seeds = o.seeds ?? D.seeds;
  if (!(Number.isInteger(seeds) && seeds >= 1)) throw new SailError(`seeds must be a positive integer, got ${seeds}`);
  const first = o.seed ?? D.seed;
  const styles = o.styles ?? D.styles;
  for (const s of styles) if (!TRAIN_STYLES.includes(s)) throw new SailError(`unknown drawing style ${JSON.stringify(s)} (known: ${TRAIN_STYLES.join(', ')})`);
  if (styles.length === 0) throw new SailError('at least one training drawing style is needed');
  const inits = [['logitScale', o.logitScale, 'logitBias', o.logitBias], ['linearLogitScale', o.linearLogitScale, 'linearLogitBias', o.linearLogitBias]] as const;
  for (const [scaleName, scale, biasName, bias] of inits) {
    if (scale !== undefined && !(scale >= 1 && scale <= 100)) throw new SailError(`${scaleName} must be in [1, 100] (the log-scale is clamped to [0, ln 100]), got ${scale}`);
    if (bias !== undefined && !Number.isFinite(bias)) throw new SailError(`${biasName} must be a finite number, got ${bias}`);
  }
  return {
    out,
    imageBackbone: o.imageBackbone ?? DEFAULT_IMAGE_BACKBONE,
    textBackbone: o.textBackbone ?? DEFAULT_TEXT_BACKBONE,
    threads: o.threads,
    allowDownload: o.allowDownload,
    limit: o.limit,
    validation: o.validation,
    splitSeed: o.splitSeed ?? D.splitSeed,
    trainSeeds: Array.from({ length: seeds }, (_, i) => first + i),
    styles: TRAIN_STYLES.filter((s) => styles.includes(s)),
    star: { steps: o.steps ?? D.steps, batchSize: o.batchSize ?? D.batchSize, lr: o.lr ?? D.lr, weightDecay: o.weightDecay ?? D.weightDecay, widthFactor: o.widthFactor ?? D.widthFactor, targetDim: o.targetDim ?? D.targetDim, logitScale: o.logitScale ?? D.logitScale, logitBias: o.logitBias ?? D.logitBias },
    linear: { steps: o.linearSteps ?? D.linearSteps, batchSize: o.linearBatchSize ?? D.linearBatchSize, lr: o.linearLr ?? D.linearLr, weightDecay: o.linearWeightDecay ?? D.linearWeightDecay, widthFactor: 1, targetDim: o.linearTargetDim ?? D.linearTargetDim, logitScale: o.linearLogitScale, logitBias: o.linearLogitBias },
    ridgeLambdas: o.ridgeLambdas ?? [D.ridgeLambda],
    ridgeTargets: o.ridgeTargets ?? [D.ridgeTarget],
  };
}
