// The built-in Hugging Face backbones: each is one data row (hub id, width, recipe/pooling, max tokens).
// They run from a local transformers.js folder (--model-dir or the cache); --allow-download fetches one.
import { resolveModelFolder, type ResolveModelOptions } from './model-folder.js';
import { recipeDim, type ImageRecipe, type TextPooling } from './pooling.js';
import type { BackboneSpec, EncoderLoadOptions } from './backbone-spec.js';

interface HubImageRow {
  name: string;
  hubId: string;
  hidden: number;
  recipe: ImageRecipe;
}

interface HubTextRow {
  name: string;
  hubId: string;
  hidden: number;
  pooling: TextPooling;
  /** Truncation length used when pre-encoding (SAIL method section 2). */
  maxLength: number;
}

/** DINOv2 (SAIL section 1.1): last_hidden_state, concat = [CLS ; mean(patch)] by default. */
export const HUB_IMAGE_BACKBONES: HubImageRow[] = [
  { name: 'dinov2-small', hubId: 'facebook/dinov2-small', hidden: 384, recipe: 'concat' },
  { name: 'dinov2-base', hubId: 'facebook/dinov2-base', hidden: 768, recipe: 'concat' },
  { name: 'dinov2-large', hubId: 'facebook/dinov2-large', hidden: 1024, recipe: 'concat' },
  { name: 'dinov2-giant', hubId: 'facebook/dinov2-giant', hidden: 1536, recipe: 'concat' },
];

/** Text backbones (SAIL section 2 for GTE; BGE uses CLS, MiniLM masked mean, per their model cards). */
export const HUB_TEXT_BACKBONES: HubTextRow[] = [
  { name: 'gte-base-en-v1.5', hubId: 'Alibaba-NLP/gte-base-en-v1.5', hidden: 768, pooling: 'cls', maxLength: 1024 },
  { name: 'gte-large-en-v1.5', hubId: 'Alibaba-NLP/gte-large-en-v1.5', hidden: 1024, pooling: 'cls', maxLength: 1024 },
  { name: 'bge-small-en-v1.5', hubId: 'BAAI/bge-small-en-v1.5', hidden: 384, pooling: 'cls', maxLength: 512 },
  { name: 'all-MiniLM-L6-v2', hubId: 'sentence-transformers/all-MiniLM-L6-v2', hidden: 384, pooling: 'mean', maxLength: 256 },
  { name: 'all-mpnet-base-v2', hubId: 'sentence-transformers/all-mpnet-base-v2', hidden: 768, pooling: 'mean', maxLength: 384 },
];

function where(opts: EncoderLoadOptions, hubId: string, required: string[]): ResolveModelOptions {
  // large exports keep their weights in onnx/model.onnx_data beside the graph
  return { modelDir: opts.modelDir, hubId, allowDownload: opts.allowDownload, cacheDir: opts.cacheDir, required, optional: ['onnx/model.onnx_data'] };
}

/** Registry entries of every built-in hub backbone (the registry registers them on first use). */
export function hubBackbones(): BackboneSpec[] {
  const specs: BackboneSpec[] = [];
  for (const row of HUB_IMAGE_BACKBONES) {
    specs.push({
      kind: 'image',
      name: row.name,
      hubId: row.hubId,
      dim: recipeDim(row.recipe, row.hidden),
      description: `DINOv2 ${row.name.split('-')[1]} (${row.hubId}), ${row.recipe} of last_hidden_state`,
      async load(opts) {
        const folder = await resolveModelFolder(where(opts, row.hubId, ['config.json', 'preprocessor_config.json', 'onnx/model.onnx']));
        const { loadOnnxImageEncoder } = await import('./image-onnx.js');
        const recipe = opts.recipe ?? row.recipe;
        return loadOnnxImageEncoder(folder, { ...opts, recipe, id: `${row.name}:${recipe}` });
      },
    });
  }
  for (const row of HUB_TEXT_BACKBONES) {
    specs.push({
      kind: 'text',
      name: row.name,
      hubId: row.hubId,
      dim: row.hidden,
      description: `${row.hubId}, ${row.pooling} pooling, max ${row.maxLength} tokens`,
      async load(opts) {
        const folder = await resolveModelFolder(where(opts, row.hubId, ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx']));
        const { loadOnnxTextEncoder } = await import('./text-onnx.js');
        const pooling = opts.pooling ?? row.pooling;
        return loadOnnxTextEncoder(folder, { ...opts, pooling, maxLength: opts.maxLength ?? row.maxLength, id: `${row.name}:${pooling}` });
      },
    });
  }
  return specs;
}
