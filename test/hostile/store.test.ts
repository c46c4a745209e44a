// Hostile and careless inputs to `sail store import|verify` (issue 10, items 8, 9, 13, 15, 16).
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openStore } from '../../src/store/reader.js';
import { float16ToFloat32, float32ToFloat16 } from '../../src/util/fp16.js';
import { Rng } from '../../src/util/rng.js';
import { tempDir } from '../helpers/paths.js';
import { assertNoLeftovers, assertOneLineError, listFiles, randomRows, runCli, runSailWithFullDisk, tinyStore, writeNpy } from './helpers.js';

/** image [rows, 6] and text [rows, 4] .npy files of seed `seed`. */
function npyPair(dir: string, name: string, seed: number, rows = 20): { images: string; texts: string; imageRows: Float32Array } {
  const rng = new Rng(seed);
  const images = join(dir, `${name}-img.npy`);
  const texts = join(dir, `${name}-txt.npy`);
  const imageRows = randomRows(rng, rows, 6);
  writeNpy(images, rows, 6, imageRows);
  writeNpy(texts, rows, 4, randomRows(rng, rows, 4));
  return { images, texts, imageRows };
}

const importArgs = (p: { images: string; texts: string }, out: string, ...more: string[]) => ['store', 'import', '--images', p.images, '--texts', p.texts, '--out', out, '--rows-per-part', '8', ...more];

async function firstImageRow(store: string): Promise<number[]> {
  const s = await openStore(store);
  try {
    return [...(await s.readRows('image', [0]))];
  } finally {
    await s.close();
  }
}

test('item 8: float16 import refuses values beyond 65504 (they would become Inf) and names --dtype float32', async () => {
  const dir = tempDir();
  const p = npyPair(dir, 'a', 1);
  const data = randomRows(new Rng(1), 20, 6);
  data[13 * 6 + 2] = 70000;
  writeNpy(p.images, 20, 6, data);
  const out = join(dir, 'store');
  const r = runCli(importArgs(p, out));
  assertOneLineError(r, /a-img\.npy, row 13: value 70000 at column 2 does not fit float16 .*--dtype float32/);
  assert.ok(!existsSync(join(out, 'manifest.json')), 'no manifest for a refused import');
  assertNoLeftovers(out);
  // the suggested fix works and keeps the value
  const ok = runCli(importArgs(p, join(dir, 'f32'), '--dtype', 'float32'));
  assert.equal(ok.status, 0, ok.stderr);
  const s = await openStore(join(dir, 'f32'));
  assert.equal((await s.readRows('image', [13]))[2], 70000);
  await s.close();
});

