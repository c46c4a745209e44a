// mIoU of open-vocabulary segmentation on a simple folder layout: images/, masks/ (class-index PNGs), classes.txt.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import sharp from 'sharp';
import { SailError } from '../util/errors.js';
import type { SailModel } from './model.js';
import { parseClasses, segmentImage, type SlideOptions } from './segment.js';

/** Accumulate a [C, C] confusion matrix (rows = ground truth, columns = prediction); `ignore` pixels skipped. */
export function accumulateConfusion(conf: Float64Array, pred: ArrayLike<number>, gt: ArrayLike<number>, C: number, ignore = 255): Float64Array {
  if (pred.length !== gt.length) throw new SailError(`prediction has ${pred.length} pixels, mask has ${gt.length}`);
  for (let i = 0; i < gt.length; i++) {
    const g = gt[i];
    if (g === ignore) continue;
    if (g >= C) throw new SailError(`mask value ${g} is not a class index (< ${C}) nor the ignore value ${ignore}`);
    conf[g * C + pred[i]]++;
  }
  return conf;
}

/**
 * Per-class IoU = TP / (TP + FP + FN) from a confusion matrix, null for classes absent from both prediction
 * and ground truth; mIoU is the mean over non-null classes (mmseg's nanmean).
 */
export function meanIoU(conf: Float64Array, C: number): { miou: number; iou: (number | null)[] } {
  const iou: (number | null)[] = [];
  for (let c = 0; c < C; c++) {
    let row = 0;
    let col = 0;
    for (let k = 0; k < C; k++) {
      row += conf[c * C + k];
      col += conf[k * C + c];
    }
    const tp = conf[c * C + c];
    const union = row + col - tp;
    iou.push(union > 0 ? tp / union : null);
  }
  const valid = iou.filter((v): v is number => v !== null);
  return { miou: valid.length ? valid.reduce((a, b) => a + b, 0) / valid.length : NaN, iou };
}

/** Read a class-index mask PNG (first channel). */
export async function readMask(file: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  try {
    const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    const out = new Uint8Array(info.width * info.height);
    for (let i = 0; i < out.length; i++) out[i] = data[i * info.channels];
    return { data: out, width: info.width, height: info.height };
  } catch (e) {
    throw new SailError(`cannot read mask (${(e as Error).message})`, { file });
  }
}

export interface SegEvalResult {
  miou: number;
  iou: (number | null)[];
  classes: string[];
  images: number;
}

/**
 * Evaluate on DIR/images/<stem>.<ext> with DIR/masks/<stem>.png (pixel = class index, 255 = ignore) and
 * DIR/classes.txt (one class per line, optional comma-separated synonyms). Predictions are made at the
 * mask's size.
 */
export async function evaluateSegmentation(model: SailModel, dir: string, opts: { templates?: string[]; ignoreIndex?: number; slide?: Partial<SlideOptions>; onProgress?: (done: number, total: number) => void } = {}): Promise<SegEvalResult> {
  const classesFile = join(dir, 'classes.txt');
  if (!existsSync(classesFile)) throw new SailError('classes.txt not found', { file: classesFile });
  const classes = parseClasses(readFileSync(classesFile, 'utf8'));
  if (!classes.length) throw new SailError('no classes', { file: classesFile });
  const imagesDir = join(dir, 'images');
  if (!existsSync(imagesDir)) throw new SailError('images/ folder not found', { file: imagesDir });
  const images = readdirSync(imagesDir).filter((f) => !f.startsWith('.')).sort();
  const C = classes.length;
  const conf = new Float64Array(C * C);
  for (const [i, f] of images.entries()) {
    const maskFile = join(dir, 'masks', basename(f, extname(f)) + '.png');
    if (!existsSync(maskFile)) throw new SailError(`no mask for image ${f}`, { file: maskFile });
    const mask = await readMask(maskFile);
    const pred = await segmentImage(model, join(imagesDir, f), classes, { templates: opts.templates, slide: opts.slide, size: { width: mask.width, height: mask.height } });
    try {
      accumulateConfusion(conf, pred.labels, mask.data, C, opts.ignoreIndex ?? 255);
    } catch (e) {
      throw new SailError((e as Error).message, { file: maskFile });
    }
    opts.onProgress?.(i + 1, images.length);
  }
  const { miou, iou } = meanIoU(conf, C);
  return { miou, iou, classes: classes.map((c) => c[0]), images: images.length };
}
