// Containment of resolved paths: the one check every "stay inside this folder" rule uses.
import { isAbsolute, relative, sep } from 'node:path';

/**
 * Whether `inner` is `root` or lies below it. Both must already be absolute and resolved (realpath):
 * comparing unresolved text is what symlinked folders escape through.
 */
export function isInside(root: string, inner: string): boolean {
  const rel = relative(root, inner);
  return rel === '' || (!isAbsolute(rel) && rel.split(sep)[0] !== '..');
}
