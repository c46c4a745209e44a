// Checks that a head may be used at all: finite parameters, and inputs of the widths (and backbones)
// it was trained for. Eval, the model API, export and training validation call these, so a head never
// silently reinterprets rows of another width or ranks with NaN scores.
import { SailError } from '../util/errors.js';
import { firstNonFinite } from '../util/finite.js';
import type { HeadConfig, ParamSet, Side } from './config.js';

/** Throws a SailError naming the first parameter tensor holding NaN or Inf. */
export function assertFiniteParams(params: ParamSet, file?: string): void {
  for (const p of params) {
    const i = firstNonFinite(p.data);
    if (i >= 0) throw new SailError(`head parameter ${p.name} holds ${p.data[i]} at index ${i}; a head with NaN/Inf weights cannot rank anything`, { file });
  }
}

/** What {@link assertHeadFitsStore} needs to know of a store. */
export interface StoreColumns {
  readonly dir: string;
  dim(name: string): number;
  model(name: string): string | undefined;
}

/**
 * A head reads one store modality per side: its width must equal the head's input width, and where both
 * the head config and the store record a backbone id, they must be the same backbone.
 */
export function assertHeadFitsStore(cfg: HeadConfig, store: StoreColumns, modality: string, side: Side): void {
  const want = side === 'vision' ? cfg.visionDim : cfg.textDim;
  const got = store.dim(modality);
  const what = side === 'vision' ? 'image' : 'text';
  if (got !== want) {
    throw new SailError(`modality ${modality} holds ${got}-d embeddings but the head expects ${want}-d ${what} inputs (a head of another backbone?)`, { file: store.dir });
  }
  const headModel = side === 'vision' ? cfg.visionModel : cfg.textModel;
  const storeModel = store.model(modality);
  if (headModel !== undefined && storeModel !== undefined && headModel !== storeModel) {
    throw new SailError(`modality ${modality} was encoded by ${storeModel} but the head was trained on ${headModel} ${what} embeddings`, { file: store.dir });
  }
}
