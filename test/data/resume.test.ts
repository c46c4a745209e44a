import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readStatus } from '../../src/data/shards.js';
import { readWds } from '../../src/data/wds.js';
import { exited, startSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';
import { csvOf, handlers, makeJpeg, startServer } from './fixtures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('download: SIGKILL mid-run, rerun, and every row is stored exactly once', { timeout: 60_000 }, async () => {
  const routes: Record<string, import('./fixtures.js').Route> = {};
  for (let i = 0; i < 4; i++) routes[`/i${i}.jpg`] = await makeJpeg(120, 90, i);
  routes['/missing'] = handlers.status(404);
  const server = await startServer(routes, { delayMs: 120 });
  try {
    const dir = tempDir();
    const rows: Array<[string, string]> = [];
    const bad = new Set([5, 17, 26]);
    for (let i = 0; i < 32; i++) rows.push([server.url(bad.has(i) ? '/missing' : `/i${i % 4}.jpg`), `row ${i}`]);
    const list = join(dir, 'urls.csv');
    writeFileSync(list, csvOf(rows));
    const out = join(dir, 'shards');
    const args = ['download', '-i', list, '-o', out, '--caption-col', 'caption', '--shard-size', '4', '--concurrency', '2',
      '--image-size', '64', '--timeout', '20', '--body-timeout', '30', '--retries', '0', '--json', '--allow-loopback'];

    const first = startSail(args);
    const firstExit = exited(first);
    const statusCount = () => readdirSync(out, { withFileTypes: true }).filter((e) => e.name.endsWith('.status.jsonl')).length;
    const deadline = Date.now() + 40_000;
    for (;;) {
      let n = 0;
      try { n = statusCount(); } catch { /* folder not made yet */ }
      if (n >= 2) break;
      assert.ok(Date.now() < deadline, 'first run never completed two shards');
      await sleep(25);
    }
    first.kill('SIGKILL');
    const r1 = await firstExit;
    assert.equal(r1.signal, 'SIGKILL');
    const doneAtKill = statusCount();
    assert.ok(doneAtKill < 8, `kill landed too late (${doneAtKill} of 8 shards done)`);

    const r2 = await exited(startSail(args));
    assert.equal(r2.code, 0, r2.stderr);
    const result = JSON.parse(r2.stdout);
    assert.equal(result.run.shardsSkipped, doneAtKill);
    assert.equal(result.summary.rows, 32);
    assert.equal(result.summary.ok, 29);
    assert.deepEqual(result.summary.failedByReason, { http_error: 3 });

    const names = readdirSync(out);
    assert.deepEqual(names.filter((n) => n.endsWith('.tmp')), [], 'temp files left behind');
    const statusRows: number[] = [];
    for (let k = 0; k < 8; k++) statusRows.push(...(await readStatus(join(out, `${String(k).padStart(5, '0')}.status.jsonl`))).map((s) => s.row));
    assert.deepEqual(statusRows, rows.map((_, i) => i));
    const keys: string[] = [];
    for await (const s of readWds(out)) {
      keys.push(s.key);
      assert.equal(s.text, `row ${Number(s.key)}`);
    }
    assert.deepEqual(keys, rows.map((_, i) => i).filter((i) => !bad.has(i)).map((i) => String(i).padStart(9, '0')));
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(summary.completedShards, 8);
  } finally {
    await server.close();
  }
});
