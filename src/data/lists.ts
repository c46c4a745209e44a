// Readers for URL lists (CSV, TSV, JSONL, Parquet). Each yields rows in file order with a stable 0-based
// index; a malformed row is yielded with an `error` (file + row + reason) instead of stopping the read.
import { createReadStream } from 'node:fs';
import { extname } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { SailError } from '../util/errors.js';
import { DelimitedParser, type DelimitedRecord } from './csv.js';

/** Supported list formats. */
export type ListFormat = 'csv' | 'tsv' | 'jsonl' | 'parquet';

/** Which columns of a list to use. */
export interface ListColumns {
  /** Column holding the image URL (or file path, for imports). */
  urlCol: string;
  /** Caption columns; the first is the main caption. May be empty. */
  captionCols: string[];
}

/** Options of {@link readUrlList}. */
export interface ListOptions extends ListColumns {
  /** Format; guessed from the file extension when absent. */
  format?: ListFormat;
}

/** One row of a list. `index` counts every data row (bad ones included), starting at 0. */
export interface ListRow {
  index: number;
  /** Present on good rows. */
  url?: string;
  /** Caption column -> text, for the caption columns that hold a non-empty value. */
  captions: Record<string, string>;
  /** Why the row is unusable (missing URL, bad JSON, malformed CSV record...). */
  error?: string;
  /** Where the row starts in the file (1-based line for text formats). */
  line?: number;
}

/** Guess a list format from a file name (`.csv`, `.tsv`/`.tab`, `.jsonl`/`.ndjson`, `.parquet`). */
export function detectListFormat(path: string): ListFormat {
  const ext = extname(path.endsWith('.gz') ? path.slice(0, -3) : path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.tsv' || ext === '.tab') return 'tsv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  throw new SailError(`cannot tell the list format from the extension "${ext}"; pass a format (csv, tsv, jsonl, parquet)`, { file: path });
}

/**
 * Read a URL list row by row without loading the whole file.
 * Throws a {@link SailError} only for whole-file problems (unreadable file, missing columns); per-row
 * problems come back as rows with `error`.
 */
export async function* readUrlList(path: string, opts: ListOptions): AsyncGenerator<ListRow> {
  const format = opts.format ?? detectListFormat(path);
  if (format === 'csv' || format === 'tsv') yield* readDelimited(path, format === 'csv' ? ',' : '\t', format === 'csv', opts);
  else if (format === 'jsonl') yield* readJsonl(path, opts);
  else if (format === 'parquet') yield* readParquet(path, opts);
  else throw new SailError(`unknown list format "${String(format)}"`, { file: path });
}

/** Text chunks of a file, decoded as UTF-8 (a leading BOM is dropped). */
async function* textChunks(path: string): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let first = true;
  try {
    for await (const buf of createReadStream(path, { highWaterMark: 1 << 16 })) {
      let s = decoder.write(buf as Buffer);
      if (first && s.length > 0) {
        if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
        first = false;
      }
      if (s) yield s;
    }
  } catch (err) {
    throw new SailError(`cannot read list: ${(err as Error).message}`, { file: path });
  }
  const rest = decoder.end();
  if (rest) yield rest;
}

function columnIndex(header: string[], name: string, path: string): number {
  const i = header.indexOf(name);
  if (i < 0) throw new SailError(`column "${name}" not found; columns are: ${header.map((h) => JSON.stringify(h)).join(', ')}`, { file: path, row: 0 });
  return i;
}

