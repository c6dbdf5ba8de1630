/**
 * @module protocols/v2/response
 * Encodes an inference result as an Open Inference Protocol response: JSON, or a JSON
 * header followed by binary tensor data for outputs requested as binary. The JSON is
 * written directly from typed arrays (no intermediate objects per element). JSON cannot
 * hold NaN or Infinity, so those float outputs are written as null; binary keeps them.
 */
import type { InferenceResult, Tensor } from '../../inference/types.js';
import { fromHalfBits } from '../../runtime/datatypes.js';
import { encodeBytesElements, type OutputRequest } from './request.js';

export interface EncodedResponse {
  body: string | Buffer;
  contentType: string;
  /** Set when binary data follows the JSON header. */
  headerLength?: number;
}

function floatsJson(a: ArrayLike<number>): string {
  let finite = true;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v - v !== 0) {
      finite = false;
      break;
    }
  }
  if (finite) return Array.prototype.join.call(a, ',');
  const parts = new Array<string>(a.length);
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    parts[i] = v - v === 0 ? String(v) : 'null';
  }
  return parts.join(',');
}

/** The `data` array of a tensor as JSON text. */
export function dataJson(t: Tensor): string {
  const d = t.data;
  switch (t.datatype) {
    case 'FP32':
    case 'FP64':
      return `[${floatsJson(d as Float32Array)}]`;
    case 'FP16': {
      const h = d as Uint16Array;
      const f = new Float64Array(h.length);
      for (let i = 0; i < h.length; i++) f[i] = fromHalfBits(h[i]!);
      return `[${floatsJson(f)}]`;
    }
    case 'BOOL': {
      const b = d as Uint8Array;
      const parts = new Array<string>(b.length);
      for (let i = 0; i < b.length; i++) parts[i] = b[i] ? 'true' : 'false';
      return `[${parts.join(',')}]`;
    }
    case 'BYTES':
      return JSON.stringify(d);
    case 'INT64':
    case 'UINT64':
      if (int64AsStrings(t)) return `[${Array.prototype.map.call(d, (v: bigint) => `"${v}"`).join(',')}]`;
      return `[${Array.prototype.join.call(d, ',')}]`;
    default:
      return `[${Array.prototype.join.call(d, ',')}]`;
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * JSON numbers beyond ±(2^53 − 1) are read inexactly by most JSON parsers (RFC 8259 §6), so
 * an INT64/UINT64 output holding such a value is written as decimal strings, flagged with
 * the output parameter `int64_as_string` (request decoding accepts strings for INT64 too).
 */
export function int64AsStrings(t: Tensor): boolean {
  if (t.datatype !== 'INT64' && t.datatype !== 'UINT64') return false;
  const d = t.data as BigInt64Array | BigUint64Array;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (v > MAX_SAFE || v < -MAX_SAFE) return true;
  }
  return false;
}

/** Raw little-endian bytes of a tensor (binary tensor data extension). */
export function dataBinary(t: Tensor): Buffer {
  if (t.datatype === 'BYTES') return encodeBytesElements(t.data as string[]);
  const a = t.data as Exclude<Tensor['data'], string[]>;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Triton classification extension: top-k "score:index" strings per row. `batched` says the
 * first dimension is the batch, so an output of shape [batch] (a scalar per row) gives
 * [batch, k], not the top-k across the rows.
 */
export function classify(t: Tensor, k: number, batched = false): Tensor {
  const perRow = batched || t.shape.length > 1;
  const rows = perRow ? t.shape[0]! : 1;
  const width = rows === 0 ? 0 : t.data.length / rows;
  const kk = Math.min(k, width);
  const out: string[] = [];
  const values = new Float64Array(width);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < width; j++) {
      const v = t.data[r * width + j]!;
      values[j] = typeof v === 'bigint' ? Number(v) : t.datatype === 'FP16' ? fromHalfBits(v as number) : Number(v);
    }
    const idx = Array.from({ length: width }, (_, j) => j).sort((a, b) => values[b]! - values[a]! || a - b);
    for (let j = 0; j < kk; j++) out.push(`${values[idx[j]!]}:${idx[j]}`);
  }
  return { name: t.name, datatype: 'BYTES', shape: perRow ? [rows, kk] : [kk], data: out };
}

export function encodeInferResponse(
  modelName: string,
  modelVersion: string,
  id: string,
  requests: readonly OutputRequest[],
  result: InferenceResult,
  parameters?: Record<string, unknown>,
): EncodedResponse {
  const binaries: Buffer[] = [];
  const outs: string[] = [];
  for (const r of requests) {
    let t = result.outputs.find((o) => o.name === r.name)!;
    if (r.classification !== undefined) t = classify(t, r.classification, r.batched === true);
    const head = `{"name":${JSON.stringify(t.name)},"datatype":"${t.datatype}","shape":[${t.shape.join(',')}]`;
    if (r.binary) {
      const bin = dataBinary(t);
      binaries.push(bin);
      outs.push(`${head},"parameters":{"binary_data_size":${bin.length}}}`);
    } else {
      outs.push(`${head}${int64AsStrings(t) ? ',"parameters":{"int64_as_string":true}' : ''},"data":${dataJson(t)}}`);
    }
  }
  const params = parameters === undefined ? '' : `,"parameters":${JSON.stringify(parameters)}`;
  const json = `{"model_name":${JSON.stringify(modelName)},"model_version":${JSON.stringify(modelVersion)},"id":${JSON.stringify(id)}${params},"outputs":[${outs.join(',')}]}`;
  if (binaries.length === 0) return { body: json, contentType: 'application/json' };
  const header = Buffer.from(json, 'utf8');
  return { body: Buffer.concat([header, ...binaries]), contentType: 'application/octet-stream', headerLength: header.length };
}
