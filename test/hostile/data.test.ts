// Hostile inputs to `sail data import` and `sail download` reruns: symlinks that leave the input folder,
// a second URL list into the same output, and tar members whose names are Object.prototype keys.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tar from 'tar-stream';
import { importFolder } from '../../src/data/import.js';
import { download } from '../../src/data/download.js';
import { readStatus, shardPaths } from '../../src/data/shards.js';
import { readWds, type WdsSample } from '../../src/data/wds.js';
import { lockSlot } from '../../src/util/lease.js';
import { runSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';
import { csvOf, makeJpeg, startServer, type FixtureServer } from '../data/fixtures.js';

async function samples(dir: string): Promise<WdsSample[]> {
  const out: WdsSample[] = [];
  for await (const s of readWds(dir)) out.push(s);
  return out;
}

/** Every byte of every shard as text, to prove a secret never landed anywhere. */
function allShardText(dir: string): string {
  return readdirSync(dir).filter((n) => n.endsWith('.tar') || n.endsWith('.jsonl')).map((n) => readFileSync(join(dir, n), 'latin1')).join('\n');
}

/** A folder with two good images and hostile links, plus a secret outside it. */
async function hostileFolder(): Promise<{ root: string; secret: string }> {
  const base = tempDir();
  const secret = join(base, 'secret');
  mkdirSync(secret);
  writeFileSync(join(secret, 'passwords.txt'), 'TOP-SECRET-CAPTION');
  writeFileSync(join(secret, 'private.jpg'), await makeJpeg(40, 30, 7));
  const root = join(base, 'photos');
  mkdirSync(join(root, 'sub'), { recursive: true });
  writeFileSync(join(root, 'a.jpg'), await makeJpeg(40, 30, 1));
  writeFileSync(join(root, 'a.txt'), 'a red square');
  writeFileSync(join(root, 'b.jpg'), await makeJpeg(40, 30, 2));
  symlinkSync(join(secret, 'passwords.txt'), join(root, 'b.txt')); // sidecar pointing outside
  writeFileSync(join(root, 'sub', 'c.jpg'), await makeJpeg(40, 30, 3));
  symlinkSync(join(root, 'a.txt'), join(root, 'sub', 'c.txt')); // sidecar linking inside: fine
  symlinkSync(secret, join(root, 'linked')); // a folder link leading outside
  return { root, secret };
}

test('data import: a sidecar symlinked outside the folder is refused and recorded, never read', async () => {
  const { root } = await hostileFolder();
  const out = join(tempDir(), 'out');
  const { summary } = await importFolder({ input: root, output: out, captions: { kind: 'sidecar' }, shardSize: 10 });
  // the folder link `linked` is not followed, and (issue 14) counted as skipped rather than dropped silently
  assert.deepEqual(summary.failedByReason, { outside_root: 1, symlink: 1 });
  assert.equal(summary.ok, 2);
  const st = await readStatus(shardPaths(out, 0).status);
  assert.deepEqual(st.map((s) => [s.url, s.status, s.error]), [['a.jpg', 'ok', undefined], ['b.jpg', 'failed', 'outside_root'], ['linked', 'failed', 'symlink'], ['sub/c.jpg', 'ok', undefined]]);
  assert.match(st[1].message!, /^sidecar b\.txt resolves to .*secret\/passwords\.txt, outside the input folder /);
  assert.deepEqual((await samples(out)).map((s) => [s.json!.url, s.text]), [['a.jpg', 'a red square'], ['sub/c.jpg', 'a red square']]);
  assert.ok(!allShardText(out).includes('TOP-SECRET'), 'secret caption leaked into the shards');
});

test('data import --captions list: a path through a symlinked folder is refused; the CLI prints the reason', async () => {
  const { root } = await hostileFolder();
  const list = join(tempDir(), 'map.csv');
  writeFileSync(list, 'file,caption\na.jpg,first\nlinked/private.jpg,escape\nlinked/../a.jpg,dotdot\nsub/c.jpg,third\n');
  const out = join(tempDir(), 'out');
  const r = runSail(['data', 'import', '-i', root, '-o', out, '--captions', 'list', '--list', list, '--shard-size', '10']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /4 rows, 3 ok, 1 failed/);
  assert.match(r.stdout, /outside_root: 1/);
  const st = await readStatus(shardPaths(out, 0).status);
  // `linked/../a.jpg` is judged on the normalised path `a.jpg`, which stays inside
  assert.deepEqual(st.map((s) => s.error ?? s.status), ['ok', 'outside_root', 'ok', 'ok']);
  assert.match(st[1].message!, /^linked\/private\.jpg resolves to .*secret\/private\.jpg, outside the input folder/);
  assert.deepEqual((await samples(out)).map((s) => s.text), ['first', 'dotdot', 'third']);
});

test('wds: members named after Object.prototype keys read correctly', async () => {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => { chunks.push(c as Buffer); });
  const done = new Promise<void>((r) => { pack.on('end', () => r()); });
  const jpg = await makeJpeg(8, 8, 1);
  const entries: Array<[string, Buffer | string]> = [
    ['000.jpg', jpg], ['000.constructor', 'c0'], ['000.__proto__', 'p0'], ['000.tostring', 't0'],
    ['constructor.jpg', jpg], ['constructor.txt', 'a sample keyed constructor'], ['__proto__.jpg', jpg], ['__proto__.hasownproperty', 'h'],
  ];
  for (const [name, data] of entries) pack.entry({ name }, data);
  pack.finalize();
  await done;
  const dir = tempDir();
  writeFileSync(join(dir, '00000.tar'), Buffer.concat(chunks));
  const got = await samples(dir);
  assert.deepEqual(got.map((s) => s.key), ['000', 'constructor', '__proto__']);
  assert.equal(got[0].members.constructor.toString(), 'c0');
  assert.equal(got[0].members['__proto__'].toString(), 'p0');
  assert.deepEqual(Object.keys(got[0].members).sort(), ['__proto__', 'constructor', 'jpg', 'tostring']);
  assert.equal(got[1].text, 'a sample keyed constructor');
  assert.equal(got[2].members.hasownproperty.toString(), 'h');
});