async function* readDelimited(path: string, delimiter: string, quoting: boolean, cols: ListColumns): AsyncGenerator<ListRow> {
  const parser = new DelimitedParser({ delimiter, quoting });
  let header: string[] | undefined;
  let urlIdx = -1;
  let capIdx: number[] = [];
  let index = 0;
  const handle = (rec: DelimitedRecord): ListRow | undefined => {
    if (!header) {
      if (rec.error !== undefined) throw new SailError(`malformed header: ${rec.error}`, { file: path, row: 0 });
      header = rec.fields.map((h) => h.trim());
      urlIdx = columnIndex(header, cols.urlCol, path);
      capIdx = cols.captionCols.map((c) => columnIndex(header!, c, path));
      return undefined;
    }
    const row: ListRow = { index: index++, captions: {}, line: rec.line };
    if (rec.error !== undefined) { row.error = `line ${rec.line}: ${rec.error}`; return row; }
    const f = rec.fields;
    if (f.length !== header.length) { row.error = `line ${rec.line}: expected ${header.length} fields, found ${f.length}`; return row; }
    const url = f[urlIdx].trim();
    if (!url) { row.error = `line ${rec.line}: empty "${cols.urlCol}"`; return row; }
    row.url = url;
    cols.captionCols.forEach((c, k) => { const v = f[capIdx[k]]; if (v !== undefined && v.trim() !== '') row.captions[c] = v; });
    return row;
  };
  for await (const chunk of textChunks(path)) {
    for (const rec of parser.push(chunk)) { const r = handle(rec); if (r) yield r; }
  }
  for (const rec of parser.end()) { const r = handle(rec); if (r) yield r; }
  if (!header) throw new SailError('empty list: no header row', { file: path });
}

/** Caption value as text: strings as they are, finite numbers printed; anything else is ignored. */
function captionText(v: unknown): string | undefined {
  if (typeof v === 'string') return v.trim() === '' ? undefined : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

function rowFromObject(obj: Record<string, unknown>, index: number, cols: ListColumns, where: string): ListRow {
  const row: ListRow = { index, captions: {} };
  const u = obj[cols.urlCol];
  if (typeof u !== 'string' || u.trim() === '') {
    row.error = `${where}missing or non-string "${cols.urlCol}"`;
    return row;
  }
  row.url = u.trim();
  for (const c of cols.captionCols) { const t = captionText(obj[c]); if (t !== undefined) row.captions[c] = t; }
  return row;
}

async function* readJsonl(path: string, cols: ListColumns): AsyncGenerator<ListRow> {
  let pending = '';
  let lineNo = 0;
  let index = 0;
  const handleLine = (text: string): ListRow | undefined => {
    lineNo++;
    if (text.trim() === '') return undefined;
    const where = `line ${lineNo}: `;
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (err) {
      return { index: index++, captions: {}, line: lineNo, error: `${where}bad JSON (${(err as Error).message})` };
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return { index: index++, captions: {}, line: lineNo, error: `${where}not a JSON object` };
    const row = rowFromObject(obj as Record<string, unknown>, index++, cols, where);
    row.line = lineNo;
    return row;
  };
  for await (const chunk of textChunks(path)) {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const r = handleLine(pending.slice(0, nl).replace(/\r$/, ''));
      pending = pending.slice(nl + 1);
      if (r) yield r;
    }
    if (pending.length > 1 << 24) throw new SailError(`line ${lineNo + 1} is longer than 16 MiB`, { file: path });
  }
  if (pending) { const r = handleLine(pending.replace(/\r$/, '')); if (r) yield r; }
}

async function* readParquet(path: string, cols: ListColumns): AsyncGenerator<ListRow> {
  let file;
  let meta;
  try {
    file = await asyncBufferFromFile(path);
    meta = await parquetMetadataAsync(file);
  } catch (err) {
    throw new SailError(`not a readable Parquet file: ${(err as Error).message}`, { file: path });
  }
  const names = parquetSchema(meta).children.map((c) => c.element.name);
  for (const c of [cols.urlCol, ...cols.captionCols]) columnIndex(names, c, path);
  const columns = [...new Set([cols.urlCol, ...cols.captionCols])];
  // One row group at a time keeps memory bounded by the largest row group, not the file.
  let start = 0;
  for (const rg of meta.row_groups) {
    const end = start + Number(rg.num_rows);
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file, metadata: meta, columns, rowStart: start, rowEnd: end });
    } catch (err) {
      throw new SailError(`cannot read rows ${start}..${end - 1}: ${(err as Error).message}`, { file: path, row: start });
    }
    for (let k = 0; k < rows.length; k++) yield rowFromObject(rows[k], start + k, cols, '');
    start = end;
  }
}
