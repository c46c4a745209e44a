import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, rmSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { importNpy, openNpy, parseNpyHeader } from '../../src/store/npy.js';
import { openStore } from '../../src/store/reader.js';
import { float16ToFloat32, float32ToFloat16 } from '../../src/util/fp16.js';
import { SailError } from '../../src/util/errors.js';
import { runSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';

/** Bytes of a .npy file written the way numpy.save does (header padded to 64 bytes, newline-terminated). */
function npyBytes(opts: { version?: 1 | 2 | 3; descr?: string; shape: number[]; fortran?: boolean; data: Uint8Array; headerPad?: number }): Buffer {
  const v = opts.version ?? 1;
  let header = `{'descr': '${opts.descr ?? '<f4'}', 'fortran_order': ${opts.fortran ? 'True' : 'False'}, 'shape': (${opts.shape.join(', ')}${opts.shape.length === 1 ? ',' : ''}), }`;
  const pre = v === 1 ? 10 : 12;
  header += ' '.repeat((64 - ((pre + header.length + 1) % 64)) % 64 + (opts.headerPad ?? 0)) + '\n';
  const len = Buffer.alloc(v === 1 ? 2 : 4);
  if (v === 1) len.writeUInt16LE(header.length);
  else len.writeUInt32LE(header.length);
  return Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, v, 0]), len, Buffer.from(header, 'latin1'), opts.data]);
}

const f32 = (xs: number[]) => new Uint8Array(Float32Array.from(xs).buffer);
const seq = (n: number, scale = 0.25) => Array.from({ length: n }, (_, i) => (i - n / 2) * scale);

test('npy headers v1/v2/v3 parse; unsupported layouts give clear errors', () => {
  for (const version of [1, 2, 3] as const) {
    const b = npyBytes({ version, shape: [3, 2], data: f32(seq(6)) });
    const h = parseNpyHeader(b, 'x.npy');
    assert.ok(!('need' in h));
    assert.deepEqual(h, { dtype: 'float32', rows: 3, cols: 2, dataOffset: b.length - 24 });
    assert.equal(h.dataOffset % 64, 0);
  }
  const err = (b: Uint8Array, re: RegExp) => assert.throws(() => parseNpyHeader(b, 'bad.npy'), (e: Error) => e instanceof SailError && re.test(e.message) && e.message.startsWith('bad.npy'));
  err(Buffer.from('PK\x03\x04 not numpy at all'), /magic/);
  err(npyBytes({ descr: '>f4', shape: [1, 1], data: f32([1]) }), /big-endian/);
  err(npyBytes({ descr: '<f8', shape: [1, 1], data: new Uint8Array(8) }), /dtype <f8/);
  err(npyBytes({ fortran: true, shape: [1, 1], data: f32([1]) }), /Fortran/);
  err(npyBytes({ shape: [2, 1, 1], data: f32([1, 2]) }), /3-D/);
  err(npyBytes({ shape: [4], data: f32([1, 2, 3, 4]) }), /1-D/);
  const huge = npyBytes({ version: 2, shape: [1, 1], data: f32([1]) });
  huge.writeUInt32LE(50_000_000, 8);
  err(huge, /exceeds/);
  // a short buffer asks for more bytes instead of failing
  assert.deepEqual(parseNpyHeader(npyBytes({ shape: [1, 1], data: f32([1]) }).subarray(0, 12), 'x.npy'), { need: 128 });
});

test('openNpy checks the file size against the shape', async () => {
  const dir = tempDir();
  const p = join(dir, 'a.npy');
  writeFileSync(p, npyBytes({ shape: [3, 2], data: f32(seq(5)) }));
  await assert.rejects(openNpy(p), /a\.npy: file is \d+ bytes but shape \(3, 2\) float32 needs \d+: truncated/);
  await assert.rejects(openNpy(join(dir, 'missing.npy')), /missing\.npy: cannot open: ENOENT/);
});

test('importNpy streams float16/float32 npy files into a store in parts, resumably', async () => {
  const dir = tempDir();
  const rows = 11;
  const img = seq(rows * 4, 0.1);
  const txt = seq(rows * 3, 0.3);
  writeFileSync(join(dir, 'img.npy'), npyBytes({ shape: [rows, 4], data: f32(img) }));
  writeFileSync(join(dir, 'txt.npy'), npyBytes({ version: 2, descr: '<f2', shape: [rows, 3], data: new Uint8Array(float32ToFloat16(txt).buffer) }));
  writeFileSync(join(dir, 'extra.npy'), npyBytes({ shape: [rows, 3], data: f32(txt.map((x) => -x)) }));
  const out = join(dir, 'store');
  const opts = { images: join(dir, 'img.npy'), texts: join(dir, 'txt.npy'), extraTexts: join(dir, 'extra.npy'), out, dtype: 'float32' as const, rowsPerPart: 4, imageModel: 'im', textModel: 'tm' };
  const m = await importNpy(opts);
  assert.deepEqual(m.parts.map((p) => p.rows), [4, 4, 3]);
  assert.deepEqual(Object.keys(m.modalities), ['image', 'text', 'extra_text']);
  assert.equal(m.modalities.text.model, 'tm');
  const s = await openStore(out);
  assert.deepEqual([...(await s.readRange('image', 0, rows))], [...Float32Array.from(img)]);
  // txt values are multiples of 0.3 stored as f16 and read back exactly as f16 values
  const t = await s.readRows('text', [10]);
  assert.deepEqual([...t], [...float16ToFloat32(float32ToFloat16(txt.slice(30, 33)))]);
  assert.ok(Math.abs(t[0] - txt[30]) < 0.01);
  assert.deepEqual([...(await s.readRows('extra_text', [2]))], [...Float32Array.from(txt.slice(6, 9).map((x) => -x))]);
  await s.close();
  // resume: drop one part and the manifest, import again
  for (const f of readdirSync(out)) if (f.startsWith('part-00001') || f === 'manifest.json') rmSync(join(out, f));
  const m2 = await importNpy(opts);
  assert.deepEqual(m2, m);
  // row counts that differ are refused, naming the file
  writeFileSync(join(dir, 'short.npy'), npyBytes({ shape: [rows - 1, 3], data: f32(seq((rows - 1) * 3)) }));
  await assert.rejects(importNpy({ ...opts, out: join(dir, 's2'), texts: join(dir, 'short.npy') }), /short\.npy: has 10 rows but .*img\.npy has 11/);
});

test('sail store import / info CLI', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'img.npy'), npyBytes({ shape: [5, 2], data: f32(seq(10)) }));
  writeFileSync(join(dir, 'txt.npy'), npyBytes({ shape: [5, 3], data: f32(seq(15)) }));
  const out = join(dir, 'st');
  const r = runSail(['store', 'import', '--images', join(dir, 'img.npy'), '--texts', join(dir, 'txt.npy'), '--out', out, '--image-model', 'dino']);
  assert.equal(r.status, 0, r.stderr);
  const info = runSail(['store', 'info', out, '--json']);
  assert.equal(info.status, 0, info.stderr);
  const j = JSON.parse(info.stdout);
  assert.equal(j.rows, 5);
  assert.deepEqual(j.modalities.image, { dim: 2, dtype: 'float16', model: 'dino' });
});
