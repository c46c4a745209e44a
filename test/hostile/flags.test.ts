// Raw Node errors that must be one `sail:` line instead (issue 10, item 16): --out naming a file,
// modality names that are Object.prototype keys, templates without {}, and out-of-range numbers.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/paths.js';
import { assertOneLineError, runCli, tinyHead, tinyStore } from './helpers.js';

test('item 16: --out naming an existing file is refused by every command that writes a folder, and the file is kept', async () => {
  const dir = tempDir();
  const store = join(dir, 'store');
  await tinyStore(store, { rows: 16, image: 6, text: 4, seed: 1 });
  const head = await tinyHead(join(dir, 'head.safetensors'), { visionDim: 6, textDim: 4 });
  const file = join(dir, 'existing.txt');
  writeFileSync(file, 'keep me');
  const commands: string[][] = [
    ['train', store, '--out', file, '--steps', '1', '--batch-size', '4'],
    ['eval', '--task', 'retrieval', '--store', store, '--head', head, '--out', file],
    ['export', head, '--out', file],
    ['store', 'import', '--images', 'x.npy', '--texts', 'y.npy', '--out', file],
    ['encode', dir, '--out', file, '--image-model', 'none', '--text-model', 'none'],
    ['probe', '--pair', `p=${store}`, '--out', file],
  ];
  for (const args of commands) {
    assertOneLineError(runCli(args), /existing\.txt: --out names an existing file, not a folder/);
  }
  // a path below a file cannot be created either
  assertOneLineError(runCli(['export', head, '--out', join(file, 'sub')]), /--out: .*existing\.txt is a file, so .*existing\.txt\/sub cannot be created/);
  assert.equal(readFileSync(file, 'utf8'), 'keep me');
});

test('item 16: modality names such as constructor are unknown modalities, not prototype members', async () => {
  const dir = tempDir();
  const store = join(dir, 'store');
  await tinyStore(store, { rows: 16, image: 6, text: 4, seed: 1 });
  const head = await tinyHead(join(dir, 'head.safetensors'), { visionDim: 6, textDim: 4 });
  for (const name of ['constructor', '__proto__', 'toString']) {
    assertOneLineError(runCli(['eval', '--task', 'retrieval', '--store', store, '--head', head, '--text-modality', name]), new RegExp(`store has no modality "${name}" \\(it has image, text\\)`));
  }
  assertOneLineError(runCli(['train', store, '--out', join(dir, 'run'), '--extra-text', 'constructor', '--steps', '1', '--batch-size', '4']), /store has no modality constructor \(it has image, text\)/);
});

test('item 16: sail segment --templates refuses a template without {} before loading any model', () => {
  const dir = tempDir();
  const templates = join(dir, 'templates.txt');
  writeFileSync(templates, 'a photo of a {}.\n\nan image\n');
  assertOneLineError(
    runCli(['segment', join(dir, 'img.png'), '--model', join(dir, 'none'), '--vision-model', 'none', '--text-model', 'none', '--classes', 'a,b', '--templates', templates]),
    /templates\.txt, row 3: template "an image" has no \{\} placeholder for the class name/,
  );
});

test('item 16: seeds beyond 32 bits are refused instead of aliasing a smaller seed', () => {
  const dir = tempDir();
  assertOneLineError(runCli(['probe', '--pair', `p=${dir}`, '--out', join(dir, 'out'), '--seed', '4294967296']), /--seed must be an integer from 0 to 4294967295, got "4294967296"/);
  assertOneLineError(runCli(['probe', '--pair', `p=${dir}`, '--out', join(dir, 'out'), '--dim', '1e9']), /--dim must be an integer from 1 to 65536/);
  assertOneLineError(runCli(['demo', '--out', join(dir, 'demo'), '--seed', '4294967296']), /--seed must be an integer from 0 to 4294967295/);
});
