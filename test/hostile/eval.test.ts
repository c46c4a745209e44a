// Wrong numbers that look right (issue 10, items 6 and 7): heads on stores of other widths or backbones,
// NaN in head weights or embeddings, and ranking that NaN must never win.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ranksFromMatrix } from '../../src/eval/metrics.js';
import { scanSimilarity } from '../../src/eval/similarity.js';
import { evaluateRetrievalOnStores } from '../../src/eval/tasks.js';
import { loadHead } from '../../src/head/load.js';
import { createModel } from '../../src/model/model.js';
import { exportModel } from '../../src/model/export.js';
import { SailError } from '../../src/util/errors.js';
import { tempDir } from '../helpers/paths.js';
import { assertOneLineError, runCli, tinyHead, tinyStore } from './helpers.js';

const evalArgs = (store: string, head: string, ...more: string[]) => ['eval', '--task', 'retrieval', '--store', store, '--head', head, '--threads', '1', '--json', ...more];

test('item 6: sail eval refuses a head whose input widths differ from the store dims', async () => {
  const dir = tempDir();
  const store = join(dir, 'store');
  await tinyStore(store, { rows: 20, image: 24, text: 12, seed: 1 });
  // 24 and 12 are multiples of 6 and 4: rows would have been silently re-cut into 4 and 3 rows each
  const head = await tinyHead(join(dir, 'head.safetensors'), { visionDim: 6, textDim: 4 });
  const out = join(dir, 'out');
  assertOneLineError(runCli(evalArgs(store, head, '--out', out)), /store: modality image holds 24-d embeddings but the head expects 6-d image inputs/);
  assert.ok(!existsSync(join(out, 'results.json')), 'no results written');
  const text = await tinyHead(join(dir, 'head2.safetensors'), { visionDim: 24, textDim: 4 });
  assertOneLineError(runCli(evalArgs(store, text)), /modality text holds 12-d embeddings but the head expects 4-d text inputs/);
});

test('item 6: backbone ids must match where both the head and the store record them', async () => {
  const dir = tempDir();
  const store = join(dir, 'store');
  await tinyStore(store, { rows: 20, image: 6, text: 4, seed: 1, imageModel: 'dinov2-small', textModel: 'gte-base' });
  const head = await tinyHead(join(dir, 'head.safetensors'), { visionDim: 6, textDim: 4, visionModel: 'mobilenetv2-nsfwjs', textModel: 'gte-base' });
  assertOneLineError(runCli(evalArgs(store, head)), /modality image was encoded by dinov2-small but the head was trained on mobilenetv2-nsfwjs image embeddings/);
  // a head that records no backbone is checked by width only
  const bare = await tinyHead(join(dir, 'bare.safetensors'), { visionDim: 6, textDim: 4 });
  const ok = runCli(evalArgs(store, bare));
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(JSON.parse(ok.stdout).retrieval.nImages, 20);
});

test('item 6: the library checks widths of pre-encoded features and of stores', async () => {
  const dir = tempDir();
  const head = await loadHead(await tinyHead(join(dir, 'head.safetensors'), { visionDim: 6, textDim: 4 }));
  const model = await createModel({ head });
  try {
    await assert.rejects(model.encodeImageFeatures({ data: new Float32Array(24), dim: 12 }), (e: Error) => e instanceof SailError && /vision features are 12-d but the head expects 6-d inputs/.test(e.message));
    assert.equal((await model.encodeImageFeatures({ data: new Float32Array(12).fill(1), dim: 6 })).length, 8);
    const bad = new Float32Array(12).fill(0.5);
    bad[7] = NaN;
    await assert.rejects(model.encodeImageFeatures(bad), /row 1: vision features hold NaN at column 1/);
  } finally {
    await model.dispose();
  }
  const store = join(dir, 'store');
  await tinyStore(store, { rows: 8, image: 12, text: 4, seed: 1 });
  await assert.rejects(evaluateRetrievalOnStores(store, { head }), /holds 12-d embeddings but the head expects 6-d/);
});

test('item 7: a NaN head weight is an error in eval, export and the model API, naming the tensor', async () => {
  const dir = tempDir();
  const store = join(dir, 'store');
  await tinyStore(store, { rows: 20, image: 6, text: 4, seed: 1 });
  const head = await tinyHead(join(dir, 'nan.safetensors'), { visionDim: 6, textDim: 4 }, { param: 'text_mapping_network.weight', index: 5, value: NaN });
  assertOneLineError(runCli(evalArgs(store, head)), /nan\.safetensors: head parameter text_mapping_network\.weight holds NaN at index 5/);
  const out = join(dir, 'export');
  assertOneLineError(runCli(['export', head, '--out', out]), /head parameter text_mapping_network\.weight holds NaN/);
  assert.ok(!existsSync(join(out, 'sail_model.json')));
  // in-memory heads bypass the file loader: the model and export still refuse them
  const good = await loadHead(await tinyHead(join(dir, 'ok.safetensors'), { visionDim: 6, textDim: 4 }));
  good.params[2].data[0] = Infinity;
  await assert.rejects(createModel({ head: good }), /head parameter vision_mapping_network\.weight holds Infinity at index 0/);
  await assert.rejects(exportModel(good, { outDir: join(dir, 'export2') }), /holds Infinity/);
  await assert.rejects(evaluateRetrievalOnStores(store, { head: good }), /holds Infinity/);
});

test('item 7: ranking is not fooled by NaN: NaN scores rank last, NaN embeddings are refused', async () => {
  // dense path: query 0's positive scores NaN; it must get the worst rank, not rank 1
  const sim = [NaN, 0.1, 0.2, 0.3, 0.5, 0.4, 0.7, NaN, 0.8];
  const groups = Int32Array.from([0, 1, 2]);
  assert.deepEqual([...ranksFromMatrix(sim, 3, 3, groups, groups)], [3, 1, 1]);
  // blocked path: finite inputs whose product overflows to Inf - Inf = NaN for the query's positive
  // (onnxruntime's single-row Gemm adds the two overflowed products)
  const big = 3e38;
  const queries = Float32Array.from([big, big]);
  const candidates = Float32Array.from([big, -big, 1, 0, 0, 1]);
  const r = await scanSimilarity({ queries, candidates, dim: 2, queryGroup: Int32Array.from([0]), candidateGroup: Int32Array.from([0, 1, 2]), topK: 3 }, { threads: 1 });
  assert.equal(r.positiveScores![0], -Infinity, 'the NaN positive counts as the worst score');
  assert.equal(r.ranks![0], 3, 'a NaN positive gets the worst rank, not rank 1');
  assert.deepEqual([...r.topIndices!], [1, 2, -1], 'NaN never enters a top-K list');
  // NaN in an embedding is refused outright
  const nan = Float32Array.from([1, 0, NaN, 1]);
  await assert.rejects(scanSimilarity({ queries: nan, candidates, dim: 2 }), (e: Error) => e instanceof SailError && /row 1: similarity: query rows hold NaN at column 0/.test(e.message));
});
