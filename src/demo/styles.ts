// Extra drawing styles for the demo's TRAINING concepts: independently drawn, openly licensed emoji sets
// shipped as SVG in npm packages. The held-out test stays Twemoji only (see emoji.ts); these sets only add
// training images of the training concepts, in styles the test never sees.
//
// - Noto (`emoji-datasource-google`, Apache-2.0): 64x64 PNG, loaded in emoji.ts.
// - OpenMoji (`openmoji`, CC-BY-SA-4.0): `color/svg/<HEX-CODES>.svg`, named by code point.
// - Fluent Emoji flat (`@iconify-json/fluent-emoji-flat`, MIT): iconify JSON, `chars.json` maps code
//   points to icon names, `icons.json` holds the SVG bodies (32x32 viewBox unless an icon says otherwise).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { SailError } from '../util/errors.js';

/** The drawing styles the demo can train on; `noto` is the original training style. */
export const TRAIN_STYLES = ['noto', 'openmoji', 'fluent'] as const;
export type TrainStyle = (typeof TRAIN_STYLES)[number];

/** One training drawing of a concept: a style and a key that `renderDrawing` turns into an image. */
export interface EmojiDrawing {
  style: TrainStyle;
  /** PNG path (noto), SVG path (openmoji) or `fluent-emoji-flat:<icon name>` (fluent). */
  key: string;
}

/** Side of the rasterised drawings, the size of the emoji-datasource PNGs (train and test alike). */
export const DRAWING_SIZE = 64;

/** Hex code key that ignores variation selector 16 (packages spell it differently), upper case. */
export function codeKey(hex: string): string {
  return hex
    .toUpperCase()
    .split('-')
    .filter((cp) => cp !== 'FE0F')
    .join('-');
}

/** OpenMoji colour SVGs by code key. */
export function openmojiIndex(dir: string): Map<string, string> {
  const svgDir = join(dir, 'color', 'svg');
  if (!existsSync(svgDir)) throw new SailError('OpenMoji colour SVG folder missing (run npm ci)', { file: svgDir });
  const out = new Map<string, string>();
  for (const f of readdirSync(svgDir)) if (f.endsWith('.svg')) out.set(codeKey(f.slice(0, -4)), join(svgDir, f));
  return out;
}

interface IconifyIcon {
  body: string;
  width?: number;
  height?: number;
}
interface IconifySet {
  icons: Record<string, IconifyIcon>;
  aliases?: Record<string, { parent: string }>;
  width?: number;
  height?: number;
}

const FLUENT_PREFIX = 'fluent-emoji-flat:';
const fluentSets = new Map<string, IconifySet>();

function readJsonFile<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new SailError(`cannot read JSON: ${(err as Error).message}`, { file });
  }
}

function fluentSet(dir: string): IconifySet {
  let set = fluentSets.get(dir);
  if (!set) {
    set = readJsonFile<IconifySet>(join(dir, 'icons.json'));
    if (!set || typeof set.icons !== 'object') throw new SailError('not an iconify icon set', { file: join(dir, 'icons.json') });
    fluentSets.set(dir, set);
  }
  return set;
}

/** Fluent Emoji flat icon keys by code key (only icons that exist in icons.json). */
export function fluentIndex(dir: string): Map<string, string> {
  const chars = readJsonFile<Record<string, string>>(join(dir, 'chars.json'));
  const set = fluentSet(dir);
  const out = new Map<string, string>();
  for (const [hex, name] of Object.entries(chars)) {
    const icon = set.icons[name] ?? (set.aliases?.[name] ? set.icons[set.aliases[name].parent] : undefined);
    if (icon) out.set(codeKey(hex), `${FLUENT_PREFIX}${name}`);
  }
  return out;
}

/** A standalone SVG document for one Fluent icon (resolving one level of alias). */
export function fluentSvg(dir: string, key: string): string {
  const set = fluentSet(dir);
  const name = key.slice(FLUENT_PREFIX.length);
  const icon = set.icons[name] ?? (set.aliases?.[name] ? set.icons[set.aliases[name].parent] : undefined);
  if (!icon) throw new SailError(`icon ${name} not in the Fluent Emoji set`, { file: join(dir, 'icons.json') });
  const w = icon.width ?? set.width ?? 16;
  const h = icon.height ?? set.height ?? 16;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${icon.body}</svg>`;
}

/**
 * Rasterise an SVG (file path or document text) to DRAWING_SIZE x DRAWING_SIZE on white, RGB PNG. The
 * density is raised so librsvg draws at the target size directly instead of upscaling a tiny bitmap.
 */
export async function rasteriseSvg(svg: string | Buffer, label: string): Promise<Buffer> {
  try {
    return await sharp(svg, { density: 300 })
      .resize(DRAWING_SIZE, DRAWING_SIZE, { fit: 'contain', background: { r: 255, g: 255, b: 255, alpha: 0 } })
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .removeAlpha()
      .png()
      .toBuffer();
  } catch (err) {
    throw new SailError(`cannot rasterise SVG: ${(err as Error).message}`, { file: label });
  }
}
