import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

/** Arguments that start the sail CLI from TypeScript sources (works before and after `npm run build`). */
export function sailArgs(args: string[]): string[] {
  // tsx resolved from here, not from the child's cwd (tests may run the CLI inside a temp folder)
  return ['--import', import.meta.resolve('tsx'), join(repoRoot(), 'src', 'cli', 'bin.ts'), ...args];
}

/** Run the CLI to completion. */
export function runSail(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, sailArgs(args), { cwd: opts.cwd ?? repoRoot(), env: { ...process.env, ...opts.env }, encoding: 'utf8' });
}

/** Start the CLI in the background (for kill-and-resume tests). */
export function startSail(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  return spawn(process.execPath, sailArgs(args), { cwd: opts.cwd ?? repoRoot(), env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Wait for a child to exit, collecting its output (for children that talk to a fixture server living in
 * this process, where spawnSync would deadlock it).
 */
export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }> {
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (d) => { stderr += d; });
  child.stdout?.on('data', (d) => { stdout += d; });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr, stdout })));
}
