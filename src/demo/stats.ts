// Uncertainty of the demo's comparisons: mean +- sd over training seeds, the paired per-seed difference
// with its standard error, and a paired bootstrap interval over the held-out concepts.
import { Rng } from '../util/rng.js';
import type { DemoMetrics } from './report.js';
import type { QueryRanks } from './evaluate.js';

/** Sample mean and standard deviation (n - 1 in the denominator; 0 for a single value). */
export function meanSd(xs: readonly number[]): { mean: number; sd: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd };
}

/** Elementwise mean and sd of several metric records of the same shape. */
export function summariseMetrics(runs: readonly DemoMetrics[]): { mean: DemoMetrics; sd: DemoMetrics } {
  const pick = (f: (m: DemoMetrics) => number) => meanSd(runs.map(f));
  const build = (k: 'mean' | 'sd'): DemoMetrics => ({
    t2i: { r1: pick((m) => m.t2i.r1)[k], r5: pick((m) => m.t2i.r5)[k], r10: pick((m) => m.t2i.r10)[k] },
    i2t: { r1: pick((m) => m.i2t.r1)[k], r5: pick((m) => m.i2t.r5)[k], r10: pick((m) => m.i2t.r10)[k] },
    category: { top1: pick((m) => m.category.top1)[k], top5: pick((m) => m.category.top5)[k] },
    subcategory: { top1: pick((m) => m.subcategory.top1)[k], top5: pick((m) => m.subcategory.top5)[k] },
  });
  return { mean: build('mean'), sd: build('sd') };
}

/** The retrieval metrics the goal is stated in: direction and K. */
export const COMPARED = [
  { name: 'T2I R@1', dir: 't2i', k: 1 },
  { name: 'T2I R@10', dir: 't2i', k: 10 },
  { name: 'I2T R@1', dir: 'i2t', k: 1 },
  { name: 'I2T R@10', dir: 'i2t', k: 10 },
] as const;

/** One method-vs-method comparison on one metric (fractions). */
export interface Comparison {
  metric: string;
  /** Mean over seeds of (a - b), paired by seed. */
  diff: number;
  /** Standard error of that mean: sd of the per-seed differences / sqrt(seeds) (0 with one seed). */
  se: number;
  /** diff / se (Infinity when se is 0 and diff > 0). */
  z: number;
  /** 95% percentile bootstrap interval of diff, resampling the held-out concepts (queries). */
  ci95: [number, number];
}

function recall(ranks: Int32Array, k: number, idx?: Int32Array): number {
  let hit = 0;
  const n = idx ? idx.length : ranks.length;
  for (let q = 0; q < n; q++) if (ranks[idx ? idx[q] : q] <= k) hit++;
  return hit / n;
}

/**
 * Compare method `a` against `b` (per-seed query ranks, same seed order; a deterministic method may pass
 * one entry, reused for every seed). The bootstrap draws `resamples` sets of query indices with
 * replacement (seeded, so the interval is reproducible) and recomputes the seed-averaged difference.
 */
export function compareMethods(a: readonly QueryRanks[], b: readonly QueryRanks[], resamples = 2000, seed = 1): Comparison[] {
  const seeds = a.length;
  const bOf = (s: number): QueryRanks => b[b.length === 1 ? 0 : s];
  const n = a[0].t2i.length;
  return COMPARED.map(({ name, dir, k }) => {
    const diffs = a.map((r, s) => recall(r[dir], k) - recall(bOf(s)[dir], k));
    const { mean, sd } = meanSd(diffs);
    const se = seeds > 1 ? sd / Math.sqrt(seeds) : 0;
    const rng = new Rng(seed);
    const boot = new Float64Array(resamples);
    const idx = new Int32Array(n);
    for (let r = 0; r < resamples; r++) {
      for (let q = 0; q < n; q++) idx[q] = rng.int(n);
      let d = 0;
      for (let s = 0; s < seeds; s++) d += recall(a[s][dir], k, idx) - recall(bOf(s)[dir], k, idx);
      boot[r] = d / seeds;
    }
    boot.sort();
    const at = (p: number): number => boot[Math.min(resamples - 1, Math.max(0, Math.round(p * (resamples - 1))))];
    return { metric: name, diff: mean, se, z: se > 0 ? mean / se : mean > 0 ? Infinity : mean < 0 ? -Infinity : 0, ci95: [at(0.025), at(0.975)] };
  });
}
