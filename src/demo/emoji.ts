// The embedded demo data set: real emoji images shipped in npm packages, captioned with CLDR annotations.
//
// Training pairs are Noto emoji (emoji-datasource-google) with captions from emojibase-data; the
// held-out test set is the SAME kind of concept drawn by other artists (Twemoji, emoji-datasource-twitter),
// restricted to concepts never seen in training. That gives an honest zero-shot test: new concepts AND a
// new drawing style.
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { SailError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { codeKey, fluentIndex, fluentSvg, openmojiIndex, rasteriseSvg, type EmojiDrawing, type TrainStyle } from './styles.js';

/** One emoji concept with both renderings and its captions. */
export interface EmojiItem {
  /** Unicode code points as in emoji-datasource, e.g. '1F600' or '1F1EA-1F1EC'. */
  id: string;
  /** CLDR short name from emojibase-data, e.g. 'grinning face' or 'flag: Egypt'. */
  label: string;
  /** CLDR keywords from emojibase-data. */
  tags: string[];
  /** One of the 10 emoji-datasource categories, e.g. 'Smileys & Emotion'. */
  category: string;
  /** One of the ~99 sub-categories, e.g. 'face-smiling'. */
  subcategory: string;
  /** Main caption: `an emoji of <label>`. */
  caption: string;
  /** Extra positive caption built from the keywords: `<tag1>, <tag2>, ...` (the label if there are none). */
  extraCaption: string;
  /** Absolute path of the 64x64 RGBA Noto PNG (training style). */
  googleImage: string;
  /** Absolute path of the 64x64 RGBA Twemoji PNG (held-out style). */
  twitterImage: string;
  /** Training drawings of this concept: Noto first, then OpenMoji and Fluent where those sets have it. */
  drawings: EmojiDrawing[];
}

/** The deterministic train / held-out split of the emoji concepts. */
export interface EmojiDataset {
  /** Concepts trained on (Google images). */
  train: EmojiItem[];
  /** Held-out concepts (evaluated on Twitter images); no concept overlaps with `train`. */
  test: EmojiItem[];
  /** All category names, sorted (the zero-shot class list). */
  categories: string[];
  /** All sub-category names, sorted. */
  subcategories: string[];
  /** How the split was made, for the results file. */
  split: { seed: number; testFraction: number; limit: number | null; validation: number | null; total: number; packages: Record<string, string> };
}

export interface EmojiDatasetOptions {
  /** Seed of the concept permutation (default 42). */
  seed?: number;
  /** Fraction of concepts held out for testing (default 0.2). */
  testFraction?: number;
  /** Use only this many concepts (taken from the seeded permutation before splitting); for tests. */
  limit?: number;
  /**
   * Tuning mode: carve this many concepts out of the TRAINING concepts (seeded, like the split) and hold
   * them out instead of the test concepts, which are then not used at all. Settings are chosen this way,
   * never on the test set.
   */
  validation?: number;
}

interface DatasourceEntry {
  unified: string;
  image: string;
  short_name: string;
  category: string;
  subcategory: string;
  sort_order: number;
  has_img_google?: boolean;
  has_img_twitter?: boolean;
}

interface EmojibaseEntry {
  label: string;
  hexcode: string;
  tags?: string[];
}

const require = createRequire(import.meta.url);

/** Folder of an installed npm package (resolved from this module, so it works from src/ and dist/). */
export function packageDir(name: string): string {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    throw new SailError(`npm package ${name} is not installed (run npm ci)`, { file: name });
  }
}

function readJson<T>(file: string): T {
  if (!existsSync(file)) throw new SailError('file not found', { file });
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new SailError(`invalid JSON: ${(err as Error).message}`, { file });
  }
}

function packageVersion(dir: string): string {
  return String(readJson<{ version?: string }>(join(dir, 'package.json')).version ?? '?');
}

/**
 * Load every base emoji (no skin-tone variants) that has a Google and a Twitter image and an English
 * CLDR annotation, in emoji-datasource sort order.
 */
export function loadEmojiItems(): EmojiItem[] {
  const googleDir = packageDir('emoji-datasource-google');
  const twitterDir = packageDir('emoji-datasource-twitter');
  const baseDir = packageDir('emojibase-data');
  const google = readJson<DatasourceEntry[]>(join(googleDir, 'emoji.json'));
  const twitter = readJson<DatasourceEntry[]>(join(twitterDir, 'emoji.json'));
  const annotations = readJson<EmojibaseEntry[]>(join(baseDir, 'en', 'data.json'));
  if (!Array.isArray(google) || !Array.isArray(twitter) || !Array.isArray(annotations)) {
    throw new SailError('expected a JSON array of emoji', { file: join(googleDir, 'emoji.json') });
  }
  const byCode = new Map<string, EmojibaseEntry>();
  for (const a of annotations) if (typeof a.hexcode === 'string') byCode.set(codeKey(a.hexcode), a);
  const openmoji = openmojiIndex(packageDir('openmoji'));
  const fluent = fluentIndex(packageDir('@iconify-json/fluent-emoji-flat'));
  const twitterByCode = new Map<string, DatasourceEntry>();
  for (const t of twitter) if (t.has_img_twitter) twitterByCode.set(t.unified, t);

  const items: EmojiItem[] = [];
  const sorted = [...google].sort((a, b) => a.sort_order - b.sort_order);
  for (const [row, g] of sorted.entries()) {
    if (typeof g.unified !== 'string' || typeof g.image !== 'string' || typeof g.category !== 'string') {
      throw new SailError('emoji entry lacks unified/image/category', { file: join(googleDir, 'emoji.json'), row });
    }
    const t = twitterByCode.get(g.unified);
    const ann = byCode.get(codeKey(g.unified));
    if (!g.has_img_google || !t || !ann) continue;
    const googleImage = join(googleDir, 'img', 'google', '64', g.image);
    const twitterImage = join(twitterDir, 'img', 'twitter', '64', t.image);
    if (!existsSync(googleImage) || !existsSync(twitterImage)) continue;
    const tags = (ann.tags ?? []).filter((x) => typeof x === 'string' && x.length > 0);
    const drawings: EmojiDrawing[] = [{ style: 'noto', key: googleImage }];
    const om = openmoji.get(codeKey(g.unified));
    if (om) drawings.push({ style: 'openmoji', key: om });
    const fl = fluent.get(codeKey(g.unified));
    if (fl) drawings.push({ style: 'fluent', key: fl });
    items.push({
      id: g.unified,
      label: ann.label,
      tags,
      category: g.category,
      subcategory: g.subcategory,
      caption: `an emoji of ${ann.label}`,
      extraCaption: tags.length ? tags.join(', ') : ann.label,
      googleImage,
      twitterImage,
      drawings,
    });
  }
  if (items.length === 0) throw new SailError('no emoji with images and captions found', { file: googleDir });
  return items;
}

