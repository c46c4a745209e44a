// `sail data import` as a library: a local folder of images with captions -> the same shard format as
// `sail download` (same validation and re-encode).
import { promises as fs } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SailError } from '../util/errors.js';
import { OUTSIDE_ROOT, readInside } from './confine.js';
import { DEFAULT_IMAGE_OPTIONS, type ImageOptions } from './image.js';
import { readUrlList, type ListFormat } from './lists.js';
import { runShardPipeline, type PipelineProgress, type SourceRow } from './pipeline.js';
import type { DataSummary, ShardSplit } from './shards.js';

/** Where captions come from. */
export type CaptionSource =
  /** `photo.jpg` + `photo.txt` beside it (missing sidecar: no caption). */
  | { kind: 'sidecar' }
  /** A CSV/TSV/JSONL/Parquet mapping a file column (relative to the folder) to caption columns. */
  | { kind: 'list'; path: string; format?: ListFormat; fileCol: string; captionCols: string[] }
  /** The image's parent folder name is its label and caption (`dogs/1.jpg` -> "dogs"). */
  | { kind: 'folder' };

/** Options of {@link importFolder}. */
export interface ImportOptions {
  input: string;
  output: string;
  captions: CaptionSource;
  shardSize?: number;
  concurrency?: number;
  split?: ShardSplit;
  image?: Partial<ImageOptions>;
  /** Files larger than this are rejected as `too_large` (default 20 MiB). */
  maxBytes?: number;
  onProgress?: (p: PipelineProgress) => void;
}

/** Extensions picked up when walking a folder. */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif']);

/** Image files under `root`, relative paths with `/`, sorted so that row indices are stable. */
export async function listImageFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string): Promise<void> {
    let entries;
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (err) {
      throw new SailError(`cannot read folder: ${(err as Error).message}`, { file: dir });
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(dir, e.name);
      // Symlinks are not followed: they could leave the folder or loop.
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(relative(root, p).split(sep).join('/'));
    }
  }
  await walk(root);
  // Code-point order, not locale order, so every machine numbers the rows the same way.
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Resolve a listed file inside `root`, refusing paths that escape it. */
function insideRoot(root: string, rel: string): string | undefined {
  if (isAbsolute(rel) || rel.includes('\0')) return undefined;
  const abs = resolve(root, rel);
  const back = relative(root, abs);
  if (back === '' || back.startsWith('..') || isAbsolute(back)) return undefined;
  return abs;
}

/** Largest sidecar caption file read (a caption, not a book). */
const SIDECAR_MAX_BYTES = 16 * 1024 * 1024;

/** A sidecar caption: missing is no caption; one that resolves outside the folder is an error. */
async function readSidecar(rootReal: string, path: string, label: string): Promise<{ text?: string; error?: string; reason?: string }> {
  const got = await readInside(rootReal, path, label, SIDECAR_MAX_BYTES);
  if (!got.ok) return got.reason === OUTSIDE_ROOT || got.reason === 'too_large' ? { error: `sidecar ${got.message}`, reason: got.reason } : {};
  const t = got.body.toString('utf8').trim();
  return { text: t || undefined };
}

/**
 * Import a folder into WebDataset shards. Row order: sorted relative paths (sidecar/folder modes) or the
 * list's row order (list mode). Resumable like {@link download}.
 */
export async function importFolder(opts: ImportOptions): Promise<{ summary: DataSummary; progress: PipelineProgress }> {
  const root = resolve(opts.input);
  const stat = await fs.stat(root).catch(() => undefined);
  if (!stat?.isDirectory()) throw new SailError('not a folder', { file: opts.input });
  const rootReal = await fs.realpath(root);
  const image: ImageOptions = { ...DEFAULT_IMAGE_OPTIONS, ...opts.image };
  const maxBytes = opts.maxBytes ?? 20 * 1024 * 1024;
  const cap = opts.captions;
  const captionCols = cap.kind === 'list' ? cap.captionCols : ['caption'];

  async function* rows(): AsyncGenerator<SourceRow> {
    if (cap.kind === 'list') {
      for await (const r of readUrlList(cap.path, { format: cap.format, urlCol: cap.fileCol, captionCols: cap.captionCols })) {
        const row: SourceRow = { index: r.index, ref: r.url, captions: r.captions, error: r.error };
        if (r.url !== undefined && !insideRoot(root, r.url)) row.error = `path "${r.url}" is absolute or leaves the folder`;
        yield row;
      }
      return;
    }
    const files = await listImageFiles(root);
    for (let i = 0; i < files.length; i++) {
      const f = files[i];
      if (cap.kind === 'sidecar') {
        const stem = f.slice(0, f.length - extname(f).length);
        const side = await readSidecar(rootReal, join(root, stem + '.txt'), `${stem}.txt`);
        yield side.error !== undefined
          ? { index: i, ref: f, captions: {}, error: side.error, errorReason: side.reason }
          : { index: i, ref: f, captions: side.text !== undefined ? { caption: side.text } : {} };
      } else {
        const label = basename(dirname(join(root, f)));
        const isTop = dirname(f) === '.';
        yield isTop
          ? { index: i, ref: f, captions: {}, error: `"${f}" is not inside a label folder` }
          : { index: i, ref: f, captions: { caption: label }, extra: { label } };
      }
    }
  }

  return runShardPipeline(
    rows(),
    async (row) => {
      const abs = insideRoot(root, row.ref!);
      if (!abs) return { ok: false, reason: 'invalid_row', message: `path "${row.ref}" leaves the folder` };
      // the path text stays inside; its resolved form must too (a symlinked folder could lead anywhere)
      return readInside(rootReal, abs, row.ref!, maxBytes);
    },
    {
      output: opts.output,
      shardSize: opts.shardSize ?? 1000,
      concurrency: opts.concurrency ?? 8,
      split: opts.split,
      image,
      captionCols,
      meta: { source: 'import', input: root, captions: cap, image },
      purpose: 'sail data import',
      onProgress: opts.onProgress,
    },
  );
}
