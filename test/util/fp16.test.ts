import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float16ToFloat32, float16ToFloat32Finite } from '../../src/util/fp16.js';
import { simdHalfConverter } from '../../src/util/fp16-simd.js';

const isBadHalf = (h: number) => (h & 0x7c00) === 0x7c00;

test('the SIMD float16 -> float32 converter is available here (so the comparisons below exercise it)', () => {
  assert.ok(simdHalfConverter());
});

test('float16ToFloat32Finite equals the table conversion for all 65,536 halves (bitwise; NaN stays NaN) and flags Inf/NaN', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const want = float16ToFloat32(all);
  const got = new Float32Array(all.length);
  assert.equal(float16ToFloat32Finite(all, got), false, 'the full range holds Inf and NaN');
  const wb = new Uint32Array(want.buffer);
  const gb = new Uint32Array(got.buffer);
  for (let h = 0; h < 65536; h++) {
    if (Number.isNaN(want[h])) assert.ok(Number.isNaN(got[h]), `half ${h.toString(16)}: NaN`);
    else assert.equal(gb[h], wb[h], `half 0x${h.toString(16)}: ${got[h]} vs ${want[h]}`);
  }
  // finite halves only (subnormals and signed zeros included): the flag says finite; odd lengths use the tail path
  const finite = all.filter((h) => !isBadHalf(h));
  for (const n of [0, 7, 8, 63, 64, 65, 1000, 32768 + 13, finite.length]) {
    const src = finite.subarray(finite.length - n);
    const out = new Float32Array(n);
    assert.equal(float16ToFloat32Finite(src, out), true, `n=${n}`);
    assert.deepEqual(new Uint32Array(out.buffer), new Uint32Array(float16ToFloat32(src).buffer), `n=${n}`);
  }
  // one Inf anywhere (first SIMD turn, a later chunk, the scalar tail) is flagged
  for (const at of [0, 40000, 70004]) {
    const src = new Uint16Array(70005).fill(0x3c00);
    src[at] = 0x7c00;
    assert.equal(float16ToFloat32Finite(src, new Float32Array(src.length)), false, `Inf at ${at}`);
  }
});
