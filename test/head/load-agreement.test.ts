// One head loader: every file that one of createModel, export, eval or `sail train --init` accepts is
// accepted by all of them, and every file one rejects is rejected by all with the same message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HeadConfig, HeadType } from '../../src/head/config.js';
import { createModel } from '../../src/model/model.js';
import { exportModel } from '../../src/model/export.js';
import { runEval } from '../../src/eval/run.js';
import { trainLoop } from '../../src/train/loop.js';
import { createTrainEngine } from '../../src/train/engine.js';
import { tempDir } from '../helpers/paths.js';
import { randomHead, writeSafetensors } from '../model/helpers.js';
import { plantedStore } from '../train/synth.js';

const cfgOf = (type: HeadType): HeadConfig => ({ type, widthFactor: 2, visionDim: 6, textDim: 5, targetDim: 4, logitScaleInit: 10, logitBiasInit: -10 });

interface Case {
  name: string;
  path: string;
  /** The head a training run must be configured with for --init (the file's own). */
  config: HeadConfig;
  accept: boolean;
}

/** Head files in the forms users bring, good and bad. */
function headFiles(dir: string): Case[] {
  const cases: Case[] = [];
  const add = (name: string, type: HeadType, accept: boolean, write: (file: string, cfg: HeadConfig) => void, asFolder = false): void => {
    const cfg = cfgOf(type);
    const folder = join(dir, name);
    mkdirSync(folder, { recursive: true });
    const file = join(folder, 'head.safetensors');
    write(file, cfg);
    cases.push({ name, path: asFolder ? folder : file, config: cfg, accept });
  };
  const tensors = (cfg: HeadConfig, seed: number) => randomHead(cfg, seed).map((p) => ({ name: p.name, shape: p.shape, data: p.data }));
  add('ours-metadata', 'star', true, (f, c) => writeSafetensors(f, tensors(c, 1), { config: JSON.stringify(c) }));
  add('module-prefixed-inferred', 'star', true, (f, c) => writeSafetensors(f, tensors(c, 2).map((t) => ({ ...t, name: `module.${t.name}` }))));
  add('scalar-logits', 'mlp', true, (f, c) =>
    writeSafetensors(f, tensors(c, 3).map((t) => (t.name.startsWith('logit_') ? { ...t, shape: [] } : t)), { config: JSON.stringify(c) }));
  add('extra-tensors-ignored', 'linear', true, (f, c) =>
    writeSafetensors(f, [...tensors(c, 4), { name: 'model.lm_head.weight', shape: [2, 3], data: new Float32Array(6) }], { config: JSON.stringify(c) }));
  add('folder-with-config', 'linear', true, (f, c) => {
    writeSafetensors(f, tensors(c, 5));
    writeFileSync(join(f, '..', 'config.json'), JSON.stringify(c));
  }, true);
  add('mis-shaped', 'mlp', false, (f, c) => {
    writeSafetensors(f, tensors(c, 6));
    writeFileSync(join(f, '..', 'config.json'), JSON.stringify({ ...c, targetDim: 5 }));
  }, true);
  add('missing-tensor', 'star', false, (f, c) => writeSafetensors(f, tensors(c, 7).filter((t) => t.name !== 'text_mapping_network.g.bias'), { config: JSON.stringify(c) }));
  add('type-mismatch-config', 'star', false, (f, c) => {
    writeSafetensors(f, tensors(c, 8));
    writeFileSync(join(f, '..', 'config.json'), JSON.stringify({ head: { ...c, type: 'linear' } }));
  }, true);
  add('corrupt', 'star', false, (f) => writeFileSync(f, Buffer.from([255, 255, 255, 255, 0, 0, 0, 0, 1, 2])));
  return cases;
}

/** The message of a rejection, or 'accepted'. */
async function outcome(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
    return 'accepted';
  } catch (e) {
    return (e as Error).message;
  }
}

test('createModel, export, eval and train --init accept and reject the same head files with the same messages', async (t) => {
  const dir = tempDir();
  const store = join(dir, 'store');
  await plantedStore(store, { rows: 32, testRows: 1, imageDim: 6, textDim: 5, noise: 0.3, seed: 1 });
  const cases = headFiles(join(dir, 'heads'));
  for (const c of cases) {
    const paths = {
      createModel: () => createModel({ head: c.path }).then((m) => m.dispose()),
      export: () => exportModel(c.path, { outDir: join(dir, 'exp', c.name), imageBackboneId: 'test-image', textBackboneId: 'test-text' }),
      eval: () => runEval({ tasks: ['retrieval'], store, head: c.path, threads: 1 }),
      init: () => trainLoop({
        storeDir: store, outDir: join(dir, 'runs', c.name), createEngine: createTrainEngine, lr: 0, weightDecay: 0, batchSize: 16, steps: 1, threads: 1,
        initFile: c.path, head: { type: c.config.type, widthFactor: c.config.widthFactor, targetDim: c.config.targetDim },
      }),
    };
    const got: Record<string, string> = {};
    for (const [name, run] of Object.entries(paths)) got[name] = await outcome(run);
    const distinct = new Set(Object.values(got));
    assert.equal(distinct.size, 1, `${c.name}: ${JSON.stringify(got, null, 1)}`);
    const [only] = distinct;
    t.diagnostic(`${c.name}: ${only}`);
    if (c.accept) assert.equal(only, 'accepted', c.name);
    else assert.notEqual(only, 'accepted', c.name);
  }
});
