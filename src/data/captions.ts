// Caption files beside images (`photo.txt` for `photo.jpg`): which part of the file is the caption.
import { SailError } from '../util/errors.js';

/** How a sidecar caption file becomes one caption. */
export interface SidecarCaptionOptions {
  /**
   * 'all' (default): the whole file, whitespace runs (newlines included) collapsed to single spaces.
   * 'first': the first non-empty line only (files with the caption on line 1 and translations or notes
   * below it, like Tux Paint stamps).
   */
  line?: 'all' | 'first';
  /**
   * A regular expression (JavaScript syntax, multiline: `^`/`$` match at line ends). The caption is its
   * first capture group, or the whole match without groups, from the first match in the file. Applied
   * instead of `line`. Example: `^en\.utf8=(.+)$` picks a `key=value` line.
   */
  regex?: string;
}

/** Caption files larger than this are read only up to here. */
export const MAX_CAPTION_CHARS = 64 * 1024;

/** Compile a `--caption-regex`, with one clear error when it is not a valid expression. */
export function compileCaptionRegex(source: string): RegExp {
  try {
    return new RegExp(source, 'mu');
  } catch (err) {
    throw new SailError(`--caption-regex is not a valid regular expression: ${(err as Error).message}`);
  }
}

/** The caption in a sidecar file's text, or undefined when nothing is left (empty file, regex without match). */
export function parseSidecarCaption(text: string, opts: SidecarCaptionOptions = {}, regex?: RegExp): string | undefined {
  const t = text.slice(0, MAX_CAPTION_CHARS).replace(/^\uFEFF/, '');
  let caption: string | undefined;
  if (opts.regex !== undefined) {
    const m = (regex ?? compileCaptionRegex(opts.regex)).exec(t);
    caption = m ? (m.length > 1 ? m[1] : m[0]) : undefined;
  } else if (opts.line === 'first') caption = t.split(/\r?\n/).find((l) => l.trim() !== '');
  else caption = t;
  const clean = caption?.replace(/\s+/g, ' ').trim();
  return clean ? clean : undefined;
}
