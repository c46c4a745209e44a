import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { createModel } from '../../src/model/model.js';
import { inferHeadConfig, loadHead } from '../../src/head/load.js';
import type { HeadConfig, HeadType } from '../../src/head/config.js';
import { SailError } from '../../src/util/errors.js';
import { tempDir } from '../helpers/paths.js';
import { PlantedImageEncoder, PlantedTextEncoder, randomHead, refForward, writeSafetensors } from './helpers.js';

const cfgOf = (type: HeadType): HeadConfig => ({ type, widthFactor: 3, visionDim: 6, textDim: 5, targetDim: 4, logitScaleInit: 20, logitBiasInit: -10 });

function features(n: number, d: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n * d }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648 - 0.5) * 4;
  });
}

for (const type of ['star', 'mlp', 'linear'] as HeadType[]) {
  test(`head forward (${type}) matches the float64 reference`, async () => {
    const cfg = cfgOf(type);
    const params = randomHead(cfg, 3);
    const model = await createModel({ head: { config: cfg, params } });
    const xi = features(7, cfg.visionDim, 11);
    const xt = features(5, cfg.textDim, 12);
    const vi = await model.encodeImageFeatures(xi);
    const vr = await model.encodeImageFeatures(xi, { normalize: false });
    const vt = await model.encodeTextFeatures(xt);
    let worst = 0;
    for (let r = 0; r < 7; r++) {
      const ref = refForward(cfg, params, 'vision', xi.subarray(r * 6, r * 6 + 6));
      const refRaw = refForward(cfg, params, 'vision', xi.subarray(r * 6, r * 6 + 6), false);
      for (let k = 0; k < 4; k++) {
        worst = Math.max(worst, Math.abs(vi[r * 4 + k] - ref[k]));
        worst = Math.max(worst, Math.abs(vr[r * 4 + k] - refRaw[k]) / Math.max(1, Math.abs(refRaw[k])));
      }
    }
    for (let r = 0; r < 5; r++) {
      const ref = refForward(cfg, params, 'text', xt.subarray(r * 5, r * 5 + 5));
      for (let k = 0; k < 4; k++) worst = Math.max(worst, Math.abs(vt[r * 4 + k] - ref[k]));
    }
    assert.ok(worst < 1e-5, `max error ${worst}`);
    await model.dispose();
  });
}

test('checkpoint: config inferred from original-format tensor names and shapes (with module. prefix)', async () => {
  const cfg = cfgOf('star');
  const params = randomHead(cfg, 5);
  const dir = tempDir();
  const file = join(dir, 'sail_head.safetensors');
  writeSafetensors(file, params.map((p) => ({ ...p, name: `module.${p.name}` })).reverse());
  const loaded = await loadHead(file);
  assert.equal(loaded.config.type, 'star');
  assert.equal(loaded.config.widthFactor, 3);
  assert.equal(loaded.config.visionDim, 6);
  assert.equal(loaded.config.textDim, 5);
  assert.equal(loaded.config.targetDim, 4);
  assert.deepEqual(loaded.params.map((p) => p.name), params.map((p) => p.name));
  assert.deepEqual(Array.from(loaded.params[2].data), Array.from(params[2].data));
  assert.equal(inferHeadConfig(new Map([['vision_layer_norm.weight', [8]], ['text_layer_norm.weight', [3]], ['vision_mapping_network.weight', [2, 8]]])).type, 'linear');
});

test('checkpoint: folder with config.json; mis-shaped tensors and bad files give SailError', async () => {
  const cfg = cfgOf('mlp');
  const params = randomHead(cfg, 6);
  const dir = tempDir();
  writeSafetensors(join(dir, 'head.safetensors'), params);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  assert.equal((await loadHead(dir)).config.type, 'mlp');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...cfg, targetDim: 5 }));
  await assert.rejects(loadHead(dir), (e: unknown) => e instanceof SailError && /expected \[5,24\]/.test(e.message));
  writeFileSync(join(dir, 'head.safetensors'), Buffer.from([255, 255, 255, 255, 0, 0, 0, 0, 1, 2]));
  await assert.rejects(loadHead(dir), (e: unknown) => e instanceof SailError && /head\.safetensors/.test(e.message));
});

