// Evaluation dataset layouts: CLIP-benchmark WebDataset (classnames.txt, zeroshot_classification_templates.txt,
// tar shards with `cls` + image members), class folders (root/<class>/*.jpg) and CSV (image,label or
// image,caption). Images stay on disk (paths) or stream from tars; only small metadata is held.
import { existsSync, promises as fs, statSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { parseDelimited } from '../data/csv.js';
import { tarRows } from '../encoders/tar-source.js';
import type { ImageInput } from '../encoders/types.js';
import { SailError } from '../util/errors.js';
import { parseTemplates } from './zeroshot.js';

/** Image file extensions read from folders. */
export const IMAGE_EXTS = ['.jpg', '.jpeg', '.png', '.webp'];
/** Largest metadata file (CSV, classnames) read into memory. */
const MAX_TEXT_BYTES = 256 * 1024 * 1024;

/** One labelled image. `id` names it in error reports. */
export interface LabelledImage {
  image: ImageInput;
  label: number;
  id: string;
}

/** A classification dataset: class names, optional shipped templates, and a stream of labelled images. */
export interface ClassificationDataset {
  kind: 'classification';
  classNames: string[];
  templates?: string[];
  /** Sample count when known up front. */
  count?: number;
  samples(): AsyncIterable<LabelledImage>;
}

/** A caption dataset: images with one or more captions each. */
export interface CaptionDataset {
  kind: 'captions';
  images: string[];
  captions: string[];
  /** Image index of every caption. */
  imageOfText: Int32Array;
}

async function readText(file: string, what: string): Promise<string> {
  let st;
  try {
    st = await fs.stat(file);
  } catch {
    throw new SailError(`${what} not found`, { file });
  }
  if (st.size > MAX_TEXT_BYTES) throw new SailError(`${what} is ${st.size} bytes (limit ${MAX_TEXT_BYTES})`, { file });
  return fs.readFile(file, 'utf8');
}

/** Non-empty trimmed lines. */
function lines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
}

async function findTars(dir: string, depth = 0): Promise<string[]> {
  const out: string[] = [];
  for (const e of (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))) {
    if (e.isFile() && e.name.endsWith('.tar')) out.push(join(dir, e.name));
    else if (e.isDirectory() && depth < 2) out.push(...(await findTars(join(dir, e.name), depth + 1)));
  }
  return out;
}

/**
 * CLIP-benchmark WebDataset layout: `root/classnames.txt` (one class per line),
 * optional `root/zeroshot_classification_templates.txt` (one template per line), and tar shards under root
 * (e.g. `root/test/0.tar`) whose samples hold `<key>.cls` (class index) and an image member.
 */
export async function openWebDatasetClassification(root: string, opts: { split?: string } = {}): Promise<ClassificationDataset> {
  const classNames = lines(await readText(join(root, 'classnames.txt'), 'classnames.txt'));
  const tplFile = join(root, 'zeroshot_classification_templates.txt');
  const templates = existsSync(tplFile) ? parseTemplates(await readText(tplFile, 'templates'), tplFile) : undefined;
  const shardRoot = opts.split ? join(root, opts.split) : root;
  if (!existsSync(shardRoot)) throw new SailError('split folder not found', { file: shardRoot });
  const shards = await findTars(shardRoot);
  if (!shards.length) throw new SailError('no .tar shards found', { file: shardRoot });
  return {
    kind: 'classification', classNames, templates,
    async *samples() {
      for await (const row of tarRows(shards, [{ modality: 'cls', column: 'cls' }], true)) {
        if (row.error) throw new SailError(row.error, { file: row.file });
        const text = row.texts.cls ?? '';
        const label = Number(text);
        if (!/^\d+$/.test(text) || label >= classNames.length) throw new SailError(`cls ${JSON.stringify(text)} is not a class index 0..${classNames.length - 1}`, { file: row.file });
        yield { image: row.image!, label, id: row.file };
      }
    },
  };
}

