// `sail segment IMAGE --classes a,b,c --model CKPT --out overlay.png` and `sail segment --eval DIR`.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { lazyCountBar } from './progress-bar.js';
import { SailError } from '../util/errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { createModel } from '../model/model.js';
import { labelPng, overlayPng, parseClasses, segmentImage, SLIDE_DEFAULTS, type SlideOptions } from '../model/segment.js';
import { parseNumber } from './flags.js';
import { evaluateSegmentation } from '../model/seg-eval.js';

interface SegmentFlags {
  model: string;
  visionModel: string;
  textModel: string;
  classes?: string;
  classesFile?: string;
  templates?: string;
  out?: string;
  labelsOut?: string;
  eval?: string;
  window: string;
  stride: string;
  shortSide: string;
  json?: boolean;
}

/** Sliding-window settings from the flags; `--window 0` turns windows off (one pass over the whole image). */
function slideFlags(f: SegmentFlags): SlideOptions | undefined {
  const window = parseNumber(f.window, '--window', { int: true, min: 0 });
  if (window === 0) return undefined;
  return {
    window,
    stride: parseNumber(f.stride, '--stride', { int: true, positive: true }),
    shortSide: parseNumber(f.shortSide, '--short-side', { int: true, min: 0 }),
    maxLongSide: SLIDE_DEFAULTS.maxLongSide,
  };
}

/** Register `sail segment`. */
export function register(program: Command): void {
  program
    .command('segment')
    .description('open-vocabulary segmentation: label every pixel with the closest class name (or --eval a folder for mIoU)')
    .argument('[image]', 'image to segment')
    .requiredOption('--model <checkpoint>', 'head checkpoint (folder or .safetensors)')
    .requiredOption('--vision-model <name|dir>', 'image backbone with per-patch features (e.g. a DINOv2 model folder)')
    .requiredOption('--text-model <name|dir>', 'text backbone')
    .option('--classes <a,b,c>', 'class names, comma-separated')
    .option('--classes-file <file>', 'class names, one per line (comma-separated synonyms allowed)')
    .option('--templates <file>', 'prompt templates, one per line with {} for the class (default "a photo of a {}.")')
    .option('--out <png>', 'coloured overlay PNG', 'overlay.png')
    .option('--labels-out <png>', 'also write the label map as a class-index PNG')
    .option('--eval <dir>', 'evaluate mIoU on DIR/images, DIR/masks, DIR/classes.txt instead')
    .option('--window <px>', 'sliding window side (the original: 448); 0 = one pass over the whole image', String(SLIDE_DEFAULTS.window))
    .option('--stride <px>', 'sliding window stride (the original: 224); overlapping window scores are averaged', String(SLIDE_DEFAULTS.stride))
    .option('--short-side <px>', 'resize so the short side is this long before sliding (the original: 448, long side at most 2048); 0 keeps the size', String(SLIDE_DEFAULTS.shortSide))
    .option('--json', 'print results as JSON')
    .action(async (image: string | undefined, flags: SegmentFlags) => {
      const slide = slideFlags(flags);
      const templates = flags.templates ? readSegmentTemplates(flags.templates) : undefined;
      const model = await createModel({ head: flags.model, visionModel: flags.visionModel, textModel: flags.textModel });
      try {
        if (flags.eval) {
          const bar = lazyCountBar('segmenting {bar} {value}/{total} images', flags.json);
          const r = await evaluateSegmentation(model, flags.eval, {
            templates,
            slide,
            onProgress: (d, t) => bar.update(d, t),
          });
          bar.stop();
          if (flags.json) console.log(JSON.stringify(r));
          else {
            console.log(`mIoU ${(100 * r.miou).toFixed(2)} over ${r.images} images`);
            r.classes.forEach((c, i) => console.log(`  ${c}: ${r.iou[i] === null ? '-' : (100 * r.iou[i]!).toFixed(2)}`));
          }
          return;
        }
        if (!image) throw new SailError('give an IMAGE to segment (or --eval DIR)');
        const classes = flags.classesFile ? parseClasses(readFileSync(flags.classesFile, 'utf8')) : (flags.classes ?? '').split(',').map((c) => [c.trim()]).filter((c) => c[0]);
        if (classes.length < 2) throw new SailError('give at least two classes (--classes a,b or --classes-file)');
        const map = await segmentImage(model, image, classes, { templates, slide });
        await writeFileAtomic(flags.out ?? 'overlay.png', await overlayPng(image, map));
        if (flags.labelsOut) await writeFileAtomic(flags.labelsOut, await labelPng(map));
        const counts = classes.map((_, i) => map.labels.filter((l) => l === i).length / map.labels.length);
        if (flags.json) console.log(JSON.stringify({ out: flags.out, width: map.width, height: map.height, classes: classes.map((c) => c[0]), fractions: counts }));
        else {
          console.log(`wrote ${flags.out} (${map.width}x${map.height})`);
          classes.forEach((c, i) => console.log(`  ${c[0]}: ${(100 * counts[i]).toFixed(1)}% of pixels`));
        }
      } finally {
        await model.dispose();
      }
    });
}

/** Prompt templates, one per line; each must hold `{}` where the class name goes, or every class would get the same prompt. */
function readSegmentTemplates(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SailError(`cannot read templates (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { file });
  }
  const templates: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    if (!line.includes('{}')) throw new SailError(`template ${JSON.stringify(line)} has no {} placeholder for the class name`, { file, row: i + 1 });
    templates.push(line);
  });
  if (!templates.length) throw new SailError('no templates in the file', { file });
  return templates;
}
