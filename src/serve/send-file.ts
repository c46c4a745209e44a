// Send a file only if it still lies inside one of the server's roots when it is opened. Paths are
// resolved with realpath at send time and the file is opened without following a final symlink, then
// (on Linux) the opened descriptor's own path is checked again: a file or folder swapped for a symlink
// after the server started cannot lead outside the roots.
import { constants, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { isInside } from '../util/inside.js';

/** Open `file` for reading if its realpath is inside one of `roots` (realpaths); undefined otherwise. */
export async function openConfined(file: string, roots: readonly string[]): Promise<FileHandle | undefined> {
  let real: string;
  try {
    real = await fs.realpath(file);
  } catch {
    return undefined;
  }
  if (!roots.some((r) => isInside(r, real))) return undefined;
  let fh: FileHandle;
  try {
    fh = await fs.open(real, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    if (!(await fh.stat()).isFile()) throw new Error('not a file');
    // What was actually opened: a path component may have been swapped between realpath and open.
    const opened = await fs.realpath(`/proc/self/fd/${fh.fd}`).catch(() => real);
    if (!roots.some((r) => isInside(r, opened))) throw new Error('outside the roots');
    return fh;
  } catch {
    await fh.close();
    return undefined;
  }
}
