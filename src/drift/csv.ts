/**
 * @module drift/csv
 * A small streaming CSV reader: records are produced line by line from a file stream
 * (gzip when the path ends in .gz), so a million-row file never exists as objects at
 * once. Handles quoted fields with "" escapes and embedded newlines, CRLF, whitespace
 * around unquoted fields, and comment/leading lines to skip.
 */
import { createReadStream } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { BerthError } from '../errors.js';

export interface CsvOptions {
  delimiter?: string;
  /** Skip this many physical lines before the header/first record (e.g. adult.test's comment). */
  skipLines?: number;
}

/**
 * Splits one logical record. Unquoted fields are trimmed; quoted fields keep their
 * content verbatim. Returns null when the record's quotes are still open (it continues on
 * the next line).
 */
export function parseRecord(line: string, delimiter = ','): string[] | null {
  if (line.indexOf('"') < 0) {
    const parts = line.split(delimiter);
    for (let i = 0; i < parts.length; i++) parts[i] = parts[i]!.trim();
    return parts;
  }
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  for (;;) {
    while (i < n && (line[i] === ' ' || line[i] === '\t')) i++;
    if (line[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return null; // quote continues on the next line
        value += line.slice(i, q);
        if (line[q + 1] === '"') {
          value += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      const next = line.indexOf(delimiter, i);
      // anything between the closing quote and the delimiter is ignored whitespace
      out.push(value);
      if (next < 0) return out;
      i = next + delimiter.length;
    } else {
      const next = line.indexOf(delimiter, i);
      if (next < 0) {
        out.push(line.slice(i).trim());
        return out;
      }
      out.push(line.slice(i, next).trim());
      i = next + delimiter.length;
    }
  }
}

/** Yields records from an async stream of text chunks. */
export async function* csvRecords(chunks: AsyncIterable<string | Buffer>, options: CsvOptions = {}): AsyncGenerator<string[]> {
  const delimiter = options.delimiter ?? ',';
  let skip = options.skipLines ?? 0;
  let carry = '';
  let pending = ''; // a record whose quoted field spans lines
  const handle = (rawLine: string): string[] | null => {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (skip > 0 && pending === '') {
      skip--;
      return null;
    }
    const text = pending === '' ? line : `${pending}\n${line}`;
    const rec = parseRecord(text, delimiter);
    if (rec === null) {
      pending = text;
      return null;
    }
    pending = '';
    if (rec.length === 1 && rec[0] === '' && text.trim() === '') return null; // blank line
    return rec;
  };
  for await (const chunk of chunks) {
    const text = carry + (typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      const rec = handle(text.slice(start, nl));
      if (rec !== null) yield rec;
      start = nl + 1;
    }
    carry = text.slice(start);
  }
  if (carry !== '' || pending !== '') {
    const rec = handle(carry);
    if (rec !== null) yield rec;
    else if (pending !== '') throw new BerthError('BERTH_ERR_DRIFT_DATA', 'CSV ends inside a quoted field (unbalanced quote)');
  }
}

/** Opens a CSV file (gunzipping *.gz) as a stream of records. */
export function readCsvFile(path: string, options: CsvOptions = {}): AsyncGenerator<string[]> {
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  const source = path.endsWith('.gz') ? file.pipe(createGunzip()) : file;
  return wrapErrors(csvRecords(source as AsyncIterable<Buffer>, options), path);
}

async function* wrapErrors(gen: AsyncGenerator<string[]>, path: string): AsyncGenerator<string[]> {
  try {
    yield* gen;
  } catch (err) {
    if (err instanceof BerthError) throw new BerthError(err.code, `${path}: ${err.message}`, { cause: err });
    const code = (err as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new BerthError('BERTH_ERR_FILE', `${path}: cannot read CSV (${what})`, { cause: err });
  }
}
