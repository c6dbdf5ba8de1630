/**
 * @module onnx/tensor
 * TensorProto ↔ typed arrays. Reading prefers a zero-copy view of `raw_data` (copying only
 * when the bytes are misaligned for the element type); writing always stores `raw_data`,
 * the compact form ONNX exporters use. Also float32 ↔ float16 bit conversion for the FP16
 * pass, rounding to nearest-even like numpy's `astype(float16)`.
 */
import { BerthError } from '../errors.js';
import { DataType, dataTypeName, toNumber, type TensorProto } from './types.js';

export type NumericArray =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array
  | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

type ArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): NumericArray;
  new (length: number): NumericArray;
  BYTES_PER_ELEMENT: number;
};

const CTORS: Partial<Record<number, ArrayCtor>> = {
  [DataType.FLOAT]: Float32Array,
  [DataType.DOUBLE]: Float64Array,
  [DataType.INT8]: Int8Array,
  [DataType.UINT8]: Uint8Array,
  [DataType.BOOL]: Uint8Array,
  [DataType.INT16]: Int16Array,
  [DataType.UINT16]: Uint16Array,
  [DataType.FLOAT16]: Uint16Array,
  [DataType.BFLOAT16]: Uint16Array,
  [DataType.INT32]: Int32Array,
  [DataType.UINT32]: Uint32Array,
  [DataType.INT64]: BigInt64Array,
  [DataType.UINT64]: BigUint64Array,
};

export function tensorDims(t: TensorProto): number[] {
  return (t.dims ?? []).map(toNumber);
}

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function isExternal(t: TensorProto): boolean {
  return t.dataLocation === 1;
}

/**
 * The tensor's elements as a typed array (FLOAT16/BFLOAT16 as raw Uint16 bits, BOOL as
 * Uint8). A view into raw_data when alignment allows; callers must not mutate it unless
 * they own the model. External tensors must be loaded first (io.loadExternalData).
 */
export function tensorToArray(t: TensorProto): NumericArray {
  const type = t.dataType ?? 0;
  const Ctor = CTORS[type];
  const label = `tensor '${t.name ?? ''}'`;
  if (Ctor === undefined) {
    throw new BerthError('BERTH_ERR_ONNX_UNSUPPORTED', `${label}: element type ${dataTypeName(type)} cannot be read as a numeric array`);
  }
  if (isExternal(t)) {
    throw new BerthError('BERTH_ERR_ONNX_EXTERNAL_DATA', `${label} keeps its data in an external file that was not loaded`);
  }
  const count = elementCount(tensorDims(t));
  const raw = t.rawData;
  if (raw !== undefined && raw.byteLength > 0) {
    const size = Ctor.BYTES_PER_ELEMENT;
    if (raw.byteLength !== count * size) {
      throw new BerthError('BERTH_ERR_ONNX_DECODE', `${label}: raw_data has ${raw.byteLength} bytes, shape needs ${count * size}`);
    }
    if (raw.byteOffset % size === 0) return new Ctor(raw.buffer, raw.byteOffset, count);
    const copy = new Uint8Array(raw.byteLength);
    copy.set(raw);
    return new Ctor(copy.buffer, 0, count);
  }
  const out = new Ctor(count);
  const fill = (src: ArrayLike<unknown> | undefined, conv: (v: unknown) => number | bigint): void => {
    if (src === undefined) return;
    if (src.length !== count && count !== 0) {
      throw new BerthError('BERTH_ERR_ONNX_DECODE', `${label}: has ${src.length} values, shape needs ${count}`);
    }
    for (let i = 0; i < count; i++) (out as unknown as (number | bigint)[])[i] = conv(src[i]);
  };
  switch (type) {
    case DataType.FLOAT: fill(t.floatData, (v) => v as number); break;
    case DataType.DOUBLE: fill(t.doubleData, (v) => v as number); break;
    case DataType.INT64: fill(t.int64Data, (v) => BigInt(toNumber(v as number))); break;
    case DataType.UINT64: fill(t.uint64Data, (v) => BigInt(toNumber(v as number))); break;
    case DataType.UINT32: fill(t.uint64Data, (v) => toNumber(v as number)); break;
    default: fill(t.int32Data, (v) => v as number); break;
  }
  return out;
}

/** Float view of a FLOAT/DOUBLE/FLOAT16 tensor as Float32Array (copying unless FLOAT). */
export function tensorToFloat32(t: TensorProto): Float32Array {
  const arr = tensorToArray(t);
  if (arr instanceof Float32Array) return arr;
  if (t.dataType === DataType.FLOAT16 && arr instanceof Uint16Array) return float16BitsToFloat32(arr);
  if (arr instanceof Float64Array) return Float32Array.from(arr);
  throw new BerthError('BERTH_ERR_ONNX_UNSUPPORTED', `tensor '${t.name ?? ''}' is ${dataTypeName(t.dataType ?? 0)}, not a float type`);
}

/** Builds a TensorProto with raw_data holding a copy of the array's bytes. */
export function arrayToTensor(name: string, dataType: number, dims: readonly number[], data: NumericArray): TensorProto {
  const count = elementCount(dims);
  if (data.length !== count) {
    throw new BerthError('BERTH_ERR_ONNX_UNSUPPORTED', `tensor '${name}': ${data.length} values do not fit shape [${dims.join(', ')}]`);
  }
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return { name, dataType, dims: [...dims], rawData: Buffer.from(bytes) };
}

// --- float16 ---------------------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of a float32, rounded to nearest even; overflow gives ±Inf. */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0); // Inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    if (e < -10) return sign; // underflow to zero
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++; // may carry into exponent: still correct
  e = half;
  return sign | e;
}

export function float16BitsToFloat32Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function float32ToFloat16Array(src: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = float32ToFloat16Bits(src[i]!);
  return out;
}

export function float16BitsToFloat32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = float16BitsToFloat32Value(src[i]!);
  return out;
}
