// Hostile and careless inputs to `sail train` (issue 10, items 6, 11, 13, 15, 16).
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadHead } from '../../src/head/load.js';
import { tempDir } from '../helpers/paths.js';
import { assertNoLeftovers, assertOneLineError, runCli, runSailWithFullDisk, tinyStore } from './helpers.js';

// every head size given explicitly: on these tiny stores the CLI would otherwise choose (and announce) a small head
const trainArgs = (store: string, out: string, ...more: string[]) =>
  ['train', store, '--out', out, '--head', 'linear', '--width-factor', '8', '--dim', '4', '--batch-size', '8', '--steps', '12', '--checkpoint-every', '4', '--threads', '1', '--json', ...more];

/** Bytes of every checkpoint file, to show a refused run touched nothing. */
function checkpointBytes(out: string): string[] {
  return ['head.safetensors', 'optimizer.safetensors', 'state.json', 'config.json'].map((f) => readFileSync(join(out, 'checkpoint', f)).toString('hex'));
}

test('item 11: --resume refuses another store of the same shape, and other result-changing settings, naming each field', async () => {
  const dir = tempDir();
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  await tinyStore(a, { rows: 32, image: 6, text: 4, seed: 1 });
  await tinyStore(b, { rows: 32, image: 6, text: 4, seed: 2 });
  const out = join(dir, 'run');
  const first = runCli(trainArgs(a, out, '--steps', '4'));
  assert.equal(first.status, 0, first.stderr);
  const config = JSON.parse(readFileSync(join(out, 'checkpoint', 'config.json'), 'utf8'));
  assert.match(config.storeFingerprint, /^[0-9a-f]{64}$/);
  assert.deepEqual(config.optimizer, { kind: 'lion', lr: 1e-4, weightDecay: 1e-4, beta1: 0.9, beta2: 0.99, eps: 1e-8 });
  const saved = checkpointBytes(out);
  // --steps 4 -> 12 changes the schedule, so only the first call's total is resumable: keep it at 4 below
  assertOneLineError(runCli(trainArgs(b, out, '--steps', '4', '--resume')), /checkpoint\/config\.json: cannot resume with different settings \(storeFingerprint: checkpoint "[0-9a-f]{12}…", now "[0-9a-f]{12}…"\)/);
  assertOneLineError(
    runCli(trainArgs(a, out, '--steps', '4', '--resume', '--lr', '2e-4', '--batch-size', '16', '--seed', '7', '--loss', 'infonce')),
    /cannot resume with different settings \(loss: checkpoint "siglip", now "infonce"; optimizer\.lr: checkpoint 0\.0001, now 0\.0002; batchSize: checkpoint 8, now 16; epochs: checkpoint 1, now 2; seed: checkpoint 42, now 7\)/,
  );
  assertOneLineError(runCli(trainArgs(a, out, '--resume')), /totalSteps: checkpoint 4, now 12; .*warmupSteps: checkpoint 1, now 2/);
  assertOneLineError(runCli(trainArgs(a, out, '--steps', '4', '--resume', '--head', 'star', '--width-factor', '2')), /head\.type: checkpoint "linear", now "star"; head\.widthFactor: checkpoint 8, now 2/);
  assert.deepEqual(checkpointBytes(out), saved, 'refused resumes leave the checkpoint as it was');
});

test('item 11: execution settings (--threads, --checkpoint-every) and the store folder may change on resume', async () => {
  const dir = tempDir();
  const store = join(dir, 'store');
  await tinyStore(store, { rows: 32, image: 6, text: 4, seed: 1 });
  const full = runCli(trainArgs(store, join(dir, 'full')));
  assert.equal(full.status, 0, full.stderr);
  const out = join(dir, 'run');
  // a run that stops after its step-4 checkpoint (the disk fills on the next one)
  const first = runSailWithFullDisk(trainArgs(store, out), 'checkpoint-new', 4);
  assert.equal(first.status, 1, first.stderr);
  // the same contents in another folder keep the fingerprint; threads and checkpoint cadence differ
  cpSync(store, join(dir, 'moved'), { recursive: true });
  const resumed = runCli(trainArgs(join(dir, 'moved'), out, '--resume', '--threads', '2', '--checkpoint-every', '5'));
  assert.equal(resumed.status, 0, resumed.stderr);
  const s = JSON.parse(resumed.stdout);
  assert.equal(s.resumedFromStep, 4);
  assert.equal(s.steps, 12);
  for (const f of ['head.safetensors', 'optimizer.safetensors']) {
    assert.ok(readFileSync(join(dir, 'full', 'checkpoint', f)).equals(readFileSync(join(out, 'checkpoint', f))), `${f} equals the uninterrupted run's`);
  }
});

test('item 15: a full disk while writing a checkpoint prints one line, removes the half-written folder and keeps the previous checkpoint', async () => {
  const dir = tempDir();
  const store = join(dir, 'store');
  await tinyStore(store, { rows: 32, image: 6, text: 4, seed: 1 });
  const out = join(dir, 'run');
  // the first checkpoint (4 files) is written; the second fails on its first file
  const r = runSailWithFullDisk(trainArgs(store, out), 'checkpoint-new', 4);
  assertOneLineError(r, /run\/\.checkpoint-new-\d+\/head\.safetensors: cannot write: no space left on device \(ENOSPC\)/);
  assertNoLeftovers(out);
  assert.equal(JSON.parse(readFileSync(join(out, 'checkpoint', 'state.json'), 'utf8')).step, 4);
  const head = await loadHead(join(out, 'checkpoint'));
  assert.equal(head.config.targetDim, 4);
  assert.ok(!existsSync(join(out, 'checkpoint.old')));
  // a second attempt fails the same way and still leaves nothing behind
  assertOneLineError(runSailWithFullDisk([...trainArgs(store, out), '--resume'], 'checkpoint-new', 4), /ENOSPC/);
  assertNoLeftovers(out);
});

test('item 6: --val-store of other widths is refused before the first step', async () => {
  const dir = tempDir();
  const store = join(dir, 'store');
  const val = join(dir, 'val');
  await tinyStore(store, { rows: 32, image: 6, text: 4, seed: 1 });
  await tinyStore(val, { rows: 16, image: 12, text: 4, seed: 2 });
  const out = join(dir, 'run');
  assertOneLineError(runCli(trainArgs(store, out, '--val-store', val)), /val: modality image holds 12-d embeddings but the head expects 6-d image inputs/);
  assert.ok(!existsSync(join(out, 'checkpoint')) && !existsSync(join(out, 'train.jsonl')));
});

test('item 16: --dim 1e9, --width-factor 1e6 and --seed 4294967296 are refused up front', async () => {
  const dir = tempDir();
  const store = join(dir, 'store');
  await tinyStore(store, { rows: 16, image: 6, text: 4, seed: 1 });
  assertOneLineError(runCli(trainArgs(store, join(dir, 'a'), '--dim', '1e9')), /--dim must be an integer from 1 to 65536, got "1e9"/);
  assertOneLineError(runCli(trainArgs(store, join(dir, 'b'), '--head', 'star', '--width-factor', '1000000')), /--width-factor must be an integer from 1 to 64/);
  assertOneLineError(runCli(trainArgs(store, join(dir, 'c'), '--seed', '4294967296')), /--seed must be an integer from 0 to 4294967295, got "4294967296"/);
  for (const d of ['a', 'b', 'c']) assert.ok(!existsSync(join(dir, d)), `${d}: nothing written`);
});