test('item 9: rerunning an import with the same inputs resumes; other inputs are refused unless --overwrite', async () => {
  const dir = tempDir();
  const a = npyPair(dir, 'a', 1);
  const b = npyPair(dir, 'b', 2);
  const out = join(dir, 'store');
  assert.equal(runCli(importArgs(a, out)).status, 0);
  const rowA = await firstImageRow(out);
  // an interrupted import: the last part and the manifest are gone; the same inputs finish it
  const manifest = readFileSync(join(out, 'manifest.json'), 'utf8');
  for (const f of ['manifest.json', 'part-00002.json']) rmSync(join(out, f));
  const resumed = runCli(importArgs(a, out));
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.equal(readFileSync(join(out, 'manifest.json'), 'utf8'), manifest);
  // same shapes, other contents: refused, the store untouched
  const before = listFiles(out).map((f) => [f, readFileSync(join(out, f)).toString('hex')]);
  const refused = runCli(importArgs(b, out));
  assertOneLineError(refused, /store: holds a store imported from other inputs \(image input: sha256 [0-9a-f]{12} before, [0-9a-f]{12} now; text input: .*pass --overwrite/);
  assert.deepEqual(listFiles(out).map((f) => [f, readFileSync(join(out, f)).toString('hex')]), before);
  assert.equal(runCli(['store', 'verify', out]).status, 0);
  // other settings count too
  assertOneLineError(runCli(importArgs(a, out, '--dtype', 'float32')), /dtype: float16 before, float32 now/);
  // --overwrite replaces it with b's rows
  const over = runCli(importArgs(b, out, '--overwrite'));
  assert.equal(over.status, 0, over.stderr);
  const half = (x: Float32Array) => [...float16ToFloat32(float32ToFloat16(x.subarray(0, 6)))];
  assert.deepEqual(rowA, half(a.imageRows));
  assert.deepEqual(await firstImageRow(out), half(b.imageRows));
  assert.equal(runCli(['store', 'verify', out]).status, 0);
});

test('item 9: an --out folder holding other files, or that is a file, is refused before anything is written', () => {
  const dir = tempDir();
  const a = npyPair(dir, 'a', 1);
  writeFileSync(join(dir, 'notes.txt'), 'mine');
  assertOneLineError(runCli(importArgs(a, dir)), /not empty and holds files that are not part of a store \(.*notes\.txt/);
  assert.equal(readFileSync(join(dir, 'notes.txt'), 'utf8'), 'mine');
  assertOneLineError(runCli(importArgs(a, join(dir, 'notes.txt'))), /notes\.txt: --out names an existing file, not a folder/);
});

test('item 13: a manifest edited to another dtype and dim of the same byte size fails verify and training', async () => {
  const dir = tempDir();
  const store = join(dir, 'store');
  await tinyStore(store, { rows: 12, image: 6, text: 4, seed: 1 });
  const mpath = join(store, 'manifest.json');
  const m = JSON.parse(readFileSync(mpath, 'utf8'));
  // 6 float32 = 24 bytes = 12 float16: the sizes still add up
  m.modalities.image = { dim: 12, dtype: 'float16' };
  writeFileSync(mpath, JSON.stringify(m));
  assertOneLineError(runCli(['store', 'verify', store]), /part-00000\.json: data file part-00000\.image\.f32 of modality image does not hold float16/);
  // a part JSON made to agree (renamed file) still disagrees on the recorded dim and dtype
  const ppath = join(store, 'part-00000.json');
  const part = JSON.parse(readFileSync(ppath, 'utf8'));
  renameSync(join(store, 'part-00000.image.f32'), join(store, 'part-00000.image.f16'));
  part.files.image.file = 'part-00000.image.f16';
  writeFileSync(ppath, JSON.stringify(part));
  assertOneLineError(runCli(['store', 'verify', store]), /part-00000\.json: modality image is float32 here but float16 in the manifest/);
  const out = join(dir, 'run');
  assertOneLineError(runCli(['train', store, '--out', out, '--batch-size', '4', '--steps', '1', '--dim', '4']), /modality image is float32 here but float16 in the manifest/);
  assert.ok(!existsSync(join(out, 'checkpoint')));
});

test('item 13: a bit flip is caught by store verify and by train --verify-store, before any step', async () => {
  const dir = tempDir();
  const store = join(dir, 'store');
  await tinyStore(store, { rows: 12, image: 6, text: 4, seed: 1 });
  const file = join(store, 'part-00000.text.f32');
  const buf = readFileSync(file);
  buf[17] ^= 0x01;
  writeFileSync(file, buf);
  assertOneLineError(runCli(['store', 'verify', store]), /part-00000\.text\.f32: checksum mismatch/);
  const out = join(dir, 'run');
  assertOneLineError(runCli(['train', store, '--out', out, '--batch-size', '4', '--steps', '2', '--dim', '4', '--verify-store']), /part-00000\.text\.f32: checksum mismatch/);
  assert.ok(!existsSync(join(out, 'checkpoint')), 'no training happened');
});

test('item 15: a full disk during store import prints one line naming the file, leaves no temp file, and a rerun resumes', async () => {
  const dir = tempDir();
  const a = npyPair(dir, 'a', 1);
  const out = join(dir, 'store');
  for (let attempt = 0; attempt < 2; attempt++) {
    const r = runSailWithFullDisk(importArgs(a, out), 'part-00001.image');
    assertOneLineError(r, /store\/part-00001\.image\.f16: cannot write: no space left on device \(ENOSPC\)/);
    assertNoLeftovers(out);
    assert.ok(existsSync(join(out, 'part-00000.json')) && !existsSync(join(out, 'part-00001.json')));
  }
  const done = runCli(importArgs(a, out));
  assert.equal(done.status, 0, done.stderr);
  const clean = join(dir, 'clean');
  assert.equal(runCli(importArgs(a, clean)).status, 0);
  assert.equal((await openStore(out)).fingerprint, (await openStore(clean)).fingerprint);
  assert.equal(runCli(['store', 'verify', out]).status, 0);
});
