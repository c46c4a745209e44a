// Running the Python peers (bench/peers/*.py) from a benchmark: find a Python that has the needed
// modules, run a peer script, parse its JSON line, and describe the environment both sides ran in.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Environment variables that change BLAS / OpenMP / malloc behaviour of either side. */
export const PERF_ENV = [
  'OPENBLAS_NUM_THREADS', 'OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE', 'GOTO_NUM_THREADS', 'OMP_NUM_THREADS', 'OMP_PROC_BIND',
  'OMP_WAIT_POLICY', 'MKL_NUM_THREADS', 'GLIBC_TUNABLES', 'MALLOC_ARENA_MAX', 'LD_PRELOAD', 'SAIL_BENCH_THREADS', 'SAIL_BENCH_PYTHON',
];

/** `NAME=value` for every variable of PERF_ENV ('(unset)' when absent). */
export function envLine(env: NodeJS.ProcessEnv = process.env): string {
  return PERF_ENV.map((k) => `${k}=${env[k] ?? '(unset)'}`).join(' ');
}

/** Folder of the peer scripts (bench/peers, also when running from dist/bench). */
export function peersDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'peers'), join(here, '..', '..', 'bench', 'peers')];
  return candidates.find((d) => existsSync(join(d, 'blasinfo.py'))) ?? candidates[0];
}

/**
 * A Python that imports all of `modules`: SAIL_BENCH_PYTHON, then /usr/bin/python3 (Debian's, where
 * python3-torch lives), then python3 on PATH. Returns the path, or the reason none fits.
 */
export function findPython(modules: string[]): { python?: string; reason?: string } {
  const tried: string[] = [];
  for (const py of [process.env.SAIL_BENCH_PYTHON, '/usr/bin/python3', 'python3']) {
    if (!py) continue;
    const r = spawnSync(py, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return { python: py };
    tried.push(`${py}: ${r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`)}`);
  }
  return { reason: `no Python with ${modules.join(' + ')} (${tried.join('; ')})` };
}

/** Run a peer script; returns its JSON line and the wall seconds of the whole process. */
export function runPeer(python: string, script: string, args: string[], env: NodeJS.ProcessEnv = process.env): { result: Record<string, unknown>; wallSeconds: number } {
  const t0 = performance.now();
  const r = spawnSync(python, [join(peersDir(), script), ...args], { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  const wallSeconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`peer ${script} failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return { result: JSON.parse(line) as Record<string, unknown>, wallSeconds };
}

/** One OpenBLAS core choice and the sgemm speed it gave (blas_probe.py). */
export interface CoreProbe {
  /** OPENBLAS_CORETYPE value, or undefined for OpenBLAS's own detection. */
  core?: string;
  /** The core OpenBLAS reported using ("Core: X" with OPENBLAS_VERBOSE=2). */
  used: string;
  gflops: number;
}

/**
 * OPENBLAS_CORETYPE values worth trying on this CPU, from /proc/cpuinfo flags. OpenBLAS's own detection
 * can fail on CPUs newer than its release (Debian's 0.3.21 runs an Emerald Rapids Xeon, family 6 model
 * 207, with its generic "Prescott" SSE3 kernels, 5-8x slower than its AVX-512 ones); forcing a
 * kernel set the CPU supports is what a user who knows would do, so the peers get the fastest.
 */
export function coreCandidates(cpuinfo = readCpuinfo()): string[] {
  const flags = new Set((/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? '').trim().split(/\s+/));
  const amd = /AuthenticAMD/.test(cpuinfo);
  const out: string[] = [];
  if (!amd && flags.has('avx512_bf16')) out.push('Cooperlake');
  if (!amd && flags.has('avx512f') && flags.has('avx512bw')) out.push('SkylakeX');
  if (amd && flags.has('avx2')) out.push('Zen');
  if (flags.has('avx2') && flags.has('fma')) out.push('Haswell');
  return out;
}

function readCpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}

/**
 * The fastest OpenBLAS core for the peers on this machine: OpenBLAS's own choice and each of
 * coreCandidates(), timed by blas_probe.py (float32 2048^3, `threads` threads). Returns every probe,
 * best first.
 */
export function probeOpenblasCores(python: string, threads: number): CoreProbe[] {
  const probes: CoreProbe[] = [];
  for (const core of [undefined, ...coreCandidates()]) {
    const env = peerEnv({ core });
    env.OPENBLAS_VERBOSE = '2';
    const r = spawnSync(python, [join(peersDir(), 'blas_probe.py'), '--threads', String(threads)], { encoding: 'utf8', env, timeout: 120_000 });
    if (r.status !== 0) continue;
    const used = /Core: (\S+)/.exec(r.stderr)?.[1] ?? 'unknown';
    if (core && used.toLowerCase() !== core.toLowerCase()) continue; // this OpenBLAS build lacks that core
    const res = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { gflops?: number; blas?: string };
    if (res.blas !== 'openblas' || typeof res.gflops !== 'number') return []; // not OpenBLAS: nothing to choose
    probes.push({ core, used, gflops: res.gflops });
  }
  return probes.sort((a, b) => b.gflops - a.gflops);
}

/** One line describing the probes, e.g. "OPENBLAS_CORETYPE=Cooperlake 205 GFLOP/s <- used, ..., own detection (Prescott) 35 GFLOP/s". */
export function describeProbes(probes: CoreProbe[]): string {
  if (!probes.length) return 'OpenBLAS core probe: not OpenBLAS or no probe ran; the peer uses its default';
  return 'OpenBLAS core probe (sgemm 2048^3): ' + probes.map((p, i) =>
    `${p.core ? `OPENBLAS_CORETYPE=${p.core}` : `own detection (${p.used})`} ${p.gflops.toFixed(0)} GFLOP/s${i === 0 ? ' <- used' : ''}`).join(', ');
}

/** Probe the OpenBLAS cores (probeOpenblasCores), print the result, and return the fastest one to force (if any). */
export function chooseOpenblasCore(python: string, threads: number): string | undefined {
  const probes = probeOpenblasCores(python, threads);
  console.log(`  ${describeProbes(probes)}`);
  return probes[0]?.core;
}

/**
 * A peer's environment: user overrides of OpenBLAS's core and L2 size removed, then `core` forced
 * when given (the probe's winner), and glibc's hugetlb malloc when asked.
 */
export function peerEnv(opts: { core?: string; hugetlb?: boolean } = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  if (opts.core) env.OPENBLAS_CORETYPE = opts.core;
  if (opts.hugetlb) env.GLIBC_TUNABLES = 'glibc.malloc.hugetlb=1';
  else delete env.GLIBC_TUNABLES;
  return env;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
