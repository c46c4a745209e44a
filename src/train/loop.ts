// The training loop: shuffled batches from the store -> engine.step -> optimizer -> clamp, with a
// JSONL metrics log and resumable checkpoints (a resumed run is bit-identical to an uninterrupted one).
import { loadHeadInto, paramsFromTensors } from '../head/load.js';
import { TRAIN_DEFAULTS } from './defaults.js';
import { existsSync, promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { defaultHeadConfig, type HeadConfig, type HeadType, type ParamSet } from '../head/config.js';
import { clampLogitScale, initParams } from '../head/init.js';
import { openStore } from '../store/reader.js';
import { writeFileAtomic } from '../util/atomic.js';
import { SailError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import {
  CHECKPOINT_DIR, loadLatestCheckpoint, saveCheckpoint, type CheckpointConfig, type TrainState,
} from './checkpoint.js';
import type { Batch, EngineOptions, LossType, TrainEngine } from './engine-types.js';
import { adamwDecayMask, createOptimizer, type OptimizerKind } from './optimizer.js';
import { lrAt, makeSchedule } from './schedule.js';

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
  /** Effective logit scale exp(s) after the step. */
  scale: number;
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
  /** Checkpoint every K steps (0: only at the end; default TRAIN_DEFAULTS.checkpointEvery). */
  checkpointEvery?: number;
  threads?: number;
  executionProviders?: string[];
  onProgress?: (p: TrainProgress) => void;
  /**
   * Validation every `everyEpochs` epochs (and after the last step): `run` gets the current head and
   * returns metrics, which are appended to `OUT/val.jsonl` with the step and epoch. Training does not
   * depend on evaluation code: the caller supplies it (the CLI uses eval's retrieval on stores).
   */
  validate?: { everyEpochs: number; run: (head: { config: HeadConfig; params: ParamSet }, at: { step: number; epoch: number }) => Promise<Record<string, unknown>> };
  /** Stop early (after the current step), saving a checkpoint. */
  signal?: AbortSignal;
}

export interface TrainSummary {
  head: HeadConfig;
  steps: number;
  totalSteps: number;
  epochs: number;
  stepsPerEpoch: number;
  resumedFromStep: number;
  stopped: boolean;
  last?: StepMetrics;
  /** Mean pairs per second over the steps run in this call. */
  pairsPerSec: number;
  seconds: number;
  checkpoint: string;
  log: string;
}

/** Seed of the shuffle for one epoch: derived from (seed, epoch) alone so any epoch can be replayed. */
export function epochRng(seed: number, epoch: number): Rng {
  return new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0);
}

