import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import tar from 'tar-stream';
import { packTar, writeShard } from '../../src/data/shards.js';
import { listShards, readShard, readWds, splitMemberName, unsafeMemberName, type WdsSample } from '../../src/data/wds.js';
import { SailError } from '../../src/util/errors.js';
import { tempDir } from '../helpers/paths.js';

type Entry = { name: string; data?: string | Buffer; type?: tar.Header['type']; linkname?: string };

/** Build a tar by hand with tar-stream (any names and types, including hostile ones). */
async function craftTar(entries: Entry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => { chunks.push(c as Buffer); });
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const header: Partial<tar.Header> & { name: string } = { name: e.name, type: e.type ?? 'file', ...(e.linkname !== undefined ? { linkname: e.linkname } : {}) };
      if (e.type === 'character-device' || e.type === 'symlink' || e.type === 'link' || e.type === 'fifo') pack.entry(header, (err) => (err ? reject(err) : resolve()));
      else pack.entry(header, e.data ?? '', (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function collect(path: string, opts = {}): Promise<WdsSample[]> {
  const out: WdsSample[] = [];
  for await (const s of readShard(path, opts)) out.push(s);
  return out;
}

test('wds: shards written by writeShard read back in order with text, json and shard/index', async () => {
  const dir = tempDir();
  const jpg = (n: number) => Buffer.from([0xff, 0xd8, 0xff, n]);
  await writeShard(dir, 0, [
    { key: '000000000', jpg: jpg(0), txt: 'zero', json: { row: 0 } },
    { key: '000000002', jpg: jpg(2), json: { row: 2 } },
  ], []);
  await writeShard(dir, 1, [{ key: '000000004', jpg: jpg(4), txt: 'vier ✓', json: { row: 4, captions: { a: 'b' } } }], []);
  writeFileSync(join(dir, '.00002.tar.123.1.tmp'), 'partial');
  const shards = await listShards(dir);
  assert.deepEqual(shards.map((s) => s.slice(dir.length + 1)), ['00000.tar', '00001.tar']);
  const all: WdsSample[] = [];
  for await (const s of readWds(dir)) all.push(s);
  assert.deepEqual(all.map((s) => [s.key, s.index, s.shard.endsWith(`0000${s.key === '000000004' ? 1 : 0}.tar`)]), [['000000000', 0, true], ['000000002', 1, true], ['000000004', 0, true]]);
  assert.equal(all[0].text, 'zero');
  assert.equal(all[1].text, undefined);
  assert.equal(all[2].text, 'vier ✓');
  assert.deepEqual(all[2].json, { row: 4, captions: { a: 'b' } });
  assert.equal(all[2].imageExt, 'jpg');
  assert.deepEqual([...all[2].image], [0xff, 0xd8, 0xff, 4]);
  // Deterministic bytes: the same samples pack to the same tar.
  const s = [{ key: 'k', jpg: jpg(1), txt: 't', json: {} }];
  assert.ok((await packTar(s)).equals(await packTar(s)));
});

test('wds: member name rules', () => {
  assert.deepEqual(splitMemberName('a/b/000017.seg.json'), { key: 'a/b/000017', ext: 'seg.json' });
  assert.deepEqual(splitMemberName('x.y/k.JPG'), { key: 'x.y/k', ext: 'jpg' });
  assert.equal(unsafeMemberName('ok/000001.jpg'), undefined);
  assert.match(unsafeMemberName('../x.jpg')!, /\.\./);
  assert.match(unsafeMemberName('a/../../x.jpg')!, /\.\./);
  assert.match(unsafeMemberName('/etc/x.jpg')!, /absolute/);
  assert.match(unsafeMemberName('C:/x.jpg')!, /drive/);
  assert.match(unsafeMemberName('a\\..\\x.jpg')!, /backslash/);
  assert.equal(unsafeMemberName('a..b/x.jpg'), undefined, 'dots inside a segment are fine');
});

test('wds: hostile or malformed tars fail with the shard and member named', async () => {
  const dir = tempDir();
  const cases: Array<[string, Entry[], RegExp, object?]> = [
    ['dotdot', [{ name: '../evil.jpg', data: 'x' }], /member "\.\.\/evil\.jpg": "\.\." in path/],
    ['absolute', [{ name: '/tmp/evil.jpg', data: 'x' }], /member "\/tmp\/evil\.jpg": absolute path/],
    ['symlink', [{ name: 'a.jpg', type: 'symlink', linkname: '/etc/passwd' }], /member "a\.jpg": symlink members are not allowed/],
    ['hardlink', [{ name: 'b.jpg', type: 'link', linkname: 'a.jpg' }], /member "b\.jpg": link members are not allowed/],
    ['device', [{ name: 'c.jpg', type: 'character-device' }], /character-device members are not allowed/],
    ['fifo', [{ name: 'f.jpg', type: 'fifo' }], /fifo members are not allowed/],
    ['oversize', [{ name: 'big.jpg', data: Buffer.alloc(5000) }], /member "big\.jpg": 5000 bytes exceeds the 1000-byte member limit/, { maxMemberBytes: 1000 }],
    ['badjson', [{ name: 'k.jpg', data: 'x' }, { name: 'k.json', data: '{oops' }], /member "k\.json": bad JSON/],
    ['noimage', [{ name: 'k.txt', data: 'caption only' }], /sample "k" has no image member/],
    ['split-key', [{ name: 'a.jpg', data: 'x' }, { name: 'b.jpg', data: 'y' }, { name: 'a.txt', data: 'late' }], /sample "a" appears again/],
    ['duplicate', [{ name: 'a.jpg', data: 'x' }, { name: 'a.jpg', data: 'y' }], /member "a\.jpg": duplicate member/],
  ];
  for (const [label, entries, pattern, opts] of cases) {
    const path = join(dir, `${label}.tar`);
    writeFileSync(path, await craftTar(entries));
    await assert.rejects(collect(path, opts), (err: unknown) => {
      assert.ok(err instanceof SailError, `${label}: ${String(err)}`);
      assert.match(err.message, pattern, label);
      assert.ok(err.message.startsWith(path), `${label}: message names the shard: ${err.message}`);
      return true;
    });
  }
  // Not a tar at all.
  const junk = join(dir, 'junk.tar');
  writeFileSync(junk, Buffer.alloc(1024, 0x41));
  await assert.rejects(collect(junk), (err: unknown) => err instanceof SailError && err.message.startsWith(junk));
  // skipWithoutImage lets caption-only samples through silently; directories are ignored.
  const mixed = join(dir, 'mixed.tar');
  writeFileSync(mixed, await craftTar([{ name: 'sub', type: 'directory' }, { name: 'sub/a.txt', data: 't' }, { name: 'sub/b.png', data: 'p' }]));
  const dotted = join(dir, 'dotted.tar');
  writeFileSync(dotted, await craftTar([{ name: './a.jpg', data: 'x' }, { name: './a.txt', data: 'cap' }]));
  assert.deepEqual((await collect(dotted)).map((s) => [s.key, s.text]), [['a', 'cap']]);
  const got = await collect(mixed, { skipWithoutImage: true });
  assert.deepEqual(got.map((s) => [s.key, s.imageExt, s.index]), [['sub/b', 'png', 0]]);
});
