// One definition of image preprocessing and pooling: an export fused from a registry backbone embeds real
// PNG images exactly as the library model with the same backbone and head does (run from Node).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadMobileNetV2Nsfwjs } from '../../src/encoders/npm/mobilenet.js';
import { loadOnnxImageEncoder } from '../../src/encoders/image-onnx.js';
import { preprocessBatch } from '../../src/encoders/preprocess.js';
import { decodeBatch } from '../../src/encoders/npm/image-preprocess.js';
import { MOBILENET_PREPROCESS } from '../../src/encoders/image-spec.js';
import { exportModel } from '../../src/model/export.js';
import { loadExportedModel } from '../../src/model/exported.js';
import { createModel } from '../../src/model/model.js';
import type { HeadConfig } from '../../src/head/config.js';
import type { ImageEncoder } from '../../src/encoders/types.js';
import { repoRoot, tempDir } from '../helpers/paths.js';
import { MAX_POS, writeTextModel, writeVisionModel } from '../encoders/fixtures.js';
import { loadOnnxTextEncoder } from '../../src/encoders/text-onnx.js';
import { loadTokenizer } from '../../src/encoders/tokenizer.js';
import { createSession, ort } from '../../src/onnx/session.js';
import { randomHead } from './helpers.js';

const TOL = 1e-4;

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** 24 real Twemoji PNGs (64x64, transparent backgrounds: upscaled) plus two non-square PNGs made from them (one large: downscaled). */
async function realPngs(): Promise<(string | Buffer)[]> {
  const dir = join(repoRoot(), 'node_modules', 'emoji-datasource-twitter', 'img', 'twitter', '64');
  const names = readdirSync(dir).filter((f) => f.endsWith('.png')).sort();
  const step = Math.floor(names.length / 24);
  const files: (string | Buffer)[] = Array.from({ length: 24 }, (_, i) => join(dir, names[i * step]));
  files.push(await sharp(files[3] as string).resize(90, 40, { fit: 'fill' }).png().toBuffer());
  files.push(await sharp(files[7] as string).resize(300, 520, { fit: 'fill' }).png().toBuffer());
  return files;
}

/** Library embeddings (createModel) vs the fused export of the same backbone and head, both L2-normalised. */
async function libraryVsExport(enc: ImageEncoder, backboneOnnx: string, exportVision: { output?: string; pooling: 'none' | 'concat' }): Promise<number> {
  const cfg: HeadConfig = { type: 'star', widthFactor: 2, visionDim: enc.dim, textDim: 8, targetDim: 16, logitScaleInit: 10, logitBiasInit: -10 };
  const head = { config: cfg, params: randomHead(cfg, 5) };
  const images = await realPngs();
  const model = await createModel({ visionModel: enc, head });
  const lib = await model.encodeImage(images);
  // the images must give different embeddings, or agreement would prove nothing
  assert.ok(maxAbsDiff(lib.subarray(0, 16), lib.subarray(16, 32)) > 1e-2);
  const dir = tempDir();
  const manifest = await exportModel(head, { outDir: dir, imageBackboneId: 'test-image', textBackboneId: 'test-text', vision: { onnx: backboneOnnx, ...exportVision, preprocess: enc.preprocess, patches: false } });
  assert.deepEqual(manifest.image.model?.preprocess, enc.preprocess);
  const exported = loadExportedModel(dir);
  try {
    return maxAbsDiff(await exported.encodeImages(images, 5), lib);
  } finally {
    await exported.dispose();
    await model.dispose();
  }
}

test('preprocessing: the spec of mobilenetv2-nsfwjs gives the tensor its encoder decodes, bit for bit', async () => {
  const images = await realPngs();
  const viaSpec = await preprocessBatch(images, MOBILENET_PREPROCESS);
  assert.deepEqual(viaSpec.dims, [images.length, 224, 224, 3]);
  const viaEncoder = await decodeBatch(images, 224, 'crop');
  assert.equal(maxAbsDiff(viaSpec.data, viaEncoder), 0);
});

test('fused export of mobilenetv2-nsfwjs matches createModel on real PNGs (max |diff| <= 1e-4)', async (t) => {
  const enc = await loadMobileNetV2Nsfwjs({ cacheDir: tempDir('sail-npm-backbones-'), threads: 1 });
  const diff = await libraryVsExport(enc, enc.modelPath, { output: 'features', pooling: 'none' });
  t.diagnostic(`max |diff| ${diff.toExponential(2)}`);
  assert.ok(diff <= TOL, `max |diff| ${diff}`);
});

test('fused export of a DINOv2-shaped backbone (concat pooling) matches createModel on real PNGs (max |diff| <= 1e-4)', async (t) => {
  const folder = tempDir();
  writeVisionModel(folder, 6);
  const enc = await loadOnnxImageEncoder(folder, { recipe: 'concat' });
  const diff = await libraryVsExport(enc, join(folder, 'onnx', 'model.onnx'), { pooling: 'concat' });
  t.diagnostic(`max |diff| ${diff.toExponential(2)}`);
  assert.ok(diff <= TOL, `max |diff| ${diff}`);
});

for (const pooling of ['mean', 'last', 'cls'] as const) {
  test(`fused text export with ${pooling} pooling matches createModel on padded batches (max |diff| <= 1e-4)`, async (t) => {
    const folder = tempDir();
    writeTextModel(folder, 5);
    const enc = await loadOnnxTextEncoder(folder, { pooling });
    const cfg: HeadConfig = { type: 'star', widthFactor: 2, visionDim: 4, textDim: 5, targetDim: 6, logitScaleInit: 10, logitBiasInit: -10 };
    const head = { config: cfg, params: randomHead(cfg, 9) };
    // lengths differ, so every batch but the longest row is padded: the mask decides mean and last
    const texts = ['a cat', 'hello world, the sunny dog on the mat.', 'red', 'the dog'];
    const model = await createModel({ textModel: enc, head });
    const lib = await model.encodeText(texts);
    const dir = tempDir();
    const manifest = await exportModel(head, { outDir: dir, imageBackboneId: 'test-image', textBackboneId: 'test-text', text: { onnx: join(folder, 'onnx', 'model.onnx'), pooling } });
    assert.equal(manifest.text.model?.pooling, pooling);
    const tok = (await loadTokenizer(folder)).tokenize(texts, MAX_POS);
    assert.ok(Array.from(tok.attentionMask).some((m) => m === 0n), 'the batch is padded');
    const dims = [tok.batch, tok.length];
    const session = await createSession(join(dir, 'text_model.onnx'));
    const res = await session.run({
      input_ids: new ort.Tensor('int64', tok.inputIds, dims),
      attention_mask: new ort.Tensor('int64', tok.attentionMask, dims),
      token_type_ids: new ort.Tensor('int64', tok.tokenTypeIds ?? new BigInt64Array(tok.batch * tok.length), dims),
    });
    const diff = maxAbsDiff(res[manifest.text.model!.outputs.normalized].data as Float32Array, lib);
    t.diagnostic(`max |diff| ${diff.toExponential(2)}`);
    assert.ok(diff <= TOL, `max |diff| ${diff}`);
    await session.release();
    await model.dispose();
  });
}