/** Class folders: `root/<class>/<image>`; classes sorted by name, underscores read as spaces. */
export async function openFolderClassification(root: string): Promise<ClassificationDataset> {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new SailError('dataset folder not found', { file: root });
  const dirs = (await fs.readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  if (!dirs.length) throw new SailError('no class folders (expected root/<class>/*.jpg)', { file: root });
  const items: LabelledImage[] = [];
  for (let c = 0; c < dirs.length; c++) {
    const files = (await fs.readdir(join(root, dirs[c]))).filter((f) => IMAGE_EXTS.includes(extname(f).toLowerCase())).sort();
    for (const f of files) items.push({ image: join(root, dirs[c], f), label: c, id: join(root, dirs[c], f) });
  }
  if (!items.length) throw new SailError(`no images (${IMAGE_EXTS.join(', ')}) in the class folders`, { file: root });
  return {
    kind: 'classification', classNames: dirs.map((d) => d.replace(/_/g, ' ')), count: items.length,
    async *samples() {
      yield* items;
    },
  };
}

/**
 * CSV with a header: `image,label` gives a classification set (classes = sorted distinct labels, or the
 * given `classNames` when labels are names or indices into it); `image,caption` gives a caption set where
 * rows sharing an image become several captions of that image. Relative paths are read from the CSV's folder.
 */
export async function openCsvDataset(file: string, opts: { classNames?: string[] } = {}): Promise<ClassificationDataset | CaptionDataset> {
  const recs = parseDelimited(await readText(file, 'CSV'), { delimiter: file.endsWith('.tsv') ? '\t' : ',', quoting: !file.endsWith('.tsv') });
  if (!recs.length || recs[0].error) throw new SailError('missing or malformed header row', { file, row: 1 });
  const header = recs[0].fields!.map((h) => h.trim().toLowerCase());
  const ci = header.indexOf('image');
  const li = header.indexOf('label');
  const ti = header.indexOf('caption');
  if (ci < 0 || (li < 0) === (ti < 0)) throw new SailError(`header must have an "image" column and exactly one of "label" or "caption" (got ${header.join(',')})`, { file, row: 1 });
  const base = dirname(resolve(file));
  const rows: { image: string; value: string; line: number }[] = [];
  for (const r of recs.slice(1)) {
    if (r.error) throw new SailError(r.error, { file, row: r.line });
    const f = r.fields!;
    const image = f[ci]?.trim();
    const value = f[li >= 0 ? li : ti]?.trim();
    if (!image || value === undefined || value === '') throw new SailError('empty image or label/caption field', { file, row: r.line });
    rows.push({ image: resolve(base, image), value, line: r.line });
  }
  if (!rows.length) throw new SailError('no data rows', { file });
  if (ti >= 0) {
    const index = new Map<string, number>();
    const images: string[] = [];
    const imageOfText = new Int32Array(rows.length);
    rows.forEach((r, t) => {
      let i = index.get(r.image);
      if (i === undefined) {
        i = images.length;
        index.set(r.image, i);
        images.push(r.image);
      }
      imageOfText[t] = i;
    });
    return { kind: 'captions', images, captions: rows.map((r) => r.value), imageOfText };
  }
  const classNames = opts.classNames ?? [...new Set(rows.map((r) => r.value))].sort();
  const byName = new Map(classNames.map((c, i) => [c, i]));
  const items = rows.map((r) => {
    let label = byName.get(r.value);
    if (label === undefined && opts.classNames && /^\d+$/.test(r.value) && Number(r.value) < classNames.length) label = Number(r.value);
    if (label === undefined) throw new SailError(`label ${JSON.stringify(r.value)} is not one of the ${classNames.length} class names`, { file, row: r.line });
    return { image: r.image, label, id: `${file}:${r.line}` };
  });
  return { kind: 'classification', classNames, count: items.length, async *samples() { yield* items; } };
}

/** Open any supported layout: a .csv/.tsv file, a WebDataset folder (has classnames.txt + tars), or class folders. */
export async function openEvalDataset(path: string, opts: { classNames?: string[]; split?: string } = {}): Promise<ClassificationDataset | CaptionDataset> {
  if (!existsSync(path)) throw new SailError('dataset not found', { file: path });
  if (statSync(path).isFile()) return openCsvDataset(path, opts);
  if (existsSync(join(path, 'classnames.txt'))) return openWebDatasetClassification(path, opts);
  return openFolderClassification(path);
}

/**
 * Winoground as JSONL: one object per line, `{"images": [img0, img1], "captions": [c0, c1]}` where caption c
 * belongs to image c; image paths are relative to the file.
 */
export async function openWinogroundJsonl(file: string): Promise<{ images: [string, string]; captions: [string, string] }[]> {
  const base = dirname(resolve(file));
  const out: { images: [string, string]; captions: [string, string] }[] = [];
  const all = (await readText(file, 'Winoground JSONL')).split(/\r?\n/);
  for (let i = 0; i < all.length; i++) {
    if (!all[i].trim()) continue;
    let o: { images?: unknown; captions?: unknown };
    try {
      o = JSON.parse(all[i]) as typeof o;
    } catch (err) {
      throw new SailError(`invalid JSON (${(err as Error).message})`, { file, row: i + 1 });
    }
    const two = (v: unknown) => Array.isArray(v) && v.length === 2 && v.every((s) => typeof s === 'string' && s.length > 0);
    if (!two(o.images) || !two(o.captions)) throw new SailError('need "images": [2 paths] and "captions": [2 strings]', { file, row: i + 1 });
    const im = o.images as string[];
    out.push({ images: [resolve(base, im[0]), resolve(base, im[1])], captions: o.captions as [string, string] });
  }
  if (!out.length) throw new SailError('no examples', { file });
  return out;
}

/**
 * MMVP-VLM folder: `Questions.csv` (columns id / type / statement, header names matched loosely) and
 * `MLLM_VLM Images/<type>/<id>.jpg`. Consecutive rows form a pair; both images are read from the folder
 * of the first question's type, as the original does.
 */
export async function openMmvp(dir: string): Promise<{ category: string; images: [string, string]; statements: [string, string] }[]> {
  const file = join(dir, 'Questions.csv');
  const recs = parseDelimited(await readText(file, 'Questions.csv'), { delimiter: ',', quoting: true });
  if (!recs.length || recs[0].error) throw new SailError('missing header row', { file, row: 1 });
  const h = recs[0].fields!.map((s) => s.trim().toLowerCase());
  const col = (re: RegExp, what: string) => {
    const i = h.findIndex((s) => re.test(s));
    if (i < 0) throw new SailError(`no ${what} column in header (${h.join(',')})`, { file, row: 1 });
    return i;
  };
  const ci = col(/(^|\s)id$|^qid$|index/, 'question id');
  const ti = col(/type|category/, 'type');
  const si = col(/statement|question$|text/, 'statement');
  const rows = recs.slice(1);
  if (rows.length % 2) throw new SailError(`${rows.length} questions: pairs need an even count`, { file });
  const imgDir = join(dir, 'MLLM_VLM Images');
  const out: { category: string; images: [string, string]; statements: [string, string] }[] = [];
  for (let r = 0; r < rows.length; r += 2) {
    const [a, b] = [rows[r], rows[r + 1]];
    if (a.error || b.error) throw new SailError((a.error ?? b.error)!, { file, row: (a.error ? a : b).line });
    const type = a.fields![ti].trim();
    const img = (f: string[]) => {
      const p = join(imgDir, type, `${f[ci].trim()}.jpg`);
      if (!existsSync(p)) throw new SailError(`image ${p} not found`, { file, row: (f === a.fields ? a : b).line });
      return p;
    };
    out.push({ category: type, images: [img(a.fields!), img(b.fields!)], statements: [a.fields![si].trim(), b.fields![si].trim()] });
  }
  return out;
}
