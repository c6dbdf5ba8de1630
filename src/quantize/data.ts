/**
 * @module quantize/data
 * Loads calibration and validation data for `berth quantize` into typed arrays shaped for
 * the model's inputs (sample axis first). Formats:
 *   - .npy (NPY v1/v2/v3, little-endian float32/float64/int64/int32/uint8/int8, C order);
 *   - .json: `{"<input>": nested or flat array, "labels"?: [...]}`, an array of V2 tensors
 *     `{"name","shape","datatype","data"}` (or `{"inputs": [...]}`), or a dataset descriptor
 *     like examples/data/*\/*.json (`{"features"|"images": {"file","dtype","shape",
 *     "compression"}, "labels": {...}}`);
 *   - .csv: numeric columns in input-feature order, optional header, `labelColumn` names
 *     (or numbers, 0-based) the label column;
 *   - raw little-endian .f32 / .f64 / .u8 (optionally .gz), shaped by `shape` or the model.
 * Errors are BERTH_ERR_QUANTIZE_DATA and name the file and what was wrong.
 */
import { existsSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BerthError, messageOf } from '../errors.js';
import { readWholeFile } from '../onnx/io.js';
import { DataType, dataTypeName } from '../onnx/types.js';
import { mulberry32 } from '../random.js';
import type { Feeds, HostTensor } from './runner.js';

/** What the loader needs to know about one model input. */
export interface InputSpec {
  name: string;
  elemType: number;
  /** Graph shape; -1 for symbolic or unknown dimensions. */
  shape: number[] | undefined;
}

export interface Dataset {
  /** One tensor per model input, sample axis first. */
  inputs: Record<string, HostTensor>;
  /** One label per sample (class index or value), when the data has them. */
  labels?: Float64Array;
  count: number;
  source: string;
}

export interface DataSpec {
  path: string;
  /** Shape for raw files, e.g. [-1, 91]. */
  shape?: number[];
  /** CSV label column (name or 0-based index). */
  labelColumn?: string;
  /** Separate labels file (.u8, .npy, .json array, .csv/.txt one per line). */
  labelsPath?: string;
  /** Use at most this many samples. */
  limit?: number;
}

function dataError(path: string, message: string, cause?: unknown): BerthError {
  return new BerthError('BERTH_ERR_QUANTIZE_DATA', `${path}: ${message}`, cause === undefined ? {} : { cause });
}

type Raw = { values: ArrayLike<number> | BigInt64Array; dims: number[] | undefined };

export function loadDataset(spec: DataSpec, inputs: readonly InputSpec[]): Dataset {
  const path = spec.path;
  if (!existsSync(path)) throw dataError(path, 'file not found');
  const lower = path.toLowerCase();
  const ext = extname(lower.endsWith('.gz') ? lower.slice(0, -3) : lower);
  let perInput: Map<string, Raw>;
  let labels: Float64Array | undefined;
  try {
    if (ext === '.npy') {
      perInput = new Map([[single(inputs, path).name, parseNpy(readMaybeGz(path), path)]]);
    } else if (ext === '.json') {
      ({ perInput, labels } = parseJsonData(path, inputs));
    } else if (ext === '.csv' || ext === '.tsv') {
      ({ perInput, labels } = parseCsv(readMaybeGz(path).toString('utf8'), path, inputs, spec.labelColumn, ext === '.tsv' ? '\t' : ','));
    } else if (ext === '.f32' || ext === '.f64' || ext === '.u8' || ext === '.bin') {
      perInput = new Map([[single(inputs, path).name, { values: rawValues(readMaybeGz(path), ext === '.bin' ? '.f32' : ext, path), dims: spec.shape }]]);
    } else {
      throw dataError(path, `unknown data format '${ext}' (use .npy, .json, .csv, or raw .f32/.f64/.u8 with --shape)`);
    }
  } catch (err) {
    if (err instanceof BerthError) throw err;
    throw dataError(path, messageOf(err), err);
  }
  if (spec.labelsPath !== undefined) labels = loadLabels(spec.labelsPath);
  const tensors: Record<string, HostTensor> = {};
  let count = -1;
  for (const input of inputs) {
    const raw = perInput.get(input.name);
    if (raw === undefined) {
      throw dataError(path, `has no data for model input '${input.name}' (found: ${[...perInput.keys()].join(', ') || 'nothing'})`);
    }
    const t = shapeFor(raw, input, path, spec.shape);
    const n = t.dims[0]!;
    if (count >= 0 && n !== count) throw dataError(path, `inputs disagree on the sample count (${count} vs ${n} for '${input.name}')`);
    count = n;
    tensors[input.name] = t;
  }
  if (labels !== undefined && labels.length !== count) {
    throw dataError(spec.labelsPath ?? path, `has ${labels.length} labels for ${count} samples`);
  }
  const ds: Dataset = { inputs: tensors, count, source: resolve(path) };
  if (labels !== undefined) ds.labels = labels;
  return spec.limit !== undefined && spec.limit < count ? sliceDataset(ds, 0, spec.limit) : ds;
}