let server: FixtureServer;
before(async () => {
  const routes: Record<string, Buffer> = {};
  for (let i = 0; i < 6; i++) routes[`/${i}.jpg`] = await makeJpeg(32, 24, i);
  server = await startServer(routes);
});
after(async () => { await server.close(); });

test('download rerun: same list content resumes, another list is refused, --overwrite replaces it cleanly', async () => {
  const dir = tempDir();
  const listA = join(dir, 'a.csv');
  const listB = join(dir, 'b.csv');
  writeFileSync(listA, csvOf([0, 1, 2, 3].map((i) => [server.url(`/${i}.jpg`), `A${i}`])));
  writeFileSync(listB, csvOf([4, 5, 0].map((i) => [server.url(`/${i}.jpg`), `B${i}`])));
  const out = join(dir, 'out');
  const base = { urlCol: 'url', captionCols: ['caption'], output: out, shardSize: 2, concurrency: 2, network: { allowLoopback: true }, image: { size: 16 } };
  const a = await download({ ...base, input: listA, split: { index: 0, count: 2 } });
  assert.equal(a.summary.rows, 2);

  // the same content under another name resumes (shard 1 only)
  const moved = join(dir, 'a-copy.csv');
  copyFileSync(listA, moved);
  const resumed = await download({ ...base, input: moved });
  assert.equal(resumed.progress.shardsSkipped, 1);
  assert.equal(resumed.summary.rows, 4);
  assert.equal(JSON.parse(readFileSync(join(out, 'dataset.json'), 'utf8')).input, moved, 'dataset.json names the list this run read');

  // a different list: one line naming the file and the reason, and nothing touched
  const datasetA = readFileSync(join(out, 'dataset.json'), 'utf8');
  const before = readdirSync(out).sort();
  const tars = before.filter((n) => n.endsWith('.tar')).map((n) => readFileSync(join(out, n)));
  const r = runSail(['download', '-i', listB, '-o', out, '--allow-loopback', '--shard-size', '2', '--image-size', '16']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^sail: .*dataset\.json: output holds shards of a different input \(list differ\): list .*a-copy\.csv \(sha256 [0-9a-f]{12}\.\.\.\), not list .*b\.csv \(sha256 [0-9a-f]{12}\.\.\.\); rerun with the same list to resume, --overwrite to replace it, or use a new output folder\n$/);
  assert.deepEqual(readdirSync(out).sort(), before);
  assert.deepEqual(before.filter((n) => n.endsWith('.tar')).map((n) => readFileSync(join(out, n))), tars);
  assert.equal(readFileSync(join(out, 'dataset.json'), 'utf8'), datasetA);
  // changed image options would mix sizes in one folder: refused too, naming the field
  await assert.rejects(download({ ...base, input: listA, image: { size: 20 } }), /different input \(image differ\)/);

  // --overwrite: only B's rows remain, and dataset.json names list B
  writeFileSync(join(out, 'notes.txt'), 'user file'); // not ours: must survive
  const b = await download({ ...base, input: listB, overwrite: true });
  assert.equal(b.summary.rows, 3);
  assert.deepEqual((await samples(out)).map((s) => s.text), ['B4', 'B5', 'B0']);
  const ds = JSON.parse(readFileSync(join(out, 'dataset.json'), 'utf8'));
  assert.equal(ds.input, listB);
  assert.match(ds.identity.list.sha256, /^[0-9a-f]{64}$/);
  assert.equal(readFileSync(join(out, 'notes.txt'), 'utf8'), 'user file');
  assert.deepEqual(readdirSync(out).filter((n) => n.endsWith('.tar')).sort(), ['00000.tar', '00001.tar']);
  // --overwrite with the list already in place just resumes (safe to pass to every Kubernetes worker)
  const again = await download({ ...base, input: listB, overwrite: true });
  assert.equal(again.progress.shardsSkipped, 2);
  assert.equal(again.summary.rows, 3);
});

