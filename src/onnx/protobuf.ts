// Minimal protobuf wire-format writer and reader: enough for ONNX models, with no schema compiler.

/** Appends protobuf fields to a growing byte buffer. */
export class ProtoWriter {
  private buf = new Uint8Array(1024);
  private len = 0;

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }

  /** Unsigned or negative (two's complement, 10 bytes) varint. */
  varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    if (typeof value === 'number' && value >= 0 && value < 2 ** 31) {
      let n = value;
      while (n >= 0x80) {
        this.byte((n & 0x7f) | 0x80);
        n >>>= 7;
      }
      this.byte(n);
      return;
    }
    while (v >= 0x80n) {
      this.byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.byte(Number(v));
  }

  tag(field: number, wire: number): void {
    this.varint((field << 3) | wire);
  }

  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /** Field with wire type 0. */
  int(field: number, value: number | bigint): void {
    this.tag(field, 0);
    this.varint(value);
  }

  /** Field with wire type 5 (float32). */
  float(field: number, value: number): void {
    this.tag(field, 5);
    this.ensure(4);
    new DataView(this.buf.buffer, this.buf.byteOffset).setFloat32(this.len, value, true);
    this.len += 4;
  }

  /** Length-delimited bytes. */
  bytes(field: number, value: Uint8Array): void {
    this.tag(field, 2);
    this.varint(value.length);
    this.raw(value);
  }

  string(field: number, value: string): void {
    this.bytes(field, new TextEncoder().encode(value));
  }

  /** Embedded message written by a callback. */
  message(field: number, write: (w: ProtoWriter) => void): void {
    const inner = new ProtoWriter();
    write(inner);
    this.bytes(field, inner.finish());
  }

  packedInts(field: number, values: ArrayLike<number | bigint>): void {
    const inner = new ProtoWriter();
    for (let i = 0; i < values.length; i++) inner.varint(values[i]);
    this.bytes(field, inner.finish());
  }

  packedFloats(field: number, values: ArrayLike<number>): void {
    const f = Float32Array.from(values as ArrayLike<number>);
    this.bytes(field, new Uint8Array(f.buffer));
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

/** One decoded field: its number, wire type, and value (number/bigint for varints, bytes otherwise). */
export interface ProtoField {
  field: number;
  wire: number;
  /** varint value as bigint (wire 0); raw bytes (wire 2); number (wire 5 float32 / wire 1 float64). */
  value: bigint | Uint8Array | number;
  /** The field's complete encoding, tag included, for re-emitting unknown fields untouched. */
  encoded: Uint8Array;
}

/** Decode every top-level field of a message. Throws on malformed input (bounded by the buffer). */
export function readFields(buf: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new Error('truncated protobuf varint');
      const b = buf[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
      if (shift > 70n) throw new Error('protobuf varint too long');
    }
  };
  while (pos < buf.length) {
    const start = pos;
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    let value: bigint | Uint8Array | number;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const n = Number(varint());
      if (pos + n > buf.length) throw new Error('truncated protobuf field');
      value = buf.subarray(pos, pos + n);
      pos += n;
    } else if (wire === 5) {
      if (pos + 4 > buf.length) throw new Error('truncated protobuf fixed32');
      value = view.getFloat32(pos, true);
      pos += 4;
    } else if (wire === 1) {
      if (pos + 8 > buf.length) throw new Error('truncated protobuf fixed64');
      value = view.getFloat64(pos, true);
      pos += 8;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    out.push({ field, wire, value, encoded: buf.subarray(start, pos) });
  }
  return out;
}

/** Decode a packed (or single unpacked) repeated varint field value into numbers. */
export function readPackedVarints(f: ProtoField): bigint[] {
  if (f.wire === 0) return [f.value as bigint];
  const bytes = f.value as Uint8Array;
  const out: bigint[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = bytes[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) break;
      shift += 7n;
    }
    out.push(result);
  }
  return out;
}

/** Signed 64-bit interpretation of a varint. */
export function toInt64(v: bigint): number {
  return Number(BigInt.asIntN(64, v));
}