/**
 * The demo split: a seeded permutation of all concepts; the first `limit` (if given) are kept; the first
 * round(testFraction * n) of those are held out, the rest are trained on. Both lists keep sort order.
 */
export function loadEmojiDataset(opts: EmojiDatasetOptions = {}): EmojiDataset {
  const seed = opts.seed ?? 42;
  const testFraction = opts.testFraction ?? 0.2;
  if (!(testFraction > 0 && testFraction < 1)) throw new SailError(`testFraction must be in (0, 1), got ${testFraction}`);
  if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit >= 10)) {
    throw new SailError(`limit must be an integer >= 10, got ${opts.limit}`);
  }
  const all = loadEmojiItems();
  const perm = new Rng(seed).permutation(all.length);
  const n = Math.min(opts.limit ?? all.length, all.length);
  const chosen = Array.from(perm.subarray(0, n));
  const nTest = Math.max(1, Math.round(testFraction * n));
  let testIdx = chosen.slice(0, nTest).sort((a, b) => a - b);
  let trainIdx = chosen.slice(nTest).sort((a, b) => a - b);
  if (opts.validation !== undefined) {
    const v = opts.validation;
    if (!(Number.isInteger(v) && v >= 1 && v < trainIdx.length)) throw new SailError(`validation must be an integer in [1, ${trainIdx.length - 1}], got ${v}`);
    // A second seeded permutation of the training concepts only: the test concepts never enter tuning.
    const order = Array.from(new Rng(seed + 1).permutation(trainIdx.length), (i) => trainIdx[i]);
    testIdx = order.slice(0, v).sort((a, b) => a - b);
    trainIdx = order.slice(v).sort((a, b) => a - b);
  }
  const categories = [...new Set(all.map((e) => e.category))].sort();
  const subcategories = [...new Set(all.map((e) => e.subcategory))].sort();
  return {
    train: trainIdx.map((i) => all[i]),
    test: testIdx.map((i) => all[i]),
    categories,
    subcategories,
    split: {
      seed,
      testFraction,
      limit: opts.limit ?? null,
      validation: opts.validation ?? null,
      total: all.length,
      packages: {
        'emoji-datasource-google': packageVersion(packageDir('emoji-datasource-google')),
        'emoji-datasource-twitter': packageVersion(packageDir('emoji-datasource-twitter')),
        'emojibase-data': packageVersion(packageDir('emojibase-data')),
        openmoji: packageVersion(packageDir('openmoji')),
        '@iconify-json/fluent-emoji-flat': packageVersion(packageDir('@iconify-json/fluent-emoji-flat')),
      },
    },
  };
}

/** A class name as prompt text: 'Smileys & Emotion' -> 'smileys & emotion', 'face-smiling' -> 'face smiling'. */
export function className(name: string): string {
  return name.toLowerCase().replace(/-/g, ' ');
}

/** Prompt templates for zero-shot classification of emoji categories and sub-categories. */
export const EMOJI_TEMPLATES: readonly string[] = ['an emoji of {}.', 'an emoji of a {}.', 'a {} emoji.', 'an icon of {}.', 'a cartoon of {}.'];

/**
 * Composite a transparent emoji PNG onto white, because the backbones expect opaque RGB and transparent
 * pixels otherwise decode as black. Returns an encoded PNG (RGB, same size).
 */
export async function renderOnWhite(path: string): Promise<Buffer> {
  try {
    return await sharp(path).flatten({ background: { r: 255, g: 255, b: 255 } }).removeAlpha().png().toBuffer();
  } catch (err) {
    throw new SailError(`cannot decode image: ${(err as Error).message}`, { file: path });
  }
}

/** Render one training drawing as an opaque RGB PNG of the emoji-datasource size (64x64). */
export async function renderDrawing(d: EmojiDrawing): Promise<Buffer> {
  if (d.style === 'noto') return renderOnWhite(d.key);
  if (d.style === 'openmoji') return rasteriseSvg(d.key, d.key);
  const dir = packageDir('@iconify-json/fluent-emoji-flat');
  return rasteriseSvg(Buffer.from(fluentSvg(dir, d.key)), d.key);
}

/** The training drawings of `items` in the given styles, concept by concept, with the item each depicts. */
export function trainingDrawings(items: EmojiItem[], styles: readonly TrainStyle[]): { item: EmojiItem; drawing: EmojiDrawing }[] {
  return items.flatMap((item) => item.drawings.filter((d) => styles.includes(d.style)).map((drawing) => ({ item, drawing })));
}