test('download --overwrite: refused while a worker of the old list still runs; then replaces it', async () => {
  const dir = tempDir();
  const listA = join(dir, 'a.csv');
  const listB = join(dir, 'b.csv');
  writeFileSync(listA, csvOf([0, 1].map((i) => [server.url(`/${i}.jpg`), `A${i}`])));
  writeFileSync(listB, csvOf([2, 3].map((i) => [server.url(`/${i}.jpg`), `B${i}`])));
  const out = join(dir, 'out');
  const base = { urlCol: 'url', captionCols: ['caption'], output: out, shardSize: 1, concurrency: 1, network: { allowLoopback: true }, image: { size: 16 } };
  await download({ ...base, input: listA, split: { index: 0, count: 2 } });
  // slot 1/2 of list A is still running (its lease carries list A's identity)
  const oldWorker = await lockSlot(out, { index: 1, count: 2 }, 'sail download --shard 1/2', { tag: 'list A' });
  try {
    await assert.rejects(download({ ...base, input: listB, overwrite: true, split: { index: 0, count: 2 } }),
      /\.sail-slot-1-of-2\.lock: cannot --overwrite while a worker of the old output runs: locked by .* \(sail download --shard 1\/2\)$/);
    assert.deepEqual((await samples(out)).map((s) => s.text), ['A0'], 'nothing removed');
  } finally {
    await oldWorker.release();
  }
  const b = await download({ ...base, input: listB, overwrite: true });
  assert.deepEqual((await samples(out)).map((s) => s.text), ['B2', 'B3']);
  assert.equal(b.summary.rows, 2);
  // a folder from a sail that recorded no list fingerprint cannot be trusted to hold this list
  const ds = JSON.parse(readFileSync(join(out, 'dataset.json'), 'utf8'));
  delete ds.identity;
  writeFileSync(join(out, 'dataset.json'), JSON.stringify(ds));
  await assert.rejects(download({ ...base, input: listB }), /no recorded input fingerprint \(written by an older sail\)/);
});
