// Held-out evaluation of one head on the demo stores, through the project's eval library (src/eval):
// head application, retrieval both ways and zero-shot classification with templates.
import type { LoadedHead } from '../head/load.js';
import { createHeadRunner } from '../head/runner.js';
import { ranksFromMatrix, retrievalMetrics } from '../eval/metrics.js';
import { similarityMatrix } from '../eval/similarity.js';
import { buildClassifier, zeroShotEvaluate } from '../eval/zeroshot.js';
import { openStore } from '../store/reader.js';
import { SailError } from '../util/errors.js';
import type { DemoMetrics } from './report.js';

/** A zero-shot classification task over the test images. */
export interface ZeroShotTask {
  classNames: readonly string[];
  /** Class index of every test row. */
  labels: readonly number[];
}

/** Where the held-out data lives. */
export interface EvalInputs {
  /** Store with `image` (Twemoji) and `text` (main caption); row i of each is one pair. */
  testStoreDir: string;
  /** Store with one `text` row per prompt, in the order of `promptTexts`. */
  promptStoreDir: string;
  promptTexts: readonly string[];
  templates: readonly string[];
  category: ZeroShotTask;
  subcategory: ZeroShotTask;
  threads?: number;
}

/** Per-query 1-based pessimistic ranks of the right item (for paired bootstrap intervals). */
export interface QueryRanks {
  /** Rank of caption i among all captions for image i. */
  i2t: Int32Array;
  /** Rank of image i among all images for caption i. */
  t2i: Int32Array;
}

/** Evaluate one head on the held-out stores. Metrics are fractions in [0, 1]. */
export async function evaluateHead(head: LoadedHead, inp: EvalInputs): Promise<{ metrics: DemoMetrics; ranks: QueryRanks }> {
  const test = await openStore(inp.testStoreDir);
  const promptStore = await openStore(inp.promptStoreDir);
  const session = { threads: inp.threads };
  const applier = createHeadRunner(head, session);
  try {
    const n = test.rows;
    for (const t of [inp.category, inp.subcategory]) {
      if (t.labels.length !== n) throw new SailError(`test store has ${n} rows but ${t.labels.length} labels were given`, { file: test.dir });
    }
    if (promptStore.rows !== inp.promptTexts.length) {
      throw new SailError(`prompt store has ${promptStore.rows} rows, expected ${inp.promptTexts.length}`, { file: promptStore.dir });
    }
    const d = head.config.targetDim;
    const img = await applier.apply('vision', await test.readRange('image', 0, n), n);
    const txt = await applier.apply('text', await test.readRange('text', 0, n), n);
    const sim = await similarityMatrix(img, txt, d, session);
    const ids = Int32Array.from({ length: n }, (_, i) => i);
    const simT = new Float32Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) simT[j * n + i] = sim[i * n + j];
    const ranks = { i2t: ranksFromMatrix(sim, n, n, ids, ids), t2i: ranksFromMatrix(simT, n, n, ids, ids) };
    const ret = retrievalMetrics(ranks.i2t, ranks.t2i, [1, 5, 10]);

    // Prompts were pre-encoded by the backbone: the classifier's text callback looks their rows up.
    const promptRow = new Map(inp.promptTexts.map((t, i) => [t, i]));
    const embedTexts = async (texts: string[]): Promise<Float32Array> => {
      const rows = texts.map((t) => {
        const r = promptRow.get(t);
        if (r === undefined) throw new SailError(`prompt ${JSON.stringify(t)} is not in the prompt store`, { file: promptStore.dir });
        return r;
      });
      return applier.apply('text', await promptStore.readRows('text', rows), rows.length);
    };
    const classify = async (task: ZeroShotTask) => {
      const W = await buildClassifier(task.classNames, inp.templates, embedTexts, d);
      const m = await zeroShotEvaluate(img, W, Int32Array.from(task.labels), d, { ...session, classNames: task.classNames });
      return { top1: m.top1 / 100, top5: m.top5 / 100 };
    };
    const pct = (x: number): number => x / 100;
    const metrics: DemoMetrics = {
      t2i: { r1: pct(ret.textToImage['R@1']), r5: pct(ret.textToImage['R@5']), r10: pct(ret.textToImage['R@10']) },
      i2t: { r1: pct(ret.imageToText['R@1']), r5: pct(ret.imageToText['R@5']), r10: pct(ret.imageToText['R@10']) },
      category: await classify(inp.category),
      subcategory: await classify(inp.subcategory),
    };
    return { metrics, ranks };
  } finally {
    await applier.dispose();
    await test.close();
    await promptStore.close();
  }
}
