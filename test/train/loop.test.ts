import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trainLoop, type TrainLoopOptions } from '../../src/train/loop.js';
import { createTrainEngine } from '../../src/train/engine.js';
import type { Batch, EngineOptions, TrainEngine } from '../../src/train/engine-types.js';
import { paramSpecs } from '../../src/head/config.js';
import { readSafetensors } from '../../src/head/safetensors.js';
import { saveHead } from '../../src/train/checkpoint.js';
import { initParams } from '../../src/head/init.js';
import { createStoreWriter } from '../../src/store/writer.js';
import { Rng } from '../../src/util/rng.js';
import { SailError } from '../../src/util/errors.js';
import { tempDir } from '../helpers/paths.js';
import { linearHeadEmbed, plantedStore, recallAt1 } from './synth.js';

const headMap = async (file: string) => new Map((await readSafetensors(file)).tensors.map((t) => [t.name, t.data]));

test('planted linear relation: training drives held-out retrieval R@1 far above chance (Lion and AdamW)', async () => {
  const dir = tempDir();
  const D = 16, T = 12, OUT = 16, N = 256;
  const pl = await plantedStore(join(dir, 'store'), { rows: 2048, testRows: N, imageDim: D, textDim: T, noise: 0.3, seed: 3 });
  const r1 = (m: Map<string, Float32Array>) => recallAt1(linearHeadEmbed(m, 'vision', pl.testImage, N, D, OUT), linearHeadEmbed(m, 'text', pl.testText, N, T, OUT), N, OUT);
  const cfg = { type: 'linear' as const, widthFactor: 8, visionDim: D, textDim: T, targetDim: OUT, logitScaleInit: 20, logitBiasInit: -10 };
  const before = r1(new Map(initParams(cfg, new Rng(42)).map((p) => [p.name, p.data])));
  const base = { storeDir: join(dir, 'store'), createEngine: createTrainEngine, head: { type: 'linear' as const, targetDim: OUT }, weightDecay: 1e-4, batchSize: 256, epochs: 20, threads: 1 };
  const lion = await trainLoop({ ...base, outDir: join(dir, 'lion'), optimizer: 'lion', lr: 1e-2 });
  await trainLoop({ ...base, outDir: join(dir, 'adamw'), optimizer: 'adamw', lr: 3e-2 });
  assert.equal(lion.steps, 160); // 2048 / 256 * 20
  const rLion = r1(await headMap(join(dir, 'lion', 'checkpoint', 'head.safetensors')));
  const rAdam = r1(await headMap(join(dir, 'adamw', 'checkpoint', 'head.safetensors')));
  // chance is 1/256 = 0.004
  assert.ok(before < 0.05, `untrained R@1 ${before}`);
  assert.ok(rLion > 0.4, `Lion R@1 ${rLion}`);
  assert.ok(rAdam > 0.7, `AdamW R@1 ${rAdam}`);
  const log = readFileSync(join(dir, 'lion', 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(log.length, 160);
  assert.ok(log[159].loss < log[0].loss / 5, `loss ${log[0].loss} -> ${log[159].loss}`);
  assert.deepEqual(Object.keys(log[0]).sort(), ['bias', 'epoch', 'loss', 'lr', 'negative', 'pairsPerSec', 'positive', 'scale', 'step']);
  assert.ok(Math.abs(log[0].positive + log[0].negative - log[0].loss) < 1e-5);
  const cfgJson = JSON.parse(readFileSync(join(dir, 'lion', 'checkpoint', 'config.json'), 'utf8'));
  assert.equal(cfgJson.head.visionDim, D);
  assert.equal(cfgJson.optimizer.kind, 'lion');
});

/** An engine that records which rows each batch holds (image column 0 = row id) and returns zero gradients. */
function recordingEngine(seen: number[][]): (o: EngineOptions) => Promise<TrainEngine> {
  return async (o) => ({
    async step(_params, batch: Batch) {
      const ids: number[] = [];
      for (let i = 0; i < batch.n; i++) ids.push(batch.image[i * o.head.visionDim]);
      seen.push(ids);
      if (batch.extraText) assert.equal(batch.extraText[0], batch.image[0] + 0.5);
      return { loss: 1, positiveLoss: 0.5, negativeLoss: 0.5, ...(batch.extraText ? { extraLoss: 0.25 } : {}), grads: paramSpecs(o.head).map((s) => new Float32Array(s.shape.reduce((a, b) => a * b, 1))) };
    },
    async dispose() {},
  });
}

async function idStore(dir: string, rows: number): Promise<void> {
  const w = await createStoreWriter(dir, { modalities: [{ name: 'image', dim: 2, dtype: 'float32' }, { name: 'text', dim: 2, dtype: 'float32' }, { name: 'extra_text', dim: 2, dtype: 'float32' }] });
  const a = new Float32Array(rows * 2);
  for (let i = 0; i < rows; i++) a[2 * i] = i;
  await w.writePart(0, { image: a, text: a, extra_text: a.map((x, i) => (i % 2 === 0 ? x + 0.5 : 0)) });
  await w.finalize();
}

test('batches: per-epoch permutations from the seed, drop_last, --no-shuffle order, extra texts', async () => {
  const dir = tempDir();
  await idStore(join(dir, 's'), 10);
  const base: Omit<TrainLoopOptions, 'outDir' | 'createEngine'> = { storeDir: join(dir, 's'), head: { type: 'linear', targetDim: 4 }, lr: 0, weightDecay: 0, batchSize: 3, epochs: 2 };
  const a: number[][] = [];
  await trainLoop({ ...base, outDir: join(dir, 'a'), createEngine: recordingEngine(a), seed: 5 });
  assert.equal(a.length, 6); // 3 full batches per epoch, 1 row dropped
  for (const e of [0, 1]) {
    const rows = a.slice(3 * e, 3 * e + 3).flat();
    assert.equal(new Set(rows).size, 9, 'no row twice within an epoch');
  }
  assert.notDeepEqual(a.slice(0, 3), a.slice(3, 6), 'each epoch has its own permutation');
  const b: number[][] = [];
  await trainLoop({ ...base, outDir: join(dir, 'b'), createEngine: recordingEngine(b), seed: 5 });
  assert.deepEqual(b, a, 'same seed, same batches');
  const c: number[][] = [];
  await trainLoop({ ...base, outDir: join(dir, 'c'), createEngine: recordingEngine(c), seed: 6, shuffle: false, extraText: 'extra_text' });
  assert.deepEqual(c, [[0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 1, 2], [3, 4, 5], [6, 7, 8]]);
  const log = readFileSync(join(dir, 'c', 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(log[0].extra, 0.25);
});

test('resume guards: existing checkpoint needs --resume, settings must match, crash leftovers are recovered', async () => {
  const dir = tempDir();
  await plantedStore(join(dir, 's'), { rows: 256, testRows: 1, imageDim: 6, textDim: 5, noise: 0.3, seed: 1 });
  const base = { storeDir: join(dir, 's'), outDir: join(dir, 'run'), createEngine: createTrainEngine, head: { type: 'star' as const, widthFactor: 2, targetDim: 8 }, lr: 1e-3, weightDecay: 1e-4, batchSize: 32, steps: 12, checkpointEvery: 5, threads: 1 };
  const full = await trainLoop({ ...base, outDir: join(dir, 'full') });
  assert.equal(full.steps, 12);
  // a run stopped after step 5 (signal), then resumed
  const ctl = new AbortController();
  const first = await trainLoop({ ...base, signal: ctl.signal, onProgress: (p) => { if (p.step === 5) ctl.abort(); } });
  assert.equal(first.stopped, true);
  assert.equal(first.steps, 5);
  await assert.rejects(trainLoop(base), (e: Error) => e instanceof SailError && /already holds a checkpoint/.test(e.message));
  await assert.rejects(trainLoop({ ...base, resume: true, lr: 2e-3 }), /config\.json: cannot resume with different settings \(optimizer/);
  await assert.rejects(trainLoop({ ...base, resume: true, batchSize: 16 }), /batchSize: checkpoint 32, now 16/);
  // simulate a kill between the two renames of a checkpoint save, with a half-written new folder
  renameSync(join(dir, 'run', 'checkpoint'), join(dir, 'run', 'checkpoint.old'));
  mkdirSync(join(dir, 'run', '.checkpoint-new-999'));
  writeFileSync(join(dir, 'run', '.checkpoint-new-999', 'head.safetensors'), 'partial');
  // and a metrics line that was logged after the checkpoint
  writeFileSync(join(dir, 'run', 'train.jsonl'), readFileSync(join(dir, 'run', 'train.jsonl'), 'utf8') + '{"step":6,"loss":9}\n{"step":7,"lo');
  const resumed = await trainLoop({ ...base, resume: true });
  assert.equal(resumed.resumedFromStep, 5);
  assert.equal(resumed.steps, 12);
  assert.ok(!existsSync(join(dir, 'run', '.checkpoint-new-999')));
  assert.ok(!existsSync(join(dir, 'run', 'checkpoint.old')));
  for (const f of ['head.safetensors', 'optimizer.safetensors']) {
    assert.ok(readFileSync(join(dir, 'run', 'checkpoint', f)).equals(readFileSync(join(dir, 'full', 'checkpoint', f))), `${f} bit-identical`);
  }
  const losses = (p: string) => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l).loss);
  assert.deepEqual(losses(join(dir, 'run', 'train.jsonl')), losses(join(dir, 'full', 'train.jsonl')));
});

test('--init loads matching head weights and names the tensor when the head differs', async () => {
  const dir = tempDir();
  await plantedStore(join(dir, 's'), { rows: 64, testRows: 1, imageDim: 6, textDim: 5, noise: 0.3, seed: 1 });
  const cfg = { type: 'linear' as const, widthFactor: 8, visionDim: 6, textDim: 5, targetDim: 4, logitScaleInit: 20, logitBiasInit: -10 };
  const init = initParams(cfg, new Rng(99));
  await saveHead(join(dir, 'init.safetensors'), init, cfg);
  const base = { storeDir: join(dir, 's'), createEngine: createTrainEngine, lr: 0, weightDecay: 0, batchSize: 32, steps: 1, threads: 1, initFile: join(dir, 'init.safetensors') };
  await trainLoop({ ...base, outDir: join(dir, 'ok'), head: { type: 'linear', targetDim: 4 } });
  const got = await headMap(join(dir, 'ok', 'checkpoint', 'head.safetensors'));
  for (const p of init) assert.deepEqual([...got.get(p.name)!], [...p.data], `${p.name} kept (lr 0)`);
  await assert.rejects(trainLoop({ ...base, outDir: join(dir, 'star'), head: { type: 'star', targetDim: 4 } }),
    /init\.safetensors: tensor vision_mapping_network\.weight is not part of a star head/);
  await assert.rejects(trainLoop({ ...base, outDir: join(dir, 'wide'), head: { type: 'linear', targetDim: 8 } }),
    /init\.safetensors: tensor vision_mapping_network\.weight has shape \[4,6\], expected \[8,6\]/);
});

test('validation every k epochs: retrieval on a pre-encoded store is logged to val.jsonl and matches the final head', async () => {
  const { evaluateRetrievalOnStores } = await import('../../src/eval/tasks.js');
  const { loadHead } = await import('../../src/head/load.js');
  const dir = tempDir();
  const D = 16, T = 12, OUT = 16, N = 128;
  const pl = await plantedStore(join(dir, 'store'), { rows: 1024, testRows: N, imageDim: D, textDim: T, noise: 0.3, seed: 5 });
  const val = await createStoreWriter(join(dir, 'val'), { modalities: [{ name: 'image', dim: D, dtype: 'float32' }, { name: 'text', dim: T, dtype: 'float32' }] });
  await val.writePart(0, { image: Float32Array.from(pl.testImage), text: Float32Array.from(pl.testText) });
  await val.finalize();
  const out = join(dir, 'run');
  const seen: number[] = [];
  await trainLoop({
    storeDir: join(dir, 'store'), outDir: out, createEngine: createTrainEngine, head: { type: 'linear', targetDim: OUT },
    optimizer: 'adamw', lr: 3e-2, weightDecay: 1e-4, batchSize: 256, epochs: 5, threads: 1,
    validate: { everyEpochs: 2, run: async (head, at) => { seen.push(at.epoch); return { retrieval: await evaluateRetrievalOnStores(join(dir, 'val'), { head }) }; } },
  });
  // epochs 2 and 4, plus the end of training (epoch 5)
  assert.deepEqual(seen, [2, 4, 5]);
  const lines = readFileSync(join(out, 'val.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.step), [8, 16, 20]);
  const final = await evaluateRetrievalOnStores(join(dir, 'val'), { head: await loadHead(join(out, 'checkpoint')) });
  assert.deepEqual(lines[2].retrieval, JSON.parse(JSON.stringify(final)));
  assert.ok(final.imageToText['R@1'] > 30, `final I2T R@1 ${final.imageToText['R@1']}%`);
});
