// Minimal, bounded safetensors reader for head checkpoints (F32/F16/BF16/F64 -> Float32Array).
import { readFileSync, statSync } from 'node:fs';
import { SailError } from '../util/errors.js';
import { fromHalfBits } from '../util/fp16.js';

/** One tensor read from a safetensors file, converted to float32. */
export interface ReadTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

const MAX_HEADER = 64 * 1024 * 1024;

/**
 * Read every tensor of a safetensors file. The header length is bounded and every tensor's byte range
 * is checked against its dtype, shape and the file size, so a corrupt file gives a SailError naming it.
 */
export function readSafetensors(file: string): { tensors: ReadTensor[]; metadata: Record<string, string> } {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new SailError('checkpoint file not found', { file });
  }
  if (size < 8) throw new SailError('not a safetensors file (shorter than 8 bytes)', { file });
  const buf = readFileSync(file);
  const headerLen = Number(buf.readBigUInt64LE(0));
  if (headerLen > MAX_HEADER || 8 + headerLen > size) throw new SailError(`safetensors header length ${headerLen} is invalid`, { file });
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new SailError('safetensors header is not valid JSON', { file });
  }
  const base = 8 + headerLen;
  const tensors: ReadTensor[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (info ?? {}) as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: off } = info as { dtype: string; shape: number[]; data_offsets: [number, number] };
    if (!Array.isArray(shape) || !Array.isArray(off) || off.length !== 2) throw new SailError(`tensor ${name}: malformed header entry`, { file });
    const count = shape.reduce((a, b) => a * b, 1);
    const width = dtype === 'F32' ? 4 : dtype === 'F16' || dtype === 'BF16' ? 2 : dtype === 'F64' ? 8 : 0;
    if (!width) throw new SailError(`tensor ${name}: unsupported dtype ${dtype} (F32, F16, BF16, F64 are read)`, { file });
    const [a, b] = off;
    if (b - a !== count * width || base + b > size || a < 0) throw new SailError(`tensor ${name}: byte range ${a}..${b} does not match ${dtype} ${JSON.stringify(shape)}`, { file });
    const bytes = buf.subarray(base + a, base + b);
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      if (dtype === 'F32') data[i] = bytes.readFloatLE(i * 4);
      else if (dtype === 'F64') data[i] = bytes.readDoubleLE(i * 8);
      else if (dtype === 'F16') data[i] = fromHalfBits(bytes.readUInt16LE(i * 2));
      else data[i] = new Float32Array(new Uint32Array([bytes.readUInt16LE(i * 2) << 16]).buffer)[0];
    }
    tensors.push({ name, shape, data });
  }
  return { tensors, metadata };
}
