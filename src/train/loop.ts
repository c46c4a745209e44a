// The training loop, read top to bottom like a training script: plan the run, restore or initialise
// the head and optimizer, then for each step read a batch, step, log, validate when due and checkpoint
// when due. A resumed run is bit-identical to an uninterrupted one.
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { ParamSet } from '../head/config.js';
import { clampLogitScale, initParams } from '../head/init.js';
import { loadHeadInto, paramsFromTensors } from '../head/load.js';
import { openStore } from '../store/reader.js';
import { appendText, writeFileAtomic } from '../util/atomic.js';
import { SailError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { CHECKPOINT_DIR, loadLatestCheckpoint, saveCheckpoint, type TrainState } from './checkpoint.js';
import type { Batch, StepResult, TrainEngine } from './engine-types.js';
import { TRAIN_DEFAULTS } from './defaults.js';
import { adamwDecayMask, createOptimizer, type Optimizer } from './optimizer.js';
import { checkResumable, planRun, type RunPlan, type StepMetrics, type TrainLoopOptions } from './plan.js';
import { EpochSampler } from './sampler.js';
import { lrAt } from './schedule.js';

export type { StepMetrics, TrainLoopOptions, TrainProgress } from './plan.js';
export { epochRng } from './sampler.js';

export interface TrainSummary {
  head: RunPlan['head'];
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

/** Where a run stands: the head, its optimizer and the counters a checkpoint records. */
interface RunState {
  params: ParamSet;
  optimizer: Optimizer;
  /** Completed steps. */
  step: number;
  startStep: number;
  pairsSeen: number;
  /** Training seconds of earlier calls (resumes). */
  secondsBefore: number;
}

/** Run (or resume) training. Library code: no printing; progress goes through `onProgress`. */
export async function trainLoop(o: TrainLoopOptions): Promise<TrainSummary> {
  const store = await openStore(o.storeDir);
  let engine: TrainEngine | undefined;
  try {
    if (o.verifyStore) await store.verify();
    const plan = planRun(o, store);
    await o.validate?.check?.(plan.head);
    const run = await restoreOrInit(o, plan);
    engine = await o.createEngine({ head: plan.head, loss: plan.loss, threads: o.threads, executionProviders: o.executionProviders });
    const sampler = new EpochSampler(store, plan);
    const logPath = join(o.outDir, 'train.jsonl');
    const t0 = performance.now();
    let last: StepMetrics | undefined;
    let stopped = false;
    let next = run.step < plan.totalSteps ? sampler.read(run.step) : undefined;
    while (run.step < plan.totalSteps) {
      const tStep = performance.now();
      const batch = await next!;
      // prefetch the following batch while the engine works on this one
      next = run.step + 1 < plan.totalSteps ? sampler.read(run.step + 1) : undefined;
      next?.catch(() => undefined);
      const lr = lrAt(plan.schedule, run.step);
      const res = await trainStep(engine, run, batch, lr);
      last = stepMetrics(plan, run, res, lr, (performance.now() - tStep) / 1000);
      await appendText(logPath, JSON.stringify(last) + '\n');
      o.onProgress?.({ ...last, totalSteps: plan.totalSteps });
      // validation before the checkpoint: a kill in between replays the step and its validation
      await validateIfDue(o, plan, run);
      stopped = run.step < plan.totalSteps && o.signal?.aborted === true;
      if (checkpointDue(o, plan, run.step) || stopped) {
        const seconds = run.secondsBefore + (performance.now() - t0) / 1000;
        await saveCheckpoint(o.outDir, { params: run.params, optimizer: run.optimizer, config: plan.config, state: trainState(plan, run, sampler, seconds) });
      }
      if (stopped) break;
    }
    await next?.catch(() => undefined);
    const seconds = (performance.now() - t0) / 1000;
    return {
      head: plan.head, steps: run.step, totalSteps: plan.totalSteps, epochs: plan.epochs, stepsPerEpoch: plan.stepsPerEpoch,
      resumedFromStep: run.startStep, stopped, last, pairsPerSec: seconds > 0 ? ((run.step - run.startStep) * plan.batchSize) / seconds : 0,
      seconds, checkpoint: join(o.outDir, CHECKPOINT_DIR), log: logPath,
    };
  } finally {
    await engine?.dispose();
    await store.close();
  }
}

/**
 * Parameters and optimizer from OUT/checkpoint (with --resume, after checking it is the same run), from
 * --init, or freshly initialised from the seed. Logs are cut back to the checkpoint's step.
 */
async function restoreOrInit(o: TrainLoopOptions, plan: RunPlan): Promise<RunState> {
  const { head, config } = plan;
  const hyper = { weightDecay: config.optimizer.weightDecay, beta1: config.optimizer.beta1, beta2: config.optimizer.beta2, eps: config.optimizer.eps };
  const kind = config.optimizer.kind as Optimizer['kind'];
  // --init: config.json records the scale/bias the init file actually carries, not the CLI defaults.
  const fromInit = o.initFile ? await loadHeadInto(o.initFile, head) : undefined;
  if (fromInit) recordInitScalars(head, fromInit);
  const existing = await loadLatestCheckpoint(o.outDir);
  if (existing && !o.resume) throw new SailError('already holds a checkpoint: pass --resume to continue it, or choose another --out', { file: o.outDir });
  if (!existing) {
    const params = fromInit ?? initParams(head, new Rng(plan.seed));
    await fs.mkdir(o.outDir, { recursive: true });
    await fs.rm(join(o.outDir, 'train.jsonl'), { force: true });
    const optimizer = createOptimizer(kind, params, hyper, adamwDecayMask(head));
    return { params, optimizer, step: 0, startStep: 0, pairsSeen: 0, secondsBefore: 0 };
  }
  checkResumable(existing.config, config, existing.dir);
  const params = paramsFromTensors(head, existing.params, { strict: true, file: join(existing.dir, 'head.safetensors') });
  const optimizer = createOptimizer(kind, params, hyper, adamwDecayMask(head));
  optimizer.load(existing.optimizer, existing.state.optimizerSteps, join(existing.dir, 'optimizer.safetensors'));
  const { step, pairsSeen, seconds } = existing.state;
  await truncateLog(join(o.outDir, 'train.jsonl'), step);
  await truncateLog(join(o.outDir, 'val.jsonl'), step);
  return { params, optimizer, step, startStep: step, pairsSeen, secondsBefore: seconds };
}

/** Set the head's logitScaleInit / logitBiasInit from loaded parameters (scale stored as its log). */
function recordInitScalars(head: RunPlan['head'], params: ParamSet): void {
  const scale = params.find((p) => p.name === 'logit_scale');
  const bias = params.find((p) => p.name === 'logit_bias');
  if (scale) head.logitScaleInit = Math.exp(scale.data[0]);
  if (bias) head.logitBiasInit = bias.data[0];
}

/** One optimizer step: loss and gradients from the engine, update, clamp the logit scale. */
async function trainStep(engine: TrainEngine, run: RunState, batch: Batch, lr: number): Promise<StepResult> {
  const res = await engine.step(run.params, batch);
  if (!Number.isFinite(res.loss)) throw new SailError(`loss became ${res.loss} at step ${run.step + 1}`);
  run.optimizer.step(run.params, res.grads, lr);
  clampLogitScale(run.params);
  run.step += 1;
  run.pairsSeen += batch.n;
  return res;
}

/** The log line of the step just taken. */
function stepMetrics(plan: RunPlan, run: RunState, res: StepResult, lr: number, stepSeconds: number): StepMetrics {
  const scalar = (name: string) => run.params.find((p) => p.name === name)!.data[0];
  return {
    step: run.step, epoch: Math.floor((run.step - 1) / plan.stepsPerEpoch), lr, loss: res.loss, positive: res.positiveLoss, negative: res.negativeLoss,
    ...(res.extraLoss !== undefined ? { extra: res.extraLoss } : {}),
    scale: Math.exp(scalar('logit_scale')), bias: scalar('logit_bias'), pairsPerSec: plan.batchSize / stepSeconds,
  };
}

/** Validate every `everyEpochs` epochs and after the last step, appending to OUT/val.jsonl. */
async function validateIfDue(o: TrainLoopOptions, plan: RunPlan, run: RunState): Promise<void> {
  if (!o.validate) return;
  const { step } = run;
  const epochDone = step % plan.stepsPerEpoch === 0 ? step / plan.stepsPerEpoch : 0;
  if (!((epochDone > 0 && epochDone % Math.max(1, o.validate.everyEpochs) === 0) || step === plan.totalSteps)) return;
  const epoch = Math.ceil(step / plan.stepsPerEpoch);
  const metrics = await o.validate.run({ config: plan.head, params: run.params }, { step, epoch });
  await appendText(join(o.outDir, 'val.jsonl'), JSON.stringify({ step, epoch, ...metrics }) + '\n');
}

/** Checkpoint every `checkpointEvery` steps (0: never in between) and after the last step. */
function checkpointDue(o: TrainLoopOptions, plan: RunPlan, step: number): boolean {
  const every = o.checkpointEvery ?? TRAIN_DEFAULTS.checkpointEvery;
  return (every > 0 && step % every === 0) || step === plan.totalSteps;
}

function trainState(plan: RunPlan, run: RunState, sampler: EpochSampler, seconds: number): TrainState {
  return {
    version: 1, step: run.step, epoch: Math.floor(run.step / plan.stepsPerEpoch), totalSteps: plan.totalSteps, stepsPerEpoch: plan.stepsPerEpoch,
    seed: plan.seed, shuffle: plan.shuffle, rng: sampler.rngState, schedule: plan.schedule, optimizerSteps: run.optimizer.steps,
    pairsSeen: run.pairsSeen, seconds,
  };
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
