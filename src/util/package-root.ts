// Where the installed sail package lives, for files it ships (templates, the k8s recipe).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SailError } from './errors.js';

/** Folder of the installed package: walks up to package.json, so it works from src/ and dist/src/ alike. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new SailError('cannot find the sail package root (package.json) for the files it ships');
    dir = up;
  }
  return dir;
}
