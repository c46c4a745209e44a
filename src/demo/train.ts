// Training one demo head through the project's training loop (src/train/loop.ts), resumable, plus the
// untrained twin (same config and seed, 0 steps) used as a baseline.
import { paramsFromTensors } from '../head/load.js';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { HeadType } from '../head/config.js';
import { initParams } from '../head/init.js';
import type { LoadedHead } from '../head/load.js';
import { createTrainEngine } from '../train/engine.js';
import { CHECKPOINT_DIR, loadLatestCheckpoint } from '../train/checkpoint.js';
import { openStore } from '../store/reader.js';
import { trainLoop } from '../train/loop.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { SailError } from '../util/errors.js';
import { Rng } from '../util/rng.js';

export interface DemoTrainOptions {
  storeDir: string;
  /** Run folder (checkpoint, train.jsonl); a finished run with the same settings is reused. */
  runDir: string;
  type: HeadType;
  widthFactor: number;
  targetDim: number;
  steps: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  seed: number;
  threads?: number;
  /** Initial logit scale / bias (default: the head defaults). */
  logitScale?: number;
  logitBias?: number;
}

/** A trained head, the untrained head it started from, and its loss curve. */
export interface TrainedHead {
  initial: LoadedHead;
  final: LoadedHead;
  /** Checkpoint folder of the final head. */
  checkpoint: string;
  curve: { step: number; loss: number }[];
  /** Seconds spent training in this call (0 when a finished run was reused). */
  seconds: number;
}

const RUN_SPEC = 'demo-run.json';

/**
 * Train (or resume, or reuse) one head on the demo train store with SigLIP + the extra positive caption
 * and Lion. `onStep(done, total, loss)` reports every step.
 */
export async function trainDemoHead(o: DemoTrainOptions, onStep?: (done: number, total: number, loss?: number) => void): Promise<TrainedHead> {
  const spec = { v: 1, store: o.storeDir, type: o.type, widthFactor: o.widthFactor, targetDim: o.targetDim, steps: o.steps, batchSize: o.batchSize, lr: o.lr, weightDecay: o.weightDecay, seed: o.seed, logitScale: o.logitScale, logitBias: o.logitBias };
  const specPath = join(o.runDir, RUN_SPEC);
  // Settings changed since the last run, or the store was re-encoded since (its files differ): the
  // checkpoint cannot be resumed, start over.
  if (existsSync(o.runDir)) {
    const prev = existsSync(specPath) ? await fs.readFile(specPath, 'utf8').catch(() => '') : '';
    if (prev.trim() !== JSON.stringify(spec, null, 2) || (await trainedOnOtherStore(o.runDir, o.storeDir))) await fs.rm(o.runDir, { recursive: true, force: true });
  }
  await writeJsonAtomic(specPath, spec);
  onStep?.(0, o.steps);
  const summary = await trainLoop({
    storeDir: o.storeDir,
    outDir: o.runDir,
    createEngine: (eo) => createTrainEngine(eo),
    head: { type: o.type, widthFactor: o.widthFactor, targetDim: o.targetDim, logitScaleInit: o.logitScale, logitBiasInit: o.logitBias },
    loss: 'siglip',
    optimizer: 'lion',
    lr: o.lr,
    weightDecay: o.weightDecay,
    batchSize: o.batchSize,
    steps: o.steps,
    seed: o.seed,
    extraText: 'extra_text',
    resume: true,
    checkpointEvery: 100,
    threads: o.threads,
    onProgress: (p) => onStep?.(p.step, p.totalSteps, p.loss),
  });
  onStep?.(summary.steps, summary.totalSteps, summary.last?.loss);
  const ck = await loadLatestCheckpoint(o.runDir);
  if (!ck) throw new SailError('training finished without a checkpoint', { file: o.runDir });
  const final = { config: summary.head, params: paramsFromTensors(summary.head, ck.params, { strict: true, file: ck.dir }) };
  // The loop initialises with initParams(head, new Rng(seed)): the same call gives the untrained twin.
  const initial = { config: summary.head, params: initParams(summary.head, new Rng(o.seed)) };
  return { initial, final, checkpoint: ck.dir, curve: await readCurve(summary.log), seconds: summary.seconds };
}

/** Whether the run's checkpoint records another store fingerprint than the store has now. */
async function trainedOnOtherStore(runDir: string, storeDir: string): Promise<boolean> {
  const file = join(runDir, CHECKPOINT_DIR, 'config.json');
  if (!existsSync(file)) return false;
  const saved = await fs.readFile(file, 'utf8').then((t) => (JSON.parse(t) as { storeFingerprint?: unknown }).storeFingerprint, () => undefined);
  const store = await openStore(storeDir);
  try {
    return saved !== store.fingerprint;
  } finally {
    await store.close();
  }
}

/** Loss per step from the loop's JSONL log. */
async function readCurve(log: string): Promise<{ step: number; loss: number }[]> {
  if (!existsSync(log)) return [];
  const out: { step: number; loss: number }[] = [];
  for (const line of (await fs.readFile(log, 'utf8')).split('\n')) {
    if (!line.trim()) continue;
    try {
      const r = JSON.parse(line) as { step?: unknown; loss?: unknown };
      if (typeof r.step === 'number' && typeof r.loss === 'number') out.push({ step: r.step, loss: r.loss });
    } catch {
      // a line cut by an earlier kill
    }
  }
  return out;
}
