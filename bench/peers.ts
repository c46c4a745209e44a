// Running the Python peers (bench/peers/*.py) from a benchmark: find a Python that has the needed
// modules, run a peer script, parse its JSON line, and describe the environment both sides ran in.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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

/** PyTorch's best environment on these machines: OpenBLAS overrides removed (they slow it down). */
export function torchBestEnv(hugetlb: boolean): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  if (hugetlb) env.GLIBC_TUNABLES = 'glibc.malloc.hugetlb=1';
  else delete env.GLIBC_TUNABLES;
  return env;
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
