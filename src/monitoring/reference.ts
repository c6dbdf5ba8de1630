/**
 * @module monitoring/reference
 * Builds a model version's reference artefacts: runs the model (ONNX Runtime, in process —
 * this is a command-line tool, not the server) over reference data, usually the training
 * set, and profiles its inputs and outputs with the drift module's sketches, in the column
 * order of monitoring/binding (`<model>/<version>/reference.profile.json`); and, from
 * labelled held-out data, the score calibration the label-free estimate needs
 * (`reference.calibration.json`, monitoring/calibration). The server finds both there.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import * as ort from 'onnxruntime-node';
import { profileRows, type Profile } from '../drift/profile.js';
import type { Schema } from '../drift/schema.js';
import { BerthError } from '../errors.js';
import { deriveSignature } from '../inference/signature.js';
import type { ModelSignature, Tensor } from '../inference/types.js';
import { readModelMetadata } from '../onnx/metadata.js';
import { parseSimpleCsv, type RawRecord as CsvRecord, readTabularSpec, TabularEncoder, type TabularSpec } from '../preprocessing/tabular.js';
import { resolveSettings } from '../repository/model-config.js';
import { fromOrtType } from '../runtime/datatypes.js';
import { bindModel, type Binding, type DriftColumn, type MonitoringConfig, type RawFieldSource } from './binding.js';
import type { RawRecord } from '../pipeline/transformer.js';
import { loadVersionPreprocessing } from '../preprocessing/load.js';
import { fitCalibration, type Calibration } from './calibration.js';
import { classProbabilities, type ClassProbabilities } from './scores.js';

export const REFERENCE_PROFILE_FILE = 'reference.profile.json';

/** Signature of a model file, as the server would derive it without a config. */
export async function signatureOf(modelPath: string): Promise<{ signature: ModelSignature; session: ort.InferenceSession }> {
  const session = await ort.InferenceSession.create(modelPath);
  const meta = (list: readonly ort.InferenceSession.ValueMetadata[]) =>
    list.map((m) => (m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: [...m.shape] } : { name: m.name, isTensor: false }));
  const signature = deriveSignature(meta(session.inputMetadata), meta(session.outputMetadata), resolveSettings({}, {}), 32);
  return { signature, session };
}

/** Decisions' tensors as the drift columns read them; `probabilities` when already computed. */
export interface ColumnSource {
  inputs: readonly Tensor[];
  outputs: readonly Tensor[];
  rows: number;
  probabilities?: ClassProbabilities | undefined;
  /** The raw records of a raw-record request: raw-field columns read them instead of decoding the tensor. */
  records?: readonly RawRecord[];
}

/** A CSV record (fields by position) as the field → value object the raw-field drift columns read. */
function recordObject(r: CsvRecord, spec: TabularSpec | undefined): RawRecord {
  if (!Array.isArray(r)) return r as RawRecord;
  const columns = spec?.rawColumns ?? [];
  return Object.fromEntries(columns.map((c, k) => [c, (r as readonly string[])[k]]));
}

/** A raw field's value for drift: the record's (trimmed; a missing marker is missing), else decoded from the tensor's slots. */
function rawValue(src: RawFieldSource, record: RawRecord | undefined, t: Tensor | undefined, row: number): unknown {
  const f = src.feature;
  if (record !== undefined) {
    const v = record[src.field];
    const text = typeof v === 'string' ? v.trim() : v;
    if (f.type === 'numeric') {
      if (text === null || text === undefined || (typeof text === 'string' && (src.missing.includes(text) || text === ''))) return Number.NaN;
      const x = Number(text);
      return Number.isFinite(x) ? x : Number.NaN;
    }
    if (text === null || text === undefined) return null;
    const s = String(text);
    return src.missing.includes(s) ? (f.categories.includes('?') ? '?' : null) : s;
  }
  if (t === undefined) return f.type === 'numeric' ? Number.NaN : null;
  const w = t.data.length / Math.max(1, t.shape[0] ?? 1);
  const base = row * w + f.offset;
  // Rounded to 1e-5 of the field's spread (10^(⌊log10 std⌋ − 5)): float32 rounding of the standardised value
  // must not make 13 read as 12.9999995 or 0 as 1.2e-6 (discrete fields would look shifted against raw reference values).
  if (f.type === 'numeric') {
    const x = Number(t.data[base]) * f.std + f.mean;
    const e = Math.floor(Math.log10(f.std)) - 5;
    return e < 0 ? Math.round(x * 10 ** -e) / 10 ** -e : Math.round(x / 10 ** e) * 10 ** e;
  }
  for (let k = 0; k < f.width; k++) if (Number(t.data[base + k]) === 1) return f.categories[k]!;
  return null; // all slots zero: a category the spec does not know
}

