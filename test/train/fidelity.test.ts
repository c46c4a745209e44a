// Fidelity to the original's training parameters: AdamW defaults and betas on `sail train`, what
// config.json records after --init, and when train.jsonl samples the logit scale and bias.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';
import { plantedStore } from './synth.js';
import { readSafetensors } from '../../src/head/safetensors.js';
import { initParams } from '../../src/head/init.js';
import { saveHead } from '../../src/train/checkpoint.js';
import { trainLoop } from '../../src/train/loop.js';
import { createTrainEngine } from '../../src/train/engine.js';
import { createOptimizer, OPTIMIZER_DEFAULTS } from '../../src/train/optimizer.js';
import { Rng } from '../../src/util/rng.js';

const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

/**
 * After ONE AdamW step from zero moments, m = (1 - b1) g and v = (1 - b2) g^2 for every element, so
 * m^2 / v = (1 - b1)^2 / (1 - b2) whatever the gradient: the betas actually used, read from the state.
 */
async function betaRatios(out: string): Promise<number[]> {
  const st = new Map((await readSafetensors(join(out, 'checkpoint', 'optimizer.safetensors'))).tensors.map((t) => [t.name, t.data]));
  const ratios: number[] = [];
  for (const [name, m] of st) {
    if (!name.endsWith('.exp_avg')) continue;
    const v = st.get(name.replace(/\.exp_avg$/, '.exp_avg_sq'))!;
    for (let j = 0; j < m.length; j++) if (v[j] > 1e-20) ratios.push((m[j] * m[j]) / v[j]);
  }
  return ratios;
}

test('sail train --optimizer adamw: defaults of the original (lr 5e-4, wd 0.2, betas 0.9/0.99), --beta1/--beta2 used', { timeout: 120_000 }, async () => {
  const dir = tempDir();
  const store = join(dir, 'store');
  await plantedStore(store, { rows: 64, testRows: 1, imageDim: 6, textDim: 5, noise: 0.3, seed: 2 });
  const base = ['train', store, '--head', 'linear', '--dim', '4', '--optimizer', 'adamw', '--steps', '1', '--batch-size', '32', '--threads', '1', '--json'];
  const def = runSail([...base, '--out', join(dir, 'def')]);
  assert.equal(def.status, 0, def.stderr);
  assert.deepEqual(readJson(join(dir, 'def', 'checkpoint', 'config.json')).optimizer, { kind: 'adamw', lr: 5e-4, weightDecay: 0.2, beta1: 0.9, beta2: 0.99, eps: 1e-8 });
  const expectDef = (1 - 0.9) ** 2 / (1 - 0.99);
  const rd = await betaRatios(join(dir, 'def'));
  assert.ok(rd.length > 10);
  for (const r of rd) assert.ok(Math.abs(r / expectDef - 1) < 1e-3, `default betas: m^2/v ${r} vs ${expectDef}`);

  const own = runSail([...base, '--out', join(dir, 'own'), '--beta1', '0.5', '--beta2', '0.95']);
  assert.equal(own.status, 0, own.stderr);
  const cfg = readJson(join(dir, 'own', 'checkpoint', 'config.json')).optimizer;
  assert.equal(cfg.beta1, 0.5);
  assert.equal(cfg.beta2, 0.95);
  for (const r of await betaRatios(join(dir, 'own'))) assert.ok(Math.abs(r / ((0.5 * 0.5) / 0.05) - 1) < 1e-3, `--beta1 0.5 --beta2 0.95: m^2/v ${r} vs 5`);

  const bad = runSail([...base, '--out', join(dir, 'bad'), '--beta2', '1']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--beta2 must be in \[0, 1\), got 1/);
});

test('optimizer library defaults: AdamW beta2 0.99 (the original), Lion 0.9/0.99 (the paper)', () => {
  assert.deepEqual(OPTIMIZER_DEFAULTS.lion, { lr: 1e-4, weightDecay: 1e-4, beta1: 0.9, beta2: 0.99 });
  const p = [{ name: 'w', shape: [1, 2], data: Float32Array.of(0, 0) }];
  const opt = createOptimizer('adamw', p, { weightDecay: 0 });
  opt.step(p, [Float32Array.of(2, -3)], 0.1);
  const v = opt.stateTensors().find((t) => t.name === 'w.exp_avg_sq')!.data;
  assert.ok(Math.abs(v[0] - 0.01 * 4) < 1e-7 && Math.abs(v[1] - 0.01 * 9) < 1e-7, `v = (1 - 0.99) g^2, got ${[...v]}`);
  assert.throws(() => createOptimizer('lion', p, { weightDecay: 0, beta2: 1.5 }), /beta2 must be in \[0, 1\)/);
});

test('--init: config.json records the init file\'s logit scale and bias; train.jsonl logs them after the update', async () => {
  const dir = tempDir();
  await plantedStore(join(dir, 's'), { rows: 64, testRows: 1, imageDim: 6, textDim: 5, noise: 0.3, seed: 3 });
  const cfg = { type: 'linear' as const, widthFactor: 8, visionDim: 6, textDim: 5, targetDim: 4, logitScaleInit: 7, logitBiasInit: -3 };
  await saveHead(join(dir, 'init.safetensors'), initParams(cfg, new Rng(5)), cfg);
  const out = join(dir, 'run');
  const lr = 0.01;
  const wd = 0.1;
  await trainLoop({
    storeDir: join(dir, 's'), outDir: out, createEngine: createTrainEngine, head: { type: 'linear', targetDim: 4 }, initFile: join(dir, 'init.safetensors'),
    optimizer: 'lion', lr, weightDecay: wd, warmupSteps: 0, batchSize: 32, steps: 2, threads: 1,
  });
  const head = readJson(join(out, 'checkpoint', 'config.json')).head;
  assert.ok(Math.abs(head.logitScaleInit - 7) < 1e-5, `logitScaleInit ${head.logitScaleInit} (the init file's, not the default 20)`);
  assert.ok(Math.abs(head.logitBiasInit + 3) < 1e-6, `logitBiasInit ${head.logitBiasInit}`);
  // Lion moves the bias by exactly lr (sign update) after decaying it: the first logged bias is the value
  // AFTER step 1, -3 (1 - lr wd) +- lr, not the pre-update -3 that the original would log.
  const lines = readFileSync(join(out, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const decayed = -3 * (1 - lines[0].lr * wd);
  assert.ok(Math.abs(Math.abs(lines[0].bias - decayed) - lines[0].lr) < 1e-5, `step 1 bias ${lines[0].bias} vs ${decayed} +- ${lines[0].lr}`);
  const final = new Map((await readSafetensors(join(out, 'checkpoint', 'head.safetensors'))).tensors.map((t) => [t.name, t.data[0]]));
  assert.ok(Math.abs(lines[1].bias - final.get('logit_bias')!) < 1e-6, 'last logged bias = checkpoint bias');
  assert.ok(Math.abs(lines[1].scale - Math.exp(final.get('logit_scale')!)) < 1e-4, 'last logged scale = exp(checkpoint log-scale)');
});
