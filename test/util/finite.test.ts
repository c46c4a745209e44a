import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertFiniteRows, firstNonFinite } from '../../src/util/finite.js';

test('firstNonFinite finds the first NaN / Inf / -Inf wherever it is (block screens of 4096), and -1 when all are finite', () => {
  const n = 3 * 4096 + 17;
  const base = Float32Array.from({ length: n }, (_, i) => (i % 7 === 0 ? -0 : i % 5 === 0 ? 3e38 : Math.sin(i)));
  assert.equal(firstNonFinite(base), -1);
  assert.equal(firstNonFinite([]), -1);
  for (const bad of [NaN, Infinity, -Infinity]) {
    for (const at of [0, 4095, 4096, 8191, 2 * 4096 + 5, n - 1]) {
      const x = base.slice();
      x[at] = bad;
      if (at + 10 < n) x[at + 10] = NaN; // a later one does not win
      assert.equal(firstNonFinite(x), at, `${bad} at ${at}`);
    }
  }
  assert.equal(firstNonFinite([1, 2, Infinity]), 2, 'plain arrays too');
  assert.throws(() => assertFiniteRows(Float32Array.from([0, 1, 2, NaN]), 2, 'features'), /features hold NaN at column 1; embeddings must be finite.*row 1|row 1.*features hold NaN at column 1/);
});
