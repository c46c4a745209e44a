// Up-front check of every command's --out: a folder option must not name an existing file (and a file
// option not an existing folder), and no parent on the way may be a file. Run before any work starts.
import type { Command } from 'commander';
import { statSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SailError } from '../util/errors.js';

/** Output options checked on every command that has them. */
const OUT_OPTIONS = ['--out', '--labels-out'];

/** Throws a SailError when an output option of `command` cannot be written as the kind it names. */
export function checkOutPaths(command: Command): void {
  for (const opt of command.options) {
    if (!opt.long || !OUT_OPTIONS.includes(opt.long)) continue;
    const value = command.getOptionValue(opt.attributeName()) as unknown;
    if (typeof value !== 'string' || value === '') continue;
    checkOutPath(value, opt.long, /<dir>/.test(opt.flags) ? 'folder' : /<(file|png)>/.test(opt.flags) ? 'file' : 'any');
  }
}

/** `kind`: what the option writes; 'any' checks only the parents. */
export function checkOutPath(path: string, flag: string, kind: 'folder' | 'file' | 'any'): void {
  const st = statOrNull(path);
  if (st) {
    if (kind === 'folder' && !st.isDirectory()) throw new SailError(`${flag} names an existing file, not a folder; choose a folder`, { file: path });
    if (kind === 'file' && st.isDirectory()) throw new SailError(`${flag} names an existing folder, not a file`, { file: path });
    return;
  }
  // the nearest existing parent must be a folder, or creating the output fails with ENOTDIR later
  for (let p = dirname(resolve(path)); ; p = dirname(p)) {
    const up = statOrNull(p);
    if (up) {
      if (!up.isDirectory()) throw new SailError(`${flag}: ${p} is a file, so ${path} cannot be created`, { file: path });
      return;
    }
    if (dirname(p) === p) return;
  }
}

/** stat, or null when the path does not exist or a parent on the way is a file (ENOTDIR). */
function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}
