import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { pack as tarPack } from 'tar-stream';
import { encode } from '../../src/encoders/pipeline.js';
import { loadImageEncoder, loadTextEncoder } from '../../src/encoders/registry.js';
import type { ImageEncoder, TextEncoder } from '../../src/encoders/types.js';
import { openStore } from '../../src/store/reader.js';
import { SailError } from '../../src/util/errors.js';
import { tempDir } from '../helpers/paths.js';
import { writeTextModel, writeVisionModel } from './fixtures.js';

const CAPS = ['a cat', 'a dog', 'the sun', 'red mat', 'hello world', 'a red dog', 'the cat on a mat', 'sunny', 'dog dog', 'world'];
let root: string;
let img: ImageEncoder;
let txt: TextEncoder;

async function colourPng(i: number): Promise<Buffer> {
  const w = 24 + i;
  const raw = Buffer.alloc(w * 20 * 3);
  for (let k = 0; k < raw.length; k++) raw[k] = (k * (i + 3) + i * 40) % 256;
  return sharp(raw, { raw: { width: w, height: 20, channels: 3 } }).png().toBuffer();
}

before(async () => {
  root = tempDir();
  writeVisionModel(join(root, 'vis'), 4);
  writeTextModel(join(root, 'txt'), 3);
  img = await loadImageEncoder(join(root, 'vis'));
  txt = await loadTextEncoder(join(root, 'txt'), { pooling: 'mean' });
  mkdirSync(join(root, 'imgs'));
  const lines = ['image,caption,long'];
  for (let i = 0; i < 10; i++) {
    const name = `im${i}.png`;
    if (i === 3) writeFileSync(join(root, 'imgs', name), Buffer.from('garbage, not a png'));
    else if (i !== 6) writeFileSync(join(root, 'imgs', name), await colourPng(i)); // row 6: file missing
    lines.push(`imgs/${name},"${CAPS[i]}","${CAPS[(i + 1) % 10]}, ${CAPS[i]}"`);
  }
  writeFileSync(join(root, 'data.csv'), lines.join('\n') + '\n');
});

after(async () => {
  await img.dispose();
  await txt.dispose();
});

const captions = [{ modality: 'text', column: 'caption' }, { modality: 'extra_text', column: 'long' }];

function closeF16(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 2e-3 * (1 + Math.abs(want[i])), `${what}[${i}]: ${got[i]} vs ${want[i]}`);
}