/** Run (or resume) training. Library code: no printing; progress goes through `onProgress`. */
export async function trainLoop(o: TrainLoopOptions): Promise<TrainSummary> {
  const imageMod = o.imageModality ?? 'image';
  const textMod = o.textModality ?? 'text';
  const loss: LossType = o.loss ?? TRAIN_DEFAULTS.loss;
  const optKind: OptimizerKind = o.optimizer ?? TRAIN_DEFAULTS.optimizer;
  const seed = o.seed ?? TRAIN_DEFAULTS.seed;
  const shuffle = o.shuffle ?? true;
  const B = o.batchSize;
  const store = await openStore(o.storeDir);
  let engine: TrainEngine | undefined;
  try {
    const mods = store.modalities();
    for (const m of [imageMod, textMod, ...(o.extraText ? [o.extraText] : [])]) {
      if (!mods.includes(m)) throw new SailError(`store has no modality ${m} (it has ${mods.join(', ')})`, { file: store.dir });
    }
    if (o.extraText && store.dim(o.extraText) !== store.dim(textMod)) {
      throw new SailError(`extra-text modality ${o.extraText} has dim ${store.dim(o.extraText)}, text has ${store.dim(textMod)}`, { file: store.dir });
    }
    if (!(o.weightDecay >= 0) || !Number.isFinite(o.weightDecay)) throw new SailError(`weight decay must be a finite number >= 0, got ${o.weightDecay}`);
    if (!Number.isInteger(B) || B < 2) throw new SailError(`batch size must be an integer >= 2, got ${B}`);
    if (store.rows < B) throw new SailError(`store has ${store.rows} rows, fewer than the batch size ${B}`, { file: store.dir });
    const stepsPerEpoch = Math.floor(store.rows / B);
    let totalSteps: number;
    if (o.steps !== undefined) totalSteps = o.steps;
    else totalSteps = stepsPerEpoch * (o.epochs ?? TRAIN_DEFAULTS.epochs);
    if (!Number.isInteger(totalSteps) || totalSteps < 1) throw new SailError(`number of steps must be a positive integer, got ${totalSteps}`);
    const epochs = Math.ceil(totalSteps / stepsPerEpoch);
    const schedule = makeSchedule(o.lr, totalSteps, o.warmupSteps);
    const head: HeadConfig = {
      ...defaultHeadConfig,
      ...Object.fromEntries(Object.entries(o.head ?? {}).filter(([, v]) => v !== undefined)),
      visionDim: store.dim(imageMod),
      textDim: store.dim(textMod),
      ...(store.model(imageMod) ? { visionModel: store.model(imageMod) } : {}),
      ...(store.model(textMod) ? { textModel: store.model(textMod) } : {}),
    };
    const useExtra = loss === 'siglip' && o.extraText !== undefined;
    const config: CheckpointConfig = {
      head, loss,
      optimizer: { kind: optKind, lr: o.lr, weightDecay: o.weightDecay, beta1: o.beta1, beta2: o.beta2, eps: o.eps },
      batchSize: B, totalSteps, epochs, warmupSteps: schedule.warmup, seed, shuffle,
      store: resolve(o.storeDir),
      modalities: { image: imageMod, text: textMod, ...(useExtra ? { extraText: o.extraText } : {}) },
      storeRows: store.rows,
    };

    // Parameters and optimizer: from the checkpoint, from --init, or fresh.
    const ckPath = join(o.outDir, CHECKPOINT_DIR);
    const logPath = join(o.outDir, 'train.jsonl');
    const valLogPath = join(o.outDir, 'val.jsonl');
    const existing = await loadLatestCheckpoint(o.outDir);
    if (existing && !o.resume) throw new SailError('already holds a checkpoint: pass --resume to continue it, or choose another --out', { file: o.outDir });
    let params: ParamSet;
    if (existing) {
      checkResumable(existing.config, config, existing.dir);
      params = paramsFromTensors(head, existing.params, { strict: true, file: join(existing.dir, 'head.safetensors') });
    } else if (o.initFile) params = await loadHeadInto(o.initFile, head);
    else params = initParams(head, new Rng(seed));
    const optimizer = createOptimizer(optKind, params, { weightDecay: o.weightDecay, beta1: o.beta1, beta2: o.beta2, eps: o.eps }, adamwDecayMask(head));
    let startStep = 0;
    let pairsSeen = 0;
    let secondsBefore = 0;
    if (existing) {
      optimizer.load(existing.optimizer, existing.state.optimizerSteps, join(existing.dir, 'optimizer.safetensors'));
      startStep = existing.state.step;
      pairsSeen = existing.state.pairsSeen;
      secondsBefore = existing.state.seconds;
      await truncateLog(logPath, startStep);
      await truncateLog(valLogPath, startStep);
    } else {
      await fs.mkdir(o.outDir, { recursive: true });
      await fs.rm(logPath, { force: true });
    }

    engine = await o.createEngine({ head, loss, threads: o.threads, executionProviders: o.executionProviders });

    // Batches: the permutation of epoch e depends only on (seed, e), so a resumed run replays it exactly.
    let permEpoch = -1;
    let perm: Uint32Array = new Uint32Array(0);
    let rngState: number[] = [];
    const indicesFor = (g: number): Uint32Array => {
      const e = Math.floor(g / stepsPerEpoch);
      if (e !== permEpoch) {
        if (shuffle) {
          const rng = epochRng(seed, e);
          perm = rng.permutation(store.rows);
          rngState = rng.state();
        } else {
          perm = new Uint32Array(stepsPerEpoch * B);
          for (let i = 0; i < perm.length; i++) perm[i] = i;
        }
        permEpoch = e;
      }
      const i = g % stepsPerEpoch;
      return perm.slice(i * B, (i + 1) * B);
    };
    const readBatch = async (g: number): Promise<Batch> => {
      const idx = indicesFor(g);
      const [image, text, extraText] = await Promise.all([
        store.readRows(imageMod, idx),
        store.readRows(textMod, idx),
        useExtra ? store.readRows(o.extraText!, idx) : Promise.resolve(undefined),
      ]);
      return { n: B, image, text, ...(extraText ? { extraText } : {}) };
    };

    const every = o.checkpointEvery ?? TRAIN_DEFAULTS.checkpointEvery;
    const state = (step: number, seconds: number): TrainState => ({
      version: 1, step, epoch: Math.floor(step / stepsPerEpoch), totalSteps, stepsPerEpoch, seed, shuffle,
      rng: rngState, schedule, optimizerSteps: optimizer.steps, pairsSeen, seconds,
    });
    const t0 = performance.now();
    let last: StepMetrics | undefined;
    let stopped = false;
    let step = startStep;
    let next = step < totalSteps ? readBatch(step) : undefined;
    while (step < totalSteps) {
      const tStep = performance.now();
      const batch = await next!;
      // prefetch the following batch while the engine works on this one
      next = step + 1 < totalSteps ? readBatch(step + 1) : undefined;
      next?.catch(() => undefined);
      const lr = lrAt(schedule, step);
      const res = await engine.step(params, batch);
      if (!Number.isFinite(res.loss)) throw new SailError(`loss became ${res.loss} at step ${step + 1}`);
      optimizer.step(params, res.grads, lr);
      clampLogitScale(params);
      step += 1;
      pairsSeen += B;
      const scaleP = params.find((p) => p.name === 'logit_scale')!.data[0];
      const biasP = params.find((p) => p.name === 'logit_bias')!.data[0];
      last = {
        step, epoch: Math.floor((step - 1) / stepsPerEpoch), lr, loss: res.loss, positive: res.positiveLoss, negative: res.negativeLoss,
        ...(res.extraLoss !== undefined ? { extra: res.extraLoss } : {}),
        scale: Math.exp(scaleP), bias: biasP, pairsPerSec: B / ((performance.now() - tStep) / 1000),
      };
      await fs.appendFile(logPath, JSON.stringify(last) + '\n');
      o.onProgress?.({ ...last, totalSteps });
      // validation before the checkpoint: a kill in between replays the step and its validation
      const epochDone = step % stepsPerEpoch === 0 ? step / stepsPerEpoch : 0;
      if (o.validate && ((epochDone > 0 && epochDone % Math.max(1, o.validate.everyEpochs) === 0) || step === totalSteps)) {
        const metrics = await o.validate.run({ config: head, params }, { step, epoch: Math.ceil(step / stepsPerEpoch) });
        await fs.appendFile(valLogPath, JSON.stringify({ step, epoch: Math.ceil(step / stepsPerEpoch), ...metrics }) + '\n');
      }
      stopped = step < totalSteps && o.signal?.aborted === true;
      if ((every > 0 && step % every === 0) || step === totalSteps || stopped) {
        await saveCheckpoint(o.outDir, { params, optimizer, config, state: state(step, secondsBefore + (performance.now() - t0) / 1000) });
      }
      if (stopped) break;
    }
    await next?.catch(() => undefined);
    const seconds = (performance.now() - t0) / 1000;
    return {
      head, steps: step, totalSteps, epochs, stepsPerEpoch, resumedFromStep: startStep, stopped, last,
      pairsPerSec: seconds > 0 ? ((step - startStep) * B) / seconds : 0, seconds, checkpoint: ckPath, log: logPath,
    };
  } finally {
    await engine?.dispose();
    await store.close();
  }
}

