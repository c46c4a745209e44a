// Training checkpoints: OUT/checkpoint/{head.safetensors, config.json, optimizer.safetensors, state.json},
// replaced as a whole directory so a kill at any moment leaves one complete checkpoint behind.
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { HeadConfig, ParamSet } from '../head/config.js';
import { readSafetensors, writeSafetensors } from '../head/safetensors.js';
import { writeJsonAtomic } from '../util/atomic.js';
import { SailError, writeFailure } from '../util/errors.js';
import type { Optimizer } from './optimizer.js';
import type { Schedule } from './schedule.js';

export const CHECKPOINT_DIR = 'checkpoint';
const OLD_DIR = 'checkpoint.old';
const NEW_PREFIX = '.checkpoint-new-';

/** `config.json`: everything needed to rebuild the head and to know how it was trained. */
export interface CheckpointConfig {
  head: HeadConfig;
  loss: string;
  optimizer: { kind: string; lr: number; weightDecay: number; beta1?: number; beta2?: number; eps?: number };
  batchSize: number;
  totalSteps: number;
  epochs: number;
  warmupSteps: number;
  seed: number;
  shuffle: boolean;
  store: string;
  modalities: { image: string; text: string; extraText?: string };
  [key: string]: unknown;
}

/** `state.json`: where training stands; written last, so its presence marks a complete checkpoint. */
export interface TrainState {
  version: 1;
  /** Completed optimizer steps (the next step to run). */
  step: number;
  /** Epoch of the next step. */
  epoch: number;
  totalSteps: number;
  stepsPerEpoch: number;
  seed: number;
  shuffle: boolean;
  /** State of the epoch's shuffle RNG right after its permutation was drawn (informational: it is rederived from seed + epoch). */
  rng: number[];
  schedule: Schedule;
  optimizerSteps: number;
  /** Pairs seen and training seconds so far (for reporting only). */
  pairsSeen: number;
  seconds: number;
}

export interface LoadedCheckpoint {
  dir: string;
  params: Map<string, Float32Array>;
  optimizer: Map<string, Float32Array>;
  config: CheckpointConfig;
  state: TrainState;
}

/** Head weights as safetensors with the original state-dict names and the config in `__metadata__`. */
export async function saveHead(path: string, params: ParamSet, cfg: HeadConfig): Promise<void> {
  await writeSafetensors(path, params, { format: 'sail-head', config: JSON.stringify(cfg) });
}

/**
 * Write a complete checkpoint into a fresh folder, then swap it in: checkpoint -> checkpoint.old,
 * new -> checkpoint, remove checkpoint.old. state.json is written last inside the new folder.
 */
export async function saveCheckpoint(
  outDir: string,
  ck: { params: ParamSet; optimizer: Optimizer; config: CheckpointConfig; state: TrainState },
): Promise<string> {
  await fs.mkdir(outDir, { recursive: true });
  const fresh = join(outDir, `${NEW_PREFIX}${process.pid}`);
  try {
    await fs.rm(fresh, { recursive: true, force: true });
    await fs.mkdir(fresh);
    await saveHead(join(fresh, 'head.safetensors'), ck.params, ck.config.head);
    await writeJsonAtomic(join(fresh, 'config.json'), ck.config);
    await writeSafetensors(join(fresh, 'optimizer.safetensors'), ck.optimizer.stateTensors(), { kind: ck.optimizer.kind, steps: String(ck.optimizer.steps) });
    await writeJsonAtomic(join(fresh, 'state.json'), ck.state);
  } catch (err) {
    // e.g. a full disk: drop the half-written folder; the previous checkpoint was never touched
    await fs.rm(fresh, { recursive: true, force: true }).catch(() => undefined);
    throw writeFailure(err, fresh);
  }
  const cur = join(outDir, CHECKPOINT_DIR);
  const old = join(outDir, OLD_DIR);
  await removeCheckpointDir(old);
  if (existsSync(cur)) await fs.rename(cur, old);
  await fs.rename(fresh, cur);
  await syncDir(outDir);
  await removeCheckpointDir(old);
  return cur;
}

/** Remove a checkpoint folder, state.json first so a half-removed folder never looks complete. */
async function removeCheckpointDir(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  await fs.rm(join(dir, 'state.json'), { force: true });
  await fs.rm(dir, { recursive: true, force: true });
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await fs.open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // directory fsync is not supported everywhere; the renames are still atomic
  }
}

/**
 * Find the latest complete checkpoint under `outDir` (checkpoint/, or checkpoint.old/ when a kill
 * landed between the two renames), removing leftovers of interrupted saves. Null when none exists.
 */
export async function loadLatestCheckpoint(outDir: string): Promise<LoadedCheckpoint | null> {
  if (!existsSync(outDir)) return null;
  for (const e of await fs.readdir(outDir)) {
    if (e.startsWith(NEW_PREFIX)) await fs.rm(join(outDir, e), { recursive: true, force: true });
  }
  const cur = join(outDir, CHECKPOINT_DIR);
  const old = join(outDir, OLD_DIR);
  if (!existsSync(join(cur, 'state.json')) && existsSync(join(old, 'state.json'))) {
    // killed between the two renames: put the previous checkpoint back in place before anything else
    await fs.rm(cur, { recursive: true, force: true });
    await fs.rename(old, cur);
  }
  const statePath = join(cur, 'state.json');
  if (!existsSync(statePath)) return null;
  const state = await readJson<TrainState>(statePath);
  const config = await readJson<CheckpointConfig>(join(cur, 'config.json'));
  if (state.version !== 1 || !Number.isInteger(state.step)) throw new SailError('unsupported or corrupt training state', { file: statePath });
  const head = await readSafetensors(join(cur, 'head.safetensors'));
  const opt = await readSafetensors(join(cur, 'optimizer.safetensors'));
  return {
    dir: cur,
    params: new Map(head.tensors.map((t) => [t.name, t.data])),
    optimizer: new Map(opt.tensors.map((t) => [t.name, t.data])),
    config,
    state,
  };
}

async function readJson<T>(path: string): Promise<T> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch {
    throw new SailError('missing checkpoint file', { file: path });
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new SailError(`corrupt JSON (${(err as Error).message})`, { file: path });
  }
}
