// Run a set of evaluation tasks from paths (stores, datasets, benchmark folders) and write results JSON +
// Markdown. Raw-data tasks take an embedder pair, so any encoder + head can be plugged in.
import { join } from 'node:path';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { SailError } from '../util/errors.js';
import { evaluateCaptionDataset, embedLabelledImages, evaluateZeroShotDataset, type DatasetProgress } from './dataset-tasks.js';
import { openEvalDataset, openMmvp, openWinogroundJsonl, type ClassificationDataset } from './datasets.js';
import { loadHead } from '../head/load.js';
import { evaluateRidgeProbe, fitRidgeProbe } from './linear-probe.js';
import { labelledStoreEmbeddings, readLabels } from './store-labels.js';
import { buildClassifier, loadTemplates, zeroShotEvaluate } from './zeroshot.js';
import { resultsMarkdown, type EvalResults } from './report.js';
import { evaluateKnn, evaluateMmvp, evaluateRetrievalOnStores, evaluateWinoground, type EmbedImages, type EmbedTextsFn } from './tasks.js';

export const EVAL_TASKS = ['retrieval', 'zeroshot', 'winoground', 'mmvp', 'knn', 'linear'] as const;
export type EvalTask = (typeof EVAL_TASKS)[number];

/** Encoders + head as callbacks, producing embeddings of width `dim`. */
export interface Embedders {
  embedImages: EmbedImages;
  embedTexts: EmbedTextsFn;
  dim: number;
}

export interface RunEvalOptions {
  tasks: EvalTask[];
  /** Head checkpoint for store-based retrieval (raw-data tasks use `embedders`, which include the head). */
  head?: string;
  /** Retrieval on a pre-encoded store (image + text modalities), optionally with the texts in a second store. */
  store?: string;
  textStore?: string;
  imageModality?: string;
  textModalities?: string[];
  /** Evaluate only the first N store rows. */
  limit?: number;
  /** Classification dataset (folder, WebDataset, CSV) for zeroshot, or the query set for knn; a caption CSV for retrieval. */
  dataset?: string;
  split?: string;
  classNames?: string[];
  templates?: string[];
  /** Labelled train set (same layouts) for knn / linear; or a store when `trainLabels` is given. */
  knnTrain?: string;
  /** Store-based knn / linear: labels files (one per row) of the `knnTrain` store and of the `store` (queries). */
  trainLabels?: string;
  labels?: string;
  knnKs?: number[];
  winoground?: string;
  mmvp?: string;
  /** Needed by every raw-data task; built lazily by the caller (backbones are heavy). */
  embedders?: () => Promise<Embedders>;
  /** Text side only (zero-shot on a pre-encoded store needs no image backbone); falls back to `embedders`. */
  textEmbedder?: () => Promise<Pick<Embedders, 'embedTexts' | 'dim'>>;
  threads?: number;
  batchSize?: number;
  /** Write results.json and results.md here. */
  outDir?: string;
  onProgress?: (task: EvalTask, stage: string, done: number, total?: number) => void;
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new SailError(what);
  return v;
}

function asClassification(ds: Awaited<ReturnType<typeof openEvalDataset>>, path: string): ClassificationDataset {
  if (ds.kind !== 'classification') throw new SailError('expected a classification dataset (class folders, WebDataset, or CSV with image,label)', { file: path });
  return ds;
}

