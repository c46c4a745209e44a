// Inputs of `sail encode` as a stream of numbered rows: an image folder (sidecar .txt captions), a CSV/TSV/
// JSONL manifest (image column + caption columns), or WebDataset tar shards. Row numbers never shift: a bad
// row is still yielded, carrying its `error`.
import { existsSync, promises as fs, statSync } from 'node:fs';
import { dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { parseDelimited } from '../data/csv.js';
import { SailError } from '../util/errors.js';
import { tarRows } from './tar-source.js';
import type { CaptionSpec, SourceRow } from './source-row.js';

/** An opened input. */
export interface EncodeSource {
  kind: 'folder' | 'manifest' | 'tar';
  /** Caption modalities this source provides (a folder without any .txt provides none). */
  captions: CaptionSpec[];
  /** Row count when known before streaming (folder, manifest). */
  count?: number;
  rows(): AsyncIterable<SourceRow>;
}

/** How to read an input. */
export interface SourceOptions {
  /** Manifest column holding the image path (default 'image', then 'image_path', 'Image Path', 'path'). */
  imageColumn?: string;
  /** Caption sources; the first fills 'text'. Default: manifest 'caption', tar 'txt', folder sidecar .txt. */
  captions?: CaptionSpec[];
  /** Folder relative manifest image paths are joined to (default: the manifest's folder). */
  imageRoot?: string;
  /** Whether images are needed (false for a text-only encode). */
  wantImage: boolean;
  /** Largest manifest accepted, bytes (default 2 GiB). */
  maxManifestBytes?: number;
}

export const IMAGE_EXTS = ['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.bmp'];

/** Open `input`: a folder of images, a folder or list of .tar shards, or a .csv/.tsv/.jsonl manifest. */
export async function openSource(input: string, opts: SourceOptions): Promise<EncodeSource> {
  const inputs = input.split(',').map((s) => s.trim()).filter(Boolean);
  for (const p of inputs) if (!existsSync(p)) throw new SailError('input not found', { file: p });
  if (inputs.every((p) => p.endsWith('.tar'))) return tarSource(inputs.sort(), opts);
  if (inputs.length !== 1) throw new SailError('several inputs are only supported for .tar shards', { file: input });
  const path = inputs[0];
  if (statSync(path).isDirectory()) {
    const names = await fs.readdir(path);
    const tars = names.filter((n) => n.endsWith('.tar')).sort();
    if (tars.length && !names.some((n) => IMAGE_EXTS.includes(extname(n).toLowerCase()))) return tarSource(tars.map((n) => join(path, n)), opts);
    return folderSource(path, opts);
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.csv' || ext === '.tsv' || ext === '.jsonl' || ext === '.ndjson') return manifestSource(path, ext, opts);
  throw new SailError('unsupported input (expected an image folder, .tar shards, or a .csv/.tsv/.jsonl manifest)', { file: path });
}

function tarSource(shards: string[], opts: SourceOptions): EncodeSource {
  const captions = opts.captions ?? [{ modality: 'text', column: 'txt' }];
  return { kind: 'tar', captions, rows: () => tarRows(shards, captions, opts.wantImage) };
}

async function listImages(root: string, dir: string, out: string[]): Promise<void> {
  const entries = await fs.readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) await listImages(root, p, out);
    else if (e.isFile() && IMAGE_EXTS.includes(extname(e.name).toLowerCase())) out.push(relative(root, p));
  }
}

/** Byte-wise order, so the row numbering does not depend on the locale. */
function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function folderSource(root: string, opts: SourceOptions): Promise<EncodeSource> {
  const files: string[] = [];
  await listImages(root, root, files);
  files.sort(byteOrder);
  if (files.length === 0) throw new SailError('no images found in folder', { file: root });
  const sidecar = (f: string) => join(root, f.slice(0, f.length - extname(f).length) + '.txt');
  if (opts.captions && opts.captions.length > 1) throw new SailError('an image folder has one caption source (sidecar .txt files)', { file: root });
  // captions: [] means a text-less (image only) encode: sidecars are not read at all
  const hasText = opts.captions?.length !== 0 && files.some((f) => existsSync(sidecar(f)));
  const captions = hasText ? [{ modality: opts.captions?.[0]?.modality ?? 'text', column: '.txt' }] : [];
  return listSource('folder', captions, files.length, async (i) => {
    const file = join(root, files[i]);
    const texts: Record<string, string | undefined> = {};
    let error: string | undefined;
    if (hasText) {
      try {
        texts[captions[0].modality] = (await fs.readFile(sidecar(files[i]), 'utf8')).trim();
      } catch {
        error = `caption file missing: ${sidecar(files[i])}`;
      }
    }
    return { row: i, file, image: file, texts, error };
  });
}

