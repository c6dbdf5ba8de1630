/**
 * @module protocols/v2/pandas
 * The "pd" content type (MLServer's pandas codec convention): a request whose
 * `parameters.content_type` is "pd" sends one input per raw column — BYTES for strings,
 * a numeric datatype for numbers, shape [rows] or [rows, 1] — and the columns are read
 * back into one record per row for the version's pipeline. JSON null is a missing value.
 */
import { isV2Datatype, V2_DATATYPES } from '../../runtime/datatypes.js';
import type { RawRecord } from '../../pipeline/transformer.js';
import { bad, describeValue, typeName } from './request.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The columns of a "pd" request as records, every column checked (same row count, elements of its datatype). */
export function readPandasColumns(inputs: readonly unknown[]): RawRecord[] {
  if (inputs.length === 0) throw bad('inputs: content_type "pd" needs one input per raw column, got none');
  let rows: number | undefined;
  const columns: { name: string; data: unknown[] }[] = [];
  const seen = new Set<string>();
  inputs.forEach((inp, i) => {
    const where = `inputs[${i}]`;
    if (!isObject(inp)) throw bad(`${where}: expected an object with name, datatype, shape and data, got ${typeName(inp)}`);
    if (typeof inp.name !== 'string' || inp.name === '') throw bad(`${where}.name: expected a non-empty string (the column name), got ${typeName(inp.name)}`);
    const name = inp.name;
    if (seen.has(name)) throw bad(`input '${name}': the column is sent twice`);
    seen.add(name);
    if (!isV2Datatype(inp.datatype)) throw bad(`input '${name}'.datatype: expected one of ${V2_DATATYPES.join(', ')}, got ${typeName(inp.datatype)}`);
    const shape = inp.shape;
    if (!Array.isArray(shape) || shape.length < 1 || shape.length > 2 || !shape.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 0) || (shape.length === 2 && shape[1] !== 1)) {
      throw bad(`input '${name}'.shape: a "pd" column has shape [rows] or [rows, 1], got ${describeValue(shape)}`);
    }
    const n = shape[0] as number;
    if (rows === undefined) rows = n;
    else if (n !== rows) throw bad(`input '${name}'.shape: ${n} rows, but the first column has ${rows}; every column needs one value per row`);
    const data = inp.data;
    if (!Array.isArray(data)) throw bad(`input '${name}'.data: expected an array of ${n} values, got ${typeName(data)}`);
    const flat = data.flat(1) as unknown[];
    if (flat.length !== n) throw bad(`input '${name}'.data: shape says ${n} rows, data has ${flat.length} values`);
    const text = inp.datatype === 'BYTES';
    flat.forEach((v, r) => {
      if (v === null) return;
      if (text ? typeof v !== 'string' : typeof v !== 'number' && typeof v !== 'boolean') {
        throw bad(`input '${name}'.data[${r}]: ${describeValue(v)} is not ${text ? 'a string' : 'a number'} (datatype ${inp.datatype as string})`);
      }
    });
    columns.push({ name, data: flat });
  });
  if (rows === 0) throw bad('inputs: the columns have no rows');
  const records: Record<string, unknown>[] = Array.from({ length: rows! }, () => ({}));
  for (const c of columns) for (let r = 0; r < rows!; r++) records[r]![c.name] = c.data[r];
  return records;
}