function single(inputs: readonly InputSpec[], path: string): InputSpec {
  if (inputs.length !== 1) {
    throw dataError(path, `the model has ${inputs.length} inputs; this format holds one array — use .json with one entry per input`);
  }
  return inputs[0]!;
}

function readMaybeGz(path: string): Buffer {
  const buf = readWholeFile(path);
  return path.toLowerCase().endsWith('.gz') ? gunzipSync(buf) : buf;
}

function rawValues(buf: Buffer, ext: string, path: string): ArrayLike<number> {
  const size = ext === '.f64' ? 8 : ext === '.u8' ? 1 : 4;
  if (buf.byteLength % size !== 0) throw dataError(path, `${buf.byteLength} bytes is not a whole number of ${size}-byte values`);
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  if (ext === '.f64') return new Float64Array(copy.buffer);
  if (ext === '.u8') return copy;
  return new Float32Array(copy.buffer);
}

/** Fits flat values to the model input's shape, inferring the sample count. */
function shapeFor(raw: Raw, input: InputSpec, path: string, override: number[] | undefined): HostTensor {
  const total = raw.values.length;
  const modelShape = input.shape;
  let dims: number[];
  const given = override ?? raw.dims;
  if (given !== undefined && given.length > 0) {
    dims = [...given];
    const unknown = dims.filter((d) => d < 0).length;
    const known = dims.reduce((a, d) => (d < 0 ? a : a * d), 1);
    if (unknown > 1) throw dataError(path, `shape [${dims.join(', ')}] has more than one unknown dimension`);
    if (unknown === 1) dims[dims.indexOf(dims.find((d) => d < 0)!)] = known === 0 ? 0 : total / known;
  } else if (modelShape !== undefined && modelShape.length > 0) {
    const perSample = modelShape.slice(1).reduce((a, d) => a * (d < 0 ? 1 : d), 1);
    if (modelShape.slice(1).some((d) => d < 0)) {
      throw dataError(path, `input '${input.name}' has a symbolic non-batch dimension; give the data's shape (--shape or a shaped format)`);
    }
    dims = [total / perSample, ...modelShape.slice(1)];
  } else {
    dims = [total];
  }
  if (!dims.every((d) => Number.isInteger(d) && d >= 0) || dims.reduce((a, d) => a * d, 1) !== total) {
    throw dataError(path, `${total} values do not fit shape [${dims.join(', ')}] for input '${input.name}'`);
  }
  if (modelShape !== undefined && modelShape.length > 0) {
    const perModel = modelShape.slice(1);
    let rest = dims.slice(1);
    // Accept flat rows for multi-dimensional inputs: [n, 64] data for a [batch, 1, 8, 8] input.
    const restCount = rest.reduce((a, d) => a * d, 1);
    const modelCount = perModel.reduce((a, d) => a * (d < 0 ? 1 : d), 1);
    if (!perModel.some((d) => d < 0) && restCount === modelCount) rest = perModel;
    if (rest.length !== perModel.length || rest.some((d, i) => perModel[i]! >= 0 && perModel[i] !== d)) {
      throw dataError(path, `data shape [${dims.join(', ')}] does not match input '${input.name}' shape [${modelShape.map((d) => (d < 0 ? '?' : d)).join(', ')}]`);
    }
    dims = [dims[0]!, ...rest];
  }
  return { ...convert(raw.values, input, path), dims };
}

