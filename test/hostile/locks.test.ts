// Two processes on one output folder: the lease lock refuses the second at once (naming the holder),
// different --shard slots share a folder and give what one unsharded run gives, and stale locks (dead pid
// on this host, or an old heartbeat from another host) are taken over.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { acquireLease, lockFolder, lockSlot, slotsOverlap, staleReason, type LeaseInfo } from '../../src/util/lease.js';
import { download } from '../../src/data/download.js';
import { encode } from '../../src/encoders/pipeline.js';
import { loadTextEncoder } from '../../src/encoders/registry.js';
import { exited, runSail, startSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';
import { csvOf, makeJpeg, startServer, type FixtureServer, type Route } from '../data/fixtures.js';
import { writeTextModel } from '../encoders/fixtures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every file under `dir` (relative path -> bytes), sorted. */
function snapshot(dir: string, root = dir, out: Record<string, string> = {}): Record<string, string> {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) snapshot(p, root, out);
    else out[relative(root, p)] = readFileSync(p).toString('base64');
  }
  return out;
}

function writeLock(path: string, info: Partial<LeaseInfo>): void {
  const now = new Date().toISOString();
  writeFileSync(path, JSON.stringify({ host: hostname(), pid: process.pid, purpose: 'planted', since: now, heartbeat: now, token: 'planted', ...info }));
}

const HOLDER = /locked by \S+ pid \d+ since \d{4}-\d\d-\d\dT[\d:.]+Z \(/;

test('lease: a second holder is refused with host, pid and time; release frees it', async () => {
  const dir = tempDir();
  const path = join(dir, 'x.lock');
  const a = await acquireLease(path, { purpose: 'first' });
  await assert.rejects(acquireLease(path, { purpose: 'second' }), (e: Error) =>
    e.message === `${path}: locked by ${hostname()} pid ${process.pid} since ${a.info.since} (first)`);
  await a.release();
  assert.equal(existsSync(path), false);
  const b = await acquireLease(path, { purpose: 'second' });
  await b.release();
});

test('lease: a lock whose pid is dead on this host is taken over', async () => {
  const dir = tempDir();
  const path = join(dir, 'x.lock');
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  writeLock(path, { pid: dead, purpose: 'killed worker' });
  assert.match(staleReason(JSON.parse(readFileSync(path, 'utf8')), Date.now(), 120_000)!, new RegExp(`pid ${dead} on this host is dead`));
  const l = await acquireLease(path, { purpose: 'successor' });
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).pid, process.pid);
  await l.release();
});

test('lease: another host is judged by its heartbeat only: old is taken over, fresh is refused', async () => {
  const dir = tempDir();
  const path = join(dir, 'x.lock');
  // pid 1 would look alive here, but it is another pod's process table: only the heartbeat counts
  writeLock(path, { host: 'pod-7', pid: 1, heartbeat: new Date(Date.now() - 10 * 60_000).toISOString() });
  const l = await acquireLease(path, { purpose: 'successor', staleMs: 120_000 });
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).host, hostname());
  await l.release();
  writeLock(path, { host: 'pod-7', pid: 424242, since: '2026-01-01T00:00:00.000Z', purpose: 'sail download --shard 0/1' });
  await assert.rejects(acquireLease(path, { purpose: 'x' }), (e: Error) => e.message === `${path}: locked by pod-7 pid 424242 since 2026-01-01T00:00:00.000Z (sail download --shard 0/1)`);
});

