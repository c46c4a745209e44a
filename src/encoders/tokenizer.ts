// Tokenizers from a local model folder (tokenizer.json + tokenizer_config.json) via transformers.js,
// with remote lookups switched off: exact HF tokenisation (WordPiece, BPE, Unigram) without a network.
import { basename, dirname, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SailError } from '../util/errors.js';

/** A tokenised batch, padded to its longest sequence (right padding unless the tokenizer says left). */
export interface TokenizedBatch {
  batch: number;
  length: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  tokenTypeIds?: BigInt64Array;
}

/** What the text encoder needs from a tokenizer. */
export interface TextTokenizer {
  /** Longest sequence the tokenizer declares (`model_max_length`), if finite. */
  readonly modelMaxLength?: number;
  /** Tokenise with padding to the longest and truncation at `maxLength`. */
  tokenize(texts: string[], maxLength: number): TokenizedBatch;
}

interface HfTensor {
  data: BigInt64Array | number[];
  dims: number[];
}
type HfTokenizer = ((texts: string[], opts: Record<string, unknown>) => Record<string, HfTensor>) & { model_max_length?: number };

// transformers.js reads the model root from a global; serialise loads so concurrent ones don't race.
let loadChain: Promise<unknown> = Promise.resolve();

function asI64(t: HfTensor | undefined): BigInt64Array | undefined {
  if (!t) return undefined;
  if (t.data instanceof BigInt64Array) return t.data;
  return BigInt64Array.from(Array.from(t.data as ArrayLike<number>, (x) => BigInt(x)));
}

/** Load the tokenizer of a local transformers.js model folder. Never touches the network. */
export async function loadTokenizer(folder: string): Promise<TextTokenizer> {
  const abs = resolve(folder);
  if (!existsSync(join(abs, 'tokenizer.json'))) throw new SailError('model folder has no tokenizer.json', { file: abs });
  const run = loadChain.then(async () => {
    const tf = await import('@huggingface/transformers');
    tf.env.allowRemoteModels = false;
    tf.env.allowLocalModels = true;
    tf.env.localModelPath = dirname(abs) + '/';
    try {
      return (await tf.AutoTokenizer.from_pretrained(basename(abs), { local_files_only: true })) as unknown as HfTokenizer;
    } catch (err) {
      throw new SailError(`cannot load tokenizer: ${(err as Error).message}`, { file: abs });
    }
  });
  loadChain = run.catch(() => undefined);
  const tok = await run;
  const mml = tok.model_max_length;
  return {
    modelMaxLength: typeof mml === 'number' && Number.isFinite(mml) && mml < 1e7 ? mml : undefined,
    tokenize(texts, maxLength) {
      const enc = tok(texts, { padding: true, truncation: true, max_length: maxLength, return_tensor: true });
      const ids = enc.input_ids;
      const [batch, length] = ids.dims;
      return {
        batch,
        length,
        inputIds: asI64(ids)!,
        attentionMask: asI64(enc.attention_mask)!,
        tokenTypeIds: asI64(enc.token_type_ids),
      };
    },
  };
}
