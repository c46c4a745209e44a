import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coreCandidates, describeProbes, peerEnv } from '../../bench/peers.js';

const cpu = (vendor: string, flags: string): string => `processor\t: 0\nvendor_id\t: ${vendor}\ncpu family\t: 6\nmodel\t\t: 207\nflags\t\t: fpu sse sse2 ${flags}\n\nprocessor\t: 1\n`;

test('coreCandidates offers the OpenBLAS kernel sets this CPU can run, widest first', () => {
  // Emerald Rapids (the CPU OpenBLAS 0.3.21 mistakes for a Prescott)
  assert.deepEqual(coreCandidates(cpu('GenuineIntel', 'avx avx2 fma avx512f avx512bw avx512_bf16 amx_tile')), ['Cooperlake', 'SkylakeX', 'Haswell']);
  assert.deepEqual(coreCandidates(cpu('GenuineIntel', 'avx avx2 fma avx512f avx512bw')), ['SkylakeX', 'Haswell']);
  assert.deepEqual(coreCandidates(cpu('GenuineIntel', 'avx avx2 fma')), ['Haswell']);
  assert.deepEqual(coreCandidates(cpu('AuthenticAMD', 'avx avx2 fma')), ['Zen', 'Haswell']);
  assert.deepEqual(coreCandidates(cpu('GenuineIntel', 'sse3 ssse3')), []);
  assert.deepEqual(coreCandidates(''), []);
});

test('peerEnv drops the user\'s OpenBLAS overrides, then forces the chosen core and malloc', () => {
  const saved = { ...process.env };
  try {
    process.env.OPENBLAS_CORETYPE = 'Prescott';
    process.env.OPENBLAS_L2_SIZE = '1';
    process.env.GLIBC_TUNABLES = 'glibc.malloc.arena_max=1';
    const plain = peerEnv();
    assert.equal(plain.OPENBLAS_CORETYPE, undefined);
    assert.equal(plain.OPENBLAS_L2_SIZE, undefined);
    assert.equal(plain.GLIBC_TUNABLES, undefined);
    const forced = peerEnv({ core: 'Cooperlake', hugetlb: true });
    assert.equal(forced.OPENBLAS_CORETYPE, 'Cooperlake');
    assert.equal(forced.GLIBC_TUNABLES, 'glibc.malloc.hugetlb=1');
    assert.equal(process.env.OPENBLAS_CORETYPE, 'Prescott', 'the bench process itself is left alone');
  } finally {
    for (const k of ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE', 'GLIBC_TUNABLES']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
});

test('describeProbes names the winner and OpenBLAS\'s own choice', () => {
  const line = describeProbes([{ core: 'Cooperlake', used: 'Cooperlake', gflops: 205.2 }, { used: 'Prescott', gflops: 34.9 }]);
  assert.match(line, /OPENBLAS_CORETYPE=Cooperlake 205 GFLOP\/s <- used/);
  assert.match(line, /own detection \(Prescott\) 35 GFLOP\/s$/);
  assert.match(describeProbes([]), /not OpenBLAS/);
});