test('lease: the heartbeat is refreshed while working; a holder taken over notices', async () => {
  const dir = tempDir();
  const path = join(dir, 'x.lock');
  const l = await acquireLease(path, { purpose: 'worker', heartbeatMs: 20 });
  const first = JSON.parse(readFileSync(path, 'utf8')).heartbeat;
  const deadline = Date.now() + 5000;
  while (JSON.parse(readFileSync(path, 'utf8')).heartbeat === first) {
    assert.ok(Date.now() < deadline, 'heartbeat never refreshed');
    await sleep(10);
  }
  await l.check();
  // someone judged it stale and took it over: the old holder must stop before writing
  writeLock(path, { host: 'pod-9', pid: 5, token: 'other' });
  await sleep(100);
  await assert.rejects(l.check(), /lost the lock: it was taken over \(locked by pod-9 pid 5/);
  await l.release();
  assert.equal(JSON.parse(readFileSync(path, 'utf8')).host, 'pod-9', 'release must not remove a lock it no longer holds');
});

test('slots: overlapping splits refuse each other, disjoint ones run side by side', async () => {
  assert.equal(slotsOverlap({ index: 0, count: 2 }, { index: 0, count: 4 }), true); // shard 4
  assert.equal(slotsOverlap({ index: 1, count: 2 }, { index: 0, count: 4 }), false);
  assert.equal(slotsOverlap({ index: 2, count: 3 }, { index: 1, count: 2 }), true); // shard 5
  assert.equal(slotsOverlap({ index: 0, count: 1 }, { index: 3, count: 5 }), true);
  const dir = tempDir();
  const a = await lockSlot(dir, { index: 0, count: 2 }, 'a');
  const b = await lockSlot(dir, { index: 1, count: 2 }, 'b');
  await assert.rejects(lockSlot(dir, { index: 0, count: 2 }, 'c'), /\.sail-slot-0-of-2\.lock: locked by .* \(a\)$/);
  await assert.rejects(lockSlot(dir, { index: 2, count: 4 }, 'd'), /--shard 2\/4 overlaps --shard 0\/2, locked by .* \(a\)$/);
  await assert.rejects(lockSlot(dir, undefined, 'e'), /--shard 0\/1 overlaps --shard [01]\/2/);
  // the refused ones left no lock behind
  assert.deepEqual(readdirSync(dir).sort(), ['.sail-slot-0-of-2.lock', '.sail-slot-1-of-2.lock']);
  await a.release();
  await b.release();
  assert.deepEqual(readdirSync(dir), []);
});

let server: FixtureServer;
/** `/gate.jpg` answers only once the test opens the gate, so a worker is reliably still running. */
let openGate: () => void = () => undefined;
const gate = new Promise<void>((r) => { openGate = r; });
before(async () => {
  const routes: Record<string, Route> = {};
  for (let i = 0; i < 5; i++) routes[`/${i}.jpg`] = await makeJpeg(40, 30, i);
  const gated = await makeJpeg(40, 30, 9);
  routes['/hang.jpg'] = () => undefined;
  routes['/gate.jpg'] = (_req, res) => { void gate.then(() => { res.writeHead(200, { 'content-type': 'image/jpeg' }); res.end(gated); }); };
  server = await startServer(routes, { delayMs: 20 });
});
after(async () => { openGate(); await server.close(); });

function writeList(dir: string, n: number): string {
  const list = join(dir, 'urls.csv');
  writeFileSync(list, csvOf(Array.from({ length: n }, (_, i) => [server.url(`/${i % 5}.jpg`), `row ${i}`] as [string, string])));
  return list;
}

test('sail download: an identical second worker is refused at once; the first finishes intact', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const list = writeList(dir, 8);
  writeFileSync(list, readFileSync(list, 'utf8').replace('/0.jpg', '/gate.jpg')); // row 0 waits for the gate
  const out = join(dir, 'out');
  const args = ['download', '-i', list, '-o', out, '--allow-loopback', '--shard-size', '2', '--concurrency', '1', '--image-size', '16', '--json', '--timeout', '60', '--body-timeout', '60'];
  const first = startSail(args);
  const firstExit = exited(first);
  const deadline = Date.now() + 30_000;
  while (!existsSync(join(out, '.sail-slot-0-of-1.lock'))) {
    assert.ok(Date.now() < deadline, 'first worker never took its lock');
    await sleep(20);
  }
  const second = await exited(startSail(args));
  assert.equal(second.code, 1);
  assert.match(second.stderr, new RegExp(`^sail: .*\\.sail-slot-0-of-1\\.lock: ${HOLDER.source}sail download --shard 0/1\\)\\n$`));
  assert.ok(second.stderr.includes(`pid ${first.pid} `), second.stderr);
  openGate();
  const r1 = await firstExit;
  assert.equal(r1.code, 0, r1.stderr);
  const res = JSON.parse(r1.stdout);
  assert.equal(res.summary.rows, 8);
  assert.equal(res.summary.ok, 8);
  assert.equal(existsSync(join(out, '.sail-slot-0-of-1.lock')), false);
});

