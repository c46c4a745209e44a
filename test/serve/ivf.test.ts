import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IvfIndex } from '../../src/serve/ivf.js';
import { Rng } from '../../src/util/rng.js';

/** Points around `clusters` random centres on the sphere, plus independent float64 brute-force top-k. */
function clustered(n: number, d: number, clusters: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const centres = Array.from({ length: clusters }, () => Array.from({ length: d }, () => rng.normal()));
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const c = centres[rng.int(clusters)];
    for (let k = 0; k < d; k++) x[i * d + k] = c[k] + 0.35 * rng.normal();
  }
  return x;
}

function bruteTopK(x: Float32Array, d: number, q: Float32Array, k: number): number[] {
  const n = x.length / d;
  const qn = Math.hypot(...q);
  const scores = Array.from({ length: n }, (_, i) => {
    let s = 0;
    let nn = 0;
    for (let j = 0; j < d; j++) {
      s += x[i * d + j] * q[j];
      nn += x[i * d + j] ** 2;
    }
    return { i, s: s / Math.sqrt(nn) / qn };
  });
  return scores.sort((a, b) => b.s - a.s).slice(0, k).map((e) => e.i);
}

test('IVF: exact mode equals brute force; approximate mode keeps recall@10 >= 0.9 while scanning a fraction', async () => {
  const d = 24;
  const raw = clustered(4000, d, 40, 3);
  // Same seed: the first 50 data points; perturbed below so queries are near, not on, indexed points.
  const queries = clustered(50, d, 40, 3);
  const qrng = new Rng(99);
  for (let i = 0; i < queries.length; i++) queries[i] += 0.2 * qrng.normal();

  const exact = await IvfIndex.build(raw.slice(), d, { exactBelow: 10_000 });
  assert.equal(exact.exact, true);
  const ivf = await IvfIndex.build(raw.slice(), d, { exactBelow: 1000, seed: 5 });
  assert.equal(ivf.exact, false);
  assert.equal(ivf.nlist, Math.round(Math.sqrt(4000)));
  assert.equal(ivf.lists.reduce((s, l) => s + l.length, 0), 4000);

  let recall = 0;
  let scanned = 0;
  for (let qi = 0; qi < 50; qi++) {
    const q = queries.slice(qi * d, qi * d + d);
    const want = bruteTopK(raw, d, q, 10);
    const got = exact.search(q, 10);
    assert.deepEqual(got.map((h) => h.index), want);
    for (let j = 1; j < got.length; j++) assert.ok(got[j - 1].score >= got[j].score);
    const approx = ivf.search(q, 10, 8);
    recall += approx.filter((h) => want.includes(h.index)).length / 10;
    scanned += 8;
  }
  recall /= 50;
  assert.ok(recall >= 0.9, `recall@10 ${recall}`);
  assert.ok(scanned / 50 / ivf.nlist < 0.2);
  // nprobe = nlist scans everything: identical to exact.
  const q = queries.slice(0, d);
  assert.deepEqual(ivf.search(q, 10, ivf.nlist).map((h) => h.index), bruteTopK(raw, d, q, 10));
});
