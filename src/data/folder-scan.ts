// Walk an import folder and sort every file into images to import and files skipped with a reason, so
// that nothing is dropped without being counted.
import { promises as fs } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { SailError } from '../util/errors.js';

/** Extensions imported as images (SVG is rasterised, see ImageOptions.svg). */
export const IMPORT_IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.webp', '.gif', '.tif', '.tiff', '.avif', '.svg']);

/** Why a file of the folder is not imported (recorded as the row's failure reason). */
export type SkipReason =
  /** An extension that is neither an image nor a caption file of an image. */
  | 'unsupported_type'
  /** A caption file (sidecar mode) with no image of the same stem beside it. */
  | 'caption_without_image'
  /** A symbolic link to an image or folder: never followed (it could leave the folder or loop). */
  | 'symlink';

/** One file found in the folder, relative path with '/' separators. */
export interface ScannedFile {
  file: string;
  /** Undefined for images to import. */
  skip?: SkipReason;
}

/** `a/b.c.png` -> `a/b.c` */
export function stemOf(rel: string): string {
  return rel.slice(0, rel.length - extname(rel).length);
}

/**
 * Every non-hidden file under `root` in code-point order (stable row numbers on every machine). Images
 * come back plain; caption files beside an image (`captionExt`, sidecar mode) are left out since they
 * belong to their image; anything else comes back with the reason it is skipped.
 */
export async function scanImportFolder(root: string, captionExt?: string): Promise<ScannedFile[]> {
  const found: { file: string; symlink: boolean }[] = [];
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
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() || e.isSymbolicLink()) found.push({ file: relative(root, p).split(sep).join('/'), symlink: e.isSymbolicLink() });
    }
  }
  await walk(root);
  found.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  const imageStems = new Set(found.filter((f) => !f.symlink && isImage(f.file)).map((f) => stemOf(f.file)));
  const out: ScannedFile[] = [];
  for (const f of found) {
    const ext = extname(f.file).toLowerCase();
    const isCaption = captionExt !== undefined && ext === captionExt;
    // A caption file belongs to its image even when it is a link: the import reads it confined to the folder.
    if (isCaption && imageStems.has(stemOf(f.file))) continue;
    if (f.symlink) out.push({ file: f.file, skip: 'symlink' });
    else if (isImage(f.file)) out.push({ file: f.file });
    else if (isCaption) out.push({ file: f.file, skip: 'caption_without_image' });
    else out.push({ file: f.file, skip: 'unsupported_type' });
  }
  return out;
}

function isImage(file: string): boolean {
  return IMPORT_IMAGE_EXTENSIONS.has(extname(file).toLowerCase());
}
