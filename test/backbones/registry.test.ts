import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backbones } from '../../src/encoders/npm/index.js';
import { getBackbone, loadImageEncoder, loadTextEncoder } from '../../src/encoders/registry.js';
import { SailError } from '../../src/util/errors.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emojiPng } from './util.js';

// A cache shared across runs (conversion is tested, from scratch, in mobilenet.test.ts); writes are
// atomic, so concurrent test processes are safe.
test('npm backbones are registered and load through the registry', async () => {
  assert.deepEqual(backbones.map((b) => [b.name, b.kind, b.dim]), [['mobilenetv2-nsfwjs', 'image', 1792], ['use-lite', 'text', 512]]);
  const text = await loadTextEncoder('use-lite', { batchSize: 8 });
  try {
    assert.equal(getBackbone('use-lite')?.kind, 'text');
    assert.equal((await text.encode(['hello world'])).length, 512);
  } finally {
    await text.dispose();
  }
  const image = await loadImageEncoder('mobilenetv2-nsfwjs', { cacheDir: join(tmpdir(), 'sail-npm-backbones-test-cache'), threads: 1 });
  try {
    assert.equal(image.dim, 1792);
    assert.equal((await image.encode([emojiPng('1f600')])).length, 1792);
  } finally {
    await image.dispose();
  }
  await assert.rejects(loadImageEncoder('mobilenetv2-nsfwjs:cls'), SailError);
});
