// safetensors I/O: bounded JSON header, validated offsets; writes F32, reads F32/F16/BF16 as float32.
import { promises as fs } from 'node:fs';
import { SailError } from '../util/errors.js';
import { writeFileAtomicWith } from '../util/atomic.js';
import { float16ToFloat32 } from '../util/fp16.js';

/** A named float32 tensor. */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface SafetensorsFile {
  /** Tensors in file (offset) order. */
  tensors: NamedTensor[];
  /** The `__metadata__` string map (empty when absent). */
  metadata: Record<string, string>;
}

/** Refuse headers larger than this (the format's own reference limit is 100 MB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;
const DTYPE_BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2 };

/**
 * Read a safetensors file; every tensor is converted to float32. Throws a SailError naming the file
 * (and tensor) for a bad header, unsupported dtype, or offsets that do not tile the data section.
 */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  const bad = (reason: string): never => {
    throw new SailError(`invalid safetensors file: ${reason}`, { file: path });
  };
  let fh;
  try {
    fh = await fs.open(path, 'r');
  } catch (err) {
    throw new SailError(`cannot open: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { file: path });
  }
  try {
    const size = (await fh.stat()).size;
    if (size < 8) bad('shorter than the 8-byte header length');
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const len = lenBuf.readBigUInt64LE(0);
    if (len > BigInt(MAX_HEADER_BYTES)) bad(`header length ${len} exceeds ${MAX_HEADER_BYTES}`);
    const n = Number(len);
    if (8 + n > size) bad(`header length ${n} runs past the end of the ${size}-byte file`);
    const hbuf = Buffer.alloc(n);
    await fh.read(hbuf, 0, n, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(hbuf.toString('utf8'));
    } catch (err) {
      return bad(`header is not JSON (${(err as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) bad('header is not a JSON object');
    const metadata: Record<string, string> = {};
    const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
    for (const [name, v] of Object.entries(header)) {
      if (name === '__metadata__') {
        if (typeof v !== 'object' || v === null) bad('__metadata__ must be an object');
        for (const [k, s] of Object.entries(v as object)) {
          if (typeof s !== 'string') bad(`__metadata__.${k} must be a string`);
          metadata[k] = s as string;
        }
        continue;
      }
      const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const where = `tensor ${name}`;
      if (typeof t !== 'object' || t === null) bad(`${where} is not an object`);
      if (typeof t.dtype !== 'string' || !(t.dtype in DTYPE_BYTES)) bad(`${where}: dtype ${JSON.stringify(t.dtype)} not supported (F32, F16, BF16)`);
      if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) bad(`${where}: invalid shape`);
      const off = t.data_offsets as unknown[];
      if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) bad(`${where}: invalid data_offsets`);
      const [begin, end] = off as number[];
      const elems = (t.shape as number[]).reduce((a, b) => a * b, 1);
      if (end - begin !== elems * DTYPE_BYTES[t.dtype as string]) bad(`${where}: data_offsets span ${end - begin} bytes, shape needs ${elems * DTYPE_BYTES[t.dtype as string]}`);
      entries.push({ name, dtype: t.dtype as string, shape: t.shape as number[], begin, end });
    }
    entries.sort((a, b) => a.begin - b.begin);
    const dataStart = 8 + n;
    let pos = 0;
    for (const e of entries) {
      if (e.begin !== pos) bad(`tensor ${e.name}: data starts at ${e.begin}, expected ${pos} (overlap or hole)`);
      pos = e.end;
    }
    if (dataStart + pos !== size) bad(`data section is ${size - dataStart} bytes, tensors cover ${pos}`);
    const tensors: NamedTensor[] = [];
    for (const e of entries) {
      const raw = Buffer.alloc(e.end - e.begin);
      await fh.read(raw, 0, raw.length, dataStart + e.begin);
      const elems = raw.length / DTYPE_BYTES[e.dtype];
      let data: Float32Array;
      if (e.dtype === 'F32') data = new Float32Array(raw.buffer, raw.byteOffset, elems).slice();
      else if (e.dtype === 'F16') data = float16ToFloat32(new Uint16Array(raw.buffer, raw.byteOffset, elems));
      else {
        // bfloat16 is the top half of a float32
        const src = new Uint16Array(raw.buffer, raw.byteOffset, elems);
        const bits = new Uint32Array(elems);
        for (let i = 0; i < elems; i++) bits[i] = src[i] << 16;
        data = new Float32Array(bits.buffer);
      }
      tensors.push({ name: e.name, shape: e.shape, data });
    }
    return { tensors, metadata };
  } finally {
    await fh.close();
  }
}

/**
 * Write float32 tensors as safetensors, atomically (temp file, fsync, rename). The header is padded
 * with spaces to a multiple of 8 bytes so tensor data stays aligned.
 */
export async function writeSafetensors(path: string, tensors: NamedTensor[], metadata?: Record<string, string>): Promise<void> {
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name) || t.name === '__metadata__') throw new SailError(`duplicate or reserved tensor name ${t.name}`, { file: path });
    names.add(t.name);
    const elems = t.shape.reduce((a, b) => a * b, 1);
    if (elems !== t.data.length) throw new SailError(`tensor ${t.name}: shape [${t.shape}] needs ${elems} values, has ${t.data.length}`, { file: path });
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const hbytes = Buffer.from(json, 'utf8');
  const pre = Buffer.alloc(8);
  pre.writeBigUInt64LE(BigInt(hbytes.length));
  // writeFile continues at the current position and loops over partial writes; tensor by tensor,
  // so a large head is never copied into one buffer
  await writeFileAtomicWith(path, async (fh) => {
    await fh.writeFile(pre);
    await fh.writeFile(hbytes);
    for (const t of tensors) await fh.writeFile(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  });
}
