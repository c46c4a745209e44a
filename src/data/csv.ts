// A small streaming parser for delimited text: RFC 4180 CSV (quoted fields, "" escapes, CRLF or LF) and
// plain TSV (no quoting). Written by hand so that a bad record becomes an error record, not a crash.

/** One parsed record: its fields, or the reason it is malformed. `line` is the 1-based line it starts on. */
export type DelimitedRecord = { fields: string[]; line: number; error?: undefined } | { fields?: undefined; line: number; error: string };

/** Options of {@link DelimitedParser}. */
export interface DelimitedOptions {
  /** Field separator (`,` for CSV, `\t` for TSV). */
  delimiter: string;
  /** Whether `"` starts a quoted field (true for CSV, false for TSV). */
  quoting: boolean;
  /** Longest field accepted, in characters; a longer one makes the record an error (bounds memory). */
  maxFieldChars?: number;
}

const QUOTE = 34; // "
const LF = 10;
const CR = 13;

/**
 * Incremental parser: feed text chunks with {@link push}, then call {@link end}. Each call returns the
 * records completed so far. Empty lines are skipped. After a malformed record the parser resynchronises at
 * the next line break outside quotes.
 */
export class DelimitedParser {
  private readonly delim: number;
  private readonly quoting: boolean;
  private readonly maxField: number;
  private fields: string[] = [];
  private field = '';
  private inQuotes = false;
  private afterQuote = false; // just closed a quoted field: only a delimiter or line end may follow
  private wasQuoted = false;
  private skipping: string | undefined; // error text while skipping the rest of a bad record
  private lastWasCR = false;
  private line = 1;
  private recordLine = 1;

  constructor(opts: DelimitedOptions) {
    if (opts.delimiter.length !== 1) throw new Error('delimiter must be one character');
    this.delim = opts.delimiter.charCodeAt(0);
    this.quoting = opts.quoting;
    this.maxField = opts.maxFieldChars ?? 1 << 20;
  }

  /** Parse a chunk; returns the records it completed. */
  push(chunk: string): DelimitedRecord[] {
    const out: DelimitedRecord[] = [];
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      const c = chunk.charCodeAt(i);
      if (this.lastWasCR) {
        this.lastWasCR = false;
        if (c === LF) { i++; continue; } // second half of CRLF
      }
      if (this.inQuotes) {
        // Fast path: copy up to the next quote.
        const q = chunk.indexOf('"', i);
        const stop = q < 0 ? n : q;
        const piece = chunk.slice(i, stop);
        this.field += piece;
        for (let j = 0; j < piece.length; j++) if (piece.charCodeAt(j) === LF) this.line++;
        i = stop;
        if (q < 0) break;
        // A quote inside a quoted field: either the closing quote or the first of a "" pair. The pair may
        // straddle chunks, so a quote at the very end of the chunk is decided on the next push.
        if (i + 1 < n) {
          if (chunk.charCodeAt(i + 1) === QUOTE) { this.field += '"'; i += 2; }
          else { this.inQuotes = false; this.afterQuote = true; i += 1; }
        } else {
          this.inQuotes = false; this.afterQuote = true; this.pendingQuote = true; i += 1;
        }
        if (this.field.length > this.maxField) this.startSkip('field too long');
        continue;
      }
      if (this.pendingQuote) {
        this.pendingQuote = false;
        if (c === QUOTE) { this.field += '"'; this.inQuotes = true; this.afterQuote = false; i++; continue; }
      }
      if (c === LF || c === CR) {
        if (c === CR) this.lastWasCR = true;
        this.endRecord(out);
        this.line++;
        this.recordLine = this.line;
        i++;
        continue;
      }
      if (this.skipping !== undefined) { i++; continue; }
      if (c === this.delim) {
        this.fields.push(this.field);
        this.field = '';
        this.afterQuote = false;
        this.wasQuoted = false;
        i++;
        continue;
      }
      if (this.afterQuote) { this.startSkip(`unexpected character after closing quote in field ${this.fields.length + 1}`); i++; continue; }
      if (c === QUOTE && this.quoting && this.field.length === 0 && !this.wasQuoted) {
        this.inQuotes = true;
        this.wasQuoted = true;
        i++;
        continue;
      }
      // Plain run: copy up to the next delimiter or line break.
      let j = i;
      while (j < n) {
        const d = chunk.charCodeAt(j);
        if (d === this.delim || d === LF || d === CR) break;
        j++;
      }
      this.field += chunk.slice(i, j);
      if (this.field.length > this.maxField) this.startSkip('field too long');
      i = j;
    }
    return out;
  }

  private pendingQuote = false;

  /** Finish: returns the last record (or an error if a quoted field never closed). */
  end(): DelimitedRecord[] {
    const out: DelimitedRecord[] = [];
    this.pendingQuote = false;
    if (this.inQuotes) {
      this.inQuotes = false;
      this.startSkip('unterminated quoted field at end of file');
    }
    this.endRecord(out);
    return out;
  }

  private startSkip(reason: string): void {
    if (this.skipping === undefined) this.skipping = reason;
    this.field = '';
  }

  private endRecord(out: DelimitedRecord[]): void {
    if (this.inQuotes) return; // cannot happen: callers only end records outside quotes
    if (this.skipping !== undefined) {
      out.push({ line: this.recordLine, error: this.skipping });
    } else {
      this.fields.push(this.field);
      const empty = this.fields.length === 1 && this.fields[0] === '' && !this.wasQuoted;
      if (!empty) out.push({ fields: this.fields, line: this.recordLine });
    }
    this.fields = [];
    this.field = '';
    this.skipping = undefined;
    this.afterQuote = false;
    this.wasQuoted = false;
  }
}

/** Parse a whole string (convenience for small inputs and tests). */
export function parseDelimited(text: string, opts: DelimitedOptions): DelimitedRecord[] {
  const p = new DelimitedParser(opts);
  return [...p.push(text), ...p.end()];
}
