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

interface HfEncoding {
  input_ids: number[];
  attention_mask: number[];
  token_type_ids?: number[];
}
type HfTokenizer = ((text: string, opts: Record<string, unknown>) => HfEncoding) & {
  model_max_length?: number;
  pad_token_id?: number;
  padding_side?: string;
};

/**
 * Truncate one encoding the way HF Python does for a single sequence: the special tokens the post-processor
 * adds (prefix such as [CLS], suffix such as [SEP]) are kept and the text's own tokens are cut from the end.
 * transformers.js 4.x instead cuts the finished sequence, dropping the final [SEP]; we avoid that.
 */
export function truncateKeepingSpecials(full: HfEncoding, content: number[], maxLength: number): HfEncoding {
  const n = full.input_ids.length;
  if (n <= maxLength) return full;
  const specials = n - content.length;
  if (specials < 0 || specials >= maxLength) {
    return { input_ids: full.input_ids.slice(0, maxLength), attention_mask: full.attention_mask.slice(0, maxLength), token_type_ids: full.token_type_ids?.slice(0, maxLength) };
  }
  // locate the content inside the full sequence: full = prefix + content + suffix
  let p = -1;
  for (let i = 0; i <= specials && p < 0; i++) if (content.every((id, k) => full.input_ids[i + k] === id)) p = i;
  if (p < 0) p = 0;
  const keep = maxLength - specials;
  const pick = <T>(a: T[]): T[] => [...a.slice(0, p + keep), ...a.slice(p + content.length)];
  return { input_ids: pick(full.input_ids), attention_mask: pick(full.attention_mask), token_type_ids: full.token_type_ids && pick(full.token_type_ids) };
}

// transformers.js reads the model root from a global; serialise loads so concurrent ones don't race.
let loadChain: Promise<unknown> = Promise.resolve();

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
  const padId = BigInt(tok.pad_token_id ?? 0);
  const left = tok.padding_side === 'left';
  return {
    modelMaxLength: typeof mml === 'number' && Number.isFinite(mml) && mml < 1e7 ? mml : undefined,
    tokenize(texts, maxLength) {
      const encs = texts.map((t) => {
        const full = tok(t, { add_special_tokens: true, return_tensor: false });
        if (full.input_ids.length <= maxLength) return full;
        const content = tok(t, { add_special_tokens: false, return_tensor: false }).input_ids;
        return truncateKeepingSpecials(full, content, maxLength);
      });
      const batch = encs.length;
      const length = Math.max(1, ...encs.map((e) => e.input_ids.length));
      const inputIds = new BigInt64Array(batch * length).fill(padId);
      const attentionMask = new BigInt64Array(batch * length);
      const hasTypes = encs.some((e) => e.token_type_ids);
      const tokenTypeIds = hasTypes ? new BigInt64Array(batch * length) : undefined;
      encs.forEach((e, i) => {
        const off = i * length + (left ? length - e.input_ids.length : 0);
        e.input_ids.forEach((v, k) => (inputIds[off + k] = BigInt(v)));
        e.attention_mask.forEach((v, k) => (attentionMask[off + k] = BigInt(v)));
        e.token_type_ids?.forEach((v, k) => (tokenTypeIds![off + k] = BigInt(v)));
      });
      return { batch, length, inputIds, attentionMask, tokenTypeIds };
    },
  };
}
