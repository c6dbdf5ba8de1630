/**
 * The CSV reader (quotes, escapes, CRLF, embedded newlines, trimming, skipped lines) and
 * the schema parser/inferrer (messages naming the field).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvRecords, parseRecord } from '../../../src/drift/csv.js';
import { parseSchema, SchemaInferrer } from '../../../src/drift/schema.js';
import { isBerthError } from '../../../src/errors.js';

async function all(text: string[], options = {}): Promise<string[][]> {
  async function* chunks() {
    yield* text;
  }
  const out: string[][] = [];
  for await (const r of csvRecords(chunks(), options)) out.push(r);
  return out;
}

test('parseRecord: quoted fields, "" escapes, trimming of unquoted fields', () => {
  assert.deepEqual(parseRecord(' 39, State-gov ,"a, b","say ""hi""",,'), ['39', 'State-gov', 'a, b', 'say "hi"', '', '']);
  assert.deepEqual(parseRecord('"open'), null);
});

test('csvRecords: CRLF, chunk boundaries, embedded newlines, blank lines, skipLines', async () => {
  const recs = await all(['|comment\r\na,b\r\n1,"x\r', '\ny"\r\n\r\n2, z\r\n3,', 'w'], { skipLines: 1 });
  assert.deepEqual(recs, [['a', 'b'], ['1', 'x\ny'], ['2', 'z'], ['3', 'w']]);
  await assert.rejects(all(['a,b\n1,"unterminated\n']), (e: unknown) => isBerthError(e, 'BERTH_ERR_DRIFT_DATA'));
});

test('schema: parse with defaults, reject bad fields with the field named', () => {
  const s = parseSchema({ columns: [{ name: 'age' }, { name: 'sex', type: 'categorical', role: 'feature', thresholds: { effect: 0.2 } }] });
  assert.deepEqual(s.columns[0], { name: 'age', type: 'numeric', role: 'feature' });
  assert.deepEqual(s.missingTokens, ['', '?', 'NA', 'NaN', 'null']);
  const bad = (doc: unknown, re: RegExp) => assert.throws(() => parseSchema(doc, 'schema.json'), (e: unknown) => isBerthError(e, 'BERTH_ERR_DRIFT_SCHEMA') && re.test((e as Error).message));
  bad({ columns: [] }, /"columns" must be a non-empty array/);
  bad({ columns: [{ name: 'a', type: 'text' }] }, /columns\[0\] \("a"\): "type" must be one of numeric, categorical/);
  bad({ columns: [{ name: 'a' }, { name: 'a' }] }, /duplicate column name "a"/);
  bad({ columns: [{ name: 'a', thresholds: { alpha: 7 } }] }, /thresholds\.alpha/);
  bad({ columns: [{ name: 'p', type: 'categorical', role: 'probability' }] }, /must be numeric/);
  bad({ colums: [] }, /unknown field "colums"/);
});

test('schema inference: numeric when every non-missing value is a finite number', () => {
  const inf = new SchemaInferrer(['a', 'b', 'c']);
  inf.add(['1', 'x', '?']);
  inf.add(['2.5e3', '3', 'NA']);
  inf.add(['', '4', '']);
  assert.deepEqual(inf.result().columns.map((c) => c.type), ['numeric', 'categorical', 'numeric']);
});
