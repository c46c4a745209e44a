import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSidecarCaption } from '../../src/data/captions.js';
import { importFolder } from '../../src/data/import.js';
import { processImage } from '../../src/data/image.js';
import { assignGroups, groupKey } from '../../src/data/split.js';
import { readWds, type WdsSample } from '../../src/data/wds.js';
import { tempDir } from '../helpers/paths.js';
import { runSail } from '../helpers/cli.js';
import { makePng } from './fixtures.js';

const TUX = 'Red apple\n\naf.utf8=Rooi appel\nde.utf8=Roter Apfel\nen.utf8=A red apple\n';
const SVG = '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="#00f"/></svg>';

async function samples(dir: string): Promise<WdsSample[]> {
  const out: WdsSample[] = [];
  for await (const s of readWds(dir)) out.push(s);
  return out;
}

test('sidecar captions: whole file, first line, regex', () => {
  assert.equal(parseSidecarCaption(TUX), 'Red apple af.utf8=Rooi appel de.utf8=Roter Apfel en.utf8=A red apple');
  assert.equal(parseSidecarCaption(TUX, { line: 'first' }), 'Red apple');
  assert.equal(parseSidecarCaption('\n\n  second  \nthird', { line: 'first' }), 'second');
  assert.equal(parseSidecarCaption(TUX, { regex: '^de\\.utf8=(.+)$' }), 'Roter Apfel');
  assert.equal(parseSidecarCaption(TUX, { regex: 'apple' }), 'apple');
  assert.equal(parseSidecarCaption(TUX, { regex: '^fr\\.utf8=(.+)$' }), undefined);
  assert.equal(parseSidecarCaption(' \n '), undefined);
  assert.throws(() => parseSidecarCaption(TUX, { regex: '(' }), /--caption-regex is not a valid regular expression/);
});

test('SVG is rasterised so its shortest edge is the image size; rejected where not enabled', async () => {
  const img = await processImage(Buffer.from(SVG), { size: 64, quality: 90, maxPixels: 1e6, svg: true });
  assert.deepEqual([img.sourceFormat, img.width, img.height], ['svg', 128, 64]);
  await assert.rejects(processImage(Buffer.from(SVG), { size: 64, quality: 90, maxPixels: 1e6 }), /SVG is not accepted/);
  await assert.rejects(processImage(Buffer.from(SVG), { size: 64, quality: 90, maxPixels: 1000, svg: true }), /exceeds 1000 pixels/);
});

test('sail data import: --caption-line first, SVG, every skipped file counted, first captions shown', async () => {
  const root = tempDir();
  mkdirSync(join(root, 'fruit'));
  writeFileSync(join(root, 'fruit', 'apple.png'), await makePng(30, 30, 1));
  writeFileSync(join(root, 'fruit', 'apple.txt'), TUX);
  writeFileSync(join(root, 'fruit', 'pear.svg'), SVG);
  writeFileSync(join(root, 'fruit', 'pear.txt'), 'Green pear\nde.utf8=Birne\n');
  writeFileSync(join(root, 'fruit', 'plum.png'), await makePng(30, 30, 2));
  writeFileSync(join(root, 'fruit', 'lost.txt'), 'a caption without an image');
  writeFileSync(join(root, 'fruit', 'notes.pdf'), '%PDF');
  const out = join(tempDir(), 'shards');
  const r = runSail(['data', 'import', '-i', root, '-o', out, '--caption-line', 'first', '--image-size', '16']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /: 1 shards, 5 rows, 2 ok, 3 failed or skipped/);
  for (const line of ['caption_without_image: 1', 'no_caption: 1', 'unsupported_type: 1']) assert.ok(r.stdout.includes(`  ${line}\n`), line);
  assert.match(r.stdout, /first captions[^\n]*\n {2}fruit\/apple\.png: "Red apple"\n {2}fruit\/pear\.svg: "Green pear"\n/);
  const got = await samples(out);
  assert.deepEqual(got.map((s) => [s.text, s.json!.url, s.json!.source_format, s.json!.width, s.json!.height]), [
    ['Red apple', 'fruit/apple.png', 'png', 16, 16], ['Green pear', 'fruit/pear.svg', 'svg', 32, 16],
  ]);
  const bad = runSail(['data', 'import', '-i', root, '-o', join(tempDir(), 'x'), '--captions', 'folder', '--caption-line', 'first']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^sail: --caption-line and --caption-regex apply to --captions sidecar only/m);
});

test('split: group keys, seeded whole-group assignment', () => {
  assert.equal(groupKey('a/Cat.png', 'stem'), 'a/cat');
  assert.equal(groupKey('a/cat_2.jpg', 'stem'), 'a/cat');
  assert.equal(groupKey('a/cat-03 copy.svg', 'stem'), 'a/cat');
  assert.equal(groupKey('b/cat.png', 'stem'), 'b/cat');
  assert.equal(groupKey('https://x.org/i/dog.jpg?s=1', 'stem'), 'https://x.org/i/dog');
  assert.equal(groupKey('a/cat.png', 'folder'), 'a');
  const sizes = new Map(Array.from({ length: 10 }, (_, i) => [`g${i}`, i < 5 ? 1 : 3] as [string, number]));
  const t1 = assignGroups(sizes, 0.25, 7);
  assert.deepEqual([...t1], [...assignGroups(sizes, 0.25, 7)]);
  const held = [...t1].reduce((a, g) => a + sizes.get(g)!, 0);
  // Groups are added until the held-out count reaches round(0.25 * 20) = 5; the last one added may overshoot by < 3.
  assert.ok(held >= 5 && held < 8, `held ${held}`);
  assert.ok(t1.size < sizes.size);
});

test('sail data split: near-duplicates stay together, seeded, train/test folders readable, reused on rerun', async () => {
  const root = tempDir();
  const names = ['cat.png', 'cat_2.png', 'dog.png', 'dog-1.png', 'dog-2.png', 'fish.png', 'bird.png', 'frog.png'];
  for (const [i, n] of names.entries()) {
    writeFileSync(join(root, n), await makePng(8, 8, i));
    writeFileSync(join(root, n.replace('.png', '.txt')), `picture ${n}`);
  }
  const shards = join(tempDir(), 'shards');
  await importFolder({ input: root, output: shards, captions: { kind: 'sidecar' } });
  const out = join(tempDir(), 'split');
  const r = runSail(['data', 'split', shards, '--out', out, '--test-fraction', '0.25', '--seed', '3', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout);
  assert.equal(res.train.rows + res.test.rows, 8);
  assert.equal(res.train.groups + res.test.groups, 5);
  assert.ok(res.test.rows >= 2 && res.test.rows <= 4, JSON.stringify(res));
  const train = await samples(join(out, 'train'));
  const test = await samples(join(out, 'test'));
  assert.deepEqual([train.length, test.length], [res.train.rows, res.test.rows]);
  assert.deepEqual(train.map((s) => s.key), train.map((_, i) => String(i).padStart(9, '0')));
  const groupsOf = (list: WdsSample[]) => new Set(list.map((s) => s.json!.split_group as string));
  for (const g of groupsOf(test)) assert.ok(!groupsOf(train).has(g), `group ${g} straddles the split`);
  assert.ok(test.every((s) => s.text === `picture ${s.json!.url as string}`));
  const again = runSail(['data', 'split', shards, '--out', out, '--test-fraction', '0.25', '--seed', '3']);
  assert.match(again.stdout, /^already split/);
  const other = runSail(['data', 'split', shards, '--out', out, '--seed', '4']);
  assert.equal(other.status, 1);
  assert.match(other.stderr, /holds a different split/);
});
