import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync, writeFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { createStoreWriter } from '../../src/store/writer.js';
import { openStore } from '../../src/store/reader.js';
import { SailError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';
import { tempDir } from '../helpers/paths.js';

/** Independent float16 rounding check: the nearest binary16 value, computed from the definition in float64. */
function nearestHalf(x: number): number {
  if (x === 0) return 0;
  const e = Math.max(Math.floor(Math.log2(Math.abs(x))), -14);
  const ulp = 2 ** (e - 10);
  const q = x / ulp;
  const r = Math.round(q);
  // ties to even
  const t = Math.abs(q - Math.trunc(q)) === 0.5 ? (Math.trunc(q) % 2 === 0 ? Math.trunc(q) : Math.trunc(q) + Math.sign(q)) : r;
  return t * ulp;
}

function randomRows(rng: Rng, rows: number, dim: number): Float32Array {
  const a = new Float32Array(rows * dim);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal() * 3;
  return a;
}

async function makeStore(dir: string, dtype: 'float16' | 'float32', partRows: number[], dims = { image: 5, text: 3 }) {
  const rng = new Rng(7);
  const w = await createStoreWriter(dir, { modalities: [{ name: 'image', dim: dims.image, dtype, model: 'img-x' }, { name: 'text', dim: dims.text, dtype }] });
  const all = { image: [] as Float32Array[], text: [] as Float32Array[] };
  for (let p = 0; p < partRows.length; p++) {
    const image = randomRows(rng, partRows[p], dims.image);
    const text = randomRows(rng, partRows[p], dims.text);
    all.image.push(image);
    all.text.push(text);
    await w.writePart(p, { image, text });
  }
  await w.finalize();
  const cat = (xs: Float32Array[]) => { const out = new Float32Array(xs.reduce((a, x) => a + x.length, 0)); let o = 0; for (const x of xs) { out.set(x, o); o += x.length; } return out; };
  return { image: cat(all.image), text: cat(all.text) };
}

for (const dtype of ['float32', 'float16'] as const) {
  test(`store round trip (${dtype}): gathers in any order across parts, with duplicates`, async () => {
    const dir = tempDir();
    const src = await makeStore(dir, dtype, [7, 1, 10, 6]);
    const s = await openStore(dir);
    assert.equal(s.rows, 24);
    assert.deepEqual(s.modalities(), ['image', 'text']);
    assert.equal(s.dim('image'), 5);
    assert.equal(s.model('image'), 'img-x');
    const idx = [23, 0, 7, 7, 6, 8, 15, 1, 2, 3, 22];
    const got = await s.readRows('image', idx);
    for (let k = 0; k < idx.length; k++) {
      for (let j = 0; j < 5; j++) {
        const x = src.image[idx[k] * 5 + j];
        const want = dtype === 'float32' ? x : nearestHalf(x);
        assert.equal(got[k * 5 + j], want, `row ${idx[k]} col ${j}`);
      }
    }
    const range = await s.readRange('text', 5, 10);
    for (let i = 0; i < 30; i++) {
      const x = src.text[15 + i];
      assert.equal(range[i], dtype === 'float32' ? x : nearestHalf(x));
    }
    assert.deepEqual(await s.verify(), { files: 8, bytes: 24 * 8 * (dtype === 'float32' ? 4 : 2) });
    await s.close();
  });
}

test('writer is resumable and finalize orders parts; a missing part is named', async () => {
  const dir = tempDir();
  const w = await createStoreWriter(dir, { modalities: [{ name: 'image', dim: 2, dtype: 'float32' }, { name: 'text', dim: 2, dtype: 'float32' }] });
  await w.writePart(1, { image: new Float32Array([1, 2]), text: new Float32Array([3, 4]) });
  assert.equal(w.hasPart(1), true);
  assert.equal(w.hasPart(0), false);
  await assert.rejects(w.finalize(), (e: Error) => e instanceof SailError && /part-00000 is missing/.test(e.message));
  await w.writePart(0, { image: new Float32Array([5, 6, 7, 8]), text: new Float32Array([9, 10, 11, 12]) });
  const m = await w.finalize();
  assert.deepEqual(m.parts, [{ name: 'part-00000', rows: 2 }, { name: 'part-00001', rows: 1 }]);
  const s = await openStore(dir);
  assert.deepEqual([...(await s.readRows('text', [2, 0]))], [3, 4, 9, 10]);
  await s.close();
  await assert.rejects(w.writePart(2, { image: new Float32Array([1, 2, 3, 4]), text: new Float32Array([1, 2]) }), /1 rows but other modalities have 2/);
  await assert.rejects(w.writePart(2, { image: new Float32Array([NaN, 2]), text: new Float32Array([1, 2]) }), /row 0/);
});

async function expectOpenError(dir: string, pattern: RegExp) {
  await assert.rejects(openStore(dir), (e: Error) => {
    assert.ok(e instanceof SailError, `expected SailError, got ${e}`);
    assert.match(e.message, pattern);
    return true;
  });
}

test('missing and corrupt manifests give named errors', async () => {
  const dir = tempDir();
  await expectOpenError(dir, /manifest\.json: store manifest not found/);
  writeFileSync(join(dir, 'manifest.json'), '{"format": "sail-store", ');
  await expectOpenError(dir, /manifest\.json: corrupt store manifest: invalid JSON/);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ format: 'sail-store', version: 1, rows: 3, modalities: { image: { dim: 2, dtype: 'float16' } }, parts: [{ name: 'part-00000', rows: 2 }] }));
  await expectOpenError(dir, /parts hold 2 rows but "rows" is 3/);
});

