// Locating npm packages that ship model files, and the on-disk cache for converted models.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { SailError } from '../../util/errors.js';

const require = createRequire(import.meta.url);

/** Root folder and version of an installed npm package. */
export interface PackageInfo {
  name: string;
  version: string;
  root: string;
}

/**
 * Find an installed package's root folder. Resolution goes through Node's own resolver (so it
 * works from src/ and dist/ and in nested node_modules), then walks up to the package.json whose
 * name matches: packages with an `exports` map do not expose their model files as subpaths.
 */
export function findPackage(name: string): PackageInfo {
  let entry: string;
  try {
    entry = require.resolve(name);
  } catch {
    throw new SailError(`npm package '${name}' is not installed (run npm install)`, { file: name });
  }
  let dir = dirname(entry);
  for (;;) {
    const pj = join(dir, 'package.json');
    if (existsSync(pj)) {
      const meta = JSON.parse(readFileSync(pj, 'utf8')) as { name?: string; version?: string };
      if (meta.name === name) return { name, version: meta.version ?? '0.0.0', root: dir };
    }
    const up = dirname(dir);
    if (up === dir) throw new SailError(`package.json of '${name}' not found above ${entry}`, { file: entry });
    dir = up;
  }
}

/**
 * Folder for converted models: `explicit`, else `$SAIL_CACHE/models`, else `~/.cache/sail/models`
 * (the same folder the hub backbones use). Files in it are keyed by source package version and
 * converter version, so a stale file is never reused after either changes.
 */
export function cacheDir(explicit?: string): string {
  if (explicit) return resolve(explicit);
  const env = process.env.SAIL_CACHE;
  if (env && env.length > 0) return join(resolve(env), 'models');
  return join(homedir(), '.cache', 'sail', 'models');
}
