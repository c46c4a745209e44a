import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { runEval } from '../../src/eval/run.js';
import { evaluateKnn } from '../../src/eval/tasks.js';
import type { ImageInput } from '../../src/encoders/types.js';
import { tempDir } from '../helpers/paths.js';

test('evaluateKnn on a constructed example: neighbours vote with exp(sim / T), ties count against', async () => {
  // query (1,0), label 0. Train: (0.6,0.8) class 0 and (0.6,-0.8) class 1 tie exactly at 0.6; (0,1), (0,-1) class 1 at 0.
  const train = Float32Array.from([0.6, 0.8, 0.6, -0.8, 0, 1, 0, -1]);
  const tl = Int32Array.from([0, 1, 1, 1]);
  const res = await evaluateKnn(train, tl, Float32Array.from([1, 0]), Int32Array.from([0]), 2, { ks: [1, 2, 4], threads: 1 });
  // k=1: the tie keeps the lower index (class 0) -> correct; k=2: equal class weights -> tie counts against -> wrong;
  // k=4: class 1 adds two exp(0) weights -> wrong. With 2 classes top-5 always holds.
  assert.deepEqual(res.map((r) => [r.k, r.top1, r.top5]), [[1, 100, 100], [2, 0, 100], [4, 0, 100]]);
});

test('runEval wires zeroshot, knn and linear probe on folder datasets and writes JSON + Markdown', async () => {
  const root = tempDir();
  const mk = (set: string, items: Record<string, string[]>) => {
    for (const [c, vs] of Object.entries(items)) {
      mkdirSync(join(root, set, c), { recursive: true });
      vs.forEach((v, i) => writeFileSync(join(root, set, c, `${i}-${v}.png`), 'x'));
    }
    return join(root, set);
  };
  const train = mk('train', { cat: ['1_0.1', '0.9_0'], dog: ['0_1', '0.1_0.9'] });
  const query = mk('query', { cat: ['1_0.2'], dog: ['0.3_1'] });
  const vec = (x: ImageInput) => basename(String(x), '.png').split('-')[1].split('_').map(Number);
  let built = 0;
  const res = await runEval({
    tasks: ['zeroshot', 'knn', 'linear'], dataset: query, knnTrain: train, knnKs: [1, 3], templates: ['{}'], outDir: join(root, 'out'), threads: 1,
    embedders: async () => {
      built++;
      return {
        dim: 2,
        embedImages: async (xs) => Float32Array.from(xs.flatMap(vec)),
        embedTexts: async (ts) => Float32Array.from(ts.flatMap((t) => (t === 'cat' ? [1, 0] : [0, 1]))),
      };
    },
  });
  assert.equal(built, 1);
  assert.equal(res.zeroshot!.top1, 100);
  assert.deepEqual(res.knn!.results.map((r) => r.top1), [100, 100]);
  assert.equal(res.linear!.top1, 100);
  assert.deepEqual(JSON.parse(readFileSync(join(root, 'out', 'results.json'), 'utf8')).knn.results[0].k, 1);
  assert.match(readFileSync(join(root, 'out', 'results.md'), 'utf8'), /## Weighted k-NN/);
  await assert.rejects(runEval({ tasks: ['zeroshot'], dataset: query }), /backbones/);
  await assert.rejects(runEval({ tasks: ['winoground'] }), /--winoground/);
  rmSync(root, { recursive: true, force: true });
});

test('k-NN and linear probe on pre-encoded stores with labels files (backbone features)', async () => {
  const { createStoreWriter } = await import('../../src/store/writer.js');
  const root = tempDir();
  const mk = async (name: string, rows: number[]) => {
    const w = await createStoreWriter(join(root, name), { modalities: [{ name: 'image', dim: 2, dtype: 'float32' }] });
    await w.writePart(0, { image: Float32Array.from(rows) });
    await w.finalize();
  };
  await mk('train', [0.6, 0.8, 0.6, -0.8, 0, 1, 0, -1]);
  await mk('query', [1, 0, 0, 0.9]);
  writeFileSync(join(root, 'train.txt'), 'a\nb\nb\nb\n');
  writeFileSync(join(root, 'query.txt'), 'a\nb\n');
  const res = await runEval({
    tasks: ['knn', 'linear'], store: join(root, 'query'), labels: join(root, 'query.txt'),
    knnTrain: join(root, 'train'), trainLabels: join(root, 'train.txt'), knnKs: [1, 2], threads: 1,
  });
  // query 0 as in the constructed example above; query 1 (0,1 after normalisation) has (0,1) of class b nearest
  assert.deepEqual(res.knn!.results.map((r) => [r.k, r.top1]), [[1, 100], [2, 50]]);
  assert.match(res.knn!.source, /backbone features/);
  assert.ok(Number.isFinite(res.linear!.top1));
  writeFileSync(join(root, 'query.txt'), 'a\n');
  await assert.rejects(runEval({ tasks: ['knn'], store: join(root, 'query'), labels: join(root, 'query.txt'), knnTrain: join(root, 'train'), trainLabels: join(root, 'train.txt') }), /1 labels for a store of 2 rows/);
  rmSync(root, { recursive: true, force: true });
});