/** A resume must continue the same run: the settings that change the trajectory must match. */
function checkResumable(saved: CheckpointConfig, now: CheckpointConfig, dir: string): void {
  const diffs: string[] = [];
  const cmp = (name: string, a: unknown, b: unknown) => {
    if (JSON.stringify(a) !== JSON.stringify(b)) diffs.push(`${name}: checkpoint ${JSON.stringify(a)}, now ${JSON.stringify(b)}`);
  };
  cmp('head', saved.head, now.head);
  cmp('loss', saved.loss, now.loss);
  cmp('optimizer', saved.optimizer, now.optimizer);
  for (const k of ['batchSize', 'totalSteps', 'warmupSteps', 'seed', 'shuffle', 'storeRows'] as const) cmp(k, saved[k], now[k]);
  cmp('modalities', saved.modalities, now.modalities);
  if (diffs.length) throw new SailError(`cannot resume with different settings (${diffs.join('; ')})`, { file: join(dir, 'config.json') });
}

/** Keep only log lines of steps already in the checkpoint (a killed run may have logged further). */
async function truncateLog(path: string, upTo: number): Promise<void> {
  if (!existsSync(path)) return;
  const keep: string[] = [];
  for (const line of (await fs.readFile(path, 'utf8')).split('\n')) {
    try {
      const rec = JSON.parse(line) as StepMetrics;
      if (rec.step <= upTo) keep.push(line);
    } catch {
      // a line cut by the kill
    }
  }
  // atomic: a kill during this rewrite must not lose the lines being kept
  await writeFileAtomic(path, keep.map((l) => l + '\n').join(''));
}