/** Run the requested tasks; returns the results (and writes them when `outDir` is set). */
export async function runEval(o: RunEvalOptions): Promise<EvalResults> {
  if (!o.tasks.length) throw new SailError('no tasks given');
  const res: EvalResults = { ...(o.head ? { head: o.head } : {}) };
  let emb: Embedders | undefined;
  const embedders = async () => (emb ??= await need(o.embedders, 'this task needs image/text backbones (give --image-model and --text-model)')());
  const progress = (task: EvalTask): DatasetProgress => (stage, done, total) => o.onProgress?.(task, stage, done, total);
  for (const task of o.tasks) {
    if (task === 'retrieval') {
      if (o.store) {
        const store = o.store;
        const { openStore } = await import('../store/reader.js');
        const s = await openStore(store);
        try {
          const n = Math.min(s.rows, o.limit ?? s.rows);
          const head = o.head ? await loadHead(o.head) : undefined;
          const m = await evaluateRetrievalOnStores(s, {
            head, rows: Uint32Array.from({ length: n }, (_, i) => i), textStore: o.textStore,
            imageModality: o.imageModality, textModalities: o.textModalities, threads: o.threads,
            onProgress: (d, t) => o.onProgress?.('retrieval', 'similarity', d, t),
          });
          res.retrieval = { ...m, source: store };
        } finally {
          await s.close();
        }
      } else {
        const path = need(o.dataset, 'retrieval needs --store or a caption CSV (--dataset FILE with image,caption)');
        const ds = await openEvalDataset(path, o);
        if (ds.kind !== 'captions') throw new SailError('retrieval needs a CSV with image,caption columns', { file: path });
        const e = await embedders();
        res.retrieval = { ...(await evaluateCaptionDataset(ds, e.embedImages, e.embedTexts, e.dim, { threads: o.threads, batchSize: o.batchSize, onItems: progress(task) })), source: path };
      }
    } else if (task === 'zeroshot' && o.store) {
      // pre-encoded images + a labels file: the images go through the head's vision side only
      const labelsFile = need(o.labels, 'zeroshot on a store needs --labels (one class name per store row)');
      const head = await loadHead(need(o.head, 'zeroshot on a store needs --head'));
      const classNames = o.classNames ?? [...new Set(await readLabels(labelsFile))].sort();
      const templates = o.templates ?? loadTemplates('openai80');
      const text = await (o.textEmbedder ?? embedders)();
      if (text.dim !== head.config.targetDim) throw new SailError(`text embeddings are ${text.dim}-d but the head outputs ${head.config.targetDim}`);
      o.onProgress?.(task, 'classes', 0, classNames.length);
      const W = await buildClassifier(classNames, templates, text.embedTexts, text.dim);
      const a = await labelledStoreEmbeddings(o.store, labelsFile, classNames, { modality: o.imageModality, head, threads: o.threads });
      const m = await zeroShotEvaluate(a.embeddings, W, a.labels, a.dim, { threads: o.threads, classNames });
      res.zeroshot = { ...m, source: `${o.store} (pre-encoded, labels ${labelsFile})`, templates: templates.length, classes: classNames.length };
    } else if (task === 'zeroshot') {
      const path = need(o.dataset, 'zeroshot needs --dataset');
      const ds = asClassification(await openEvalDataset(path, o), path);
      const e = await embedders();
      const m = await evaluateZeroShotDataset(ds, e.embedImages, e.embedTexts, e.dim, { templates: o.templates, threads: o.threads, batchSize: o.batchSize, onItems: progress(task) });
      res.zeroshot = { ...m, source: path };
    } else if ((task === 'knn' || task === 'linear') && o.trainLabels) {
      // pre-encoded features: the --knn-train store vs the --store store, with labels files
      const trainStore = need(o.knnTrain, `${task} on stores needs --knn-train STORE with --train-labels, and --store with --labels`);
      const queryStore = need(o.store, `${task} on stores needs --store (queries) with --labels`);
      const labelsFile = need(o.labels, `${task} on stores needs --labels for the query store`);
      const classNames = o.classNames ?? [...new Set([...(await readLabels(o.trainLabels)), ...(await readLabels(labelsFile))])].sort();
      const head = o.head ? await loadHead(o.head) : undefined;
      const so = { modality: o.imageModality, head, threads: o.threads };
      const a = await labelledStoreEmbeddings(trainStore, o.trainLabels, classNames, so);
      const b = await labelledStoreEmbeddings(queryStore, labelsFile, classNames, so);
      const source = `${trainStore} -> ${queryStore}${head ? ' (head)' : ' (backbone features)'}`;
      if (task === 'knn') res.knn = { source, results: await evaluateKnn(a.embeddings, a.labels, b.embeddings, b.labels, a.dim, { ks: o.knnKs, nClasses: classNames.length, threads: o.threads }) };
      else {
        const probe = await fitRidgeProbe(a.embeddings, a.labels, a.dim, classNames.length, { threads: o.threads });
        res.linear = { ...(await evaluateRidgeProbe(probe, b.embeddings, b.labels, { threads: o.threads, classNames })), source, lambda: probe.lambda };
      }
    } else if (task === 'knn' || task === 'linear') {
      const trainPath = need(o.knnTrain, `${task} needs --knn-train (labelled train set) and --dataset (queries)`);
      const queryPath = need(o.dataset, `${task} needs --dataset (queries)`);
      const train = asClassification(await openEvalDataset(trainPath, o), trainPath);
      const query = asClassification(await openEvalDataset(queryPath, { ...o, classNames: o.classNames ?? train.classNames }), queryPath);
      if (query.classNames.join('\n') !== train.classNames.join('\n')) throw new SailError('query and train sets have different class lists', { file: queryPath });
      const e = await embedders();
      const a = await embedLabelledImages(train, e.embedImages, e.dim, o.batchSize, progress(task));
      const b = await embedLabelledImages(query, e.embedImages, e.dim, o.batchSize, progress(task));
      const source = `${trainPath} -> ${queryPath}`;
      if (task === 'knn') res.knn = { source, results: await evaluateKnn(a.embeddings, a.labels, b.embeddings, b.labels, e.dim, { ks: o.knnKs, nClasses: train.classNames.length, threads: o.threads }) };
      else {
        const probe = await fitRidgeProbe(a.embeddings, a.labels, e.dim, train.classNames.length, { threads: o.threads });
        res.linear = { ...(await evaluateRidgeProbe(probe, b.embeddings, b.labels, { threads: o.threads, classNames: train.classNames })), source, lambda: probe.lambda };
      }
    } else if (task === 'winoground') {
      const path = need(o.winoground, 'winoground needs --winoground FILE.jsonl');
      const e = await embedders();
      res.winoground = { ...(await evaluateWinoground(await openWinogroundJsonl(path), e.embedImages, e.embedTexts, e.dim)), source: path };
    } else if (task === 'mmvp') {
      const path = need(o.mmvp, 'mmvp needs --mmvp DIR (Questions.csv + "MLLM_VLM Images/")');
      const e = await embedders();
      res.mmvp = { ...(await evaluateMmvp(await openMmvp(path), e.embedImages, e.embedTexts, e.dim)), source: path };
    } else throw new SailError(`unknown task ${String(task)} (known: ${EVAL_TASKS.join(', ')})`);
  }
  if (o.outDir) {
    await writeJsonAtomic(join(o.outDir, 'results.json'), res);
    await writeFileAtomic(join(o.outDir, 'results.md'), resultsMarkdown(res));
  }
  return res;
}
