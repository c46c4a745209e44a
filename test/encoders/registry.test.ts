import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ensureBuiltins, getBackbone, listBackbones, loadImageEncoder, loadTextEncoder, registerBackbone } from '../../src/encoders/registry.js';
import { resolveModelFolder } from '../../src/encoders/model-folder.js';
import { SailError } from '../../src/util/errors.js';
import { tempDir } from '../helpers/paths.js';
import type { ImageEncoder } from '../../src/encoders/types.js';

test('built-in hub backbones: widths and pooling per the SAIL method', async () => {
  await ensureBuiltins();
  const dims = Object.fromEntries(listBackbones().map((s) => [s.name, [s.kind, s.dim]]));
  assert.deepEqual(dims['dinov2-small'], ['image', 768]);
  assert.deepEqual(dims['dinov2-large'], ['image', 2048]);
  assert.deepEqual(dims['dinov2-giant'], ['image', 3072]);
  assert.deepEqual(dims['gte-large-en-v1.5'], ['text', 1024]);
  assert.deepEqual(dims['gte-base-en-v1.5'], ['text', 768]);
  assert.deepEqual(dims['bge-small-en-v1.5'], ['text', 384]);
  assert.deepEqual(dims['all-MiniLM-L6-v2'], ['text', 384]);
  assert.equal(getBackbone('dinov2-base')?.hubId, 'facebook/dinov2-base');
});

test('a hub backbone without a local folder asks for --model-dir or --allow-download (no network)', async () => {
  const cacheDir = tempDir();
  await assert.rejects(loadImageEncoder('dinov2-small', { cacheDir }), (e: unknown) => e instanceof SailError && /--model-dir/.test(e.message) && /--allow-download/.test(e.message));
  await assert.rejects(loadTextEncoder('gte-large-en-v1.5', { cacheDir }), /Alibaba-NLP\/gte-large-en-v1\.5 is not in the cache/);
  await assert.rejects(loadImageEncoder('dinov2-small', { modelDir: cacheDir }), /lacks onnx\/model\.onnx|lacks config\.json/);
  await assert.rejects(resolveModelFolder({ hubId: '../../etc', required: ['x'], allowDownload: true, cacheDir }), /invalid hub id/);
});

test('registerBackbone: a new backbone is a data entry; kinds are checked', async () => {
  let loaded = 0;
  const fake: ImageEncoder = { id: 'test-img', dim: 3, encode: async (xs) => new Float32Array(xs.length * 3).fill(1), dispose: async () => undefined };
  registerBackbone({ kind: 'image', name: 'test-image-backbone', dim: 3, load: async () => { loaded += 1; return fake; } });
  const enc = await loadImageEncoder('test-image-backbone');
  assert.equal(enc, fake);
  assert.equal(loaded, 1);
  await assert.rejects(loadTextEncoder('test-image-backbone'), /is an image backbone, not a text backbone/);
  await assert.rejects(loadImageEncoder('no-such-backbone'), /unknown image backbone 'no-such-backbone'/);
  await assert.rejects(loadImageEncoder(join(tempDir(), 'missing-folder')), SailError);
  assert.throws(() => registerBackbone({ kind: 'image', name: 'bad name!', dim: 1, load: async () => fake }), SailError);
});

test('hub backbones load from --model-dir or an already filled cache folder', async () => {
  const { writeVisionModel, writeTextModel } = await import('./fixtures.js');
  const dir = tempDir();
  writeVisionModel(dir, 4);
  const enc = await loadImageEncoder('dinov2-small:cls', { modelDir: dir });
  assert.equal(enc.id, 'dinov2-small:cls');
  assert.equal(enc.dim, 4);
  await enc.dispose();
  const cacheDir = tempDir();
  writeTextModel(join(cacheDir, 'sentence-transformers', 'all-MiniLM-L6-v2'), 3);
  const txt = await loadTextEncoder('all-MiniLM-L6-v2', { cacheDir });
  assert.equal(txt.id, 'all-MiniLM-L6-v2:mean'); // the registry's pooling for MiniLM
  await txt.dispose();
});
