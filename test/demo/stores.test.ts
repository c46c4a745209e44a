// Demo store caching: reuse when complete, resume when interrupted, rebuild when the inputs change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensureStore, type EncoderProvider, type StoreSpec } from '../../src/demo/stores.js';
import { openStore } from '../../src/store/reader.js';
import type { ImageEncoder, ImageInput, TextEncoder } from '../../src/encoders/types.js';
import { tempDir } from '../helpers/paths.js';

/** Deterministic encoders that count how many rows they embedded (features: byte sums / char codes). */
function countingEncoders(): EncoderProvider & { imageRows: number; textRows: number } {
  const state = { imageRows: 0, textRows: 0 };
  const image: ImageEncoder = {
    id: 'count-image',
    dim: 3,
    async encode(images: ImageInput[]) {
      state.imageRows += images.length;
      const out = new Float32Array(images.length * 3);
      images.forEach((im, i) => {
        const b = Buffer.from(im as Buffer);
        out.set([b.length, b[0] ?? 0, b.reduce((a, x) => a + x, 0) / 100], i * 3);
      });
      return out;
    },
    async dispose() {},
  };
  const text: TextEncoder = {
    id: 'count-text',
    dim: 2,
    async encode(texts: string[]) {
      state.textRows += texts.length;
      const out = new Float32Array(texts.length * 2);
      texts.forEach((t, i) => out.set([t.length, t.charCodeAt(0)], i * 2));
      return out;
    },
    async dispose() {},
  };
  return Object.assign(state, { image: async () => image, text: async () => text });
}

function spec(dir: string, texts: string[]): StoreSpec {
  return {
    dir,
    backbones: { image: 'count-image', text: 'count-text' },
    partRows: 4,
    columns: [
      { name: 'image', kind: 'image', rows: texts.length, keys: texts, load: async (r) => Buffer.from(`img-${texts[r]}`) },
      { name: 'text', kind: 'text', texts },
    ],
  };
}

test('ensureStore writes, reuses, resumes and rebuilds', async () => {
  const dir = join(tempDir('sail-demo-store-'), 'train');
  const texts = Array.from({ length: 10 }, (_, i) => `caption ${i}`);
  const enc = countingEncoders();
  const first = await ensureStore(spec(dir, texts), enc);
  assert.equal(first.encoded, true);
  assert.equal(first.manifest.rows, 10);
  assert.equal(first.manifest.parts.length, 3);
  assert.equal(first.manifest.modalities.image.model, 'count-image');
  assert.deepEqual([enc.imageRows, enc.textRows], [10, 10]);
  const store = await openStore(dir);
  const row7 = await store.readRows('text', [7]);
  assert.deepEqual(Array.from(row7), ['caption 7'.length, 'c'.charCodeAt(0)]);
  await store.close();

  // complete and unchanged: nothing is encoded (and no encoder is even asked for)
  const again = countingEncoders();
  const second = await ensureStore(spec(dir, texts), { image: () => Promise.reject(new Error('loaded')), text: () => Promise.reject(new Error('loaded')) });
  assert.equal(second.encoded, false);
  assert.deepEqual([again.imageRows, again.textRows], [0, 0]);

  // interrupted: manifest and the middle part lost -> only that part (4 rows) is encoded again
  rmSync(join(dir, 'manifest.json'));
  rmSync(join(dir, 'part-00001.json'));
  const resume = countingEncoders();
  const third = await ensureStore(spec(dir, texts), resume);
  assert.equal(third.encoded, true);
  assert.equal(third.manifest.rows, 10);
  assert.deepEqual([resume.imageRows, resume.textRows], [4, 4]);

  // different captions: the old parts must not be reused
  const changed = texts.map((t) => t.toUpperCase());
  const rebuild = countingEncoders();
  await ensureStore(spec(dir, changed), rebuild);
  assert.deepEqual([rebuild.imageRows, rebuild.textRows], [10, 10]);
  const s2 = await openStore(dir);
  assert.equal((await s2.readRows('text', [0]))[1], 'C'.charCodeAt(0));
  await s2.close();
  assert.ok(existsSync(join(dir, 'demo-spec.json')));
});

test('ensureStore rejects columns of different lengths', async () => {
  const dir = join(tempDir('sail-demo-store-'), 'bad');
  const s = spec(dir, ['a', 'b', 'c']);
  s.columns.push({ name: 'extra_text', kind: 'text', texts: ['x'] });
  await assert.rejects(ensureStore(s, countingEncoders()), /extra_text has 1 rows, expected 3/);
});

test('ensureStore encodes each distinct caption once (drawings of one concept share captions), rows in order', async () => {
  const dir = join(tempDir('sail-demo-store-'), 'dup');
  // 10 rows, 3 distinct captions, spread over 3 parts of 4 rows; a second column repeats them too
  const texts = Array.from({ length: 10 }, (_, i) => ['grinning face', 'cat', 'red apple'][i % 3]);
  const s = spec(dir, texts);
  s.columns.push({ name: 'extra_text', kind: 'text', texts: texts.map((t) => (t === 'cat' ? 'red apple' : `${t}, keywords`)) });
  const enc = countingEncoders();
  await ensureStore(s, enc);
  // 'grinning face', 'cat', 'red apple', 'grinning face, keywords', 'red apple, keywords' (the extra
  // caption of 'cat' is 'red apple', already encoded): 5 texts in all, not 20
  assert.equal(enc.textRows, 5);
  assert.equal(enc.imageRows, 10);
  const store = await openStore(dir);
  const rows = Uint32Array.from({ length: 10 }, (_, i) => i);
  const text = await store.readRows('text', rows);
  const extra = await store.readRows('extra_text', rows);
  await store.close();
  for (let r = 0; r < 10; r++) {
    const t = texts[r];
    const e = t === 'cat' ? 'red apple' : `${t}, keywords`;
    assert.deepEqual(Array.from(text.subarray(r * 2, r * 2 + 2)), [t.length, t.charCodeAt(0)], `text row ${r}`);
    assert.deepEqual(Array.from(extra.subarray(r * 2, r * 2 + 2)), [e.length, e.charCodeAt(0)], `extra_text row ${r}`);
  }
});
