/**
 * @module store/hash
 * The inputs hash every decision carries (also when its inputs are not kept): sha256 over a
 * canonical byte form of V2 JSON tensors, so the same tensor hashes the same whether its data
 * came nested or flat, as JSON numbers or as a typed array. And the keep-or-hash decision
 * the server makes per request (`inputsForLog`).
 *
 * Canonical form, per tensor in order: name and datatype (u32 length + UTF-8), the shape
 * (u32 count + float64 each), then the data flattened row-major (u32 count) with each
 * element in the datatype's own little-endian encoding — FP32 as float32, INT64 as int64,
 * FP16 as IEEE half, BOOL as one byte, BYTES as u32 length + UTF-8 — so 0.1 as JSON and
 * 0.1 in a Float32Array give the same bytes. Parameters are not part of it.
 */
import { createHash } from 'node:crypto';

class ByteWriter {
  #buf = Buffer.allocUnsafe(1024);
  #view = new DataView(this.#buf.buffer, this.#buf.byteOffset, this.#buf.length);
  #len = 0;

  #room(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + n));
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
    this.#view = new DataView(next.buffer, next.byteOffset, next.length);
  }

  u8(v: number): void {
    this.#room(1);
    this.#buf[this.#len++] = v & 0xff;
  }

  u32(v: number): void {
    this.#room(4);
    this.#buf.writeUInt32LE(v >>> 0, this.#len);
    this.#len += 4;
  }

  str(s: string): void {
    const n = Buffer.byteLength(s);
    this.u32(n);
    this.#room(n);
    this.#buf.write(s, this.#len, 'utf8');
    this.#len += n;
  }

  bytes(b: Buffer): void {
    this.#room(b.length);
    b.copy(this.#buf, this.#len);
    this.#len += b.length;
  }

  /** Writes through a DataView setter at the current end. */
  num(size: number, set: (view: DataView, offset: number) => void): void {
    this.#room(size);
    set(this.#view, this.#len);
    this.#len += size;
  }

  result(): Buffer {
    return this.#buf.subarray(0, this.#len);
  }
}

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

type TypedArrayClass = new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => ArrayBufferView & { readonly length: number };

/** Typed arrays whose memory is exactly the canonical (little-endian) encoding of the datatype. */
const CANONICAL_ARRAY: Record<string, TypedArrayClass> = {
  FP32: Float32Array, FP64: Float64Array, INT8: Int8Array, UINT8: Uint8Array, INT16: Int16Array,
  UINT16: Uint16Array, INT32: Int32Array, UINT32: Uint32Array, INT64: BigInt64Array, UINT64: BigUint64Array,
  FP16: Uint16Array, BF16: Uint16Array,
};

/** IEEE 754 half from a number, round to nearest even (what ONNX Runtime stores for FP16). */
export function halfBits(value: number): number {
  F32[0] = value;
  const x = U32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1) === 1)) half += 1;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa bumps the exponent (up to infinity): the correct rounding.
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half += 1;
  return sign | half;
}

function toBigInt(v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.trunc(v));
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  if (typeof v === 'boolean') return v ? 1n : 0n;
  return 0n;
}

function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' || typeof v === 'string') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  return Number.NaN;
}