function convert(values: ArrayLike<number> | BigInt64Array, input: InputSpec, path: string): Omit<HostTensor, 'dims'> {
  const n = values.length;
  const num = (i: number): number => Number((values as ArrayLike<number | bigint>)[i]!);
  switch (input.elemType) {
    case DataType.FLOAT: {
      if (values instanceof Float32Array) return { type: 'float32', data: values };
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = num(i);
      return { type: 'float32', data: out };
    }
    case DataType.DOUBLE: {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = num(i);
      return { type: 'float64', data: out };
    }
    case DataType.INT64: {
      if (values instanceof BigInt64Array) return { type: 'int64', data: values };
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt(Math.round(num(i)));
      return { type: 'int64', data: out };
    }
    case DataType.INT32: {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = Math.round(num(i));
      return { type: 'int32', data: out };
    }
    case DataType.UINT8: case DataType.BOOL: {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = num(i);
      return { type: input.elemType === DataType.BOOL ? 'bool' : 'uint8', data: out };
    }
    default:
      throw dataError(path, `input '${input.name}' is ${dataTypeName(input.elemType)}; only FLOAT, DOUBLE, INT64, INT32, UINT8 and BOOL inputs can be loaded`);
  }
}

// --- NPY ---------------------------------------------------------------------------------

/** Parses an NPY file (format versions 1–3). */
export function parseNpy(buf: Buffer, path = 'npy'): Raw {
  if (buf.byteLength < 10 || buf.readUInt8(0) !== 0x93 || buf.toString('latin1', 1, 6) !== 'NUMPY') {
    throw dataError(path, 'not an NPY file (bad magic)');
  }
  const major = buf.readUInt8(6);
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', start, start + headerLen);
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw dataError(path, `unreadable NPY header: ${header.trim()}`);
  if (fortran === 'True') throw dataError(path, 'Fortran-ordered arrays are not supported; save with C order');
  const dims = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const count = dims.reduce((a, d) => a * d, 1);
  const body = buf.subarray(start + headerLen);
  const copy = (bytes: number): ArrayBuffer => {
    if (body.byteLength < count * bytes) throw dataError(path, `NPY body has ${body.byteLength} bytes, shape [${dims.join(', ')}] needs ${count * bytes}`);
    const ab = new ArrayBuffer(count * bytes);
    new Uint8Array(ab).set(body.subarray(0, count * bytes));
    return ab;
  };
  const kinds: Record<string, () => ArrayLike<number> | BigInt64Array> = {
    '<f4': () => new Float32Array(copy(4)),
    '<f8': () => new Float64Array(copy(8)),
    '<i8': () => new BigInt64Array(copy(8)),
    '<i4': () => new Int32Array(copy(4)),
    '<i2': () => new Int16Array(copy(2)),
    '|u1': () => new Uint8Array(copy(1)),
    '|i1': () => new Int8Array(copy(1)),
    '|b1': () => new Uint8Array(copy(1)),
  };
  const make = kinds[descr];
  if (make === undefined) throw dataError(path, `NPY dtype '${descr}' is not supported (use float32, float64, int64, int32, int16, uint8, int8 or bool, little-endian)`);
  return { values: make(), dims };
}

// --- JSON --------------------------------------------------------------------------------

function flatten(value: unknown, path: string, what: string): { values: number[]; dims: number[] } {
  const dims: number[] = [];
  let probe: unknown = value;
  while (Array.isArray(probe)) { dims.push(probe.length); probe = probe[0]; }
  const values: number[] = [];
  const walk = (v: unknown, depth: number): void => {
    if (Array.isArray(v)) {
      if (v.length !== dims[depth]) throw dataError(path, `${what} is a ragged array`);
      for (const x of v) walk(x, depth + 1);
    } else if (typeof v === 'number' || typeof v === 'boolean') {
      if (depth !== dims.length) throw dataError(path, `${what} is a ragged array`);
      values.push(Number(v));
    } else {
      throw dataError(path, `${what} holds a non-numeric value (${JSON.stringify(v)?.slice(0, 40)})`);
    }
  };
  walk(value, 0);
  return { values, dims };
}

