// Confinement of input files to their root folder, judged on resolved paths: a symlink (to a file or
// through a folder) that leads outside the root is refused, whatever the path text looks like.
import { constants, promises as fs } from 'node:fs';
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

/** Outcome of {@link openInside}: an open handle (the caller closes it) or why not. */
export type ConfinedOpen = { ok: true; handle: fs.FileHandle; real: string; size: number } | { ok: false; reason: 'outside_root' | 'missing_file' | 'invalid_row'; message: string };

/**
 * Open a regular file that must resolve inside `rootReal`, without a window between check and use: the
 * resolved path is opened with O_NOFOLLOW, and (on Linux) the open descriptor's own path is checked again,
 * so a file or folder swapped for a symlink after the first check is caught.
 */
export async function openInside(rootReal: string, path: string, label: string): Promise<ConfinedOpen> {
  const where = await resolveInside(rootReal, path, label);
  if (!where.ok) return where;
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(where.real, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return { ok: false, reason: OUTSIDE_ROOT, message: `${label} was replaced by a symlink while being read` };
    return { ok: false, reason: 'missing_file', message: `cannot open ${label}: ${code ?? (err as Error).message}` };
  }
  const fail = async (reason: 'outside_root' | 'invalid_row', message: string): Promise<ConfinedOpen> => {
    await handle.close();
    return { ok: false, reason, message };
  };
  const opened = await fs.readlink(`/proc/self/fd/${handle.fd}`).catch(() => undefined);
  if (opened !== undefined && !isInside(rootReal, opened)) return fail(OUTSIDE_ROOT, `${label} resolves to ${opened}, outside the input folder ${rootReal}`);
  const st = await handle.stat();
  if (!st.isFile()) return fail('invalid_row', `not a regular file: ${label}`);
  return { ok: true, handle, real: where.real, size: st.size };
}

/** Outcome of {@link readInside}. */
export type ConfinedRead = { ok: true; body: Buffer } | { ok: false; reason: 'outside_root' | 'missing_file' | 'invalid_row' | 'too_large'; message: string };

/** Read a file that must resolve inside `rootReal` (see {@link openInside}); files over `maxBytes` are refused. */
export async function readInside(rootReal: string, path: string, label: string, maxBytes: number): Promise<ConfinedRead> {
  const got = await openInside(rootReal, path, label);
  if (!got.ok) return got;
  try {
    if (got.size > maxBytes) return { ok: false, reason: 'too_large', message: `${got.size} bytes exceeds ${maxBytes}` };
    return { ok: true, body: await got.handle.readFile() };
  } finally {
    await got.handle.close();
  }
}
