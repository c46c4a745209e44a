// Tiny DINOv2-shaped and BERT-shaped ONNX models, written in the transformers.js folder layout, plus the
// float64 reference math the tests compare against.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder } from '../../src/onnx/graph.js';

export const PATCH = 14;
export const IMG = 224;
export const GRID = IMG / PATCH; // 16
export const P = GRID * GRID; // 256 patches

/** Deterministic pseudo-random weights in [-0.5, 0.5). */
export function weights(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}

export interface VisionWeights {
  d: number;
  w: Float32Array; // conv [d, 3, 14, 14]
  b: Float32Array; // [d]
}

/**
 * pixel_values [B,3,224,224] -> Conv(14, stride 14) -> patches [B,256,d]; CLS = max over patches;
 * last_hidden_state = [CLS ; patches] of shape [B, 257, d]. `registers` extra tokens (all 7.0) sit between.
 */
export function writeVisionModel(dir: string, d = 6, opts: { registers?: number; preprocessor?: Record<string, unknown> } = {}): VisionWeights {
  const registers = opts.registers ?? 0;
  const w = weights(d * 3 * PATCH * PATCH, 11);
  const b = weights(d, 12);
  const g = new GraphBuilder('tiny-dinov2');
  const x = g.input('pixel_values', 'float32', ['batch', 3, IMG, IMG]);
  const conv = g.op('Conv', [x, g.initializer('w', w, [d, 3, PATCH, PATCH]), g.initializer('b', b, [d])], { kernel_shape: [PATCH, PATCH], strides: [PATCH, PATCH] });
  const flat = g.op('Reshape', [conv, g.constI64([0, d, P])]);
  const patches = g.op('Transpose', [flat], { perm: [0, 2, 1] });
  const cls = g.op('ReduceMax', [patches, g.constI64([1])], { keepdims: 1 });
  const parts = [cls];
  if (registers > 0) {
    // constant register tokens, broadcast to the batch by adding 0 * cls
    const reg = g.op('Add', [g.op('Mul', [cls, g.constF(0)]), g.constF(7)]);
    for (let r = 0; r < registers; r++) parts.push(reg);
  }
  parts.push(patches);
  const h = g.op('Concat', parts, { axis: 1 });
  g.output(h, 'last_hidden_state', 'float32', ['batch', 1 + registers + P, d]);
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  writeFileSync(join(dir, 'onnx', 'model.onnx'), g.toBytes({ opset: 18 }));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'dinov2', hidden_size: d, patch_size: PATCH, image_size: IMG, ...(registers ? { num_register_tokens: registers } : {}) }));
  writeFileSync(
    join(dir, 'preprocessor_config.json'),
    JSON.stringify(opts.preprocessor ?? {
      image_processor_type: 'BitImageProcessor',
      do_resize: true, size: { shortest_edge: 256 }, resample: 3,
      do_center_crop: true, crop_size: { height: 224, width: 224 },
      do_rescale: true, rescale_factor: 0.00392156862745098,
      do_normalize: true, image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225],
      do_convert_rgb: true,
    }),
  );
  return { d, w, b };
}

/** float64 reference of the vision model: input NCHW float [3,224,224] -> tokens [257][d] (CLS first). */
export function visionTokens(px: Float64Array | Float32Array, vw: VisionWeights): number[][] {
  const { d, w, b } = vw;
  const patches: number[][] = [];
  for (let gy = 0; gy < GRID; gy++) {
    for (let gx = 0; gx < GRID; gx++) {
      const v: number[] = [];
      for (let o = 0; o < d; o++) {
        let s = b[o];
        for (let c = 0; c < 3; c++)
          for (let ky = 0; ky < PATCH; ky++)
            for (let kx = 0; kx < PATCH; kx++)
              s += w[((o * 3 + c) * PATCH + ky) * PATCH + kx] * px[(c * IMG + gy * PATCH + ky) * IMG + gx * PATCH + kx];
        v.push(s);
      }
      patches.push(v);
    }
  }
  const cls = Array.from({ length: d }, (_, j) => Math.max(...patches.map((p) => p[j])));
  return [cls, ...patches];
}

// ---- text ----