function parseJsonData(path: string, inputs: readonly InputSpec[]): { perInput: Map<string, Raw>; labels?: Float64Array } {
  let doc: unknown;
  try {
    doc = JSON.parse(readMaybeGz(path).toString('utf8'));
  } catch (err) {
    throw dataError(path, `invalid JSON: ${messageOf(err)}`, err);
  }
  const perInput = new Map<string, Raw>();
  let labels: Float64Array | undefined;
  const v2List = Array.isArray(doc) ? doc : (doc as { inputs?: unknown }).inputs;
  if (Array.isArray(v2List) && v2List.every((x) => typeof x === 'object' && x !== null && 'name' in x && 'data' in x)) {
    for (const t of v2List as { name: string; shape?: number[]; data: unknown }[]) {
      const flat = flatten(t.data, path, `tensor '${t.name}'`);
      perInput.set(t.name, { values: flat.values, dims: t.shape ?? flat.dims });
    }
    return { perInput };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw dataError(path, 'expected an object keyed by input name, an array of V2 tensors, or a dataset descriptor');
  }
  const obj = doc as Record<string, unknown>;
  const descriptorPart = (v: unknown): v is { file: string; dtype?: string; shape?: number[]; compression?: string } =>
    typeof v === 'object' && v !== null && typeof (v as { file?: unknown }).file === 'string';
  const featureKey = Object.keys(obj).find((k) => k !== 'labels' && descriptorPart(obj[k]));
  if (featureKey !== undefined) {
    const part = obj[featureKey] as { file: string; dtype?: string; shape?: number[]; compression?: string };
    perInput.set(single(inputs, path).name, { values: readDescribed(path, part), dims: part.shape });
    if (descriptorPart(obj.labels)) labels = Float64Array.from(readDescribed(path, obj.labels));
    return labels === undefined ? { perInput } : { perInput, labels };
  }
  for (const [key, value] of Object.entries(obj)) {
    if (key === 'labels' && !inputs.some((i) => i.name === 'labels')) {
      labels = Float64Array.from(flatten(value, path, 'labels').values);
      continue;
    }
    if (!inputs.some((i) => i.name === key)) continue;
    const flat = flatten(value, path, `input '${key}'`);
    perInput.set(key, { values: flat.values, dims: flat.dims.length > 1 ? flat.dims : undefined });
  }
  return labels === undefined ? { perInput } : { perInput, labels };
}

function readDescribed(descriptorPath: string, part: { file: string; dtype?: string; compression?: string }): ArrayLike<number> {
  const file = join(dirname(descriptorPath), part.file);
  if (!existsSync(file)) throw dataError(descriptorPath, `refers to '${part.file}', which does not exist`);
  let buf = readWholeFile(file);
  if (part.compression === 'gzip' || file.endsWith('.gz')) buf = gunzipSync(buf);
  const ext = { float32: '.f32', float64: '.f64', uint8: '.u8' }[part.dtype ?? 'float32'];
  if (ext === undefined) throw dataError(descriptorPath, `dtype '${part.dtype}' is not supported (float32, float64, uint8)`);
  return rawValues(buf, ext, file);
}

// --- CSV ---------------------------------------------------------------------------------

function parseCsv(text: string, path: string, inputs: readonly InputSpec[], labelColumn: string | undefined, sep: string): { perInput: Map<string, Raw>; labels?: Float64Array } {
  const input = single(inputs, path);
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) throw dataError(path, 'is empty');
  const split = (l: string): string[] => l.split(sep).map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
  const first = split(lines[0]!);
  const hasHeader = first.some((c) => c !== '' && Number.isNaN(Number(c)));
  const header = hasHeader ? first : undefined;
  const width = first.length;
  let labelIndex = -1;
  if (labelColumn !== undefined) {
    labelIndex = header?.indexOf(labelColumn) ?? -1;
    if (labelIndex < 0 && /^\d+$/.test(labelColumn)) labelIndex = Number(labelColumn);
    if (labelIndex < 0 || labelIndex >= width) {
      throw dataError(path, `label column '${labelColumn}' not found (columns: ${header?.join(', ') ?? `0..${width - 1}`})`);
    }
  }
  const rows = lines.slice(hasHeader ? 1 : 0);
  const features = width - (labelIndex >= 0 ? 1 : 0);
  const values = new Float32Array(rows.length * features);
  const labels = labelIndex >= 0 ? new Float64Array(rows.length) : undefined;
  rows.forEach((line, r) => {
    const cells = split(line);
    if (cells.length !== width) throw dataError(path, `line ${r + (hasHeader ? 2 : 1)} has ${cells.length} columns, expected ${width}`);
    let k = 0;
    cells.forEach((c, j) => {
      const v = Number(c);
      if (c === '' || Number.isNaN(v)) throw dataError(path, `line ${r + (hasHeader ? 2 : 1)}, column ${header?.[j] ?? j}: '${c}' is not a number`);
      if (j === labelIndex) labels![r] = v;
      else values[r * features + k++] = v;
    });
  });
  const perInput = new Map<string, Raw>([[input.name, { values, dims: [rows.length, features] }]]);
  return labels === undefined ? { perInput } : { perInput, labels };
}