/** A source of `count` rows known up front, row i made (lazily, in order) by `rowAt(i)`. */
function listSource(kind: EncodeSource['kind'], captions: CaptionSpec[], count: number, rowAt: (i: number) => SourceRow | Promise<SourceRow>): EncodeSource {
  return {
    kind,
    captions,
    count,
    async *rows() {
      for (let i = 0; i < count; i++) yield await rowAt(i);
    },
  };
}

async function readManifest(path: string, max: number): Promise<string> {
  const st = await fs.stat(path);
  if (st.size > max) throw new SailError(`manifest is ${st.size} bytes, larger than the ${max}-byte limit`, { file: path });
  return fs.readFile(path, 'utf8');
}

async function manifestSource(path: string, ext: string, opts: SourceOptions): Promise<EncodeSource> {
  const text = await readManifest(path, opts.maxManifestBytes ?? 2 * 1024 ** 3);
  const captions = opts.captions ?? [{ modality: 'text', column: 'caption' }];
  const root = opts.imageRoot ?? dirname(resolve(path));
  const imagePath = (p: string) => (isAbsolute(p) ? p : join(root, p));
  type Rec = { line: number; get: (col: string) => string | undefined; error?: string };
  const recs: Rec[] = [];
  let columns: string[];
  if (ext === '.jsonl' || ext === '.ndjson') {
    const keys = new Set<string>();
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (!line) return;
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new Error('not a JSON object');
        Object.keys(o).forEach((k) => keys.add(k));
        recs.push({ line: i + 1, get: (c) => (o[c] === undefined || o[c] === null ? undefined : String(o[c])) });
      } catch (err) {
        recs.push({ line: i + 1, get: () => undefined, error: `invalid JSON line: ${(err as Error).message}` });
      }
    });
    columns = [...keys];
  } else {
    const records = parseDelimited(text.replace(/^\uFEFF/, ''), { delimiter: ext === '.tsv' ? '\t' : ',', quoting: ext !== '.tsv' });
    const header = records.shift();
    if (!header || !header.fields) throw new SailError(header ? `malformed header: ${header.error}` : 'empty manifest', { file: path });
    columns = header.fields.map((f) => f.trim());
    for (const r of records) {
      if (!r.fields) recs.push({ line: r.line, get: () => undefined, error: r.error });
      else if (r.fields.length !== columns.length) recs.push({ line: r.line, get: () => undefined, error: `has ${r.fields.length} fields, header has ${columns.length}` });
      else {
        const f = r.fields;
        recs.push({ line: r.line, get: (c) => f[columns.indexOf(c)] });
      }
    }
  }
  const known = new Set(columns);
  let imageColumn = opts.imageColumn;
  if (opts.wantImage) {
    imageColumn ??= ['image', 'image_path', 'Image Path', 'path', 'file'].find((c) => known.has(c));
    if (!imageColumn || (columns.length && !known.has(imageColumn))) {
      throw new SailError(`no image column ${imageColumn ? `'${imageColumn}'` : "(tried image, image_path, 'Image Path', path, file)"}; columns: ${columns.join(', ')}`, { file: path });
    }
  }
  for (const c of captions) {
    if (columns.length && !known.has(c.column)) throw new SailError(`no caption column '${c.column}'; columns: ${columns.join(', ')}`, { file: path });
  }
  return listSource('manifest', captions, recs.length, (i) => {
    const r = recs[i];
    const file = `${path}:${r.line}`;
    if (r.error) return { row: i, file, texts: {}, error: r.error };
    const texts: Record<string, string | undefined> = {};
    const problems: string[] = [];
    for (const c of captions) {
      texts[c.modality] = r.get(c.column);
      if (texts[c.modality] === undefined) problems.push(`missing caption '${c.column}'`);
    }
    let image: string | undefined;
    if (imageColumn) {
      const p = r.get(imageColumn);
      if (!p) problems.push(`missing image path '${imageColumn}'`);
      else image = imagePath(p);
    }
    return { row: i, file: image ?? file, image, texts, error: problems.length ? problems.join('; ') : undefined };
  });
}
