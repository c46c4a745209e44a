// The demo's uncertainty summaries, against hand-computed values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareMethods, meanSd, summariseMetrics } from '../../src/demo/stats.js';
import { formatMarkdownTable, formatTable, chanceMetrics } from '../../src/demo/report.js';

const ranks = (t2i: number[], i2t: number[] = t2i) => ({ t2i: Int32Array.from(t2i), i2t: Int32Array.from(i2t) });

test('meanSd: sample standard deviation (n - 1)', () => {
  assert.deepEqual(meanSd([5]), { mean: 5, sd: 0 });
  const { mean, sd } = meanSd([1, 2, 3, 4]);
  assert.equal(mean, 2.5);
  assert.ok(Math.abs(sd - Math.sqrt(5 / 3)) < 1e-12);
});

test('compareMethods: paired per-seed difference, its standard error, and the bootstrap interval', () => {
  // 4 queries. Method a hits R@1 on 3/4, 2/4, 4/4 over three seeds; b (deterministic) on 1/4 every seed.
  const a = [ranks([1, 1, 1, 50]), ranks([1, 1, 20, 50]), ranks([1, 1, 1, 1])];
  const b = [ranks([1, 30, 30, 30])];
  const c = compareMethods(a, b, 500, 7);
  const t2i1 = c.find((x) => x.metric === 'T2I R@1')!;
  const diffs = [0.5, 0.25, 0.75];
  assert.ok(Math.abs(t2i1.diff - 0.5) < 1e-12);
  const sd = Math.sqrt(diffs.reduce((s, d) => s + (d - 0.5) ** 2, 0) / 2);
  assert.ok(Math.abs(t2i1.se - sd / Math.sqrt(3)) < 1e-12);
  assert.ok(Math.abs(t2i1.z - 0.5 / (sd / Math.sqrt(3))) < 1e-9);
  assert.ok(t2i1.ci95[0] <= 0.5 && t2i1.ci95[1] >= 0.5 && t2i1.ci95[0] >= -1 && t2i1.ci95[1] <= 1);
  // R@10: a misses only rank 20/50; b misses its rank-30 queries
  const t2i10 = c.find((x) => x.metric === 'T2I R@10')!;
  assert.ok(Math.abs(t2i10.diff - ((0.75 - 0.25) + (0.5 - 0.25) + (1 - 0.25)) / 3) < 1e-12);
  // identical methods: zero difference, zero-width interval
  const same = compareMethods(a, a, 200, 1);
  for (const x of same) assert.deepEqual([x.diff, x.se, x.ci95[0], x.ci95[1]], [0, 0, 0, 0]);
});

test('summariseMetrics and the table print mean ± sd', () => {
  const m1 = chanceMetrics(10, 10, 100);
  const m2 = { ...chanceMetrics(10, 10, 100), t2i: { r1: 0.3, r5: 0.5, r10: 1 } };
  const { mean, sd } = summariseMetrics([m1, m2]);
  assert.ok(Math.abs(mean.t2i.r1 - 0.2) < 1e-12);
  assert.ok(Math.abs(sd.t2i.r1 - Math.SQRT2 * 0.1) < 1e-12);
  const rows = [{ method: 'x', note: '', metrics: mean, sd }];
  assert.match(formatTable(rows), /20\.0 ± 14\.1/);
  assert.match(formatMarkdownTable(rows), /\| x \| 20\.0 ± 14\.1 \|/);
});