test('zero-shot probabilities: sigmoid uses exp(scale) and bias, softmax over labels; templates averaged', async () => {
  const cfg: HeadConfig = { type: 'linear', widthFactor: 1, visionDim: 3, textDim: 3, targetDim: 3, logitScaleInit: 10, logitBiasInit: -2 };
  const params = randomHead(cfg, 9);
  const imgs = new Map([['a.png', Float32Array.from([1, 0.2, -0.5])], ['b.png', Float32Array.from([-0.3, 1, 0.1])]]);
  const textEnc = new PlantedTextEncoder(3, (t) => (t.startsWith('x ') ? Float32Array.from([0.9, 0.1, -0.6]) : undefined));
  const model = await createModel({ head: { config: cfg, params }, visionModel: new PlantedImageEncoder(3, imgs), textModel: textEnc });
  assert.ok(Math.abs(model.logitScale - 10) < 1e-5 && Math.abs(model.logitBias + 2) < 1e-6);
  const labels = ['cat', 'dog', 'car'];
  const templates = ['x {}', 'a {} here'];
  const probs = await model.zeroShotProbabilities(['a.png', 'b.png'], labels, { templates });
  assert.deepEqual(textEnc.seen, ['x cat', 'a cat here', 'x dog', 'a dog here', 'x car', 'a car here']);
  // Independent float64 computation of the expected probabilities.
  const norm = (v: Float64Array) => v.map((t) => t / Math.hypot(...v));
  const textVec = async (t: string) => (await textEnc.encode([t])).slice();
  const lab: Float64Array[] = [];
  for (const l of labels) {
    const a = refForward(cfg, params, 'text', await textVec(`x ${l}`));
    const b = refForward(cfg, params, 'text', await textVec(`a ${l} here`));
    lab.push(norm(a.map((t, i) => t + b[i])));
  }
  const soft = await model.zeroShotProbabilities(['a.png', 'b.png'], labels, { templates, mode: 'softmax' });
  ['a.png', 'b.png'].forEach((name, i) => {
    const v = refForward(cfg, params, 'vision', imgs.get(name)!);
    const cos = lab.map((l) => l.reduce((s, t, k) => s + t * v[k], 0));
    const z = cos.map((c) => Math.exp(10 * c));
    const zs = z.reduce((a, b) => a + b, 0);
    cos.forEach((c, j) => {
      assert.ok(Math.abs(probs[i * 3 + j] - 1 / (1 + Math.exp(-(10 * c - 2)))) < 1e-5);
      assert.ok(Math.abs(soft[i * 3 + j] - z[j] / zs) < 1e-5);
    });
  });
  const sim = model.similarity(Float32Array.from([1, 0, 0, 0, 2, 0]), Float32Array.from([3, 3, 0]));
  assert.ok(Math.abs(sim[0] - Math.SQRT1_2) < 1e-6 && Math.abs(sim[1] - Math.SQRT1_2) < 1e-6);
  await model.dispose();
});

test('checkpoint: reads what training writes (saveHead metadata config; checkpoint folder with optimizer file)', async () => {
  const { saveHead } = await import('../../src/train/checkpoint.js');
  const cfg: HeadConfig = { ...cfgOf('star'), widthFactor: 2, logitScaleInit: 7 };
  const params = randomHead(cfg, 8);
  const dir = tempDir();
  await saveHead(join(dir, 'head.safetensors'), params, cfg);
  writeSafetensors(join(dir, 'optimizer.safetensors'), [{ name: 'm', shape: [1], data: new Float32Array(1) }]);
  const fromFile = await loadHead(join(dir, 'head.safetensors'));
  assert.equal(fromFile.config.widthFactor, 2);
  assert.equal(fromFile.config.logitScaleInit, 7);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ head: cfg, loss: 'siglip' }));
  const fromDir = await loadHead(dir);
  assert.deepEqual(fromDir.config, cfg);
  assert.deepEqual(Array.from(fromDir.params.at(-2)!.data), Array.from(params.at(-2)!.data));
});

test('labelEmbeddings is the eval classifier: {c} placeholders fill, a template without a placeholder is rejected', async () => {
  const cfg: HeadConfig = { type: 'linear', widthFactor: 1, visionDim: 3, textDim: 3, targetDim: 3, logitScaleInit: 10, logitBiasInit: -2 };
  const textEnc = new PlantedTextEncoder(3, () => undefined);
  const model = await createModel({ head: { config: cfg, params: randomHead(cfg, 3) }, textModel: textEnc });
  const { buildClassifier } = await import('../../src/eval/zeroshot.js');
  const viaModel = await model.labelEmbeddings(['cat', 'dog'], ['the {c}.', 'a {} photo']);
  assert.deepEqual(textEnc.seen.slice(0, 4), ['the cat.', 'a cat photo', 'the dog.', 'a dog photo']);
  const viaEval = await buildClassifier(['cat', 'dog'], ['the {c}.', 'a {} photo'], (t) => model.encodeText(t), 3);
  assert.deepEqual(Array.from(viaModel), Array.from(viaEval));
  await assert.rejects(model.labelEmbeddings(['cat'], ['a photo of']), (e: unknown) => e instanceof SailError && /no \{\} or \{c\} placeholder/.test(e.message));
  await model.dispose();
});