/**
 * The drift columns' values for many requests at once, by column: numeric columns as
 * Float64Arrays (NaN = missing), categorical ones as arrays. What the live monitor feeds
 * DriftAccumulator.addColumns with (no object per row; the PCA detector scores in blocks)
 * and what the reference profile is built from. A classifier's probability columns hold
 * class probabilities (monitoring/scores: softmax of logits when so configured).
 */
export function columnsFor(columns: readonly DriftColumn[], binding: Binding, items: readonly ColumnSource[]): Record<string, Float64Array | unknown[]> {
  let total = 0;
  for (const it of items) total += it.rows;
  const out: Record<string, Float64Array | unknown[]> = {};
  const arrays = columns.map((c) => {
    const a = c.type === 'numeric' ? new Float64Array(total).fill(Number.NaN) : new Array<unknown>(total).fill(null);
    out[c.name] = a;
    return a;
  });
  const task = binding.task;
  let base = 0;
  for (const it of items) {
    const tensors = new Map<string, Tensor>();
    for (const t of it.inputs) tensors.set(t.name, t);
    for (const t of it.outputs) tensors.set(t.name, t);
    const scores = task.kind === 'classification' ? tensors.get(task.scoreOutput) : undefined;
    const probs = task.kind === 'classification' && scores !== undefined ? it.probabilities ?? classProbabilities(task, scores, it.rows) : undefined;
    columns.forEach((c, j) => {
      const a = arrays[j]!;
      if (c.source.kind === 'predicted') {
        if (task.kind !== 'classification' || probs === undefined) return;
        for (let r = 0; r < it.rows; r++) a[base + r] = task.classes[probs.predicted[r]!];
        return;
      }
      if (c.role === 'probability' && c.source.kind === 'output' && probs !== undefined && task.kind === 'classification') {
        const C = task.classCount;
        for (let r = 0; r < it.rows; r++) a[base + r] = probs.probabilities[r * C + c.source.index]!;
        return;
      }
      if (c.source.kind === 'raw') {
        const src = c.source;
        const t = tensors.get(src.tensor);
        for (let r = 0; r < it.rows; r++) a[base + r] = rawValue(src, it.records?.[r], t, r);
        return;
      }
      const t = tensors.get(c.source.tensor);
      if (t === undefined) return;
      const w = t.data.length / it.rows;
      for (let r = 0; r < it.rows; r++) {
        const v = t.data[r * w + c.source.index];
        a[base + r] = typeof v === 'bigint' ? Number(v) : v;
      }
    });
    base += it.rows;
  }
  return out;
}

/** The same values as columnsFor, one row object per row (what profileRows takes). */
export function rowsFor(columns: readonly DriftColumn[], binding: Binding, items: readonly ColumnSource[]): Record<string, unknown>[] {
  const cols = columnsFor(columns, binding, items);
  const rows: Record<string, unknown>[] = [];
  const names = columns.map((c) => c.name);
  const n = items.reduce((a, it) => a + it.rows, 0);
  for (let r = 0; r < n; r++) {
    const row: Record<string, unknown> = {};
    for (const name of names) row[name] = cols[name]![r];
    rows.push(row);
  }
  return rows;
}

export interface ReferenceData {
  /** Float32 rows for the model's single input: [count, width]. */
  features: Float32Array;
  count: number;
  /** Names of the feature columns (e.g. from a preprocessing spec). */
  featureNames?: string[];
  /** Each row's true class index, when known (needed for a calibration). */
  labels?: Int32Array;
  /** Where the rows came from, for the calibration's `source`. */
  source?: string;
  /** The tabular spec raw rows were encoded with (the anomaly profile's raw field ranges follow from it). */
  spec?: TabularSpec;
  /** The raw records behind the rows, in order (exact raw ranges for the anomaly profile; raw-field drift columns). */
  records?: readonly CsvRecord[];
}

/**
 * Raw CSV records through a tabular preprocessing spec (e.g. adult.data.gz +
 * preprocessing.json); labels from the spec's label column when every record has one.
 */
export function encodeRawData(csvPath: string, specPath: string, limit?: number): ReferenceData {
  const spec = readTabularSpec(specPath);
  const buf = readFileSync(csvPath);
  const text = (csvPath.endsWith('.gz') ? gunzipSync(buf) : buf).toString('utf8');
  let records = parseSimpleCsv(text, spec);
  if (limit !== undefined) records = records.slice(0, limit);
  const enc = new TabularEncoder(spec);
  const data: ReferenceData = { features: enc.encode(records), count: records.length, featureNames: spec.featureNames, spec, records, source: `${csvPath}${limit === undefined ? '' : ` (first ${records.length} records)`}` };
  const labels = records.map((r) => enc.labelOf(r));
  if (spec.label !== undefined && labels.every((l) => l !== undefined)) data.labels = Int32Array.from(labels, Number);
  return data;
}

