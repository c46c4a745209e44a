/**
 * sail: align frozen pretrained image and text encoders into a CLIP-like model.
 * Library entry point; each pipeline stage is also importable from its own module.
 */
export { SailError } from './util/errors.js';
export { Rng } from './util/rng.js';
