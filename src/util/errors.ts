/**
 * A user-facing error: names the file (and row, where one applies) and the reason.
 * The CLI prints `message` alone, never a stack trace.
 */
export class SailError extends Error {
  readonly file?: string;
  readonly row?: number;
  constructor(reason: string, where: { file?: string; row?: number } = {}) {
    const parts: string[] = [];
    if (where.file !== undefined) parts.push(where.file);
    if (where.row !== undefined) parts.push(`row ${where.row}`);
    super(parts.length ? `${parts.join(', ')}: ${reason}` : reason);
    this.name = 'SailError';
    this.file = where.file;
    this.row = where.row;
  }
}

/** Errno codes of a write that failed for lack of room or permission, with the wording users see. */
const WRITE_FAILURES: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large for this file system',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
};

/**
 * A failed write as the error to throw: full disks, quotas and permissions become a SailError naming
 * `path` (the file being written, not a temp file); anything else is returned unchanged.
 */
export function writeFailure(err: unknown, path: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (err instanceof SailError || code === undefined || !Object.hasOwn(WRITE_FAILURES, code)) return err;
  const hint = code === 'ENOSPC' || code === 'EDQUOT' ? '; free some space and run again' : '';
  return new SailError(`cannot write: ${WRITE_FAILURES[code]} (${code})${hint}`, { file: path });
}
