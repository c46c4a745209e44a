// Tiny exported models and an image folder whose embeddings are planted: colour images <-> colour words.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { GraphBuilder } from '../../src/onnx/graph.js';
import { exportModel } from '../../src/model/export.js';
import { paramSpecs, type HeadConfig, type ParamSet } from '../../src/head/config.js';
import type { PreprocessConfig } from '../../src/encoders/image-spec.js';

export const COLORS: Record<string, [number, number, number]> = {
  red: [255, 0, 0],
  green: [0, 255, 0],
  blue: [0, 0, 255],
  yellow: [255, 255, 0],
  cyan: [0, 255, 255],
  magenta: [255, 0, 255],
  orange: [255, 128, 0],
  purple: [128, 0, 255],
};

/** Linear head, identity map, LayerNorm 1/0: a colour's mean RGB and its word vector land on the same point. */
export function identityHead(): { config: HeadConfig; params: ParamSet } {
  const config: HeadConfig = { type: 'linear', widthFactor: 1, visionDim: 3, textDim: 3, targetDim: 3, logitScaleInit: 10, logitBiasInit: -5 };
  const params = paramSpecs(config).map(({ name, shape, kind }) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (kind === 'ln_weight') data.fill(1);
    if (kind === 'weight') for (let i = 0; i < 3; i++) data[i * 3 + i] = 1;
    if (name === 'logit_scale') data[0] = Math.log(10);
    if (name === 'logit_bias') data[0] = -5;
    return { name, shape, data };
  });
  return { config, params };
}

/** Vocabulary: 0 = pad, 1 = unknown (both zero vectors), then one word per colour. */
export function vocab(): Record<string, number> {
  const v: Record<string, number> = { '[pad]': 0, '[unk]': 1 };
  Object.keys(COLORS).forEach((c, i) => (v[c] = i + 2));
  return v;
}

function visionBackbone(): Uint8Array {
  const g = new GraphBuilder('mean_rgb');
  const px = g.input('pixel_values', 'float32', ['N', 3, 8, 8]);
  g.output(g.op('Flatten', [g.op('GlobalAveragePool', [px])], { axis: 1 }), 'pooled', 'float32', ['N', 3]);
  return g.toBytes();
}

function textBackbone(): Uint8Array {
  const v = vocab();
  const table = new Float32Array(Object.keys(v).length * 3);
  for (const [word, rgb] of Object.entries(COLORS)) for (let c = 0; c < 3; c++) table[v[word] * 3 + c] = rgb[c] / 255;
  const g = new GraphBuilder('bag_of_words');
  const ids = g.input('input_ids', 'int64', ['N', 'L']);
  const emb = g.op('Gather', [g.initializer('table', table, [Object.keys(v).length, 3]), ids], { axis: 0 });
  g.output(g.op('ReduceSum', [emb, g.constI64([1])], { keepdims: 0 }), 'pooled', 'float32', ['N', 3]);
  return g.toBytes();
}

/** Ids recorded in sail_model.json for the test-built backbones (not registry names). */
export const TINY_BACKBONE_IDS = { imageBackboneId: 'test-mean-rgb', textBackboneId: 'test-bag-of-words' };

export const PREPROCESS: PreprocessConfig = { resize: { height: 8, width: 8 }, kernel: 'cubic', rescale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1], layout: 'nchw' };

/** Export the tiny model into `dir` (with the browser text model unless `withText` is false). */
export async function exportTiny(dir: string, withText = true): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'vocab.src.json'), JSON.stringify(vocab()));
  await exportModel(identityHead(), {
    outDir: dir,
    ...TINY_BACKBONE_IDS,
    vision: { onnx: visionBackbone(), pooling: 'none', preprocess: PREPROCESS },
    text: withText
      ? { onnx: textBackbone(), pooling: 'none', tokenizer: { type: 'word-vocab', vocabFile: join(dir, 'vocab.src.json'), lowercase: true, maxLength: 8, padId: 0, unkId: 1, inputName: 'input_ids' } }
      : undefined,
  });
}

/** One solid-colour PNG per colour (some in a subfolder) plus a broken file that must be skipped. */
export async function colourFolder(dir: string): Promise<void> {
  mkdirSync(join(dir, 'more'), { recursive: true });
  let i = 0;
  for (const [name, [r, g, b]] of Object.entries(COLORS)) {
    const file = join(dir, i++ % 2 ? 'more' : '.', `${name}.png`);
    await sharp({ create: { width: 12, height: 10, channels: 3, background: { r, g, b } } }).png().toFile(file);
  }
  writeFileSync(join(dir, 'broken.png'), 'this is not a png');
}
