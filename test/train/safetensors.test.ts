import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors, writeSafetensors } from '../../src/head/safetensors.js';
import { SailError } from '../../src/util/errors.js';
import { tempDir } from '../helpers/paths.js';

/** Build a safetensors file by hand from a header object and raw data bytes. */
function rawFile(header: unknown, data: Uint8Array, lenOverride?: bigint): Buffer {
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const pre = Buffer.alloc(8);
  pre.writeBigUInt64LE(lenOverride ?? BigInt(h.length));
  return Buffer.concat([pre, h, data]);
}

test('safetensors F32 round trip with metadata; layout matches the format spec', async () => {
  const dir = tempDir();
  const p = join(dir, 'h.safetensors');
  const a = Float32Array.from([1.5, -2, 3.25, 1e-30, 7, 8]);
  const b = Float32Array.from([42]);
  await writeSafetensors(p, [{ name: 'a.weight', shape: [2, 3], data: a }, { name: 'logit_scale', shape: [1], data: b }], { format: 'sail-head' });
  const bytes = readFileSync(p);
  const n = Number(bytes.readBigUInt64LE(0));
  assert.equal((8 + n) % 8, 0, 'data section aligned to 8 bytes');
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString());
  assert.deepEqual(header['a.weight'], { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
  assert.deepEqual(header.logit_scale, { dtype: 'F32', shape: [1], data_offsets: [24, 28] });
  assert.equal(bytes.readFloatLE(8 + n + 12), Math.fround(1e-30));
  assert.equal(bytes.readFloatLE(8 + n + 24), 42);
  const back = await readSafetensors(p);
  assert.deepEqual(back.metadata, { format: 'sail-head' });
  assert.deepEqual(back.tensors.map((t) => t.name), ['a.weight', 'logit_scale']);
  assert.deepEqual([...back.tensors[0].data], [...a]);
  assert.deepEqual(back.tensors[0].shape, [2, 3]);
});

test('F16 and BF16 tensors are read as float32', async () => {
  const dir = tempDir();
  const p = join(dir, 'x.safetensors');
  // F16: 1.0 = 0x3c00, -2.0 = 0xc000; BF16: 1.0 = 0x3f80, -0.5 = 0xbf00, 3.140625 = 0x4049
  const data = Buffer.alloc(10);
  [0x3c00, 0xc000, 0x3f80, 0xbf00, 0x4049].forEach((v, i) => data.writeUInt16LE(v, 2 * i));
  writeFileSync(p, rawFile({ h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] }, b: { dtype: 'BF16', shape: [3], data_offsets: [4, 10] } }, data));
  const f = await readSafetensors(p);
  assert.deepEqual([...f.tensors[0].data], [1, -2]);
  assert.deepEqual([...f.tensors[1].data], [1, -0.5, 3.140625]);
});

test('bad headers and offsets give SailErrors naming the file', async () => {
  const dir = tempDir();
  const p = join(dir, 'bad.safetensors');
  const expect = async (buf: Buffer, re: RegExp) => {
    writeFileSync(p, buf);
    await assert.rejects(readSafetensors(p), (e: Error) => e instanceof SailError && e.message.includes('bad.safetensors') && re.test(e.message));
  };
  const four = new Uint8Array(4);
  await expect(rawFile({}, four, 200n * 1024n * 1024n), /header length \d+ exceeds/);
  await expect(rawFile({}, four, 1000n), /runs past the end/);
  await expect(Buffer.from([1, 2, 3]), /shorter than/);
  await expect(rawFile({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), /tensor t: data_offsets span 8 bytes, shape needs 4/);
  await expect(rawFile({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(8)), /tensors cover 4/);
  await expect(rawFile({ t: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, u: { dtype: 'F32', shape: [1], data_offsets: [2, 6] } }, new Uint8Array(8)), /tensor u: data starts at 2, expected 4/);
  await expect(rawFile({ t: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), /dtype "I64" not supported/);
  const notJson = Buffer.from('{"t": {"dtype": ', 'utf8');
  const pre = Buffer.alloc(8);
  pre.writeBigUInt64LE(BigInt(notJson.length));
  await expect(Buffer.concat([pre, notJson]), /header is not JSON/);
  await assert.rejects(writeSafetensors(p, [{ name: 'x', shape: [3], data: new Float32Array(2) }]), /tensor x: shape \[3\] needs 3 values, has 2/);
});