export interface BuildReferenceOptions {
  monitoring?: MonitoringConfig;
  batchSize?: number;
}

/** Runs the model over the data in batches: the binding, and each batch's tensors. */
async function runModel(modelPath: string, data: ReferenceData, options: BuildReferenceOptions): Promise<{ binding: Binding; batches: ColumnSource[] }> {
  const { signature, session } = await signatureOf(modelPath);
  try {
    if (signature.inputs.length !== 1) throw new BerthError('BERTH_ERR_CLI_USAGE', `the model has ${signature.inputs.length} inputs; reference data for several inputs is not supported yet`);
    const input = signature.inputs[0]!;
    const width = input.shape.slice(1).reduce((a, b) => a * b, 1);
    if (input.datatype !== 'FP32' || width <= 0 || data.features.length !== data.count * width) {
      throw new BerthError('BERTH_ERR_CLI_USAGE', `input '${input.name}' is ${input.datatype} ${JSON.stringify(input.shape)}; the data has ${data.count} rows of ${data.count === 0 ? 0 : data.features.length / data.count} values`);
    }
    const monitoring = { ...options.monitoring };
    if (data.featureNames !== undefined && monitoring.featureNames === undefined) monitoring.featureNames = data.featureNames;
    // The server binds a version with a tabular spec to its raw fields: so does its reference profile.
    const binding = bindModel(signature, readModelMetadata(modelPath).props, monitoring, loadVersionPreprocessing(modelPath)?.tabular);
    const batches: ColumnSource[] = [];
    const batch = options.batchSize ?? 512;
    for (let start = 0; start < data.count; start += batch) {
      const n = Math.min(batch, data.count - start);
      const x = data.features.subarray(start * width, (start + n) * width);
      const shape = [n, ...input.shape.slice(1)];
      const result = await session.run({ [input.name]: new ort.Tensor('float32', x, shape) });
      const outputs: Tensor[] = signature.outputs.map((o) => {
        const t = result[o.name]!;
        return { name: o.name, datatype: fromOrtType(t.type) ?? 'FP32', shape: [...t.dims], data: t.data as Tensor['data'] };
      });
      const records = data.records?.slice(start, start + n).map((r) => recordObject(r, data.spec));
      batches.push({ inputs: [{ name: input.name, datatype: 'FP32', shape, data: x }], outputs, rows: n, ...(records === undefined ? {} : { records }) });
    }
    return { binding, batches };
  } finally {
    await session.release();
  }
}

export async function buildReferenceProfile(modelPath: string, data: ReferenceData, options: BuildReferenceOptions = {}): Promise<Profile> {
  const { binding, batches } = await runModel(modelPath, data, options);
  const schema: Schema = { columns: binding.columns.map((c) => ({ name: c.name, type: c.type, role: c.role })), missingTokens: [] };
  return profileRows(rowsFor(binding.columns, binding, batches), schema);
}

/**
 * The score calibration from labelled data (held out from training: calibrating on the
 * training set would make the estimate as optimistic as the training accuracy).
 */
export async function buildCalibration(modelPath: string, data: ReferenceData, options: BuildReferenceOptions = {}): Promise<Calibration> {
  const labels = data.labels;
  if (labels === undefined) throw new BerthError('BERTH_ERR_CLI_USAGE', `the calibration data ${data.source ?? ''} has no labels (a label column in the preprocessing spec, or --calibration-labels)`);
  if (labels.length !== data.count) throw new BerthError('BERTH_ERR_CLI_USAGE', `the calibration data has ${data.count} rows but ${labels.length} labels`);
  const { binding, batches } = await runModel(modelPath, data, options);
  const task = binding.task;
  if (task.kind !== 'classification') throw new BerthError('BERTH_ERR_CLI_USAGE', `a calibration is for classifiers; this model's task is ${task.kind}${task.kind === 'none' ? ` (${task.reason})` : ''}`);
  const C = task.classCount;
  const probs = new Float64Array(data.count * C);
  let o = 0;
  for (const b of batches) {
    const scores = b.outputs.find((t) => t.name === task.scoreOutput)!;
    const p = classProbabilities(task, scores, b.rows);
    if (p.problem !== undefined) throw new BerthError('BERTH_ERR_CLI_USAGE', `cannot calibrate: ${p.problem}`);
    probs.set(p.probabilities, o);
    o += p.probabilities.length;
  }
  labels.forEach((l, i) => {
    if (!(Number.isInteger(l) && l >= 0 && l < C)) throw new BerthError('BERTH_ERR_CLI_USAGE', `calibration label ${i} is ${l}; expected a class index 0…${C - 1}`);
  });
  return fitCalibration(probs, labels, { classes: task.classes, positiveIndex: task.positiveIndex, scoreKind: task.scoreKind ?? 'probabilities', source: data.source ?? 'calibration data' });
}
