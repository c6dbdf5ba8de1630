/**
 * @module runtime/datatypes
 * The Open Inference Protocol (KServe V2) datatypes and their mapping to ONNX Runtime
 * tensor types and JavaScript typed arrays, both ways. FP16 travels as raw IEEE-754 half
 * bits in a Uint16Array (Node 20 has no Float16Array); BYTES travels as string[] on the
 * ONNX Runtime side (ORT's `string` tensors) and as length-prefixed bytes in binary form.
 */

export const V2_DATATYPES = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64',
  'FP16', 'FP32', 'FP64', 'BYTES',
] as const;
export type V2Datatype = (typeof V2_DATATYPES)[number];

/** ONNX Runtime's names for the same types (onnxruntime-common `Tensor.Type`). */
export type OrtType =
  | 'bool' | 'uint8' | 'uint16' | 'uint32' | 'uint64' | 'int8' | 'int16' | 'int32' | 'int64'
  | 'float16' | 'float32' | 'float64' | 'string';

export type NumericArray =
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array
  | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Float32Array | Float64Array;
export type TensorData = NumericArray | string[];

interface TypeInfo {
  ort: OrtType;
  /** Bytes per element in binary form; 0 for BYTES (variable length). */
  byteSize: number;
  /** Constructor of the typed array that holds it (undefined for BYTES). */
  array: (new (n: number) => NumericArray) & { BYTES_PER_ELEMENT: number } | undefined;
  /** Kind of JSON value clients send: number, bigint-able integer, boolean, string. */
  json: 'float' | 'int' | 'bigint' | 'bool' | 'string';
  /** Inclusive integer range for 'int' kinds. */
  min?: number;
  max?: number;
  /** Triton model-config enum name (`TYPE_FP32`, ...). */
  triton: string;
}

const INFO: Record<V2Datatype, TypeInfo> = {
  BOOL: { ort: 'bool', byteSize: 1, array: Uint8Array, json: 'bool', triton: 'TYPE_BOOL' },
  UINT8: { ort: 'uint8', byteSize: 1, array: Uint8Array, json: 'int', min: 0, max: 0xff, triton: 'TYPE_UINT8' },
  UINT16: { ort: 'uint16', byteSize: 2, array: Uint16Array, json: 'int', min: 0, max: 0xffff, triton: 'TYPE_UINT16' },
  UINT32: { ort: 'uint32', byteSize: 4, array: Uint32Array, json: 'int', min: 0, max: 0xffffffff, triton: 'TYPE_UINT32' },
  UINT64: { ort: 'uint64', byteSize: 8, array: BigUint64Array, json: 'bigint', triton: 'TYPE_UINT64' },
  INT8: { ort: 'int8', byteSize: 1, array: Int8Array, json: 'int', min: -0x80, max: 0x7f, triton: 'TYPE_INT8' },
  INT16: { ort: 'int16', byteSize: 2, array: Int16Array, json: 'int', min: -0x8000, max: 0x7fff, triton: 'TYPE_INT16' },
  INT32: { ort: 'int32', byteSize: 4, array: Int32Array, json: 'int', min: -0x80000000, max: 0x7fffffff, triton: 'TYPE_INT32' },
  INT64: { ort: 'int64', byteSize: 8, array: BigInt64Array, json: 'bigint', triton: 'TYPE_INT64' },
  FP16: { ort: 'float16', byteSize: 2, array: Uint16Array, json: 'float', triton: 'TYPE_FP16' },
  FP32: { ort: 'float32', byteSize: 4, array: Float32Array, json: 'float', triton: 'TYPE_FP32' },
  FP64: { ort: 'float64', byteSize: 8, array: Float64Array, json: 'float', triton: 'TYPE_FP64' },
  BYTES: { ort: 'string', byteSize: 0, array: undefined, json: 'string', triton: 'TYPE_STRING' },
};

const FROM_ORT = new Map<string, V2Datatype>(
  (Object.keys(INFO) as V2Datatype[]).map((d) => [INFO[d].ort, d]),
);

export function isV2Datatype(s: unknown): s is V2Datatype {
  return typeof s === 'string' && Object.hasOwn(INFO, s);
}

export function datatypeInfo(d: V2Datatype): Readonly<TypeInfo> {
  return INFO[d];
}

export function toOrtType(d: V2Datatype): OrtType {
  return INFO[d].ort;
}

/** V2 datatype for an ONNX Runtime type name, or undefined when V2 has none (e.g. int4). */
export function fromOrtType(t: string): V2Datatype | undefined {
  return FROM_ORT.get(t);
}

export function tritonType(d: V2Datatype): string {
  return INFO[d].triton;
}

/** A fresh zeroed array able to hold `n` elements of the datatype. */
export function allocate(d: V2Datatype, n: number): TensorData {
  const ctor = INFO[d].array;
  return ctor === undefined ? new Array<string>(n).fill('') : new ctor(n);
}

/** Number of elements in a shape (1 for a scalar). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

// --- IEEE-754 half precision, for FP16 in JSON (binary FP16 passes through untouched) ---

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round-to-nearest-even conversion of a number to half-precision bits. */
export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0); // Inf / NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → signed zero
    mant |= 0x800000; // restore the implicit bit, then shift into a subnormal
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && (m & 1) === 1)) m += 1;
    return sign | m;
  }
  const rest = mant & 0x1fff;
  let m = mant >>> 13;
  if (rest > 0x1000 || (rest === 0x1000 && (m & 1) === 1)) {
    m += 1;
    if (m === 0x400) { m = 0; e += 1; if (e >= 0x1f) return sign | 0x7c00; }
  }
  return sign | (e << 10) | m;
}

/** Value of half-precision bits as a number. */
export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
