import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../src/util/rng.js';
import { float16ToFloat32, float32ToFloat16 } from '../src/util/fp16.js';

test('rng is deterministic and restorable from state', () => {
  const a = new Rng(42);
  a.next();
  const b = new Rng(Uint32Array.from(a.state()));
  assert.equal(a.nextU32(), b.nextU32());
  const p = new Rng(1).permutation(100);
  assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
});

test('fp16 round trip matches IEEE half values', () => {
  const vals = [0, 1, -2, 0.5, 65504, 1e-8, 6.1e-5, 3.14159, -0.0001, 70000];
  const back = float16ToFloat32(float32ToFloat16(vals));
  assert.equal(back[0], 0);
  assert.equal(back[1], 1);
  assert.equal(back[2], -2);
  assert.equal(back[4], 65504);
  assert.equal(back[5], 0); // below the smallest subnormal
  assert.ok(Math.abs(back[6] - 6.1e-5) < 1e-7);
  assert.equal(back[7], 3.140625); // nearest half to pi
  assert.equal(back[9], Infinity);
});
