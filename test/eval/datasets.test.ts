import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { pack as tarPack } from 'tar-stream';
import { evaluateCaptionDataset, evaluateZeroShotDataset } from '../../src/eval/dataset-tasks.js';
import { openEvalDataset, openMmvp, openWinogroundJsonl, type ClassificationDataset } from '../../src/eval/datasets.js';
import { retrievalFromMatrix } from '../../src/eval/metrics.js';
import { evaluateMmvp, evaluateWinoground } from '../../src/eval/tasks.js';
import { buildClassifier, loadTemplates, parseTemplates } from '../../src/eval/zeroshot.js';
import type { ImageInput } from '../../src/encoders/types.js';
import { tempDir } from '../helpers/paths.js';

const CLASSES = ['cat', 'dog', 'fox'];

/** Text embedder: prompt of class c -> e_c +- 0.5 e_{c+1} depending on the template, so only the template mean is e_c. */
async function embedTexts(texts: string[]): Promise<Float32Array> {
  const out = new Float32Array(texts.length * 3);
  texts.forEach((t, i) => {
    const c = CLASSES.findIndex((n) => t.includes(n));
    assert.ok(c >= 0, t);
    out[i * 3 + c] = 1;
    out[i * 3 + ((c + 1) % 3)] = t.startsWith('a photo') ? 0.5 : -0.5;
  });
  return out;
}

/** Image embedder: the file name (or tar member bytes) holds the vector, e.g. "1_0_0.jpg". */
function vecOf(x: ImageInput): number[] {
  const s = typeof x === 'string' ? basename(x).replace(/\.\w+$/, '').replace(/^\w+-/, '') : Buffer.from(x).toString('utf8');
  return s.split('_').map(Number);
}
async function embedImages(xs: ImageInput[]): Promise<Float32Array> {
  return Float32Array.from(xs.flatMap(vecOf));
}

test('templates: built-in sets and user files ({} or {c}); bad lines name the file and line', () => {
  const t80 = loadTemplates('openai80');
  assert.equal(t80.length, 80);
  assert.equal(new Set(t80).size, 80);
  assert.deepEqual(loadTemplates('7'), ['itap of a {}.', 'a bad photo of the {}.', 'a origami {}.', 'a photo of the large {}.', 'a {} in a video game.', 'art of the {}.', 'a photo of the small {}.']);
  assert.ok(loadTemplates('7').every((t) => t80.includes(t)));
  assert.deepEqual(parseTemplates('# comment\na {c} here\n\nthe {}\n'), ['a {c} here', 'the {}']);
  assert.throws(() => parseTemplates('ok {}\nno placeholder\n', 'my.txt'), /my\.txt, row 2: template has no/);
});

test('classifier = renormalised mean of normalised template embeddings (closed form e_c)', async () => {
  const W = await buildClassifier(CLASSES, ['a photo of a {}.', 'the {c}.'], embedTexts, 3);
  for (let c = 0; c < 3; c++) for (let j = 0; j < 3; j++) assert.ok(Math.abs(W[c * 3 + j] - (c === j ? 1 : 0)) < 1e-6);
});

test('zero-shot on class folders: accuracy, per-class and confusions known by construction', async () => {
  const root = tempDir();
  const files: Record<string, string[]> = { cat: ['1_0_0', '0.2_0.9_0'], dog: ['0_1_0'], fox: ['0_0_1', '0.5_0.5_0'] };
  for (const [c, vs] of Object.entries(files)) {
    mkdirSync(join(root, c));
    vs.forEach((v, i) => writeFileSync(join(root, c, `${i}-${v}.jpg`), 'x'));
  }
  writeFileSync(join(root, 'cat', 'notes.txt'), 'ignored');
  const ds = (await openEvalDataset(root)) as ClassificationDataset;
  assert.deepEqual(ds.classNames, CLASSES);
  assert.equal(ds.count, 5);
  const m = await evaluateZeroShotDataset(ds, embedImages, embedTexts, 3, { templates: ['a photo of a {}.', 'the {}.'], batchSize: 2, threads: 1 });
  assert.equal(m.top1, 60);
  assert.equal(m.top5, 100);
  assert.deepEqual(m.perClass.map((p) => [p.name, p.top1]), [['cat', 50], ['dog', 100], ['fox', 50]]);
  assert.deepEqual(m.confusions.map((c) => [c.trueName, c.predictedName, c.count]), [['cat', 'dog', 1], ['fox', 'cat', 1]]);
  rmSync(root, { recursive: true, force: true });
});

