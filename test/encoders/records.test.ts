import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkRunSettings, fromRanges, removeStaleTemps, toRanges } from '../../src/encoders/encode-records.js';
import { tempDir } from '../helpers/paths.js';

test('kept row ids compress to half-open ranges and back', () => {
  const rows = [0, 1, 2, 4, 5, 9];
  assert.deepEqual(toRanges(rows), [[0, 3], [4, 6], [9, 10]]);
  assert.deepEqual(fromRanges(toRanges(rows)), rows);
  assert.deepEqual(toRanges([]), []);
});

test('stale temp files: dead writers removed, live or young ones kept', async () => {
  const dir = tempDir();
  const dead = 2 ** 22 + 12345; // above the default pid_max: never a live process
  const deadTemp = join(dir, `.part-00001.image.f16.${dead}.3.tmp`);
  const liveTemp = join(dir, `.part-00002.image.f16.${process.ppid}.1.tmp`);
  const other = join(dir, 'part-00001.json');
  for (const f of [deadTemp, liveTemp, other]) writeFileSync(f, 'x');
  assert.equal(await removeStaleTemps(dir, 60_000), 0); // too young for a multi-shard run
  const old = new Date(Date.now() - 120_000);
  utimesSync(deadTemp, old, old);
  assert.equal(await removeStaleTemps(dir, 60_000), 1);
  assert.ok(!existsSync(deadTemp));
  assert.ok(existsSync(liveTemp) && existsSync(other));
});

test('run settings: recorded once, must match on resume, foreign stores refused', async () => {
  const dir = tempDir();
  await checkRunSettings(dir, { a: 1 });
  await checkRunSettings(dir, { a: 1 });
  await assert.rejects(checkRunSettings(dir, { a: 2 }), /different encode settings/);
  const foreign = tempDir();
  writeFileSync(join(foreign, 'part-00000.json'), '{}');
  await assert.rejects(checkRunSettings(foreign, { a: 1 }), /did not start/);
});