test('manifest -> store: corrupt and missing images dropped from every modality, row ids recorded', async () => {
  const out = join(tempDir(), 'store');
  const progress: number[] = [];
  const res = await encode({
    input: join(root, 'data.csv'), out, imageEncoder: img, textEncoder: txt, captions, partSize: 4, batchSize: 3,
    onProgress: (p) => progress.push(p.rowsDone),
  });
  assert.equal(res.sourceRows, 10);
  assert.equal(res.dropped, 2);
  assert.equal(res.partsWritten, 3);
  assert.ok(progress.length > 0 && progress[progress.length - 1] === 10);
  const store = await openStore(out);
  assert.equal(store.rows, 8);
  assert.deepEqual(store.modalities().sort(), ['extra_text', 'image', 'text']);
  assert.deepEqual(store.manifest.parts.map((p) => p.rows), [3, 3, 2]);
  const meta = store.manifest.meta as { encode: { keptRows: number[][]; dropped: number; sourceRows: number } };
  assert.deepEqual(meta.encode.keptRows, [[0, 3], [4, 6], [7, 10]]);
  assert.equal(meta.encode.sourceRows, 10);
  const errors = readFileSync(join(out, 'errors.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(errors.map((e) => e.row), [3, 6]);
  assert.ok(errors[0].file.endsWith('im3.png') && errors[1].file.endsWith('im6.png'));
  assert.ok(errors.every((e) => /unreadable image/.test(e.reason)));

  // row k of every modality belongs to the same source row: compare with direct encodes
  const kept = [0, 1, 2, 4, 5, 7, 8, 9];
  const all = Array.from({ length: 8 }, (_, k) => k);
  closeF16(await store.readRows('image', all), await img.encode(kept.map((i) => join(root, 'imgs', `im${i}.png`))), 'image');
  closeF16(await store.readRows('text', all), await txt.encode(kept.map((i) => CAPS[i])), 'text');
  closeF16(await store.readRows('extra_text', all), await txt.encode(kept.map((i) => `${CAPS[(i + 1) % 10]}, ${CAPS[i]}`)), 'extra_text');
  assert.equal(store.model('image'), img.id);
  await store.close();
});

test('--on-error fail stops naming the file and row', async () => {
  const out = join(tempDir(), 'store');
  await assert.rejects(
    encode({ input: join(root, 'data.csv'), out, imageEncoder: img, textEncoder: txt, captions, partSize: 4, onError: 'fail' }),
    (e: unknown) => e instanceof SailError && e.row === 3 && /im3\.png/.test(e.message) && /row 3/.test(e.message),
  );
});

test('two shards write disjoint parts; the last one finalises a store equal to a single run', async () => {
  const base = tempDir();
  const single = join(base, 'single');
  const sharded = join(base, 'sharded');
  const opts = { input: join(root, 'data.csv'), imageEncoder: img, textEncoder: txt, captions, partSize: 4, batchSize: 4 };
  await encode({ ...opts, out: single });
  const r0 = await encode({ ...opts, out: sharded, shard: { index: 0, count: 2 } });
  assert.equal(r0.partsWritten, 2); // parts 0 and 2
  assert.equal(r0.manifest, undefined);
  const r1 = await encode({ ...opts, out: sharded, shard: { index: 1, count: 2 } });
  assert.equal(r1.partsWritten, 1);
  assert.ok(r1.manifest);
  for (const f of readdirSync(single)) {
    if (f === 'encode') continue;
    assert.deepEqual(readFileSync(join(sharded, f)), readFileSync(join(single, f)), f);
  }
  // resume of a complete store writes nothing
  const again = await encode({ ...opts, out: sharded });
  assert.equal(again.partsWritten, 0);
  assert.equal(again.partsSkipped, 3);
  // other settings on the same store are refused
  await assert.rejects(encode({ ...opts, out: sharded, partSize: 5 }), /different encode settings/);
});

async function makeTar(path: string, members: [string, Buffer | string][]): Promise<void> {
  const p = tarPack();
  for (const [name, body] of members) p.entry({ name }, typeof body === 'string' ? Buffer.from(body) : body);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(Buffer.from(c as Uint8Array));
  writeFileSync(path, Buffer.concat(chunks));
}

test('WebDataset tar shards: key.png + key.txt + key.json, rows numbered across shards', async () => {
  const dir = join(tempDir(), 'shards');
  mkdirSync(dir);
  await makeTar(join(dir, 'shard-000.tar'), [
    ['s/000.png', await colourPng(0)], ['s/000.txt', 'a cat'], ['s/000.json', JSON.stringify({ long: 'the cat on a mat' })],
    ['s/001.png', Buffer.from('broken')], ['s/001.txt', 'a dog'], ['s/001.json', JSON.stringify({ long: 'x' })],
  ]);
  await makeTar(join(dir, 'shard-001.tar'), [
    ['s/002.jpg', await sharp(await colourPng(2)).jpeg().toBuffer()], ['s/002.txt', 'hello world'], ['s/002.json', JSON.stringify({ captions: { long: 'world' } })],
  ]);
  const out = join(tempDir(), 'store');
  const res = await encode({ input: dir, out, imageEncoder: img, textEncoder: txt, captions: [{ modality: 'text', column: 'txt' }, { modality: 'extra_text', column: 'long' }], partSize: 2 });
  assert.equal(res.sourceRows, 3);
  const store = await openStore(out);
  assert.equal(store.rows, 2);
  assert.deepEqual((store.manifest.meta as { encode: { keptRows: number[][] } }).encode.keptRows, [[0, 1], [2, 3]]);
  closeF16(await store.readRows('text', [0, 1]), await txt.encode(['a cat', 'hello world']), 'tar text');
  closeF16(await store.readRows('extra_text', [0, 1]), await txt.encode(['the cat on a mat', 'world']), 'tar json caption');
  const errors = readFileSync(join(out, 'errors.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(errors.map((e) => [e.row, e.file]), [[1, `${join(dir, 'shard-000.tar')}:s/001`]]);
  await store.close();

  const evil = join(tempDir(), 'evil.tar');
  await makeTar(evil, [['../escape.txt', 'x']]);
  await assert.rejects(encode({ input: evil, out: join(tempDir(), 's'), textEncoder: txt }), (e: unknown) => e instanceof SailError && /\.\./.test(e.message));
});

test('image folder with sidecar captions; a missing sidecar is a recorded row error', async () => {
  const dir = join(tempDir(), 'folder');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'b.png'), await colourPng(1));
  writeFileSync(join(dir, 'b.txt'), 'a dog\n');
  writeFileSync(join(dir, 'a.png'), await colourPng(0));
  writeFileSync(join(dir, 'a.txt'), 'a cat');
  writeFileSync(join(dir, 'sub', 'c.png'), await colourPng(2)); // no caption
  const out = join(tempDir(), 'store');
  const res = await encode({ input: dir, out, imageEncoder: img, textEncoder: txt });
  assert.equal(res.sourceRows, 3);
  const store = await openStore(out);
  assert.equal(store.rows, 2);
  closeF16(await store.readRows('text', [0, 1]), await txt.encode(['a cat', 'a dog']), 'folder captions in name order');
  closeF16(await store.readRows('image', [0, 1]), await img.encode([join(dir, 'a.png'), join(dir, 'b.png')]), 'folder images');
  assert.match(readFileSync(join(out, 'errors.jsonl'), 'utf8'), /caption file missing/);
  await store.close();
  // image only: no text modality
  const out2 = join(tempDir(), 'store');
  await encode({ input: dir, out: out2, imageEncoder: img });
  const s2 = await openStore(out2);
  assert.deepEqual(s2.modalities(), ['image']);
  assert.equal(s2.rows, 3);
  await s2.close();
});

test('an encoder without prepare() (e.g. npm backbones) gets bad images isolated per item, same store', async () => {
  const base = tempDir();
  const opts = { input: join(root, 'data.csv'), textEncoder: txt, captions, partSize: 4, batchSize: 3 };
  const plain: ImageEncoder = { id: img.id, dim: img.dim, preprocess: img.preprocess, encode: (xs) => img.encode(xs), dispose: async () => undefined };
  await encode({ ...opts, out: join(base, 'a'), imageEncoder: img });
  const res = await encode({ ...opts, out: join(base, 'b'), imageEncoder: plain });
  assert.equal(res.dropped, 2);
  const rowsOf = (d: string) => readFileSync(join(base, d, 'errors.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).row);
  assert.deepEqual(rowsOf('b'), rowsOf('a'));
  for (const f of readdirSync(join(base, 'a'))) {
    if (f === 'encode' || f === 'errors.jsonl') continue; // reasons are worded differently
    assert.deepEqual(readFileSync(join(base, 'b', f)), readFileSync(join(base, 'a', f)), f);
  }
});
