// `sail data import` as a library: a local folder of images with captions -> the same shard format as
// `sail download` (same validation and re-encode).
import { promises as fs } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { SailError } from '../util/errors.js';
import { OUTSIDE_ROOT, readInside } from './confine.js';
import { DEFAULT_IMAGE_OPTIONS, type ImageOptions } from './image.js';
import { readUrlList, type ListFormat } from './lists.js';
import { runShardPipeline, type PipelineProgress, type SourceRow } from './pipeline.js';
import type { DataSummary, ShardSplit } from './shards.js';
import { compileCaptionRegex, parseSidecarCaption, type SidecarCaptionOptions } from './captions.js';
import { IMPORT_IMAGE_EXTENSIONS, scanImportFolder, stemOf } from './folder-scan.js';

/** Where captions come from. */
export type CaptionSource =
  /**
   * `photo.jpg` + `photo.txt` beside it; which part of the file is the caption: see SidecarCaptionOptions.
   * An image without a caption file (or with an empty caption) fails as `no_caption`.
   */
  | ({ kind: 'sidecar' } & SidecarCaptionOptions)
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

/** Extensions picked up when walking a folder (SVG is rasterised). */
export const IMAGE_EXTENSIONS = IMPORT_IMAGE_EXTENSIONS;

/** Image files under `root`, relative paths with `/`, sorted so that row indices are stable. */
export async function listImageFiles(root: string): Promise<string[]> {
  return (await scanImportFolder(root)).filter((f) => !f.skip).map((f) => f.file);
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

/** A sidecar caption file's raw text: missing is no caption; one that resolves outside the folder is an error. */
async function readSidecar(rootReal: string, path: string, label: string): Promise<{ text?: string; error?: string; reason?: string }> {
  const got = await readInside(rootReal, path, label, SIDECAR_MAX_BYTES);
  if (!got.ok) return got.reason === OUTSIDE_ROOT || got.reason === 'too_large' ? { error: `sidecar ${got.message}`, reason: got.reason } : {};
  return { text: got.body.toString('utf8') };
}

/** Captions shown in the import summary, so a wrong parse is visible at once. */
export const CAPTION_EXAMPLES = 3;

/** What {@link importFolder} returns. */
export interface ImportResult {
  summary: DataSummary;
  progress: PipelineProgress;
  /** The first few parsed captions (file and caption), in row order. */
  examples: { file: string; caption: string }[];
}

/**
 * Import a folder into WebDataset shards. Row order: sorted relative paths (sidecar/folder modes) or the
 * list's row order (list mode). Resumable like {@link download}.
 */
export async function importFolder(opts: ImportOptions): Promise<ImportResult> {
  const root = resolve(opts.input);
  const stat = await fs.stat(root).catch(() => undefined);
  if (!stat?.isDirectory()) throw new SailError('not a folder', { file: opts.input });
  const rootReal = await fs.realpath(root);
  const image: ImageOptions = { ...DEFAULT_IMAGE_OPTIONS, svg: true, ...opts.image };
  const maxBytes = opts.maxBytes ?? 20 * 1024 * 1024;
  const cap = opts.captions;
  const captionCols = cap.kind === 'list' ? cap.captionCols : ['caption'];
  const regex = cap.kind === 'sidecar' && cap.regex !== undefined ? compileCaptionRegex(cap.regex) : undefined;
  const examples: ImportResult['examples'] = [];
  // Files of the folder that are not imported, by relative path -> reason (they still get a row and a status line).
  const skipped = new Map<string, string>();
  const noteExample = (file: string, captions: Record<string, string>) => {
    const c = captions[captionCols[0]];
    if (c !== undefined && examples.length < CAPTION_EXAMPLES) examples.push({ file, caption: c });
  };

  async function* rows(): AsyncGenerator<SourceRow> {
    if (cap.kind === 'list') {
      for await (const r of readUrlList(cap.path, { format: cap.format, urlCol: cap.fileCol, captionCols: cap.captionCols })) {
        const row: SourceRow = { index: r.index, ref: r.url, captions: r.captions, error: r.error };
        if (r.url !== undefined && !insideRoot(root, r.url)) row.error = `path "${r.url}" is absolute or leaves the folder`;
        if (row.error === undefined && r.url !== undefined) noteExample(r.url, r.captions);
        yield row;
      }
      return;
    }
    const files = await scanImportFolder(root, cap.kind === 'sidecar' ? '.txt' : undefined);
    for (let i = 0; i < files.length; i++) {
      const { file: f, skip } = files[i];
      if (skip) {
        skipped.set(f, skip);
        yield { index: i, ref: f, captions: {} };
      } else if (cap.kind === 'sidecar') {
        const side = await readSidecar(rootReal, join(root, stemOf(f) + '.txt'), `${stemOf(f)}.txt`);
        if (side.error !== undefined) {
          yield { index: i, ref: f, captions: {}, error: side.error, errorReason: side.reason };
          continue;
        }
        const text = side.text === undefined ? undefined : parseSidecarCaption(side.text, cap, regex);
        const captions: Record<string, string> = text !== undefined ? { caption: text } : {};
        noteExample(f, captions);
        yield { index: i, ref: f, captions };
      } else {
        const label = basename(dirname(join(root, f)));
        const isTop = dirname(f) === '.';
        if (!isTop) noteExample(f, { caption: label });
        yield isTop
          ? { index: i, ref: f, captions: {}, error: `"${f}" is not inside a label folder` }
          : { index: i, ref: f, captions: { caption: label }, extra: { label } };
      }
    }
  }

  const result = await runShardPipeline(
    rows(),
    async (row) => {
      const skip = skipped.get(row.ref!);
      if (skip) return { ok: false, reason: skip, message: skipMessage(skip, row.ref!) };
      if (cap.kind === 'sidecar' && row.captions.caption === undefined) {
        return { ok: false, reason: 'no_caption', message: `${stemOf(row.ref!)}.txt is missing, empty${cap.regex !== undefined ? ' or has no match of --caption-regex' : ''}` };
      }
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
  return { ...result, examples };
}

function skipMessage(reason: string, file: string): string {
  if (reason === 'symlink') return `${file} is a symbolic link (not followed)`;
  if (reason === 'caption_without_image') return `${file} has no image beside it`;
  return `${file}: ${extname(file) || 'no extension'} is not an image type sail imports (${[...IMPORT_IMAGE_EXTENSIONS].join(' ')})`;
}
