import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { runProbe } from '../../src/probe/probe.js';
import { evaluateRetrievalOnStores } from '../../src/eval/tasks.js';
import { loadHead } from '../../src/head/load.js';
import { createStoreWriter } from '../../src/store/writer.js';
import { createTrainEngine } from '../../src/train/engine.js';
import { Rng } from '../../src/util/rng.js';
import { runSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';
import { latentRows } from './latent.js';

/** One modality from a shared latent through a fixed random map, written as a train store (first `split` rows) and a held-out store (the rest). */
async function stores(dir: string, name: string, latent: Float32Array, n: number, k: number, dim: number, mix: number, split: number, rng: Rng): Promise<void> {
  const x = latentRows(latent, n, k, dim, mix, rng);
  for (const [sub, a, b] of [['train', 0, split], ['test', split, n]] as const) {
    const w = await createStoreWriter(join(dir, `${name}-${sub}`), { modalities: [{ name: name.startsWith('img') ? 'image' : 'text', dim, dtype: 'float32', model: `synthetic-${mix}` }] });
    await w.writePart(0, { [name.startsWith('img') ? 'image' : 'text']: x.slice(a * dim, b * dim) });
    await w.finalize();
  }
}

test('probe --held-out-store: trains on every row of the training stores, scores on the other store', async () => {
  const dir = tempDir();
  const rng = new Rng(5);
  const n = 320;
  const k = 6;
  const latent = new Float32Array(n * k).map(() => rng.normal());
  await stores(dir, 'text', latent, n, k, 12, 0.9, 256, rng);
  await stores(dir, 'img-good', latent, n, k, 10, 0.9, 256, rng);
  await stores(dir, 'img-noise', latent, n, k, 10, 0, 256, rng);
  const out = join(dir, 'probe');
  const rep = await runProbe({
    outDir: out,
    pairs: [
      { name: 'noise', imageStore: join(dir, 'img-noise-train'), textStore: join(dir, 'text-train'), heldOutImageStore: join(dir, 'img-noise-test'), heldOutTextStore: join(dir, 'text-test') },
      { name: 'good', imageStore: join(dir, 'img-good-train'), textStore: join(dir, 'text-train'), heldOutImageStore: join(dir, 'img-good-test'), heldOutTextStore: join(dir, 'text-test') },
    ],
    createEngine: (o) => createTrainEngine({ ...o, threads: 1 }),
    targetDim: 16, lr: 3e-3, batchSize: 64, epochs: 12, seed: 3, threads: 1,
  });
  assert.deepEqual(rep.ranking.map((r) => r.name), ['good', 'noise']);
  const good = rep.ranking[0];
  assert.deepEqual([good.trainRows, good.heldOutRows], [256, 64]);
  assert.ok(good.score > 60, `good ${good.score}`);
  const head = await loadHead(join(out, 'good', 'run'));
  const m = await evaluateRetrievalOnStores(join(dir, 'img-good-test'), { head, textStore: join(dir, 'text-test'), threads: 1 });
  assert.equal((m.imageToText['R@10'] + m.textToImage['R@10']) / 2, good.score);
  // CLI: an unnamed held-out store needs exactly one pair; a mismatched backbone is one clear line.
  const two = runSail(['probe', '--out', join(dir, 'p2'), '--pair', `a=${join(dir, 'img-good-train')},${join(dir, 'text-train')}`, `b=${join(dir, 'img-noise-train')},${join(dir, 'text-train')}`, '--held-out-store', join(dir, 'img-good-test')]);
  assert.equal(two.status, 1);
  assert.match(two.stderr, /^sail: --held-out-store .*name the pair/m);
  const bad = runSail(['probe', '--out', join(dir, 'p3'), '--pair', `a=${join(dir, 'img-good-train')},${join(dir, 'text-train')}`, '--held-out-store', `${join(dir, 'img-noise-test')},${join(dir, 'text-test')}`, '--dim', '8', '--steps', '2', '--batch-size', '64']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^sail: .*held-out image \(synthetic-0, 10-d\) does not match the training store \(synthetic-0\.9, 10-d\)/m);
});
