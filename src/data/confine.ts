// Confinement of input files to their root folder, judged on resolved paths: a symlink (to a file or
// through a folder) that leads outside the root is refused, whatever the path text looks like.
import { promises as fs } from 'node:fs';
import { isAbsolute, relative, sep } from 'node:path';

/** Failure reason recorded for a file that resolves outside the input folder. */
export const OUTSIDE_ROOT = 'outside_root';

/** Whether the resolved path `real` lies inside the resolved folder `rootReal`. */
export function isInside(rootReal: string, real: string): boolean {
  const back = relative(rootReal, real);
  return back !== '' && back !== '..' && !back.startsWith(`..${sep}`) && !isAbsolute(back);
}

/** Outcome of {@link resolveInside}. */
export type Confined = { ok: true; real: string } | { ok: false; reason: 'outside_root' | 'missing_file'; message: string };

/**
 * Resolve `path` with realpath and accept it only inside `rootReal` (itself a realpath). `label` names the
 * file in the message (`photo.txt`).
 */
export async function resolveInside(rootReal: string, path: string, label: string): Promise<Confined> {
  let real: string;
  try {
    real = await fs.realpath(path);
  } catch {
    return { ok: false, reason: 'missing_file', message: `no such file: ${label}` };
  }
  if (!isInside(rootReal, real)) return { ok: false, reason: OUTSIDE_ROOT, message: `${label} resolves to ${real}, outside the input folder ${rootReal}` };
  return { ok: true, real };
}
