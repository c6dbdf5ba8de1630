/**
 * @module protocols/v2/limits
 * Bounds on an infer body, checked before it is parsed: what a version's signature can need
 * (so a 60 MB body never reaches the JSON parser of a model whose largest request is 250 KB),
 * and how deeply its JSON may nest (V8's JSON.parse of `[[[[…]]]]` is slow and memory-hungry
 * long before it fails).
 */
import { Transform } from 'node:stream';
import { BerthError } from '../../errors.js';
import type { ModelSignature } from '../../inference/types.js';

/** Generous JSON bytes per tensor element: a 17-digit float with exponent, sign, comma and pretty-printing. */
const JSON_BYTES_PER_ELEMENT = 64;
/** Room for everything but the data: ids, names, parameters, outputs. */
const ENVELOPE_BYTES = 64 * 1024;
/** `{"inputs":[{"data":` is 3 levels; tensors of rank ≤ 32 nest at most 32 more. */
export const MAX_JSON_DEPTH = 40;

/**
 * The largest infer body this signature can need, or `serverLimit` when its size is not
 * bounded (a BYTES input, or a dynamic dimension other than the batch one).
 */
export function maxInferBodyBytes(signature: ModelSignature, serverLimit: number): number {
  let elements = 0;
  for (const spec of signature.inputs) {
    if (spec.datatype === 'BYTES') return serverLimit;
    const dims = signature.maxBatchSize > 0 ? spec.shape.slice(1) : spec.shape;
    if (dims.some((d) => d < 0)) return serverLimit;
    elements += dims.reduce((a, b) => a * b, 1) * Math.max(1, signature.maxBatchSize);
  }
  return Math.min(serverLimit, ENVELOPE_BYTES + elements * JSON_BYTES_PER_ELEMENT);
}

export function bodyTooLarge(limit: number, model: string, got?: number): BerthError {
  return new BerthError('BERTH_ERR_BODY_TOO_LARGE', `the request body${got === undefined ? '' : ` (${got} bytes)`} is larger than model '${model}' can need (${limit} bytes: its largest batch as JSON); split the request or check what is sent`);
}

/** Passes the body through, failing it with 413 once more than `limit` bytes arrived (chunked uploads have no Content-Length). */
export function limitStream(limit: number, model: string): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      seen += chunk.length;
      if (seen > limit) done(bodyTooLarge(limit, model));
      else done(null, chunk);
    },
  });
}

interface Level {
  array: boolean;
  /** Array: index of the current element. Object: byte range of the current key. */
  index: number;
  keyStart: number;
  keyEnd: number;
}

/** `inputs[0].data[0]` for the levels open at the point of failure. */
function pathOf(buf: Buffer, levels: readonly Level[]): string {
  let path = '';
  for (const l of levels) {
    if (l.array) path += `[${l.index}]`;
    else if (l.keyEnd > l.keyStart) path += `${path === '' ? '' : '.'}${buf.toString('utf8', l.keyStart, l.keyEnd)}`;
  }
  return path === '' ? 'request body' : path;
}

/**
 * Refuses JSON nested deeper than MAX_JSON_DEPTH in `buf[start, end)`, in one pass over the
 * bytes (strings skipped), before JSON.parse sees it; the message names the field.
 */
export function checkJsonDepth(buf: Buffer, start: number, end: number): void {
  const levels: Level[] = [];
  let inString = false;
  let stringStart = 0;
  let lastString: [number, number] = [0, 0];
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) {
        inString = false;
        lastString = [stringStart, i];
      }
      continue;
    }
    switch (c) {
      case 0x22:
        inString = true;
        stringStart = i + 1;
        break;
      case 0x3a: { // ':' — the last string was this object's key
        const top = levels[levels.length - 1];
        if (top !== undefined && !top.array) [top.keyStart, top.keyEnd] = lastString;
        break;
      }
      case 0x2c: { // ','
        const top = levels[levels.length - 1];
        if (top?.array === true) top.index++;
        break;
      }
      case 0x5b:
      case 0x7b:
        if (levels.length >= MAX_JSON_DEPTH) {
          throw new BerthError('BERTH_ERR_BAD_REQUEST', `${pathOf(buf, levels)}: JSON nested more than ${MAX_JSON_DEPTH} levels deep; tensor data may be flat or nested by its shape`);
        }
        levels.push({ array: c === 0x5b, index: 0, keyStart: 0, keyEnd: 0 });
        break;
      case 0x5d:
      case 0x7d:
        levels.pop();
        break;
    }
  }
}

/**
 * The body of a request to `model`, bounded by `limit` before it is parsed: refused at once
 * by its Content-Length, or counted as it streams in. Unbounded when the limit is the server's own.
 */
export function boundBody(headers: Readonly<Record<string, unknown>>, payload: NodeJS.ReadableStream, limit: number, serverLimit: number, model: string): NodeJS.ReadableStream {
  if (limit >= serverLimit) return payload;
  const declared = Number(headers['content-length']);
  if (declared > limit) throw bodyTooLarge(limit, model, declared);
  return payload.pipe(limitStream(limit, model));
}
