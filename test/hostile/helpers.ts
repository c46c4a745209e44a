// Shared pieces of the hostile-input tests: tiny stores and .npy files, a CLI run with a full-disk
// fault injected, and the assertions every case makes (exit code, one `sail:` line, nothing left over).
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HeadConfig } from '../../src/head/config.js';
import { initParams } from '../../src/head/init.js';
import { createStoreWriter } from '../../src/store/writer.js';
import { saveHead } from '../../src/train/checkpoint.js';
import { Rng } from '../../src/util/rng.js';
import { sailArgs } from '../helpers/cli.js';
import { repoRoot } from '../helpers/paths.js';

/** A .npy file (v1 header, little-endian float32 or float16 bits) holding `data` as [rows, cols]. */
export function writeNpy(path: string, rows: number, cols: number, data: Float32Array | Uint16Array): void {
  const descr = data instanceof Float32Array ? '<f4' : '<f2';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const len = Buffer.alloc(2);
  len.writeUInt16LE(header.length);
  writeFileSync(path, Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]), len, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

/** Normal random float32 rows [rows, cols]. */
export function randomRows(rng: Rng, rows: number, cols: number): Float32Array {
  return new Float32Array(rows * cols).map(() => rng.normal());
}

/** A store with modalities image and text of the given widths (and backbone ids), random rows. */
export async function tinyStore(dir: string, o: { rows: number; image: number; text: number; seed: number; partRows?: number; imageModel?: string; textModel?: string }): Promise<void> {
  const rng = new Rng(o.seed);
  const w = await createStoreWriter(dir, {
    modalities: [
      { name: 'image', dim: o.image, dtype: 'float32', ...(o.imageModel ? { model: o.imageModel } : {}) },
      { name: 'text', dim: o.text, dtype: 'float32', ...(o.textModel ? { model: o.textModel } : {}) },
    ],
  });
  const per = o.partRows ?? o.rows;
  for (let p = 0, start = 0; start < o.rows; p++, start += per) {
    const n = Math.min(per, o.rows - start);
    await w.writePart(p, { image: randomRows(rng, n, o.image), text: randomRows(rng, n, o.text) });
  }
  await w.finalize();
}

/** A linear head for `image`/`text` input widths saved as safetensors; returns the file. */
export async function tinyHead(path: string, cfg: Partial<HeadConfig> & { visionDim: number; textDim: number }, poison?: { param: string; index: number; value: number }): Promise<string> {
  const full: HeadConfig = { type: 'linear', widthFactor: 1, targetDim: 4, logitScaleInit: 20, logitBiasInit: -10, ...cfg };
  const params = initParams(full, new Rng(3));
  if (poison) params.find((p) => p.name === poison.param)!.data[poison.index] = poison.value;
  await saveHead(path, params, full);
  return path;
}

// Run from dist/test (npm test), the CLI starts from the compiled build, which is about twice as fast
// to start as tsx compiling src/ on the fly; run from sources, tsx it is.
const compiled = fileURLToPath(import.meta.url).includes(`${sep}dist${sep}test${sep}`);

/** Node arguments that start the CLI, with optional preloaded modules (given by their name in this folder). */
function cliArgs(args: string[], preload?: string): string[] {
  if (compiled) return [...(preload ? ['--import', join(dirname(fileURLToPath(import.meta.url)), `${preload}.js`)] : []), join(repoRoot(), 'bin', 'sail.js'), ...args];
  const [importFlag, tsx, ...rest] = sailArgs(args);
  return [importFlag, tsx, ...(preload ? ['--import', join(repoRoot(), 'test', 'hostile', `${preload}.ts`)] : []), ...rest];
}

/** Run the CLI to completion. */
export function runCli(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, cliArgs(args), { cwd: repoRoot(), encoding: 'utf8' });
}

/** Run the CLI with a full disk simulated on writes whose path contains `match`, after `after` such writes succeed. */
export function runSailWithFullDisk(args: string[], match: string, after = 0): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, cliArgs(args, 'enospc-preload'), {
    cwd: repoRoot(), encoding: 'utf8', env: { ...process.env, SAIL_TEST_ENOSPC: match, SAIL_TEST_ENOSPC_AFTER: String(after) },
  });
}

/** Exit code 1 and exactly one stderr line, `sail: ...`, matching `pattern` (no stack trace). */
export function assertOneLineError(r: SpawnSyncReturns<string>, pattern: RegExp): void {
  assert.equal(r.status, 1, `exit code ${r.status}, stderr: ${r.stderr}`);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0], /^sail: /);
  assert.match(lines[0], pattern);
}

/** Every file below `dir`, relative paths. */
export function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir).flatMap((e) => (statSync(join(dir, e)).isDirectory() ? [`${prefix}${e}/`, ...listFiles(join(dir, e), `${prefix}${e}/`)] : [`${prefix}${e}`]));
}

/** No temp files of atomic writes and no half-written checkpoint folders below `dir`. */
export function assertNoLeftovers(dir: string): void {
  const stray = listFiles(dir).filter((f) => /\.tmp$/.test(f) || /\.checkpoint-new-/.test(f));
  assert.deepEqual(stray, [], `leftover temp files in ${dir}`);
}
