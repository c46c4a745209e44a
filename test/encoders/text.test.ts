import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTextEncoder } from '../../src/encoders/registry.js';
import { loadTokenizer } from '../../src/encoders/tokenizer.js';
import { poolTextTokens } from '../../src/encoders/pooling.js';
import { tempDir } from '../helpers/paths.js';
import { idsOf, textTokens, writeTextModel } from './fixtures.js';

function close(got: ArrayLike<number>, want: number[], tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= tol, `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

const mean = (rows: number[][]) => rows[0].map((_, j) => rows.reduce((a, r) => a + r[j], 0) / rows.length);

// ids written by hand from the vocabulary, independent of the tokenizer
const A = idsOf(['[CLS]', 'hello', 'world', '[SEP]']);
const B = idsOf(['[CLS]', 'the', 'cat', '##s', 'on', 'a', 'sun', '##ny', 'mat', '.', '[SEP]']);

test('WordPiece tokenizer.json: ids, padding to the longest, mask, truncation', async () => {
  const dir = tempDir();
  writeTextModel(dir);
  const tok = await loadTokenizer(dir);
  assert.equal(tok.modelMaxLength, 16);
  const r = tok.tokenize(['Hello WORLD', 'the cats on a sunny mat.'], 16);
  assert.equal(r.batch, 2);
  assert.equal(r.length, B.length);
  assert.deepEqual(Array.from(r.inputIds.slice(0, B.length), Number), [...A, ...new Array(B.length - A.length).fill(0)]);
  assert.deepEqual(Array.from(r.inputIds.slice(B.length), Number), B);
  assert.deepEqual(Array.from(r.attentionMask.slice(0, B.length), Number), [1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
  const t = tok.tokenize(['the cats on a sunny mat.'], 5);
  assert.deepEqual(Array.from(t.inputIds, Number), idsOf(['[CLS]', 'the', 'cat', '##s', '[SEP]']));
  assert.deepEqual(Array.from(tok.tokenize(['zebra'], 8).inputIds, Number), idsOf(['[CLS]', '[UNK]', '[SEP]']));
});

test('BERT-shaped model: cls / mean / last pooling against float64 token states', async () => {
  const dir = tempDir();
  const tw = writeTextModel(dir, 5);
  const texts = ['hello world', 'the cats on a sunny mat.'];
  const ta = textTokens(A, tw);
  const tb = textTokens(B, tw);
  const cls = await loadTextEncoder(dir, { pooling: 'cls' });
  assert.equal(cls.dim, 5);
  close(await cls.encode(texts), [...ta[0], ...tb[0]], 1e-6, 'cls');
  await cls.dispose();
  const meanEnc = await loadTextEncoder(`${dir}:mean`, { batchSize: 1 });
  // the padded positions of A must not count in its mean
  close(await meanEnc.encode(texts), [...mean(ta), ...mean(tb)], 1e-6, 'mean');
  await meanEnc.dispose();
  const last = await loadTextEncoder(dir, { pooling: 'last' });
  close(await last.encode(texts), [...ta[ta.length - 1], ...tb[tb.length - 1]], 1e-6, 'last');
  await last.dispose();
});

test('model without token_type_ids, 1_Pooling declared mean, instruction prefix', async () => {
  const dir = tempDir();
  const tw = writeTextModel(dir, 4, { tokenTypes: false, pooling: 'mean' });
  const enc = await loadTextEncoder(dir, { instruction: 'red ' });
  assert.ok(enc.id.endsWith(':mean'));
  const ids = idsOf(['[CLS]', 'red', 'dog', '[SEP]']);
  close(await enc.encode(['dog']), mean(textTokens(ids, tw, false)), 1e-6, 'prefixed mean');
  await enc.dispose();
});

test('last pooling finds the last attended token with left padding', () => {
  // B=2, T=3, D=1; row 0 left-padded (mask 0 1 1), row 1 right-padded (1 1 0)
  const h = Float32Array.from([10, 20, 30, 40, 50, 60]);
  assert.deepEqual([...poolTextTokens(h, [0, 1, 1, 1, 1, 0], 2, 3, 1, 'last')], [30, 50]);
  assert.deepEqual([...poolTextTokens(h, [0, 1, 1, 1, 1, 0], 2, 3, 1, 'mean')], [25, 45]);
  assert.deepEqual([...poolTextTokens(h, [0n, 1n, 1n, 1n, 1n, 0n], 2, 3, 1, 'cls')], [10, 40]);
});
