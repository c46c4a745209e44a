// Tasks on raw datasets through embedding callbacks, so any encoder + head can be evaluated.
import type { ImageInput } from '../encoders/types.js';
import { SailError } from '../util/errors.js';
import type { CaptionDataset, ClassificationDataset } from './datasets.js';
import type { ClassificationMetrics, RetrievalMetrics } from './metrics.js';
import type { SimilarityOptions } from './similarity.js';
import { evaluateRetrieval, type EmbedImages, type EmbedTextsFn } from './tasks.js';
import { buildClassifier, loadTemplates, zeroShotEvaluate } from './zeroshot.js';

/** Progress of a dataset task: stage and items done. */
export type DatasetProgress = (stage: 'images' | 'texts' | 'classes', done: number, total?: number) => void;

/** Embed a stream of images in batches, collecting the embeddings and labels. */
export async function embedLabelledImages(
  ds: ClassificationDataset, embedImages: EmbedImages, dim: number, batchSize = 64, onProgress?: DatasetProgress,
): Promise<{ embeddings: Float32Array; labels: Int32Array }> {
  const chunks: Float32Array[] = [];
  const labels: number[] = [];
  let batch: ImageInput[] = [];
  const flush = async () => {
    if (!batch.length) return;
    const z = await embedImages(batch);
    if (z.length !== batch.length * dim) throw new SailError(`image embedder returned ${z.length} values for ${batch.length} images x dim ${dim}`);
    chunks.push(z);
    batch = [];
    onProgress?.('images', labels.length, ds.count);
  };
  for await (const s of ds.samples()) {
    batch.push(s.image);
    labels.push(s.label);
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  const embeddings = new Float32Array(labels.length * dim);
  let o = 0;
  for (const c of chunks) {
    embeddings.set(c, o);
    o += c.length;
  }
  return { embeddings, labels: Int32Array.from(labels) };
}

/** Zero-shot classification of a dataset: class vectors from templates (given, else the dataset's own, else OpenAI's 80). */
export async function evaluateZeroShotDataset(
  ds: ClassificationDataset, embedImages: EmbedImages, embedTexts: EmbedTextsFn, dim: number,
  opts: SimilarityOptions & { templates?: string[]; batchSize?: number; onItems?: DatasetProgress } = {},
): Promise<ClassificationMetrics & { templates: number; classes: number }> {
  // the reference protocol (sail-method.md 9.1) uses the 80 OpenAI templates when a dataset ships none
  const templates = opts.templates ?? ds.templates ?? loadTemplates('openai80');
  opts.onItems?.('classes', 0, ds.classNames.length);
  const W = await buildClassifier(ds.classNames, templates, embedTexts, dim);
  const { embeddings, labels } = await embedLabelledImages(ds, embedImages, dim, opts.batchSize, opts.onItems);
  const m = await zeroShotEvaluate(embeddings, W, labels, dim, { ...opts, classNames: ds.classNames });
  return { ...m, templates: templates.length, classes: ds.classNames.length };
}

/** Image-text retrieval on a caption dataset (every caption of an image counts as a positive). */
export async function evaluateCaptionDataset(
  ds: CaptionDataset, embedImages: EmbedImages, embedTexts: EmbedTextsFn, dim: number,
  opts: SimilarityOptions & { batchSize?: number; ks?: number[]; onItems?: DatasetProgress } = {},
): Promise<RetrievalMetrics> {
  const bs = opts.batchSize ?? 64;
  const embedAll = async <T>(items: T[], fn: (x: T[]) => Promise<Float32Array>, stage: 'images' | 'texts') => {
    const out = new Float32Array(items.length * dim);
    for (let i = 0; i < items.length; i += bs) {
      const z = await fn(items.slice(i, i + bs));
      if (z.length !== Math.min(bs, items.length - i) * dim) throw new SailError(`${stage} embedder returned ${z.length} values for a batch of ${Math.min(bs, items.length - i)} x dim ${dim}`);
      out.set(z, i * dim);
      opts.onItems?.(stage, Math.min(items.length, i + bs), items.length);
    }
    return out;
  };
  const v = await embedAll(ds.images, embedImages, 'images');
  const t = await embedAll(ds.captions, embedTexts, 'texts');
  return evaluateRetrieval(v, t, dim, ds.imageOfText, opts);
}
