// Walk a local image folder, embed every image, and build the search index.
import { promises as fs } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { SailError } from '../util/errors.js';
import { isInside, readInside } from '../data/confine.js';
import { IvfIndex, type IvfOptions } from './ivf.js';
import { parseSidecarCaption } from '../data/captions.js';

export const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.gif', '.avif', '.tif', '.tiff']);

/** Image files under `root` (recursive, symlinks not followed, sorted), at most `max`. */
export async function listImages(root: string, max = 1_000_000): Promise<string[]> {
  const out: string[] = [];
  let st;
  try {
    st = await fs.stat(root);
  } catch {
    throw new SailError('image folder not found', { file: root });
  }
  if (!st.isDirectory()) throw new SailError('not a folder', { file: root });
  const walk = async (dir: string): Promise<void> => {
    const entries = (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (out.length >= max) return;
      if (e.name.startsWith('.')) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && IMAGE_EXTENSIONS.has(e.name.slice(e.name.lastIndexOf('.')).toLowerCase())) out.push(p);
    }
  };
  await walk(root);
  return out;
}

/** The searchable image collection. */
export interface ImageIndex {
  /** Absolute paths, row i of the index. */
  files: string[];
  /** Realpath of each file when indexed (inside the folder's realpath): what the server sends. */
  realFiles: string[];
  /** Realpath of the folder. */
  realRoot: string;
  /** Paths relative to the folder, with '/' separators (shown to users). */
  names: string[];
  /** First line of each image's sidecar caption file (`photo.txt`), where there is one. */
  captions: (string | undefined)[];
  index: IvfIndex;
  /** Images that could not be embedded, with the reason. */
  skipped: { file: string; reason: string }[];
}

export interface BuildIndexOptions extends IvfOptions {
  /** Embeds image paths to L2-normalised aligned vectors [n, dim]. */
  embed: (files: string[]) => Promise<Float32Array>;
  dim: number;
  batch?: number;
  maxImages?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Embed every image of `root` in batches and build the IVF index (exact below the threshold). A batch that
 * fails is retried image by image so one broken file is skipped (and reported) instead of failing the run.
 */
export async function buildImageIndex(root: string, opts: BuildIndexOptions): Promise<ImageIndex> {
  const listed = await listImages(root, opts.maxImages);
  const batch = opts.batch ?? 16;
  const kept: string[] = [];
  const vecs: Float32Array[] = [];
  const skipped: ImageIndex['skipped'] = [];
  // Index realpaths: a file that resolves outside the folder (through a symlinked path) is never indexed.
  const realRoot = await fs.realpath(root);
  const realOf = new Map<string, string>();
  for (const f of listed) {
    const real = await fs.realpath(f).catch(() => undefined);
    if (real && isInside(realRoot, real)) realOf.set(f, real);
    else skipped.push({ file: f, reason: real ? 'resolves outside the image folder' : 'vanished while listing' });
  }
  const all = listed.filter((f) => realOf.has(f));
  for (let i = 0; i < all.length; i += batch) {
    const chunk = all.slice(i, i + batch);
    try {
      vecs.push(await opts.embed(chunk));
      kept.push(...chunk);
    } catch {
      for (const f of chunk) {
        try {
          vecs.push(await opts.embed([f]));
          kept.push(f);
        } catch (e) {
          skipped.push({ file: f, reason: (e as Error).message });
        }
      }
    }
    opts.onProgress?.(Math.min(i + batch, all.length), all.length);
  }
  const data = new Float32Array(kept.length * opts.dim);
  let off = 0;
  for (const v of vecs) {
    data.set(v, off);
    off += v.length;
  }
  const names = kept.map((f) => relative(root, f).split(sep).join('/'));
  const captions = await Promise.all(kept.map((f) => sidecarCaption(realRoot, f, root)));
  return { files: kept, realFiles: kept.map((f) => realOf.get(f)!), realRoot, names, captions, index: await IvfIndex.build(data, opts.dim, opts), skipped };
}

/** Longest caption shown on the page, and the most of a caption file read. */
const MAX_SHOWN_CAPTION = 300;
const MAX_CAPTION_FILE = 64 * 1024;

/**
 * The first line of `photo.txt` beside `photo.jpg`, if there is one (shown on the page under the image).
 * Read confined to the image folder like every file the server touches.
 */
async function sidecarCaption(realRoot: string, file: string, root: string): Promise<string | undefined> {
  const txt = file.slice(0, file.lastIndexOf('.')) + '.txt';
  const got = await readInside(realRoot, txt, relative(root, txt), MAX_CAPTION_FILE);
  const c = got.ok ? parseSidecarCaption(got.body.toString('utf8'), { line: 'first' }) : undefined;
  return c && c.length > MAX_SHOWN_CAPTION ? c.slice(0, MAX_SHOWN_CAPTION - 1) + '…' : c;
}
