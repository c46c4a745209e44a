import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runSail, startSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';
import { Rng } from '../../src/util/rng.js';
import { plantedStore } from './synth.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Completed steps of the checkpoint under `out`, or -1. */
function checkpointStep(out: string): number {
  try {
    return JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8')).step;
  } catch {
    return -1;
  }
}

/** Start `sail train`, SIGKILL it once `when()` holds (or after `delayMs`), and wait for it to die. */
async function runAndKill(args: string[], when: () => boolean, delayMs = 60_000): Promise<boolean> {
  const child = startSail(args);
  let exited = false;
  const done = new Promise<void>((r) => child.on('exit', () => { exited = true; r(); }));
  const t0 = Date.now();
  while (!exited && !when() && Date.now() - t0 < delayMs) await sleep(3);
  const killed = !exited;
  if (killed) child.kill('SIGKILL');
  await done;
  return killed;
}

test('SIGKILL mid-run, then --resume, gives a head bit-identical to an uninterrupted run', { timeout: 120_000 }, async () => {
  const dir = tempDir();
  const store = join(dir, 'store');
  await plantedStore(store, { rows: 1000, testRows: 1, imageDim: 12, textDim: 10, noise: 0.3, seed: 4, dtype: 'float16', partRows: 300 });
  const args = (out: string) => ['train', store, '--out', out, '--head', 'star', '--width-factor', '2', '--dim', '8', '--batch-size', '64',
    '--steps', '400', '--checkpoint-every', '7', '--lr', '1e-3', '--seed', '11', '--threads', '1', '--json'];
  const full = runSail(args(join(dir, 'full')));
  assert.equal(full.status, 0, full.stderr);
  assert.equal(JSON.parse(full.stdout).steps, 400);

  const out = join(dir, 'killed');
  // kill 1: as soon as the first checkpoint exists
  assert.ok(await runAndKill(args(out), () => checkpointStep(out) >= 7), 'first run was killed mid-run');
  const s1 = checkpointStep(out);
  assert.ok(s1 >= 7 && s1 < 400, `checkpoint at ${s1}`);
  // kills 2 and 3: at a random moment shortly after a new checkpoint appears (inside a step, a log
  // append or the next checkpoint write)
  let kills = 1;
  // seeded kill timing: a failure names the seed, and SAIL_TEST_SEED=<seed> replays the same delays
  const seed = Number(process.env.SAIL_TEST_SEED ?? 20261201);
  const rng = new Rng(seed);
  const when: string[] = [`seed ${seed}`];
  for (let round = 0; round < 2; round++) {
    const start = checkpointStep(out);
    const extra = rng.int(25);
    let seenAt = 0;
    if (await runAndKill([...args(out), '--resume'], () => {
      if (!seenAt && checkpointStep(out) > start) seenAt = Date.now();
      return seenAt > 0 && Date.now() - seenAt >= extra;
    })) kills++;
    when.push(`after step ${start} +${extra}ms`);
  }
  const before = checkpointStep(out);
  const last = runSail([...args(out), '--resume']);
  assert.equal(last.status, 0, last.stderr);
  const summary = JSON.parse(last.stdout);
  assert.equal(summary.steps, 400);
  assert.equal(summary.resumedFromStep, before);
  assert.ok(kills >= 3, `only ${kills} kills landed mid-run (${when.join(', ')})`);
  for (const f of ['head.safetensors', 'optimizer.safetensors']) {
    const a = readFileSync(join(dir, 'full', 'checkpoint', f));
    const b = readFileSync(join(out, 'checkpoint', f));
    assert.ok(a.equals(b), `${f} differs after ${kills} kills (${when.join(', ')})`);
  }
  assert.ok(!existsSync(join(out, 'checkpoint.old')));
  const losses = (p: string) => readFileSync(join(p, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).map((r) => [r.step, r.loss]);
  assert.deepEqual(losses(out), losses(join(dir, 'full')));
});

test('sail train reports bad flags in one line', () => {
  const o = runSail(['train', '/nonexistent-store', '--out', tempDir(), '--optimizer', 'sgd']);
  assert.equal(o.status, 1);
  assert.match(o.stderr, /--optimizer must be one of lion, adamw, got "sgd"/);
});
