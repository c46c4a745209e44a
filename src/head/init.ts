import type { Rng } from '../util/rng.js';
import { paramSpecs, type HeadConfig, type ParamSet } from './config.js';

/**
 * Fresh parameters as in the reference: Xavier-uniform Linear weights, zero biases, LayerNorm 1/0,
 * logit_scale = ln(scale init), logit_bias = bias init.
 */
export function initParams(cfg: HeadConfig, rng: Rng): ParamSet {
  return paramSpecs(cfg).map(({ name, shape, kind }) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    if (kind === 'ln_weight') data.fill(1);
    else if (kind === 'weight') {
      const [out, inp] = shape;
      const bound = Math.sqrt(6 / (inp + out));
      for (let i = 0; i < size; i++) data[i] = (rng.next() * 2 - 1) * bound;
    } else if (name === 'logit_scale') data[0] = Math.log(cfg.logitScaleInit);
    else if (name === 'logit_bias') data[0] = cfg.logitBiasInit;
    return { name, shape, data };
  });
}

/** Clamp the log-scale parameter to [0, ln 100] (done after every optimizer step). */
export function clampLogitScale(params: ParamSet): void {
  const p = params.find((t) => t.name === 'logit_scale');
  if (p) p.data[0] = Math.min(Math.max(p.data[0], 0), Math.log(100));
}