// --- labels ------------------------------------------------------------------------------

export function loadLabels(path: string): Float64Array {
  if (!existsSync(path)) throw dataError(path, 'labels file not found');
  const lower = path.toLowerCase();
  const ext = extname(lower.endsWith('.gz') ? lower.slice(0, -3) : lower);
  try {
    if (ext === '.u8') return Float64Array.from(readMaybeGz(path));
    if (ext === '.npy') {
      const raw = parseNpy(readMaybeGz(path), path);
      return Float64Array.from(raw.values as ArrayLike<number | bigint>, Number);
    }
    if (ext === '.json') return Float64Array.from(flatten(JSON.parse(readMaybeGz(path).toString('utf8')), path, 'labels').values);
    if (ext === '.csv' || ext === '.txt') {
      const cells = readMaybeGz(path).toString('utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
      const body = Number.isNaN(Number(cells[0])) ? cells.slice(1) : cells;
      return Float64Array.from(body, (c) => {
        const v = Number(c);
        if (Number.isNaN(v)) throw dataError(path, `'${c}' is not a number`);
        return v;
      });
    }
  } catch (err) {
    if (err instanceof BerthError) throw err;
    throw dataError(path, messageOf(err), err);
  }
  throw dataError(path, `unknown labels format '${ext}' (use .u8, .npy, .json, .csv or .txt)`);
}

// --- batching ----------------------------------------------------------------------------

/** Samples [start, end) as views (no copy). */
export function sliceDataset(ds: Dataset, start: number, end: number): Dataset {
  const inputs: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(ds.inputs)) {
    const per = t.dims.slice(1).reduce((a, d) => a * d, 1);
    inputs[name] = { type: t.type, data: t.data.subarray(start * per, end * per) as HostTensor['data'], dims: [end - start, ...t.dims.slice(1)] };
  }
  const out: Dataset = { inputs, count: end - start, source: ds.source };
  if (ds.labels) out.labels = ds.labels.subarray(start, end);
  return out;
}

/** Feeds for samples [start, end). */
export function batchFeeds(ds: Dataset, start: number, end: number): Feeds {
  return sliceDataset(ds, start, end).inputs;
}

/** Feeds of exactly `size` samples, cycling through the dataset if it is smaller. */
export function fixedBatch(ds: Dataset, size: number): Feeds {
  if (ds.count >= size) return batchFeeds(ds, 0, size);
  return gatherDataset(ds, Array.from({ length: size }, (_, i) => i % ds.count), ds.source).inputs;
}

/** The rows at `indices` (in that order), copied into a new dataset. */
export function gatherDataset(ds: Dataset, indices: readonly number[], source: string): Dataset {
  const inputs: Record<string, HostTensor> = {};
  for (const [name, t] of Object.entries(ds.inputs)) {
    const per = t.dims.slice(1).reduce((a, d) => a * d, 1);
    const Ctor = t.data.constructor as new (n: number) => HostTensor['data'];
    const data = new Ctor(indices.length * per);
    indices.forEach((row, i) => (data as Float32Array).set((t.data as Float32Array).subarray(row * per, (row + 1) * per), i * per));
    inputs[name] = { type: t.type, data, dims: [indices.length, ...t.dims.slice(1)] };
  }
  const out: Dataset = { inputs, count: indices.length, source };
  if (ds.labels) out.labels = Float64Array.from(indices, (row) => ds.labels![row]!);
  return out;
}

/**
 * A seeded, disjoint split: `count` rows drawn without replacement (Fisher–Yates with
 * mulberry32) and the remaining rows, each part kept in file order. The same data and seed
 * always give the same split, so a report can be reproduced.
 */
export function splitDataset(ds: Dataset, count: number, seed: number): { drawn: Dataset; rest: Dataset } {
  const order = Array.from({ length: ds.count }, (_, i) => i);
  const random = mulberry32(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const take = Math.max(0, Math.min(count, ds.count));
  const drawn = order.slice(0, take).sort((a, b) => a - b);
  const rest = order.slice(take).sort((a, b) => a - b);
  return {
    drawn: gatherDataset(ds, drawn, `${ds.source} (${take} rows drawn with seed ${seed})`),
    rest: gatherDataset(ds, rest, `${ds.source} (the other ${rest.length} rows)`),
  };
}
