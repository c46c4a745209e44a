// The demo's head training (src/demo/train.ts): the star head's initial logit scale and bias options.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_DEFAULTS, resolveSettings } from '../../src/demo/options.js';
import { trainDemoHead } from '../../src/demo/train.js';
import { createStoreWriter } from '../../src/store/writer.js';
import { Rng } from '../../src/util/rng.js';
import { tempDir } from '../helpers/paths.js';

async function tinyStore(dir: string, seed = 3): Promise<void> {
  const rng = new Rng(seed);
  const rows = (n: number, d: number) => Float32Array.from({ length: n * d }, () => rng.normal());
  const w = await createStoreWriter(dir, { modalities: [{ name: 'image', dim: 8, dtype: 'float16' }, { name: 'text', dim: 4, dtype: 'float16' }, { name: 'extra_text', dim: 4, dtype: 'float16' }] });
  await w.writePart(0, { image: rows(32, 8), text: rows(32, 4), extra_text: rows(32, 4) });
  await w.finalize();
}

test('demo star head: --logit-scale / --logit-bias set the initial scale and bias; absent, the run spec (and so its cache hash) is as before', async () => {
  const dir = tempDir();
  const store = join(dir, 'store');
  await tinyStore(store);
  const base = { storeDir: store, type: 'star' as const, widthFactor: 2, targetDim: 4, steps: 2, batchSize: 16, lr: 1e-4, weightDecay: 1e-4, seed: 1, threads: 1 };
  const custom = await trainDemoHead({ ...base, runDir: join(dir, 'custom'), logitScale: 10, logitBias: -3 });
  const param = (h: typeof custom.initial, name: string) => h.params.find((p) => p.name === name)!.data[0];
  assert.equal(param(custom.initial, 'logit_scale'), Math.fround(Math.log(10)));
  assert.equal(param(custom.initial, 'logit_bias'), -3);
  assert.equal(custom.final.config.logitScaleInit, 10);
  assert.equal(custom.final.config.logitBiasInit, -3);
  const plain = await trainDemoHead({ ...base, runDir: join(dir, 'plain') });
  assert.equal(param(plain.initial, 'logit_scale'), Math.fround(Math.log(20)));
  assert.equal(param(plain.initial, 'logit_bias'), -10);
  const spec = JSON.parse(readFileSync(join(dir, 'plain', 'demo-run.json'), 'utf8')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(spec), ['v', 'store', 'type', 'widthFactor', 'targetDim', 'steps', 'batchSize', 'lr', 'weightDecay', 'seed'], 'no new keys when the defaults are used');
  await fs.rm(dir, { recursive: true, force: true });
});

test('demo settings: the logit scale must lie in [1, 100] and the bias be finite', () => {
  assert.equal(resolveSettings({ logitScale: 10, logitBias: -5 }, 'out').star.logitScale, 10);
  assert.deepEqual([resolveSettings({}, 'out').star.logitScale, resolveSettings({}, 'out').star.logitBias], [DEMO_DEFAULTS.logitScale, DEMO_DEFAULTS.logitBias]);
  assert.equal(resolveSettings({}, 'out').linear.logitScale, undefined, 'the linear probe: the head defaults');
  assert.equal(resolveSettings({ logitScale: 10 }, 'out').linear.logitScale, undefined, 'the linear probe keeps the defaults');
  assert.throws(() => resolveSettings({ logitScale: 0.5 }, 'out'), /logitScale must be in \[1, 100\]/);
  assert.throws(() => resolveSettings({ logitScale: 200 }, 'out'), /logitScale must be in \[1, 100\]/);
  assert.throws(() => resolveSettings({ logitBias: NaN }, 'out'), /logitBias must be a finite number/);
  assert.equal(resolveSettings({ linearLogitScale: 10, linearLogitBias: -5 }, 'out').linear.logitBias, -5);
  assert.throws(() => resolveSettings({ linearLogitScale: 101 }, 'out'), /linearLogitScale must be in \[1, 100\]/);
});

test('demo training: a finished run on a store that was re-encoded since is trained again, not resumed (which the loop refuses)', async () => {
  const dir = tempDir();
  const store = join(dir, 'store');
  await tinyStore(store);
  const o = { storeDir: store, runDir: join(dir, 'run'), type: 'linear' as const, widthFactor: 1, targetDim: 4, steps: 2, batchSize: 16, lr: 1e-4, weightDecay: 1e-4, seed: 1, threads: 1 };
  await trainDemoHead(o);
  const marker = join(dir, 'run', 'marker');
  writeFileSync(marker, 'x');
  await trainDemoHead(o);
  assert.ok(existsSync(marker), 'same store, same settings: the finished run is reused');
  await fs.rm(store, { recursive: true });
  await tinyStore(store, 4); // re-encoded: other values, same path and settings
  await trainDemoHead(o);
  assert.ok(!existsSync(marker), 'the run folder was started afresh');
  const fingerprint = (JSON.parse(readFileSync(join(dir, 'run', 'checkpoint', 'config.json'), 'utf8')) as { storeFingerprint: string }).storeFingerprint;
  const { openStore } = await import('../../src/store/reader.js');
  const s = await openStore(store);
  assert.equal(fingerprint, s.fingerprint);
  await s.close();
  await fs.rm(dir, { recursive: true, force: true });
});
