// BERT-style text backbone over ONNX: input_ids / attention_mask (/ token_type_ids) int64 ->
// last_hidden_state [B, T, D], pooled by 'cls' | 'mean' (masked) | 'last' (last non-pad token).
import { createSession, ort } from '../onnx/session.js';
import { SailError } from '../util/errors.js';
import { onnxPath, readModelJson } from './model-folder.js';
import { checkPooling, poolTextTokens, type TextPooling } from './pooling.js';
import type { EncoderLoadOptions } from './backbone-spec.js';
import { loadTokenizer, type TextTokenizer } from './tokenizer.js';
import type { TextEncoder } from './types.js';

/** Extra knobs for {@link loadOnnxTextEncoder}. */
export interface OnnxTextOptions extends EncoderLoadOptions {
  /** Registry id reported as `encoder.id` (default: the folder path). */
  id?: string;
}

/**
 * The pooling a sentence-transformers folder declares in `1_Pooling/config.json`, if any
 * (cls / mean / lasttoken), so a plain folder gets the pooling its authors trained with.
 */
export async function declaredPooling(folder: string): Promise<TextPooling | undefined> {
  const c = await readModelJson(folder, '1_Pooling/config.json', true);
  if (!c) return undefined;
  if (c.pooling_mode_cls_token === true) return 'cls';
  if (c.pooling_mode_mean_tokens === true) return 'mean';
  if (c.pooling_mode_lasttoken === true) return 'last';
  return undefined;
}

/**
 * Load a text encoder from a folder with `tokenizer.json`, `tokenizer_config.json`, `config.json` and
 * `onnx/model.onnx`. Embeddings are returned unnormalised. `maxLength` defaults to the tokenizer's
 * `model_max_length`, capped by `config.max_position_embeddings`.
 */
export async function loadOnnxTextEncoder(folder: string, opts: OnnxTextOptions = {}): Promise<TextEncoder> {
  const pooling = checkPooling(opts.pooling ?? (await declaredPooling(folder)) ?? 'cls');
  const config = (await readModelJson(folder, 'config.json', true)) ?? {};
  const tokenizer: TextTokenizer = await loadTokenizer(folder);
  const session = await createSession(onnxPath(folder), { threads: opts.threads, executionProviders: opts.executionProviders });
  const inputs = session.inputNames;
  for (const need of ['input_ids', 'attention_mask']) {
    if (!inputs.includes(need)) throw new SailError(`ONNX model has no ${need} input (inputs: ${inputs.join(', ')})`, { file: folder });
  }
  const outputName = session.outputNames.includes('last_hidden_state') ? 'last_hidden_state' : session.outputNames[0];
  const maxPos = typeof config.max_position_embeddings === 'number' ? config.max_position_embeddings : Infinity;
  const maxLength = Math.min(opts.maxLength ?? tokenizer.modelMaxLength ?? 512, maxPos);
  const batchSize = Math.max(1, opts.batchSize ?? 32);
  const prefix = opts.instruction ?? '';

  async function runBatch(texts: string[]): Promise<{ pooled: Float32Array; d: number }> {
    const tok = tokenizer.tokenize(texts.map((t) => prefix + t), maxLength);
    const dims = [tok.batch, tok.length];
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', tok.inputIds, dims),
      attention_mask: new ort.Tensor('int64', tok.attentionMask, dims),
    };
    // BERT-family graphs take segment ids; a single segment is all zeros
    if (inputs.includes('token_type_ids')) feeds.token_type_ids = new ort.Tensor('int64', tok.tokenTypeIds ?? new BigInt64Array(tok.batch * tok.length), dims);
    const out = await session.run(feeds);
    const y = out[outputName];
    if (!y || y.type !== 'float32' || y.dims.length !== 3) {
      throw new SailError(`model output ${outputName} must be float32 [B, T, D], got ${y?.type} [${y?.dims.join(', ')}]`, { file: folder });
    }
    const [b, t, d] = y.dims.map(Number);
    if (b !== tok.batch || t !== tok.length) throw new SailError(`model output [${b}, ${t}, ${d}] does not match the input [${tok.batch}, ${tok.length}]`, { file: folder });
    return { pooled: poolTextTokens(y.data as Float32Array, tok.attentionMask, b, t, d, pooling), d };
  }

  const dim = typeof config.hidden_size === 'number' ? config.hidden_size : (await runBatch(['a'])).d;

  return {
    id: opts.id ?? `${folder}:${pooling}`,
    dim,
    async encode(texts) {
      const out = new Float32Array(texts.length * dim);
      for (let s = 0; s < texts.length; s += batchSize) {
        const { pooled, d } = await runBatch(texts.slice(s, s + batchSize));
        if (d !== dim) throw new SailError(`model produced width ${d}, config.json says hidden_size ${dim}`, { file: folder });
        out.set(pooled, s * dim);
      }
      return out;
    },
    async dispose() {
      await session.release();
    },
  };
}