test('sail download: SIGTERM (pod eviction) removes the lock at once, so a replacement starts without waiting', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const list = writeList(dir, 4);
  // slot 1/2 owns shards 1 and 3 (one row each): row 1 never gets an answer, so the worker is busy
  writeFileSync(list, readFileSync(list, 'utf8').replace('/1.jpg', '/hang.jpg'));
  const out = join(dir, 'out');
  const args = ['download', '-i', list, '-o', out, '--allow-loopback', '--shard', '1/2', '--shard-size', '1', '--image-size', '16', '--timeout', '60', '--json'];
  const lock = join(out, '.sail-slot-1-of-2.lock');
  const worker = startSail(args);
  const done = exited(worker);
  const deadline = Date.now() + 30_000;
  while (!existsSync(lock) || !server.hits.get('/hang.jpg')) {
    assert.ok(Date.now() < deadline, 'worker never started fetching');
    await sleep(20);
  }
  worker.kill('SIGTERM');
  const r = await done;
  assert.equal(r.signal, 'SIGTERM');
  assert.equal(existsSync(lock), false, 'lock left behind after SIGTERM');
});

test('download: two --shard slots into one folder at once equal one unsharded run', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const list = writeList(dir, 10);
  const opts = { input: list, urlCol: 'url', captionCols: ['caption'], shardSize: 2, concurrency: 2, network: { allowLoopback: true }, image: { size: 16 } };
  const one = join(dir, 'one');
  await download({ ...opts, output: one });
  const two = join(dir, 'two');
  const [a, b] = await Promise.all([0, 1].map((index) => download({ ...opts, output: two, split: { index, count: 2 } })));
  assert.equal(a.progress.shardsWritten + b.progress.shardsWritten, 5);
  const s1 = snapshot(one);
  const s2 = snapshot(two);
  assert.deepEqual(Object.keys(s2), Object.keys(s1));
  assert.deepEqual(s2, s1); // shards, status files, dataset.json and the rebuilt summary.json, byte for byte
  assert.equal(JSON.parse(readFileSync(join(two, 'summary.json'), 'utf8')).rows, 10);
});

test('encode: two --shard slots into one store at once equal one unsharded run; a second identical slot is refused', { timeout: 60_000 }, async () => {
  const root = tempDir();
  writeTextModel(join(root, 'txt'), 3);
  const lines = ['image,caption'];
  for (let i = 0; i < 9; i++) lines.push(`x${i}.png,caption number ${i}`);
  writeFileSync(join(root, 'data.csv'), lines.join('\n') + '\n');
  const encoders = await Promise.all([0, 1].map(() => loadTextEncoder(join(root, 'txt'), { threads: 1 })));
  try {
    const base = { input: join(root, 'data.csv'), partSize: 2, batchSize: 2 };
    const one = join(root, 'one');
    const ref = await encode({ ...base, out: one, textEncoder: encoders[0] });
    assert.equal(ref.manifest?.rows, 9);
    const two = join(root, 'two');
    mkdirSync(two);
    const held = await lockSlot(two, { index: 1, count: 2 }, 'sail encode --shard 1/2');
    await assert.rejects(encode({ ...base, out: two, textEncoder: encoders[1], shard: { index: 1, count: 2 } }), /\.sail-slot-1-of-2\.lock: locked by .*\(sail encode --shard 1\/2\)$/);
    await held.release();
    const res = await Promise.all([0, 1].map((index) => encode({ ...base, out: two, textEncoder: encoders[index], shard: { index, count: 2 } })));
    assert.equal(res[0].partsWritten + res[1].partsWritten, 5);
    assert.ok(res.some((r) => r.manifest), 'the slot finishing last finalises the store');
    assert.deepEqual(snapshot(two), snapshot(one)); // parts, records, errors.jsonl and manifest.json, byte for byte
  } finally {
    for (const e of encoders) await e.dispose();
  }
});

test('sail train and sail store import: a locked --out is refused at once, naming the holder, nothing written', async () => {
  const dir = tempDir();
  const out = join(dir, 'run');
  const held = await lockFolder(out, 'another sail train');
  try {
    const t = runSail(['train', join(dir, 'no-store'), '--out', out, '--steps', '1']);
    assert.equal(t.status, 1, t.stderr);
    assert.equal(t.stderr, `sail: ${join(out, '.sail.lock')}: locked by ${hostname()} pid ${process.pid} since ${held.info.since} (another sail train)\n`);
    const s = runSail(['store', 'import', '--images', join(dir, 'i.npy'), '--texts', join(dir, 't.npy'), '--out', out]);
    assert.equal(s.status, 1, s.stderr);
    assert.match(s.stderr, /^sail: .*\.sail\.lock: locked by .* \(another sail train\)\n$/);
    assert.deepEqual(readdirSync(out), ['.sail.lock']);
  } finally {
    await held.release();
  }
  // the folder the lock created is gone again once released empty
  assert.equal(existsSync(out), false);
});
