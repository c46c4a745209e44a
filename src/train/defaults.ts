// Training defaults, in one place: the library applies them and the CLI shows and passes the same values.
import type { LossType } from './engine-types.js';
import type { OptimizerKind } from './optimizer.js';

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

/** Default learning rates: the paper's 1e-5 is tuned for batch 32768 over many epochs; small runs need more. */
export const DEFAULT_LR: Record<OptimizerKind, number> = { lion: 1e-4, adamw: 1e-3 };
/** Default decoupled weight decay: 1e-4 for Lion as in the paper, 0.05 for AdamW. */
export const DEFAULT_WD: Record<OptimizerKind, number> = { lion: 1e-4, adamw: 0.05 };
