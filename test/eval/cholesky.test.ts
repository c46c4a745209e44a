// The blocked float64 Cholesky (products on onnxruntime) against the plain loops and against A X = B itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { choleskySolve, solveSpd } from '../../src/eval/cholesky.js';
import { Rng } from '../../src/util/rng.js';

/** A = G G^T / k + 0.1 I: symmetric positive definite, condition number in the hundreds. */
function spd(m: number, rng: Rng): Float64Array {
  const k = m + 5;
  const g = Float64Array.from({ length: m * k }, () => rng.normal());
  const a = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += g[i * k + t] * g[j * k + t];
      a[i * m + j] = a[j * m + i] = s / k + (i === j ? 0.1 : 0);
    }
  }
  return a;
}

test('blocked Cholesky solve equals the plain one and satisfies A X = B (ragged last block, several right-hand sides)', async () => {
  const rng = new Rng(5);
  for (const [m, c] of [[256, 3], [300, 7], [517, 1]]) {
    const a = spd(m, rng);
    const b = Float64Array.from({ length: m * c }, () => rng.normal());
    const want = choleskySolve(a, b, m, c);
    const got = await solveSpd(a, b, m, c, { threads: 2 });
    let maxDiff = 0;
    let maxRef = 0;
    for (let t = 0; t < want.length; t++) {
      maxDiff = Math.max(maxDiff, Math.abs(got[t] - want[t]));
      maxRef = Math.max(maxRef, Math.abs(want[t]));
    }
    assert.ok(maxDiff <= 1e-9 * maxRef, `m ${m}: max |blocked - plain| ${maxDiff} vs max |x| ${maxRef}`);
    // residual of the system itself, in float64
    let maxRes = 0;
    for (let i = 0; i < m; i++) {
      for (let col = 0; col < c; col++) {
        let s = 0;
        for (let j = 0; j < m; j++) s += a[i * m + j] * got[j * c + col];
        maxRes = Math.max(maxRes, Math.abs(s - b[i * c + col]));
      }
    }
    assert.ok(maxRes < 1e-8, `m ${m}: residual ${maxRes}`);
    // inputs untouched
    assert.equal(b.length, m * c);
  }
});

test('blocked Cholesky refuses a matrix that is not positive definite, also past the first block', async () => {
  const rng = new Rng(6);
  const m = 300;
  const a = spd(m, rng);
  a[200 * m + 200] = -1; // a negative pivot in the second block
  await assert.rejects(solveSpd(a, new Float64Array(m), m, 1), /not positive definite/);
});
