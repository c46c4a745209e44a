// Labelled embeddings from a pre-encoded store plus a labels file (one label per store row), for k-NN and
// linear probes on backbone features (the DINO protocol is backbone-only) or on head outputs.
import { promises as fs } from 'node:fs';
import { assertHeadFitsStore } from '../head/check.js';
import { openStore } from '../store/reader.js';
import { SailError } from '../util/errors.js';
import { createHeadRunner } from '../head/runner.js';
import type { LoadedHead } from '../head/load.js';
import { l2NormalizeRows } from './similarity.js';

/** Read a labels file: one non-empty label per line, in store row order. */
export async function readLabels(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new SailError(`cannot read labels (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { file });
  }
  const lines = text.split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  lines.forEach((l, i) => {
    if (!l.trim()) throw new SailError('empty label', { file, row: i + 1 });
  });
  return lines.map((l) => l.trim());
}

/**
 * Embeddings [rows, dim] of one store modality (through the vision head when `head` is given, else the
 * raw features, L2-normalised) and integer labels indexed into `classNames`.
 */
export async function labelledStoreEmbeddings(
  storeDir: string, labelsFile: string, classNames: readonly string[], opts: { modality?: string; head?: LoadedHead; threads?: number } = {},
): Promise<{ embeddings: Float32Array; labels: Int32Array; dim: number }> {
  const names = await readLabels(labelsFile);
  const store = await openStore(storeDir);
  const applier = opts.head ? createHeadRunner(opts.head, { threads: opts.threads }) : undefined;
  try {
    if (names.length !== store.rows) throw new SailError(`${names.length} labels for a store of ${store.rows} rows`, { file: labelsFile });
    const mod = opts.modality ?? 'image';
    if (applier) assertHeadFitsStore(applier.config, store, mod, 'vision');
    const inDim = store.dim(mod);
    const dim = applier ? applier.config.targetDim : inDim;
    const out = new Float32Array(store.rows * dim);
    const block = 8192;
    for (let r = 0; r < store.rows; r += block) {
      const n = Math.min(block, store.rows - r);
      const x = await store.readRange(mod, r, n);
      out.set(applier ? await applier.apply('vision', x, n) : l2NormalizeRows(x, inDim), r * dim);
    }
    const index = new Map(classNames.map((c, i) => [c, i]));
    const labels = Int32Array.from(names, (l, i) => {
      const c = index.get(l);
      if (c === undefined) throw new SailError(`label ${JSON.stringify(l)} is not a known class`, { file: labelsFile, row: i + 1 });
      return c;
    });
    return { embeddings: out, labels, dim };
  } finally {
    await applier?.dispose();
    await store.close();
  }
}