function element(w: ByteWriter, datatype: string, v: unknown, rawHalf: boolean): void {
  switch (datatype) {
    case 'BOOL': return w.u8(v === true || v === 1 || v === 1n ? 1 : 0);
    case 'BYTES': {
      if (typeof v === 'string') return w.str(v);
      if (v instanceof Uint8Array) {
        w.u32(v.length);
        return w.bytes(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
      }
      return w.str(JSON.stringify(v) ?? '');
    }
    case 'INT8': return w.num(1, (d, o) => d.setInt8(o, toNumber(v)));
    case 'UINT8': return w.num(1, (d, o) => d.setUint8(o, toNumber(v)));
    case 'INT16': return w.num(2, (d, o) => d.setInt16(o, toNumber(v), true));
    case 'UINT16': return w.num(2, (d, o) => d.setUint16(o, toNumber(v), true));
    case 'INT32': return w.num(4, (d, o) => d.setInt32(o, toNumber(v), true));
    case 'UINT32': return w.num(4, (d, o) => d.setUint32(o, toNumber(v), true));
    case 'INT64': return w.num(8, (d, o) => d.setBigInt64(o, BigInt.asIntN(64, toBigInt(v)), true));
    case 'UINT64': return w.num(8, (d, o) => d.setBigUint64(o, BigInt.asUintN(64, toBigInt(v)), true));
    case 'FP16': return w.num(2, (d, o) => d.setUint16(o, rawHalf ? toNumber(v) : halfBits(toNumber(v)), true));
    case 'BF16': return w.num(2, (d, o) => {
      F32[0] = toNumber(v);
      d.setUint16(o, rawHalf ? toNumber(v) : U32[0]! >>> 16, true);
    });
    case 'FP32': return w.num(4, (d, o) => d.setFloat32(o, toNumber(v), true));
    default: return w.num(8, (d, o) => d.setFloat64(o, toNumber(v), true));
  }
}

function flatten(data: unknown, out: unknown[]): void {
  if (Array.isArray(data)) for (const x of data) flatten(x, out);
  else if (ArrayBuffer.isView(data) && !(data instanceof DataView)) for (const x of data as unknown as Iterable<unknown>) out.push(x);
  else out.push(data);
}

/** sha256 (hex) of the tensors' canonical bytes (see the module comment). */
export function hashInputs(tensors: readonly unknown[]): string {
  return createHash('sha256').update(canonicalBytes(tensors)).digest('hex');
}

/**
 * The typed-array class whose memory is the datatype's canonical encoding (Float32Array for
 * FP32, BigInt64Array for INT64, Uint16Array for FP16 bits, …); undefined for BOOL, BYTES
 * and on a big-endian machine.
 */
export function canonicalArrayOf(datatype: string): TypedArrayClass | undefined {
  return LITTLE_ENDIAN ? CANONICAL_ARRAY[datatype] : undefined;
}

/** The canonical byte form that hashInputs hashes; its length is the tensors' raw size. */
export function canonicalBytes(tensors: readonly unknown[]): Buffer {
  const w = new ByteWriter();
  w.u32(tensors.length);
  for (const t of tensors) {
    if (t === null || typeof t !== 'object') {
      w.str(JSON.stringify(t) ?? 'null');
      continue;
    }
    const { name, datatype, shape, data } = t as { name?: unknown; datatype?: unknown; shape?: unknown; data?: unknown };
    const dt = typeof datatype === 'string' ? datatype : '';
    w.str(typeof name === 'string' ? name : '');
    w.str(dt);
    const dims = Array.isArray(shape) ? shape : [];
    w.u32(dims.length);
    for (const d of dims) w.num(8, (view, o) => view.setFloat64(o, toNumber(d), true));
    // A typed array already in the datatype's canonical encoding is copied as bytes: the
    // server's tensors always are, and this is the per-request cost of logging.
    if (canonicalArrayOf(dt) !== undefined && data instanceof canonicalArrayOf(dt)!) {
      const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
      w.u32(bytes.length / (data as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT);
      w.bytes(bytes);
      continue;
    }
    // FP16/BF16 held in a Uint16Array (as ONNX Runtime does) are raw bits already.
    const rawHalf = data instanceof Uint16Array && (dt === 'FP16' || dt === 'BF16');
    const flat: unknown[] = [];
    flatten(data, flat);
    w.u32(flat.length);
    for (const v of flat) element(w, dt, v, rawHalf);
  }
  return w.result();
}

export interface InputsPolicy {
  /** Keep the input tensors in the log (else only their hash). */
  keepInputs: boolean;
  /** Inputs whose raw size (canonical bytes) exceeds this are logged as a hash only. */
  maxInputBytes: number;
}

/** What a decision record carries about its inputs under the policy: the tensors or null, and always the hash. */
export function inputsForLog(tensors: readonly unknown[], policy: InputsPolicy): { inputs: unknown[] | null; inputsHash: string } {
  const bytes = canonicalBytes(tensors);
  const inputsHash = createHash('sha256').update(bytes).digest('hex');
  const keep = policy.keepInputs && bytes.length <= policy.maxInputBytes;
  return { inputs: keep ? [...tensors] : null, inputsHash };
}
