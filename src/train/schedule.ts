// Learning-rate schedule: linear warmup then cosine to zero (sail-method.md section 7.3).
import { SailError } from '../util/errors.js';

export interface Schedule {
  base: number;
  warmup: number;
  total: number;
}

/** The reference's warmup: ceil(10% of the total steps). */
export function defaultWarmup(totalSteps: number): number {
  return Math.ceil(0.1 * totalSteps);
}

/** Build and validate a schedule; `warmup` defaults to {@link defaultWarmup}. */
export function makeSchedule(base: number, total: number, warmup?: number): Schedule {
  if (!(base >= 0) || !Number.isFinite(base)) throw new SailError(`learning rate must be a finite number >= 0, got ${base}`);
  if (!Number.isInteger(total) || total <= 0) throw new SailError(`total steps must be a positive integer, got ${total}`);
  const w = warmup ?? defaultWarmup(total);
  if (!Number.isInteger(w) || w < 0 || w > total) throw new SailError(`warmup steps must be an integer in 0..${total}, got ${w}`);
  return { base, warmup: w, total };
}

/**
 * Learning rate for 0-based global step `step`: base * (step + 1) / warmup during warmup, then
 * 0.5 * (1 + cos(pi * (step - warmup) / (total - warmup))) * base.
 */
export function lrAt(s: Schedule, step: number): number {
  if (step < s.warmup) return (s.base * (step + 1)) / s.warmup;
  const span = s.total - s.warmup;
  if (span <= 0) return s.base;
  return 0.5 * (1 + Math.cos((Math.PI * (step - s.warmup)) / span)) * s.base;
}
