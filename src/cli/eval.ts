// `sail eval`: run evaluation tasks (retrieval, zeroshot, winoground, mmvp, knn) on stores or raw data.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { resultsMarkdown } from '../eval/report.js';
import { EVAL_TASKS, runEval, type Embedders, type EvalTask } from '../eval/run.js';
import { loadTemplates } from '../eval/zeroshot.js';
import { useDevice } from './device.js';
import { SailError } from '../util/errors.js';
import { parseNumber, parseOptional, POSITIVE_INT } from './flags.js';

interface EvalFlags {
  task: string[];
  head?: string;
  store?: string;
  textStore?: string;
  imageModality: string;
  textModality: string;
  limit?: string;
  dataset?: string;
  split?: string;
  classnames?: string;
  templates?: string;
  knnTrain?: string;
  trainLabels?: string;
  labels?: string;
  knnK: string;
  winoground?: string;
  mmvp?: string;
  imageModel?: string;
  textModel?: string;
  batchSize: string;
  threads?: string;
  device?: string;
  out?: string;
  json?: boolean;
}


/** Register `sail eval`. */
export function register(program: Command): void {
  program
    .command('eval')
    .description('evaluate a head: retrieval on stores or caption CSVs, zero-shot, k-NN, Winoground, MMVP-VLM; writes results.json + results.md')
    .option('--task <name...>', `tasks to run (${EVAL_TASKS.join(' | ')}; repeat or comma-separate)`, ['retrieval'])
    .option('--head <path>', 'head checkpoint (.safetensors or checkpoint folder)')
    .option('--store <dir>', 'pre-encoded store: retrieval (image + text modalities), or zeroshot / knn / linear on its image rows with --labels')
    .option('--text-store <dir>', 'second store holding the text modalities (same rows)')
    .option('--image-modality <name>', 'store image modality', 'image')
    .option('--text-modality <names>', 'store caption modalities, comma-separated (each row is a caption of its image)', 'text')
    .option('--limit <n>', 'evaluate only the first n store rows')
    .option('--dataset <path>', 'class folders, CLIP-benchmark WebDataset folder, or CSV (image,label | image,caption)')
    .option('--split <name>', 'WebDataset sub-folder holding the shards (e.g. test)')
    .option('--classnames <file>', 'class names, one per line (overrides the dataset\'s)')
    .option('--templates <name|file>', 'zero-shot templates: openai80 | 7 | a file with {} or {c} (default: dataset\'s, else openai80)')
    .option('--knn-train <path>', 'labelled train set for --task knn / linear (queries: --dataset), or a store with --train-labels (queries: --store with --labels)')
    .option('--train-labels <file>', 'k-NN / linear on stores: labels of the --knn-train store, one per row')
    .option('--labels <file>', 'zeroshot / k-NN / linear on stores: class name of each --store row, one per line')
    .option('--knn-k <list>', 'k values for k-NN', '10,20,100,200')
    .option('--winoground <file>', 'Winoground JSONL ({"images":[a,b],"captions":[c0,c1]} per line)')
    .option('--mmvp <dir>', 'MMVP-VLM folder (Questions.csv + "MLLM_VLM Images/")')
    .option('--image-model <name>', 'image backbone for raw-data tasks (default: the head config\'s visionModel)')
    .option('--text-model <name>', 'text backbone for raw-data tasks (default: the head config\'s textModel)')
    .option('--batch-size <n>', 'images/texts per encoder batch', '32')
    .option('--threads <n>', 'onnxruntime threads')
    .option('--device <cpu|cuda|webgpu>', 'where heads, encoders and similarity run (`sail doctor` shows what works here)', 'cpu')
    .option('--out <dir>', 'write results.json and results.md here')
    .option('--json', 'print the results as JSON')
    .action(async (f: EvalFlags) => {
      useDevice(f.device);
      const tasks = f.task.flatMap((t) => t.split(',')).map((t) => t.trim()).filter(Boolean);
      for (const t of tasks) if (!EVAL_TASKS.includes(t as EvalTask)) throw new SailError(`unknown task ${JSON.stringify(t)} (known: ${EVAL_TASKS.join(', ')})`);
      const threads = parseOptional(f.threads, '--threads', POSITIVE_INT);
      const { readFileSync } = await import('node:fs');
      const classNames = f.classnames ? readFileSync(f.classnames, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter(Boolean) : undefined;
      let model: { dispose(): Promise<void> } | undefined;
      const embedders = async (): Promise<Embedders> => {
        if (!f.head) throw new SailError('raw-data tasks need --head');
        const { createModel } = await import('../model/model.js');
        const { loadHead } = await import('../head/load.js');
        const head = await loadHead(f.head);
        const visionModel = f.imageModel ?? head.config.visionModel;
        const textModel = f.textModel ?? head.config.textModel;
        if (!visionModel || !textModel) throw new SailError('give --image-model and --text-model (the head config names no backbones)');
        const m = await createModel({ head, visionModel, textModel, threads });
        model = m;
        return { embedImages: (x) => m.encodeImage(x), embedTexts: (t) => m.encodeText(t), dim: m.dim };
      };
      // zero-shot on a pre-encoded store: only the text backbone is loaded
      const textEmbedder = async (): Promise<Pick<Embedders, 'embedTexts' | 'dim'>> => {
        if (!f.head) throw new SailError('zeroshot needs --head');
        const { createModel } = await import('../model/model.js');
        const { loadHead } = await import('../head/load.js');
        const head = await loadHead(f.head);
        const textModel = f.textModel ?? head.config.textModel;
        if (!textModel) throw new SailError('give --text-model (the head config names no text backbone)');
        const m = await createModel({ head, textModel, threads });
        model = m;
        return { embedTexts: (t) => m.encodeText(t), dim: m.dim };
      };
      const bar = new cliProgress.SingleBar({ format: '{task} {stage} [{bar}] {value}/{total}', stream: process.stderr }, cliProgress.Presets.shades_classic);
      let started = false;
      try {
        const res = await runEval({
          tasks: tasks as EvalTask[], head: f.head, store: f.store, textStore: f.textStore, imageModality: f.imageModality,
          textModalities: f.textModality.split(',').map((s) => s.trim()).filter(Boolean),
          limit: parseOptional(f.limit, '--limit', POSITIVE_INT), dataset: f.dataset, split: f.split, classNames,
          templates: f.templates ? loadTemplates(f.templates) : undefined, knnTrain: f.knnTrain, trainLabels: f.trainLabels, labels: f.labels,
          knnKs: f.knnK.split(',').map((k) => parseNumber(k.trim(), '--knn-k', POSITIVE_INT)), winoground: f.winoground, mmvp: f.mmvp,
          embedders, textEmbedder, threads, batchSize: parseNumber(f.batchSize, '--batch-size', POSITIVE_INT), outDir: f.out,
          onProgress: (task, stage, done, total) => {
            if (!process.stderr.isTTY || total === undefined) return;
            if (!started) {
              bar.start(total, done, { task, stage });
              started = true;
            }
            bar.setTotal(total);
            bar.update(done, { task, stage });
          },
        });
        if (started) bar.stop();
        started = false;
        if (f.json) console.log(JSON.stringify(res, null, 2));
        else console.log(resultsMarkdown(res));
      } finally {
        if (started) bar.stop();
        await model?.dispose();
      }
    });
}
