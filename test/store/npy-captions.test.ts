// `.npy` import with several captions per image, the original loader's convention: a caption file with
// k x n rows for n images, caption row i describing image i mod n, becomes k caption modalities.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { captionModality, importNpy } from '../../src/store/npy.js';
import { openStore } from '../../src/store/reader.js';
import { runSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';

/** A version-1 little-endian float32 C-order .npy file. */
function npy(rows: number, cols: number, data: Float32Array): Buffer {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** Caption row r of a k x n file holds [r, r + 0.5]: easy to recognise after the import. */
const captions = (rows: number, sign = 1): Float32Array => Float32Array.from({ length: rows * 2 }, (_, i) => sign * (Math.floor(i / 2) + (i % 2) * 0.5));

test('store import: k x n caption rows give k caption modalities, row i of set j = file row j n + i', async () => {
  const dir = tempDir();
  const n = 5;
  const k = 3;
  writeFileSync(join(dir, 'img.npy'), npy(n, 4, Float32Array.from({ length: n * 4 }, (_, i) => i)));
  writeFileSync(join(dir, 'txt.npy'), npy(k * n, 2, captions(k * n)));
  writeFileSync(join(dir, 'extra.npy'), npy(k * n, 2, captions(k * n, -1)));
  const out = join(dir, 'store');
  const m = await importNpy({ images: join(dir, 'img.npy'), texts: join(dir, 'txt.npy'), extraTexts: join(dir, 'extra.npy'), out, dtype: 'float32', rowsPerPart: 2 });
  assert.equal(m.rows, n);
  assert.deepEqual(Object.keys(m.modalities), ['image', 'text', 'text_2', 'text_3', 'extra_text', 'extra_text_2', 'extra_text_3']);
  const s = await openStore(out);
  try {
    for (let j = 0; j < k; j++) {
      const t = await s.readRange(captionModality('text', j), 0, n);
      const e = await s.readRange(captionModality('extra_text', j), 0, n);
      for (let i = 0; i < n; i++) {
        assert.deepEqual([t[2 * i], t[2 * i + 1]], [j * n + i, j * n + i + 0.5], `text set ${j} row ${i}`);
        assert.deepEqual([e[2 * i], e[2 * i + 1]], [-(j * n + i), -(j * n + i + 0.5)], `extra set ${j} row ${i}`);
      }
    }
  } finally {
    await s.close();
  }
  // not a multiple of n: refused, naming the file and the convention
  writeFileSync(join(dir, 'odd.npy'), npy(7, 2, captions(7)));
  await assert.rejects(importNpy({ images: join(dir, 'img.npy'), texts: join(dir, 'odd.npy'), out: join(dir, 's2') }), /odd\.npy: has 7 rows but .*img\.npy has 5.*k x 5 rows/);
  // extra captions must pair with the caption rows one to one
  writeFileSync(join(dir, 'extra1.npy'), npy(n, 2, captions(n)));
  await assert.rejects(importNpy({ images: join(dir, 'img.npy'), texts: join(dir, 'txt.npy'), extraTexts: join(dir, 'extra1.npy'), out: join(dir, 's3') }), /extra1\.npy: has 5 rows but .*txt\.npy has 15/);
});

test('sail store import --texts with 2 x n rows: the CLI reports both caption modalities', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'img.npy'), npy(3, 2, Float32Array.from({ length: 6 }, (_, i) => i)));
  writeFileSync(join(dir, 'txt.npy'), npy(6, 2, captions(6)));
  const out = join(dir, 'st');
  const r = runSail(['store', 'import', '--images', join(dir, 'img.npy'), '--texts', join(dir, 'txt.npy'), '--out', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const manifest = JSON.parse(r.stdout);
  assert.equal(manifest.rows, 3);
  assert.deepEqual(Object.keys(manifest.modalities), ['image', 'text', 'text_2']);
});