/** The tiny WordPiece vocabulary (id = index). */
export const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a', 'cat', 'dog', 'on', 'the', 'mat', 'hello', 'world', 'sun', '##s', '##ny', ',', '.', 'red'];
export const MAX_POS = 16;

export interface TextWeights {
  d: number;
  emb: Float32Array; // [V, d]
  pos: Float32Array; // [MAX_POS, d]
  typ: Float32Array; // [2, d]
}

/**
 * input_ids, attention_mask, token_type_ids [B,T] int64 -> last_hidden_state [B,T,d] =
 * emb[id] + pos[t] + typ[type] (position-dependent, so cls / mean / last pooling differ).
 */
export function writeTextModel(dir: string, d = 5, opts: { tokenTypes?: boolean; pooling?: 'cls' | 'mean' | 'last' } = {}): TextWeights {
  const tokenTypes = opts.tokenTypes ?? true;
  const emb = weights(VOCAB.length * d, 21);
  const pos = weights(MAX_POS * d, 22);
  const typ = weights(2 * d, 23);
  const g = new GraphBuilder('tiny-bert');
  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  g.input('attention_mask', 'int64', ['batch', 'seq']);
  const e = g.op('Gather', [g.initializer('emb', emb, [VOCAB.length, d]), ids], { axis: 0 });
  const shape = g.op('Shape', [ids]);
  const t = g.op('Squeeze', [g.op('Slice', [shape, g.constI64([1]), g.constI64([2])]), g.constI64([0])]);
  const range = g.op('Range', [g.initializer('zero', BigInt64Array.from([0n]), []), t, g.initializer('one', BigInt64Array.from([1n]), [])]);
  const p = g.op('Gather', [g.initializer('pos', pos, [MAX_POS, d]), range], { axis: 0 });
  let h = g.op('Add', [e, p]);
  if (tokenTypes) {
    const tt = g.input('token_type_ids', 'int64', ['batch', 'seq']);
    h = g.op('Add', [h, g.op('Gather', [g.initializer('typ', typ, [2, d]), tt], { axis: 0 })]);
  }
  g.output(h, 'last_hidden_state', 'float32', ['batch', 'seq', d]);
  mkdirSync(join(dir, 'onnx'), { recursive: true });
  writeFileSync(join(dir, 'onnx', 'model.onnx'), g.toBytes());
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'bert', hidden_size: d, max_position_embeddings: MAX_POS }));
  writeTokenizer(dir);
  if (opts.pooling) {
    mkdirSync(join(dir, '1_Pooling'), { recursive: true });
    writeFileSync(join(dir, '1_Pooling', 'config.json'), JSON.stringify({
      word_embedding_dimension: d,
      pooling_mode_cls_token: opts.pooling === 'cls', pooling_mode_mean_tokens: opts.pooling === 'mean', pooling_mode_lasttoken: opts.pooling === 'last',
    }));
  }
  return { d, emb, pos, typ };
}

/** A BERT-uncased-style WordPiece tokenizer.json over {@link VOCAB}. */
export function writeTokenizer(dir: string): void {
  const vocab = Object.fromEntries(VOCAB.map((t, i) => [t, i]));
  const special = (id: number) => ({ id, content: VOCAB[id], single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const tok = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [0, 1, 2, 3, 4].map(special),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [
        { SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } },
      ],
      special_tokens: { '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({
    tokenizer_class: 'BertTokenizer', do_lower_case: true, model_max_length: MAX_POS,
    cls_token: '[CLS]', sep_token: '[SEP]', pad_token: '[PAD]', unk_token: '[UNK]', mask_token: '[MASK]', padding_side: 'right',
  }));
}

/** float64 token states of the text model for one id sequence (type ids all 0). */
export function textTokens(ids: number[], tw: TextWeights, tokenTypes = true): number[][] {
  return ids.map((id, t) => Array.from({ length: tw.d }, (_, j) => tw.emb[id * tw.d + j] + tw.pos[t * tw.d + j] + (tokenTypes ? tw.typ[j] : 0)));
}

/** Ids by hand from the vocabulary (no tokenizer involved). */
export function idsOf(tokens: string[]): number[] {
  return tokens.map((t) => {
    const i = VOCAB.indexOf(t);
    if (i < 0) throw new Error('not in vocab: ' + t);
    return i;
  });
}
