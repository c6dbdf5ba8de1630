/**
 * @module monitoring/reference
 * Builds a model version's reference profile for live drift: runs the model (ONNX Runtime,
 * in process — this is a command-line tool, not the server) over reference data, usually the
 * training set, and profiles its inputs and outputs with the drift module's sketches, in the
 * column order of monitoring/binding. The result is written beside the model as
 * `<model>/<version>/reference.profile.json`, where the server finds it.
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
import { parseSimpleCsv, readTabularSpec, TabularEncoder } from '../preprocessing/tabular.js';
import { resolveSettings } from '../repository/model-config.js';
import { fromOrtType } from '../runtime/datatypes.js';
import { bindModel, type Binding, type DriftColumn, type MonitoringConfig } from './binding.js';

export const REFERENCE_PROFILE_FILE = 'reference.profile.json';

/** Signature of a model file, as the server would derive it without a config. */
export async function signatureOf(modelPath: string): Promise<{ signature: ModelSignature; session: ort.InferenceSession }> {
  const session = await ort.InferenceSession.create(modelPath);
  const meta = (list: readonly ort.InferenceSession.ValueMetadata[]) =>
    list.map((m) => (m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: [...m.shape] } : { name: m.name, isTensor: false }));
  const signature = deriveSignature(meta(session.inputMetadata), meta(session.outputMetadata), resolveSettings({}, {}), 32);
  return { signature, session };
}

/** One row object per batch row, keyed by drift column name. */
export function rowsFor(columns: readonly DriftColumn[], binding: Binding, inputs: readonly Tensor[], outputs: readonly Tensor[], rows: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const byName = new Map<string, Tensor>([...inputs, ...outputs].map((t) => [t.name, t]));
  const width = (t: Tensor): number => (rows === 0 ? 0 : t.data.length / rows);
  const task = binding.task;
  for (let r = 0; r < rows; r++) {
    const row: Record<string, unknown> = {};
    for (const c of columns) {
      if (c.source.kind === 'predicted') {
        if (task.kind !== 'classification') continue;
        const scores = byName.get(task.scoreOutput);
        if (scores === undefined) continue;
        const w = width(scores);
        let best = 0;
        for (let k = 1; k < w; k++) if (Number(scores.data[r * w + k]) > Number(scores.data[r * w + best])) best = k;
        row[c.name] = task.classes[best];
        continue;
      }
      const t = byName.get(c.source.tensor);
      if (t === undefined) continue;
      const v = t.data[r * width(t) + c.source.index];
      row[c.name] = typeof v === 'bigint' ? Number(v) : v;
    }
    out.push(row);
  }
  return out;
}

/**
 * The same values as rowsFor, for many requests at once and by column: numeric columns as
 * Float64Arrays (NaN = missing), categorical ones as arrays. What the live monitor feeds
 * DriftAccumulator.addColumns with: no object per row, and the PCA detector scores in blocks.
 */
export function columnsFor(
  columns: readonly DriftColumn[],
  binding: Binding,
  items: readonly { inputs: readonly Tensor[]; outputs: readonly Tensor[]; rows: number }[],
): Record<string, Float64Array | unknown[]> {
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
    columns.forEach((c, j) => {
      const a = arrays[j]!;
      if (c.source.kind === 'predicted') {
        if (task.kind !== 'classification' || scores === undefined) return;
        const w = scores.data.length / it.rows;
        for (let r = 0; r < it.rows; r++) {
          let best = 0;
          for (let k = 1; k < w; k++) if (Number(scores.data[r * w + k]) > Number(scores.data[r * w + best])) best = k;
          a[base + r] = task.classes[best];
        }
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

export interface ReferenceData {
  /** Float32 rows for the model's single input: [count, width]. */
  features: Float32Array;
  count: number;
  /** Names of the feature columns (e.g. from a preprocessing spec). */
  featureNames?: string[];
}

/** Raw CSV records through a tabular preprocessing spec (e.g. adult.data.gz + preprocessing.json). */
export function encodeRawData(csvPath: string, specPath: string, limit?: number): ReferenceData {
  const spec = readTabularSpec(specPath);
  const buf = readFileSync(csvPath);
  const text = (csvPath.endsWith('.gz') ? gunzipSync(buf) : buf).toString('utf8');
  let records = parseSimpleCsv(text, spec);
  if (limit !== undefined) records = records.slice(0, limit);
  const enc = new TabularEncoder(spec);
  return { features: enc.encode(records), count: records.length, featureNames: spec.featureNames };
}

export interface BuildReferenceOptions {
  monitoring?: MonitoringConfig;
  batchSize?: number;
}

export async function buildReferenceProfile(modelPath: string, data: ReferenceData, options: BuildReferenceOptions = {}): Promise<Profile> {
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
    const binding = bindModel(signature, readModelMetadata(modelPath).props, monitoring);
    const schema: Schema = { columns: binding.columns.map((c) => ({ name: c.name, type: c.type, role: c.role })), missingTokens: [] };
    const rows: Record<string, unknown>[] = [];
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
      rows.push(...rowsFor(binding.columns, binding, [{ name: input.name, datatype: 'FP32', shape, data: x }], outputs, n));
    }
    return profileRows(rows, schema);
  } finally {
    await session.release();
  }
}
