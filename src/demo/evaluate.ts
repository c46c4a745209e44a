// Held-out evaluation of one head on the demo stores: retrieval both ways and zero-shot classification.
import type { LoadedHead } from '../model/checkpoint.js';
import { createModel } from '../model/model.js';
import { openStore } from '../store/reader.js';
import { SailError } from '../util/errors.js';
import type { DemoMetrics } from './report.js';

/** Where the held-out data lives and how the prompt store is laid out. */
export interface EvalInputs {
  /** Store with `image` (Twemoji) and `text` (main caption), row i of each is one pair. */
  testStoreDir: string;
  /** Store with one `text` row per prompt: class c, template t at row start + c * templates + t. */
  promptStoreDir: string;
  templates: number;
  categoryPrompts: { start: number; classes: number };
  subcategoryPrompts: { start: number; classes: number };
  /** Class index of every test row. */
  categoryLabels: number[];
  subcategoryLabels: number[];
  threads?: number;
}

/** Rank of the correct item: how many candidates score strictly higher than it (0 = first). */
function ranks(sim: Float32Array, nRows: number, nCols: number, correct: (row: number) => number): Uint32Array {
  const out = new Uint32Array(nRows);
  for (let i = 0; i < nRows; i++) {
    const base = i * nCols;
    const s = sim[base + correct(i)];
    let r = 0;
    for (let j = 0; j < nCols; j++) if (sim[base + j] > s) r++;
    out[i] = r;
  }
  return out;
}

function recallAt(r: Uint32Array, k: number): number {
  let hit = 0;
  for (const x of r) if (x < k) hit++;
  return r.length ? hit / r.length : 0;
}

/** a [na, d] times b [nb, d]^T. */
function dotMatrix(a: Float32Array, b: Float32Array, d: number): Float32Array {
  const na = a.length / d;
  const nb = b.length / d;
  const out = new Float32Array(na * nb);
  for (let i = 0; i < na; i++) {
    for (let j = 0; j < nb; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += a[i * d + k] * b[j * d + k];
      out[i * nb + j] = s;
    }
  }
  return out;
}

/** Mean of each class's (normalised) template embeddings, re-normalised: the CLIP zero-shot recipe. */
function classEmbeddings(prompts: Float32Array, d: number, start: number, classes: number, templates: number): Float32Array {
  const out = new Float32Array(classes * d);
  for (let c = 0; c < classes; c++) {
    for (let t = 0; t < templates; t++) {
      const row = (start + c * templates + t) * d;
      for (let k = 0; k < d; k++) out[c * d + k] += prompts[row + k];
    }
    let n = 0;
    for (let k = 0; k < d; k++) n += out[c * d + k] ** 2;
    const inv = 1 / Math.max(Math.sqrt(n), 1e-12);
    for (let k = 0; k < d; k++) out[c * d + k] *= inv;
  }
  return out;
}

/** Evaluate one head on the held-out stores. */
export async function evaluateHead(head: LoadedHead, inp: EvalInputs): Promise<DemoMetrics> {
  const test = await openStore(inp.testStoreDir);
  const promptStore = await openStore(inp.promptStoreDir);
  const model = await createModel({ head, threads: inp.threads });
  try {
    const n = test.rows;
    if (inp.categoryLabels.length !== n || inp.subcategoryLabels.length !== n) {
      throw new SailError(`test store has ${n} rows but ${inp.categoryLabels.length} labels were given`, { file: test.dir });
    }
    const d = model.dim;
    const img = await model.encodeImageFeatures(await test.readRange('image', 0, n));
    const txt = await model.encodeTextFeatures(await test.readRange('text', 0, n));
    const prompts = await model.encodeTextFeatures(await promptStore.readRange('text', 0, promptStore.rows));
    const t2iSim = dotMatrix(txt, img, d);
    const i2tSim = dotMatrix(img, txt, d);
    const t2i = ranks(t2iSim, n, n, (i) => i);
    const i2t = ranks(i2tSim, n, n, (i) => i);
    const classify = (p: { start: number; classes: number }, labels: number[]) => {
      const cls = classEmbeddings(prompts, d, p.start, p.classes, inp.templates);
      const r = ranks(dotMatrix(img, cls, d), n, p.classes, (i) => labels[i]);
      return { top1: recallAt(r, 1), top5: recallAt(r, 5) };
    };
    return {
      t2i: { r1: recallAt(t2i, 1), r5: recallAt(t2i, 5), r10: recallAt(t2i, 10) },
      i2t: { r1: recallAt(i2t, 1), r5: recallAt(i2t, 5), r10: recallAt(i2t, 10) },
      category: classify(inp.categoryPrompts, inp.categoryLabels),
      subcategory: classify(inp.subcategoryPrompts, inp.subcategoryLabels),
    };
  } finally {
    await model.dispose();
    await test.close();
    await promptStore.close();
  }
}
