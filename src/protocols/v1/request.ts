/**
 * @module protocols/v1/request
 * Decodes a KServe V1 / TF Serving REST predict body: `{"instances": [...]}` (row format)
 * or `{"inputs": ...}` (columnar). For a version with a preprocessing spec the rows are raw
 * records (`{"age": 39, "workclass": "State-gov", …}`) for the decision path; for a
 * tensor-only version with one input they are that input's rows. Every message names the field.
 */
import { BerthError } from '../../errors.js';
import { newRequestId } from '../../inference/request-id.js';
import type { ModelSignature, Tensor } from '../../inference/types.js';
import { checkFinite, checkRequestInputs } from '../../inference/validate.js';
import type { RawRecord } from '../../pipeline/transformer.js';
import { elementCount } from '../../runtime/datatypes.js';
import { checkJsonDepth } from '../v2/limits.js';
import { bad, decodeJsonData, typeName } from '../v2/request.js';

export interface V1Predict {
  id: string;
  clientId: boolean;
  /** Raw records (versions with a preprocessing spec). */
  records?: RawRecord[];
  /** The model's single input (tensor-only versions). */
  inputs?: Tensor[];
  rows: number;
  /** Berth's extension: `parameters.context`, the decision's attributes the model does not take (monitoring.sensitive). */
  parameters: Record<string, unknown>;
}

const MAX_ID_LENGTH = 256;

/** `parameters` of a predict request: only `context`, an object of string, number or boolean values. */
function predictParameters(p: unknown): Record<string, unknown> {
  if (p === undefined) return {};
  if (!isObject(p)) throw bad(`parameters: expected an object such as {"context": {"region": "north"}}, got ${typeName(p)}`);
  const extra = Object.keys(p).filter((k) => k !== 'context');
  if (extra.length > 0) throw bad(`parameters.${extra[0]}: not a predict parameter (expected "context")`);
  if (p.context === undefined) return {};
  if (!isObject(p.context)) throw bad(`parameters.context: expected an object of attributes such as {"region": "north"}, got ${typeName(p.context)}`);
  for (const [k, v] of Object.entries(p.context)) {
    if (!(typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v)))) throw bad(`parameters.context.${k}: expected a string, finite number or boolean, got ${typeName(v)}`);
  }
  return { context: p.context };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) throw bad('request body is empty; expected {"instances": [...]} or {"inputs": ...}');
  checkJsonDepth(body, 0, body.length);
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw bad(`request body is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isObject(value)) throw bad('request body must be a JSON object: {"instances": [...]} or {"inputs": ...}');
  return value;
}

/** `{"inputs": {"age": [39, 50], …}}`: columns of equal length → one record per row. */
function columnsToRecords(columns: Record<string, unknown>): RawRecord[] {
  let rows: number | undefined;
  let first = '';
  for (const [name, values] of Object.entries(columns)) {
    if (!Array.isArray(values)) throw bad(`inputs.${name}: expected an array with one value per row, got ${typeName(values)}`);
    if (rows === undefined) {
      rows = values.length;
      first = name;
    } else if (values.length !== rows) throw bad(`inputs.${name}: ${values.length} values, but inputs.${first} has ${rows}; every column needs one value per row`);
  }
  if (rows === undefined) throw bad('inputs: expected at least one column');
  const records: Record<string, unknown>[] = Array.from({ length: rows }, () => ({}));
  for (const [name, values] of Object.entries(columns)) (values as unknown[]).forEach((v, r) => (records[r]![name] = v));
  return records;
}

/** Rows of a tensor-only model's single input → that input, checked against the signature. */
function rowsToTensor(signature: ModelSignature, rows: unknown[], where: string): Tensor[] {
  if (signature.inputs.length !== 1) {
    throw bad(`${where}: this model has ${signature.inputs.length} inputs and no preprocessing spec; send its tensors with the Open Inference Protocol (POST /v2/models/{model}/infer)`);
  }
  const spec = signature.inputs[0]!;
  const batched = signature.maxBatchSize > 0;
  const inner = spec.shape.slice(batched ? 1 : 0);
  if (inner.some((d) => d < 0)) throw bad(`${where}: input '${spec.name}' has dynamic dimensions [${spec.shape.join(', ')}]; send it with the Open Inference Protocol, which carries a shape`);
  const shape = batched ? [rows.length, ...inner] : inner;
  if (!batched && rows.length !== 1) throw bad(`${where}: ${rows.length} rows, but the model takes one per request (max_batch_size 0)`);
  const data = decodeJsonData(spec.name, spec.datatype, batched ? rows : rows[0], elementCount(shape));
  const t: Tensor = { name: spec.name, datatype: spec.datatype, shape, data };
  checkFinite(t, spec);
  return checkRequestInputs(signature, [t]).inputs;
}

export function decodePredictRequest(body: Buffer, signature: ModelSignature, takesRecords: boolean): V1Predict {
  const json = parseBody(body);
  let id: string;
  const clientId = json.id !== undefined;
  if (!clientId) id = newRequestId();
  else if (typeof json.id !== 'string' || json.id === '' || json.id.length > MAX_ID_LENGTH) throw bad(`id: expected a non-empty string of at most ${MAX_ID_LENGTH} characters, got ${typeName(json.id)}`);
  else id = json.id;
  const unknown = Object.keys(json).filter((k) => k !== 'instances' && k !== 'inputs' && k !== 'id' && k !== 'signature_name' && k !== 'parameters');
  if (unknown.length > 0) throw bad(`${unknown[0]}: not a field of a predict request (expected "instances" or "inputs", and optionally "id", "parameters")`);
  const parameters = predictParameters(json.parameters);
  if ((json.instances === undefined) === (json.inputs === undefined)) throw bad('expected exactly one of "instances" (row format) or "inputs" (columnar format)');
  if (json.instances !== undefined) {
    const instances = json.instances;
    if (!Array.isArray(instances)) throw bad(`instances: expected an array of rows, got ${typeName(instances)}`);
    if (instances.length === 0) throw bad('instances: expected at least one row');
    if (takesRecords) {
      instances.forEach((r, i) => {
        if (!isObject(r)) throw bad(`instances[${i}]: expected a record object such as {"age": 39, …}, got ${typeName(r)}`);
      });
      return { id, clientId, records: instances as RawRecord[], rows: instances.length, parameters };
    }
    const inputs = rowsToTensor(signature, instances, 'instances');
    return { id, clientId, inputs, rows: inputs[0]!.shape[0] ?? 1, parameters };
  }
  const inputs = json.inputs;
  if (takesRecords) {
    if (!isObject(inputs)) throw bad(`inputs: expected an object of columns such as {"age": [39, 50], …}, got ${typeName(inputs)}`);
    const records = columnsToRecords(inputs);
    if (records.length === 0) throw bad('inputs: the columns have no rows');
    return { id, clientId, records, rows: records.length, parameters };
  }
  if (!Array.isArray(inputs)) throw bad(`inputs: expected the rows of the model's input, got ${typeName(inputs)}`);
  if (inputs.length === 0) throw bad('inputs: expected at least one row');
  const tensors = rowsToTensor(signature, inputs, 'inputs');
  return { id, clientId, inputs: tensors, rows: tensors[0]!.shape[0] ?? 1, parameters };
}

export function unknownVerb(verb: string): BerthError {
  return new BerthError('BERTH_ERR_NOT_FOUND', `':${verb}' is not a V1 verb; use ':predict' or ':explain'`);
}
