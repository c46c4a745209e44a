// Zero-shot classification: prompt templates, the class-vector classifier (mean of normalised template
// embeddings, renormalised; sail-method.md 9.1) and its accuracy via the blocked similarity scan.
import { packageRoot } from '../util/package-root.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SailError } from '../util/errors.js';
import { classificationMetrics, type ClassificationMetrics } from './metrics.js';
import { l2NormalizeRows, scanSimilarity, type SimilarityOptions } from './similarity.js';

/** Built-in template sets shipped in src/eval/data. */
export const BUILTIN_TEMPLATES: Record<string, string> = {
  openai80: 'templates-openai80.txt',
  '7': 'templates-7.txt',
};

/** Whether a template has a class-name placeholder (`{}` or `{c}`). */
export function hasPlaceholder(template: string): boolean {
  return template.includes('{}') || template.includes('{c}');
}

/**
 * Parse a template file: one template per line with a `{}` or `{c}` placeholder; blank lines and lines
 * starting with `#` are skipped. A line without a placeholder is an error naming the file and line.
 */
export function parseTemplates(text: string, file = '<templates>'): string[] {
  const out: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i].trim();
    if (!t || t.startsWith('#')) continue;
    if (!hasPlaceholder(t)) throw new SailError('template has no {} or {c} placeholder', { file, row: i + 1 });
    out.push(t);
  }
  if (!out.length) throw new SailError('no templates found', { file });
  return out;
}

/** Load templates: a built-in set name (`openai80`, `7`) or a path to a template file. */
export function loadTemplates(nameOrPath: string): string[] {
  const builtin = BUILTIN_TEMPLATES[nameOrPath];
  const file = builtin ? join(packageRoot(), 'src', 'eval', 'data', builtin) : nameOrPath;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SailError(`cannot read templates (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { file });
  }
  return parseTemplates(text, file);
}

/** Fill every placeholder of a template with the class name. */
export function fillTemplate(template: string, className: string): string {
  return template.split('{c}').join(className).split('{}').join(className);
}

/** Text embedding callback: texts -> head embeddings [texts.length, dim] (normalised or not). */
export type EmbedTexts = (texts: string[]) => Promise<Float32Array>;

/**
 * The one zero-shot classifier (eval, the demo and the model API's labelEmbeddings): class vectors
 * [nClasses, dim]; for each class, embed every filled template (`{}` / `{c}` placeholders), L2-normalise
 * each, average, and renormalise. Classes are embedded in batches of `batchTexts` prompts. A template
 * without a placeholder is an error (it would embed the same text for every class).
 */
export async function buildClassifier(classNames: readonly string[], templates: readonly string[], embedTexts: EmbedTexts, dim: number, batchTexts = 1024): Promise<Float32Array> {
  if (!classNames.length) throw new SailError('zero-shot: no class names');
  if (!templates.length) throw new SailError('zero-shot: no templates');
  const bad = templates.find((t) => !hasPlaceholder(t));
  if (bad !== undefined) throw new SailError(`zero-shot: template ${JSON.stringify(bad)} has no {} or {c} placeholder`);
  const T = templates.length;
  const W = new Float32Array(classNames.length * dim);
  const perBatch = Math.max(1, Math.floor(batchTexts / T));
  for (let c0 = 0; c0 < classNames.length; c0 += perBatch) {
    const cls = classNames.slice(c0, c0 + perBatch);
    const prompts = cls.flatMap((c) => templates.map((t) => fillTemplate(t, c)));
    const z = await embedTexts(prompts);
    if (z.length !== prompts.length * dim) throw new SailError(`zero-shot: text embedder returned ${z.length} values for ${prompts.length} prompts x dim ${dim}`);
    l2NormalizeRows(z, dim);
    for (let c = 0; c < cls.length; c++) {
      const o = (c0 + c) * dim;
      for (let t = 0; t < T; t++) {
        const s = (c * T + t) * dim;
        for (let j = 0; j < dim; j++) W[o + j] += z[s + j];
      }
    }
  }
  return l2NormalizeRows(W, dim);
}

/**
 * Zero-shot accuracy of normalised image embeddings [n, dim] against class vectors [nClasses, dim]:
 * top-1/top-5 (pessimistic ties), per-class accuracy and the most confused pairs.
 */
export async function zeroShotEvaluate(
  images: Float32Array, classifier: Float32Array, labels: Int32Array, dim: number,
  opts: SimilarityOptions & { classNames?: readonly string[] } = {},
): Promise<ClassificationMetrics> {
  const nClasses = classifier.length / dim;
  const res = await scanSimilarity({
    queries: images, candidates: classifier, dim, topK: 1,
    queryGroup: labels, candidateGroup: Int32Array.from({ length: nClasses }, (_, i) => i),
  }, opts);
  return classificationMetrics(res.ranks!, res.topIndices!, labels, nClasses, { classNames: opts.classNames });
}
