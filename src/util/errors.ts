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
