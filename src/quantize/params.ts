/**
 * @module quantize/params
 * Linear quantization arithmetic, following ONNX Runtime's quantization tool so Berth's
 * scales and zero points equal the anchor's for the same ranges:
 *   - the real range is widened to include 0 (so 0.0 is exactly representable);
 *   - symmetric: range → [-absmax, +absmax], zero point = round((qmin + qmax) / 2)
 *     (0 for int8, 128 for uint8); int8 then uses [-127, 127];
 *   - asymmetric: scale = (rmax - rmin) / (qmax - qmin), zero point = round(qmin - rmin / scale);
 *   - reduce_range uses 7 bits ([0, 127] / [-64, 64]) for CPUs without VNNI, where u8×s8
 *     products can saturate the 16-bit accumulators of vpmaddubsw;
 *   - a range narrower than the smallest normal float gives scale 1, zero point 0;
 *   - rounding is half-to-even (numpy's round), values are clipped to the type's full range.
 */

export type QuantType = 'int8' | 'uint8';

export interface QuantParams {
  scale: number;
  zeroPoint: number;
}

const FLT_MIN = 1.1754943508222875e-38;

export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; step back to the even neighbour on exact ties.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** [qmin, qmax] as ONNX Runtime's get_qmin_qmax_for_qType. */
export function quantRange(type: QuantType, options: { symmetric?: boolean; reduceRange?: boolean } = {}): [number, number] {
  if (options.reduceRange) return type === 'uint8' ? [0, 127] : [-64, 64];
  if (options.symmetric) return type === 'uint8' ? [0, 254] : [-127, 127];
  return type === 'uint8' ? [0, 255] : [-128, 127];
}

/** The full storage range of the type, used for clipping. */
export function typeLimits(type: QuantType): [number, number] {
  return type === 'uint8' ? [0, 255] : [-128, 127];
}

export function computeScaleZeroPoint(rmin: number, rmax: number, qmin: number, qmax: number, symmetric: boolean): QuantParams {
  let lo = Math.min(Math.fround(rmin), 0);
  let hi = Math.max(Math.fround(rmax), 0);
  if (symmetric) {
    const absmax = Math.max(Math.abs(lo), Math.abs(hi));
    lo = -absmax;
    hi = absmax;
  }
  const scale64 = (hi - lo) / (qmax - qmin);
  if (!(scale64 >= FLT_MIN)) return { scale: 1, zeroPoint: 0 };
  const zeroPoint = symmetric ? roundHalfEven((qmin + qmax) / 2) : roundHalfEven(qmin - lo / scale64);
  return { scale: Math.fround(scale64), zeroPoint };
}

export interface QuantizedTensor {
  data: Int8Array | Uint8Array;
  /** One entry per channel when quantized per channel, else one entry. */
  scales: Float32Array;
  zeroPoints: Int32Array;
  axis: number | undefined;
}

/**
 * Quantizes `data` (row-major, shape `dims`). With `axis` set, each slice along that axis
 * gets its own scale and zero point (per-channel); otherwise one pair for the tensor.
 */
export function quantizeTensor(
  data: Float32Array, dims: readonly number[], type: QuantType,
  options: { symmetric: boolean; reduceRange?: boolean; axis?: number | undefined },
): QuantizedTensor {
  const [qmin, qmax] = quantRange(type, options);
  const out = type === 'int8' ? new Int8Array(data.length) : new Uint8Array(data.length);
  const axis = options.axis;
  if (axis === undefined) {
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < data.length; i++) { const v = data[i]!; if (v < lo) lo = v; if (v > hi) hi = v; }
    if (data.length === 0) { lo = 0; hi = 0; }
    const p = computeScaleZeroPoint(lo, hi, qmin, qmax, options.symmetric);
    quantizeInto(data, out, 0, data.length, 1, p, type);
    return { data: out, scales: Float32Array.of(p.scale), zeroPoints: Int32Array.of(p.zeroPoint), axis: undefined };
  }
  const channels = dims[axis]!;
  let inner = 1;
  for (let d = axis + 1; d < dims.length; d++) inner *= dims[d]!;
  const outer = data.length / (channels * inner);
  const scales = new Float32Array(channels);
  const zeroPoints = new Int32Array(channels);
  for (let c = 0; c < channels; c++) {
    let lo = Infinity, hi = -Infinity;
    for (let o = 0; o < outer; o++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) { const v = data[base + i]!; if (v < lo) lo = v; if (v > hi) hi = v; }
    }
    if (!Number.isFinite(lo)) { lo = 0; hi = 0; }
    const p = computeScaleZeroPoint(lo, hi, qmin, qmax, options.symmetric);
    scales[c] = p.scale;
    zeroPoints[c] = p.zeroPoint;
    for (let o = 0; o < outer; o++) quantizeInto(data, out, (o * channels + c) * inner, inner, 1, p, type);
  }
  return { data: out, scales, zeroPoints, axis };
}

function quantizeInto(src: Float32Array, dst: Int8Array | Uint8Array, start: number, count: number, step: number, p: QuantParams, type: QuantType): void {
  const [lo, hi] = typeLimits(type);
  const scale = p.scale;
  for (let k = 0, i = start; k < count; k++, i += step) {
    let q = roundHalfEven(Math.fround(src[i]! / scale)) + p.zeroPoint;
    if (q < lo) q = lo; else if (q > hi) q = hi;
    dst[i] = q;
  }
}

/** Bias as int32 with scale inputScale × weightScale[c] and zero point 0 (QDQ Conv/Gemm bias). */
export function quantizeBias(bias: Float32Array, inputScale: number, weightScales: Float32Array): { data: Int32Array; scales: Float32Array } {
  const perChannel = weightScales.length > 1;
  const scales = new Float32Array(perChannel ? bias.length : 1);
  const data = new Int32Array(bias.length);
  for (let i = 0; i < bias.length; i++) {
    const s = Math.fround(inputScale * weightScales[perChannel ? i : 0]!);
    if (perChannel || i === 0) scales[perChannel ? i : 0] = s;
    const q = s === 0 ? 0 : roundHalfEven(bias[i]! / s);
    data[i] = Math.max(-2147483648, Math.min(2147483647, q));
  }
  return { data, scales };
}

/** Largest error of dequantize(quantize(x)) for in-range x: half a step. */
export function maxRoundingError(scale: number): number {
  return scale / 2;
}
