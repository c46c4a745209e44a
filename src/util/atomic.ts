import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { writeFailure } from './errors.js';

let counter = 0;
function tempPathFor(path: string): string {
  counter += 1;
  return join(dirname(path), `.${basename(path)}.${process.pid}.${counter}.tmp`);
}

/**
 * Write a file atomically: write a temp file beside it, fsync, then rename over the target. On any
 * failure (a full disk, say) the temp file is removed and the target is left as it was; ENOSPC and
 * similar become a SailError naming the target.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await writeFileAtomicWith(path, (handle) => handle.writeFile(data));
}

/**
 * {@link writeFileAtomic} for content written in pieces: `write` fills the temp file through its handle
 * (writeFile calls continue at the current position), so large data need not be one buffer.
 */
export async function writeFileAtomicWith(path: string, write: (handle: FileHandle) => Promise<void>): Promise<void> {
  await fs.mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  try {
    const handle = await fs.open(tmp, 'w');
    try {
      await write(handle);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, path);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw writeFailure(err, path);
  }
}

/** Write JSON atomically, pretty-printed. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

/** Append text to a log file; a full disk becomes a SailError naming the file. */
export async function appendText(path: string, text: string): Promise<void> {
  try {
    await fs.appendFile(path, text);
  } catch (err) {
    throw writeFailure(err, path);
  }
}
