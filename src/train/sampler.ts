// Batches of a training run: each epoch is a permutation of the store's rows that depends on
// (seed, epoch) alone, so a resumed run replays exactly the batches an uninterrupted one would see.
import type { EmbeddingStore } from '../store/reader.js';
import { Rng } from '../util/rng.js';
import type { Batch } from './engine-types.js';

/** Seed of the shuffle for one epoch: derived from (seed, epoch) alone so any epoch can be replayed. */
export function epochRng(seed: number, epoch: number): Rng {
  return new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0);
}

export interface SamplerOptions {
  modalities: { image: string; text: string; extraText?: string };
  batchSize: number;
  stepsPerEpoch: number;
  seed: number;
  shuffle: boolean;
}

/** Reads the batch of any global step; keeps the current epoch's permutation. */
export class EpochSampler {
  private permEpoch = -1;
  private perm: Uint32Array = new Uint32Array(0);
  /** State of the current epoch's RNG right after its permutation was drawn (recorded in checkpoints). */
  rngState: number[] = [];

  constructor(private readonly store: EmbeddingStore, private readonly o: SamplerOptions) {}

  /** Row indices of global step `step` (0-based). */
  indices(step: number): Uint32Array {
    const { batchSize: B, stepsPerEpoch } = this.o;
    const epoch = Math.floor(step / stepsPerEpoch);
    if (epoch !== this.permEpoch) {
      if (this.o.shuffle) {
        const rng = epochRng(this.o.seed, epoch);
        this.perm = rng.permutation(this.store.rows);
        this.rngState = rng.state();
      } else {
        this.perm = new Uint32Array(stepsPerEpoch * B);
        for (let i = 0; i < this.perm.length; i++) this.perm[i] = i;
      }
      this.permEpoch = epoch;
    }
    const i = step % stepsPerEpoch;
    return this.perm.slice(i * B, (i + 1) * B);
  }

  /** The batch of global step `step`: image, text and (when configured) extra-text rows. */
  async read(step: number): Promise<Batch> {
    const idx = this.indices(step);
    const { image, text, extraText } = this.o.modalities;
    const [img, txt, extra] = await Promise.all([
      this.store.readRows(image, idx),
      this.store.readRows(text, idx),
      extraText !== undefined ? this.store.readRows(extraText, idx) : Promise.resolve(undefined),
    ]);
    return { n: this.o.batchSize, image: img, text: txt, ...(extra ? { extraText: extra } : {}) };
  }
}
