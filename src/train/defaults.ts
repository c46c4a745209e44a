// Training defaults, in one place: the library applies them and the CLI shows and passes the same values.
import type { LossType } from './engine-types.js';
import { OPTIMIZER_DEFAULTS, type OptimizerKind } from './optimizer.js';

export const LOSS_TYPES: readonly LossType[] = ['siglip', 'infonce'];
export const OPTIMIZER_KINDS: readonly OptimizerKind[] = ['lion', 'adamw'];

/** What `trainLoop` (and `sail train`) use when an option is not given. */
export const TRAIN_DEFAULTS = {
  loss: 'siglip' as LossType,
  optimizer: 'lion' as OptimizerKind,
  batchSize: 4096,
  /** Full passes over the store when no step count is given. */
  epochs: 10,
  seed: 42,
  /** Checkpoint every k steps (0: only at the end). */
  checkpointEvery: 500,
};

/**
 * Default learning rates (from OPTIMIZER_DEFAULTS, docs/training.md): Lion 1e-4 (the paper's 1e-5 is tuned
 * for batch 32768 over many epochs), AdamW 5e-4 as in the original's training parameters.
 */
export const DEFAULT_LR: Record<OptimizerKind, number> = { lion: OPTIMIZER_DEFAULTS.lion.lr, adamw: OPTIMIZER_DEFAULTS.adamw.lr };
/** Default decoupled weight decay: 1e-4 for Lion as in the paper, 0.2 for AdamW as in the original. */
export const DEFAULT_WD: Record<OptimizerKind, number> = { lion: OPTIMIZER_DEFAULTS.lion.weightDecay, adamw: OPTIMIZER_DEFAULTS.adamw.weightDecay };
