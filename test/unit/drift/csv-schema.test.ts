/**
 * The CSV reader (quotes, escapes, CRLF, embedded newlines, trimming, skipped lines, UTF-8
 * cut by chunk boundaries; the fast chunked splitter against the line-by-line parser) and
 * the schema parser/inferrer (messages naming the field; inference in the profiling pass).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { csvRecords, parseRecord } from '../../../src/drift/csv.js';
import { inferSchemaFromCsv, profileCsvFile } from '../../../src/drift/io.js';
import { parseSchema, SchemaInferrer } from '../../../src/drift/schema.js';
import { isBerthError } from '../../../src/errors.js';
import { rng } from './helpers.js';

async function all(text: (string | Buffer)[], options = {}): Promise<string[][]> {
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

/** The record-at-a-time reader this module used to be: every line through parseRecord. */
function referenceRecords(text: string, skipLines = 0): string[][] | 'unbalanced quote' {
  const out: string[][] = [];
  let skip = skipLines;
  let pending = '';
  const lines = text.split('\n');
  const last = lines.pop()!;
  const handle = (raw: string) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (skip > 0 && pending === '') return void skip--;
    const t = pending === '' ? line : `${pending}\n${line}`;
    const rec = parseRecord(t);
    if (rec === null) return void (pending = t);
    pending = '';
    if (!(rec.length === 1 && rec[0] === '' && t.trim() === '')) out.push(rec);
  };
  lines.forEach(handle);
  if (last !== '' || pending !== '') handle(last);
  return pending === '' ? out : 'unbalanced quote';
}

test('property: the chunked splitter gives the records of the line-by-line parser, for text or UTF-8 bytes cut anywhere', async () => {
  const text = (chars: string[]) => fc.array(fc.constantFrom(...chars), { maxLength: 6 }).map((cs) => cs.join(''));
  const plain = text(['a', 'b', '7', '.', '-', ' ', '\t', '\u00a0', 'é', '€', '😀']);
  const quoted = text(['a', ' ', ',', '"', '\n', '\r', '€']).map((s) => `"${s.replace(/"/g, '""')}"`);
  const line = fc.array(fc.oneof(plain, plain, quoted), { minLength: 1, maxLength: 5 }).map((fs) => fs.join(','));
  const doc = fc.record({
    lines: fc.array(line, { minLength: 0, maxLength: 12 }),
    crlf: fc.boolean(),
    trailingNewline: fc.boolean(),
    skipLines: fc.nat(2),
    cuts: fc.array(fc.nat(), { maxLength: 6 }),
    bytes: fc.boolean(),
  });
  await fc.assert(
    fc.asyncProperty(doc, async ({ lines, crlf, trailingNewline, skipLines, cuts, bytes }) => {
      const csv = lines.join(crlf ? '\r\n' : '\n') + (trailingNewline ? '\n' : '');
      const data = bytes ? Buffer.from(csv, 'utf8') : csv;
      const at = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
      const pieces = [0, ...at].map((from, i) => data.slice(from, [...at, data.length][i]));
      const expected = referenceRecords(csv, skipLines);
      const got = await all(pieces, { skipLines }).catch((e: unknown) => (isBerthError(e, 'BERTH_ERR_DRIFT_DATA') ? 'unbalanced quote' : e));
      assert.deepEqual(got, expected);
    }),
    { numRuns: 300, seed: 20240607 },
  );
});

test('a multi-byte character cut by a chunk boundary stays whole', async () => {
  const bytes = Buffer.from('name,city\n1,Zürich\n2,東京\n', 'utf8');
  const cut = bytes.indexOf(0xbc); // second byte of "ü"
  const recs = await all([bytes.subarray(0, cut), bytes.subarray(cut, cut + 9), bytes.subarray(cut + 9)]);
  assert.deepEqual(recs, [['name', 'city'], ['1', 'Zürich'], ['2', '東京']]);
});

test('profiling without a schema infers the types in the same pass, and equals profiling with the inferred schema', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-infer-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const r = rng(5);
  const rows = Array.from({ length: 400 }, (_, i) => [
    (r() * 100).toFixed(1), // numeric throughout
    ['red', 'green', 'blue'][i % 3], // categorical from the first row
    i < 3 ? '?' : `z${i % 4}`, // missing first, then text: retyped in place
    (i * 7) % 23, // numeric
  ]);
  const write = (name: string, late: boolean) => {
    const body = rows.map((row, i) => [...row, late && i === 250 ? 'n/a' : String(i % 9)].join(','));
    writeFileSync(join(dir, name), ['x,color,zone,k,late', ...body].join('\n') + '\n');
    return join(dir, name);
  };
  for (const late of [false, true]) {
    const path = write(late ? 'late.csv' : 'plain.csv', late);
    const inferred = await inferSchemaFromCsv(path);
    assert.deepEqual(inferred.columns.map((c) => c.type), ['numeric', 'categorical', 'categorical', 'numeric', late ? 'categorical' : 'numeric']);
    assert.deepEqual(await profileCsvFile(path, null), await profileCsvFile(path, inferred));
  }
});