test('CLIP-benchmark WebDataset layout: classnames, templates, tar shards with cls + image', async () => {
  const root = tempDir();
  mkdirSync(join(root, 'test'));
  writeFileSync(join(root, 'classnames.txt'), 'cat\ndog\nfox\n');
  writeFileSync(join(root, 'zeroshot_classification_templates.txt'), 'a photo of a {c}.\nthe {c}.\n');
  const p = tarPack();
  const done = new Promise<Buffer>((resolve) => {
    const bufs: Buffer[] = [];
    p.on('data', (b: unknown) => bufs.push(b as Buffer)).on('end', () => resolve(Buffer.concat(bufs)));
  });
  for (const [k, cls, v] of [['s0', '0', '1_0_0'], ['s1', '1', '0_1_0'], ['s2', '2', '1_0_0']]) {
    p.entry({ name: `${k}.cls` }, cls);
    p.entry({ name: `${k}.webp` }, v);
  }
  p.finalize();
  writeFileSync(join(root, 'test', '0.tar'), await done);
  const ds = (await openEvalDataset(root, { split: 'test' })) as ClassificationDataset;
  assert.deepEqual(ds.templates, ['a photo of a {c}.', 'the {c}.']);
  const m = await evaluateZeroShotDataset(ds, embedImages, embedTexts, 3, { threads: 1 });
  assert.equal(m.n, 3);
  assert.equal(m.templates, 2);
  assert.ok(Math.abs(m.top1 - 200 / 3) < 1e-9);
  writeFileSync(join(root, 'classnames.txt'), 'cat\n');
  const bad = (await openEvalDataset(root, { split: 'test' })) as ClassificationDataset;
  await assert.rejects(async () => {
    for await (const s of bad.samples()) void s;
  }, /0\.tar:s1: cls "1" is not a class index 0\.\.0/);
  rmSync(root, { recursive: true, force: true });
});

test('caption CSV: several captions per image; retrieval equals the dense float64 computation', async () => {
  const root = tempDir();
  const rows = [['a-1_0_0.jpg', 'cat photo'], ['a-1_0_0.jpg', 'a photo of a dog'], ['b-0_1_0.jpg', 'the fox'], ['c-0.6_0.8_0.jpg', 'the dog']];
  writeFileSync(join(root, 'caps.csv'), 'image,caption\n' + rows.map((r) => `${r[0]},"${r[1]}"`).join('\n') + '\n');
  const ds = await openEvalDataset(join(root, 'caps.csv'));
  assert.equal(ds.kind, 'captions');
  if (ds.kind !== 'captions') return;
  assert.deepEqual([...ds.imageOfText], [0, 0, 1, 2]);
  const m = await evaluateCaptionDataset(ds, embedImages, embedTexts, 3, { batchSize: 3, threads: 1, ks: [1, 2] });
  const v = await embedImages(ds.images);
  const t = await embedTexts(ds.captions);
  const norm = (x: Float32Array, i: number) => Math.hypot(x[i * 3], x[i * 3 + 1], x[i * 3 + 2]);
  const sim: number[] = [];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) {
    let s = 0;
    for (let k = 0; k < 3; k++) s += v[i * 3 + k] * t[j * 3 + k];
    sim.push(s / norm(v, i) / norm(t, j));
  }
  assert.deepEqual(m, retrievalFromMatrix(sim, 3, ds.imageOfText, [1, 2]));
  writeFileSync(join(root, 'bad.csv'), 'image,label\nx.jpg,\n');
  await assert.rejects(openEvalDataset(join(root, 'bad.csv')), /bad\.csv, row 2: empty/);
  writeFileSync(join(root, 'bad2.csv'), 'picture,label\n');
  await assert.rejects(openEvalDataset(join(root, 'bad2.csv')), /row 1: header must have/);
  rmSync(root, { recursive: true, force: true });
});

test('Winoground JSONL and MMVP folder through embedders', async () => {
  const root = tempDir();
  writeFileSync(join(root, 'wino.jsonl'), [
    { images: ['1_0_0.png', '0_1_0.png'], captions: ['the cat.', 'the dog.'] }, // all correct
    { images: ['1_0_0.png', '0_1_0.png'], captions: ['the dog.', 'the cat.'] }, // all wrong
  ].map((o) => JSON.stringify(o)).join('\n') + '\n');
  assert.deepEqual(await evaluateWinoground(await openWinogroundJsonl(join(root, 'wino.jsonl')), embedImages, embedTexts, 3), { text: 50, image: 50, group: 50, n: 2 });
  writeFileSync(join(root, 'bad.jsonl'), '{"images": ["a"], "captions": ["x", "y"]}\n');
  await assert.rejects(openWinogroundJsonl(join(root, 'bad.jsonl')), /bad\.jsonl, row 1/);
  const mm = join(root, 'mmvp');
  mkdirSync(join(mm, 'MLLM_VLM Images', 'Color'), { recursive: true });
  writeFileSync(join(mm, 'Questions.csv'), 'Question ID,Type,Statement\n1,Color,cat\n2,Color,dog\n3,Color,fox\n4,Color,cat\n');
  // file names are the qids; the embedder needs vectors, so map qid -> vector through a lookup
  for (const q of [1, 2, 3, 4]) writeFileSync(join(mm, 'MLLM_VLM Images', 'Color', `${q}.jpg`), 'x');
  const vec: Record<string, number[]> = { '1': [1, 0, 0], '2': [0, 1, 0], '3': [0, 0, 1], '4': [0, 0, 1] };
  const items = await openMmvp(mm);
  assert.equal(items.length, 2);
  const r = await evaluateMmvp(items, async (xs) => Float32Array.from(xs.flatMap((x) => vec[basename(String(x), '.jpg')])), embedTexts, 3);
  // pair 1: cat->img1, dog->img2 correct; pair 2: images identical -> ties -> wrong
  assert.deepEqual(r, { average: 50, categories: { Color: 50 }, pairs: 2 });
  rmSync(root, { recursive: true, force: true });
});
