import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runProbe, splitRows } from '../../src/probe/probe.js';
import { evaluateRetrievalOnStores } from '../../src/eval/tasks.js';
import { createStoreWriter } from '../../src/store/writer.js';
import { createTrainEngine } from '../../src/train/engine.js';
import { Rng } from '../../src/util/rng.js';
import { tempDir } from '../helpers/paths.js';
import { latentRows } from './latent.js';

/** Rows = mix * (latent mapped by a fixed random matrix) + (1 - mix) * fresh noise, written as a one-modality store. */
async function store(dir: string, name: string, latent: Float32Array, n: number, k: number, dim: number, mix: number, rng: Rng): Promise<void> {
  const x = latentRows(latent, n, k, dim, mix, rng);
  const w = await createStoreWriter(dir, { modalities: [{ name, dim, dtype: 'float32', model: `synthetic-${mix}` }] });
  await w.writePart(0, { [name]: x });
  await w.finalize();
}

test('splitRows is deterministic, disjoint and complete', () => {
  const a = splitRows(100, 0.2, 1);
  const b = splitRows(100, 0.2, 1);
  assert.deepEqual([...a.val], [...b.val]);
  assert.equal(a.val.length, 20);
  assert.equal(new Set([...a.train, ...a.val]).size, 100);
  assert.throws(() => splitRows(10, 10, 1), /held-out/);
});

test('probing ranks the planted well-aligned pair first (and resumes from results)', async () => {
  const dir = tempDir();
  const rng = new Rng(11);
  const n = 320;
  const k = 6;
  const latent = new Float32Array(n * k).map(() => rng.normal());
  await store(join(dir, 'text'), 'text', latent, n, k, 12, 0.9, rng);
  await store(join(dir, 'img-good'), 'image', latent, n, k, 10, 0.9, rng);
  await store(join(dir, 'img-weak'), 'image', latent, n, k, 10, 0.35, rng);
  await store(join(dir, 'img-noise'), 'image', latent, n, k, 10, 0, rng);
  const out = join(dir, 'probe');
  const opts = {
    outDir: out,
    pairs: [
      { name: 'noise', imageStore: join(dir, 'img-noise'), textStore: join(dir, 'text') },
      { name: 'weak', imageStore: join(dir, 'img-weak'), textStore: join(dir, 'text') },
      { name: 'good', imageStore: join(dir, 'img-good'), textStore: join(dir, 'text') },
    ],
    createEngine: (o: Parameters<typeof createTrainEngine>[0]) => createTrainEngine({ ...o, threads: 1 }),
    heldOut: 64, targetDim: 16, lr: 3e-3, batchSize: 64, epochs: 12, seed: 3, threads: 1,
  };
  const firstStages = new Set<string>();
  const rep = await runProbe({ ...opts, onProgress: (e) => firstStages.add(e.stage) });
  assert.deepEqual([...firstStages].sort(), ['done', 'eval', 'split', 'train']);
  assert.deepEqual(rep.ranking.map((r) => r.name), ['good', 'weak', 'noise']);
  const good = rep.ranking[0];
  assert.ok(good.score > 60, `good score ${good.score}`);
  // noise pair is near chance (R@10 of 64 candidates ~ 15.6%)
  assert.ok(rep.ranking[2].score < 35, `noise score ${rep.ranking[2].score}`);
  assert.equal(good.heldOutRows, 64);
  assert.equal(good.trainRows, 256);
  assert.equal(good.imageModel, 'synthetic-0.9');
  assert.ok(existsSync(join(out, 'probe.svg')) && readFileSync(join(out, 'probe.svg'), 'utf8').includes('<svg'));
  assert.match(readFileSync(join(out, 'probe.md'), 'utf8'), /\| 1 \| good \|/);
  // the score is the held-out retrieval of the saved head, recomputed independently here
  const rows = splitRows(n, 64, 3).val;
  const { loadHead } = await import('../../src/head/load.js');
  const head = await loadHead(join(out, 'good', 'run')); // a training output folder (checkpoint/ inside)
  const m = await evaluateRetrievalOnStores(join(dir, 'img-good'), { head, rows, textStore: join(dir, 'text'), threads: 1 });
  assert.equal((m.imageToText['R@10'] + m.textToImage['R@10']) / 2, good.score);
  // a second run reuses every result: no pair is split, trained or evaluated again
  const stages: string[] = [];
  const again = await runProbe({ ...opts, onProgress: (e) => stages.push(e.stage) });
  assert.deepEqual(again.ranking.map((r) => r.score), rep.ranking.map((r) => r.score));
  assert.deepEqual(stages.filter((s) => s !== 'done'), []);
  rmSync(dir, { recursive: true, force: true });
});

test('bar chart SVG: one bar per entry in order, widths to scale, text escaped', async () => {
  const { barChartSvg } = await import('../../src/eval/svg.js');
  const svg = barChartSvg([{ label: 'a<b>&"c"', value: 50 }, { label: 'second', value: 25, note: 'x' }, { label: 'none', value: NaN }], { title: 'T', width: 700 });
  assert.ok(svg.startsWith('<svg') && svg.trim().endsWith('</svg>'));
  assert.ok(svg.includes('a&lt;b&gt;&amp;&quot;c&quot;') && !svg.includes('a<b>'));
  const widths = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]));
  assert.equal(widths.length, 3);
  assert.ok(Math.abs(widths[0] - 2 * widths[1]) < 0.2 && widths[2] === 0);
  assert.match(svg, /n\/a/);
});
