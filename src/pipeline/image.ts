/**
 * @module pipeline/image
 * The image transformer, for specs of kind "image" whose source is pixel intensities
 * (the digits example: 8×8 values in [0, 16], scaled by 1/16 into the NCHW input). A record
 * is `{"pixels": [...]}` — flat in source order, or nested rows. Every pixel is checked
 * (a number, finite, within the spec's range) and the problems are collected per record.
 * A spec whose source is an encoded picture (PNG/JPEG: decode, resize, normalise) would be
 * another kind behind the same Transformer interface, decoding with a library such as pngjs
 * or jpeg-js; none of the example specs needs one yet.
 */
import { BerthError } from '../errors.js';
import type { Tensor } from '../inference/types.js';
import type { EncodedRecords, FieldProblem, RawField, RawRecord, Transformer } from './transformer.js';

export const PIXELS_FIELD = 'pixels';

/** The part of an image spec the transformer reads. */
export interface ImageSpec {
  height: number;
  width: number;
  channels: number;
  scale: number;
  range: [number, number];
}

/** The spec's `image` section, checked; the message names the field. */
export function readImageSpec(raw: Readonly<Record<string, unknown>>, where: string): { image: ImageSpec; output: string } {
  const im = raw.image as Record<string, unknown> | undefined;
  const positive = (k: string): number => {
    const v = im?.[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new BerthError('BERTH_ERR_MODEL_LOAD_FAILED', `${where}: image.${k} must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
  const height = positive('height');
  const width = positive('width');
  const channels = positive('channels');
  const scale = im?.scale;
  if (typeof scale !== 'number' || !(scale > 0)) throw new BerthError('BERTH_ERR_MODEL_LOAD_FAILED', `${where}: image.scale must be a number > 0, got ${JSON.stringify(scale)}`);
  const range = im?.range;
  if (!Array.isArray(range) || range.length !== 2 || !range.every((x) => typeof x === 'number' && Number.isFinite(x)) || range[0] > range[1]) {
    throw new BerthError('BERTH_ERR_MODEL_LOAD_FAILED', `${where}: image.range must be [min, max], got ${JSON.stringify(range)}`);
  }
  const output = (raw.output as { name?: unknown } | undefined)?.name;
  return { image: { height, width, channels, scale, range: [range[0], range[1]] }, output: typeof output === 'string' ? output : 'image' };
}

export class ImageTransformer implements Transformer {
  readonly kind = 'image';
  readonly hash: string;
  readonly fields: RawField[] = [{ name: PIXELS_FIELD, type: 'numeric', used: true }];
  readonly outputName: string;
  /** Values per record (height × width × channels). */
  readonly width: number;
  readonly #spec: ImageSpec;
  /** The model input's shape without the batch dimension (e.g. [1, 8, 8]). */
  readonly #inner: number[];

  constructor(spec: ImageSpec, outputName: string, hash: string, inner: number[]) {
    this.#spec = spec;
    this.#inner = inner;
    this.hash = hash;
    this.outputName = outputName;
    this.width = spec.height * spec.width * spec.channels;
  }

  /** The record's pixels, flat, or its problems. */
  #pixels(record: RawRecord): { values?: unknown[]; problems: FieldProblem[] } {
    const problems: FieldProblem[] = [];
    for (const key of Object.keys(record)) {
      if (key !== PIXELS_FIELD) problems.push({ kind: 'unknown_field', field: key, value: record[key], message: `'${key}' is not a field of this model (a record is {"pixels": [${this.width} values]})`, blocking: false });
    }
    const v = record[PIXELS_FIELD];
    if (v === undefined || v === null) {
      problems.push({ kind: 'missing_field', field: PIXELS_FIELD, value: v, message: `'pixels' is missing (send ${this.width} values, ${this.#spec.height}×${this.#spec.width}${this.#spec.channels > 1 ? `×${this.#spec.channels}` : ''} in source order)`, blocking: true });
      return { problems };
    }
    const flat = Array.isArray(v) ? (v.flat(2) as unknown[]) : undefined;
    if (flat === undefined || flat.length !== this.width) {
      problems.push({ kind: 'wrong_type', field: PIXELS_FIELD, value: Array.isArray(v) ? `${flat?.length} values` : v, message: `'pixels' must hold ${this.width} numbers, got ${Array.isArray(v) ? `${flat!.length}` : typeof v}`, blocking: true });
      return { problems };
    }
    return { values: flat, problems };
  }

  encode(records: readonly RawRecord[]): EncodedRecords {
    const n = records.length;
    const w = this.width;
    const data = new Float32Array(n * w);
    const [lo, hi] = this.#spec.range;
    const problems: FieldProblem[][] = [];
    for (let i = 0; i < n; i++) {
      const { values, problems: p } = this.#pixels(records[i]!);
      problems.push(p);
      if (values === undefined) continue;
      let bad = 0;
      for (let k = 0; k < w; k++) {
        const x = values[k];
        const field = `pixels[${k}]`;
        let problem: FieldProblem | undefined;
        if (typeof x !== 'number') problem = { kind: 'wrong_type', field, value: x, message: `${field} is ${JSON.stringify(x)}; expected a number in [${lo}, ${hi}]`, blocking: true };
        else if (!Number.isFinite(x)) problem = { kind: 'non_finite', field, value: x, message: `${field} is ${String(x)}; expected a finite number`, blocking: true };
        // The spec says a value outside the range is an error: the model never saw such a pixel.
        else if (x < lo || x > hi) problem = { kind: 'out_of_range', field, value: x, message: `${field} is ${x}, outside the spec's range [${lo}, ${hi}]`, blocking: true };
        if (problem !== undefined) {
          if (bad++ < 5) p.push(problem);
          continue;
        }
        data[i * w + k] = (x as number) * this.#spec.scale;
      }
      if (bad > 5) p[p.length - 1]!.message += ` (and ${bad - 5} more pixels)`;
      if (bad > 0) data.fill(0, i * w, (i + 1) * w);
    }
    const input: Tensor = { name: this.outputName, datatype: 'FP32', shape: [n, ...this.#inner], data };
    return { inputs: [input], problems };
  }
}
