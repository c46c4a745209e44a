import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { importFolder, listImageFiles } from '../../src/data/import.js';
import { readStatus } from '../../src/data/shards.js';
import { readWds, type WdsSample } from '../../src/data/wds.js';
import { tempDir } from '../helpers/paths.js';
import { makeJpeg, makePng } from './fixtures.js';

async function samples(dir: string): Promise<WdsSample[]> {
  const out: WdsSample[] = [];
  for await (const s of readWds(dir)) out.push(s);
  return out;
}

async function makeFolder(): Promise<string> {
  const root = tempDir();
  mkdirSync(join(root, 'cats'));
  mkdirSync(join(root, 'dogs'));
  writeFileSync(join(root, 'cats', 'a.jpg'), await makeJpeg(300, 200, 1));
  writeFileSync(join(root, 'cats', 'a.txt'), 'a grey cat\n');
  writeFileSync(join(root, 'cats', 'b.png'), await makePng(100, 100, 2));
  writeFileSync(join(root, 'dogs', 'c.jpeg'), await makeJpeg(200, 400, 3));
  writeFileSync(join(root, 'dogs', 'c.txt'), 'a dog');
  writeFileSync(join(root, 'dogs', 'fake.jpg'), 'this is text');
  writeFileSync(join(root, 'dogs', 'fake.txt'), 'a fake');
  writeFileSync(join(root, 'dogs', 'notes.md'), 'ignored: not an image extension');
  symlinkSync('/etc/hostname', join(root, 'dogs', 'link.jpg'));
  return root;
}

test('import: sidecar captions, sorted stable order, same validation as download', async () => {
  const root = await makeFolder();
  assert.deepEqual(await listImageFiles(root), ['cats/a.jpg', 'cats/b.png', 'dogs/c.jpeg', 'dogs/fake.jpg']);
  const out = join(tempDir(), 'shards');
  const { summary } = await importFolder({ input: root, output: out, captions: { kind: 'sidecar' }, shardSize: 3, image: { size: 100 } });
  // Every file is a row: the uncaptioned image, the link and the .md are counted by reason, never "ok".
  assert.deepEqual([summary.rows, summary.ok, summary.failed, summary.failedByReason], [6, 2, 4, { no_caption: 1, not_image: 1, symlink: 1, unsupported_type: 1 }]);
  const got = await samples(out);
  assert.deepEqual(got.map((s) => [s.key, s.text, s.json!.url]), [
    ['000000000', 'a grey cat', 'cats/a.jpg'], ['000000002', 'a dog', 'dogs/c.jpeg'],
  ]);
  assert.deepEqual([got[0].json!.width, got[0].json!.height], [150, 100]);
  assert.deepEqual([got[1].json!.width, got[1].json!.height], [100, 200]);
  const st0 = await readStatus(join(out, '00000.status.jsonl'));
  assert.deepEqual(st0.map((s) => [s.row, s.status, s.error]), [[0, 'ok', undefined], [1, 'failed', 'no_caption'], [2, 'ok', undefined]]);
  const st = await readStatus(join(out, '00001.status.jsonl'));
  assert.deepEqual(st.map((s) => [s.row, s.status, s.error]), [[3, 'failed', 'not_image'], [4, 'failed', 'symlink'], [5, 'failed', 'unsupported_type']]);
});

test('import: folder names as labels, and a CSV mapping with path-escape rows rejected', async () => {
  const root = await makeFolder();
  const out = join(tempDir(), 'labels');
  await importFolder({ input: root, output: out, captions: { kind: 'folder' }, shardSize: 10 });
  assert.deepEqual((await samples(out)).map((s) => [s.text, s.json!.label]), [['cats', 'cats'], ['cats', 'cats'], ['dogs', 'dogs']]);

  const list = join(tempDir(), 'map.csv');
  writeFileSync(list, 'file,short,long\ndogs/c.jpeg,dog,"a dog, lying down"\n../outside.jpg,x,y\ncats/missing.jpg,m,\ncats/a.jpg,cat,\n/etc/passwd,p,\ndogs/link.jpg,l,\n');
  const out2 = join(tempDir(), 'mapped');
  const { summary } = await importFolder({ input: root, output: out2, captions: { kind: 'list', path: list, fileCol: 'file', captionCols: ['short', 'long'] } });
  // dogs/link.jpg is a symlink to /etc/hostname: refused on its resolved path, with its own reason
  assert.deepEqual(summary.failedByReason, { invalid_row: 2, missing_file: 1, outside_root: 1 });
  const got = await samples(out2);
  assert.deepEqual(got.map((s) => [s.key, s.text, s.json!.captions]), [
    ['000000000', 'dog', { short: 'dog', long: 'a dog, lying down' }], ['000000003', 'cat', { short: 'cat' }],
  ]);
  const st = await readStatus(join(out2, '00000.status.jsonl'));
  assert.match(st[1].message!, /leaves the folder/);
  assert.match(st[4].message!, /absolute or leaves/);
  assert.match(st[5].message!, /resolves to \/etc\/hostname, outside the input folder/);
});