test('truncated files, dims and row counts that differ are named', async () => {
  const dir = tempDir();
  await makeStore(dir, 'float16', [4, 4]);
  const file = join(dir, 'part-00001.text.f16');
  const orig = readFileSync(file);
  truncateSync(file, orig.length - 3);
  await expectOpenError(dir, /part-00001\.text\.f16: truncated or mismatched data file: 21 bytes, expected 24/);
  // one modality with an extra row: row counts differ
  writeFileSync(file, Buffer.concat([orig, orig.subarray(0, 6)]));
  await expectOpenError(dir, /part-00001\.text\.f16: .*it holds 5 rows, other modalities 4/);
  writeFileSync(file, orig);
  // manifest claims another dim than the files hold
  const mpath = join(dir, 'manifest.json');
  const m = JSON.parse(readFileSync(mpath, 'utf8'));
  m.modalities.image.dim = 6;
  writeFileSync(mpath, JSON.stringify(m));
  await expectOpenError(dir, /part-00000\.image\.f16: truncated or mismatched data file.*wrong dim/);
});

test('fp16 reads (converted a run at a time): Inf and NaN name the row and column; a bad row next to the requested ones is not an error', async () => {
  const dir = tempDir();
  // 16 x 12 values per part: runs are long enough for the SIMD conversion (64+ values)
  const src = await makeStore(dir, 'float16', [16, 16], { image: 12, text: 3 });
  const file = join(dir, 'part-00001.image.f16');
  const buf = readFileSync(file);
  buf.writeUInt16LE(0x7e00, (5 * 12 + 7) * 2); // NaN at local row 5 (global 21), column 7
  buf.writeUInt16LE(0xfc00, (9 * 12 + 0) * 2); // -Inf at local row 9 (global 25), column 0
  writeFileSync(file, buf);
  const s = await openStore(dir);
  await assert.rejects(s.readRows('image', [16, 17, 18, 19, 20, 21, 22]), /part-00001\.image\.f16, row 21: non-finite value NaN in modality image \(column 7\)/);
  await assert.rejects(s.readRows('image', [25]), /row 25: non-finite value -Infinity in modality image \(column 0\)/);
  // rows 20 and 22 are read in one run with row 21 between them: that run holds a NaN, but not in a requested row
  const got = await s.readRows('image', [20, 22, 0, 15]);
  const rows = [20, 22, 0, 15];
  rows.forEach((r, i) => {
    for (let j = 0; j < 12; j++) assert.ok(Math.abs(got[i * 12 + j] - src.image[r * 12 + j]) <= 1e-3 * Math.max(1, Math.abs(src.image[r * 12 + j])), `row ${r} col ${j}`);
  });
  await s.close();
  await fs.rm(dir, { recursive: true });
});

test('non-finite values in a batch read name the file and row; verify names a corrupted file', async () => {
  const dir = tempDir();
  await makeStore(dir, 'float32', [4, 4]);
  const file = join(dir, 'part-00001.image.f32');
  const buf = readFileSync(file);
  buf.writeFloatLE(Infinity, (2 * 5 + 3) * 4); // local row 2 = global row 6
  writeFileSync(file, buf);
  const s = await openStore(dir);
  await assert.rejects(s.readRows('image', [0, 6, 1]), /part-00001\.image\.f32, row 6: non-finite value Infinity/);
  assert.equal((await s.readRows('image', [0, 5, 7])).length, 15);
  await assert.rejects(s.verify(), /part-00001\.image\.f32: checksum mismatch/);
  await assert.rejects(s.readRows('image', [8]), /row index 8 out of range/);
  await assert.rejects(s.readRows('audio', [0]), /no modality "audio"/);
  await s.close();
  await fs.rm(dir, { recursive: true });
});
