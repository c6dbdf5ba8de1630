/**
 * @module drift/csv
 * A small streaming CSV reader: records are produced chunk by chunk from a file stream
 * (gzip when the path ends in .gz), so a million-row file never exists as objects at
 * once. Handles quoted fields with "" escapes and embedded newlines, CRLF, whitespace
 * around unquoted fields, and comment/leading lines to skip. The hot path
 * (`forEachCsvRecord`) hands each record to a callback in one reused array: a record costs
 * its field strings and nothing else.
 */
import { isAscii } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import { BerthError } from '../errors.js';

export interface CsvOptions {
  delimiter?: string;
  /** Skip this many physical lines before the header/first record (e.g. adult.test's comment). */
  skipLines?: number;
}

/** Receives each record. `fields` is reused for the next record: copy it to keep it. */
export type CsvRecordHandler = (fields: string[]) => void;

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

/** A char code that String.prototype.trim might remove (a superset: trim decides). */
function maybeSpace(code: number): boolean {
  return code <= 32 || code === 160 || code >= 0x1680;
}

/**
 * Turns text chunks (cut anywhere) into records. Lines without a quote — nearly all — are
 * split in place: each field is one slice of the chunk, written into a reused array, the
 * same fields parseRecord gives. Lines with a quote, and records that span lines, go
 * through parseRecord.
 */
export class CsvSplitter {
  private readonly delimiter: string;
  private skip: number;
  private carry = '';
  /** A record whose quoted field spans lines. */
  private pending = '';
  private readonly fields: string[] = [];

  constructor(options: CsvOptions = {}) {
    this.delimiter = options.delimiter ?? ',';
    if (this.delimiter === '' || /["\r\n]/.test(this.delimiter)) throw new RangeError(`CSV delimiter must be non-empty and not contain a quote or newline, got ${JSON.stringify(this.delimiter)}`);
    this.skip = options.skipLines ?? 0;
  }

  /** Splits the complete lines of `chunk` (plus what was carried over) into records. */
  push(chunk: string, onRecord: CsvRecordHandler): void {
    const text = this.carry === '' ? chunk : this.carry + chunk;
    const delimiter = this.delimiter;
    let start = 0;
    // Next quote and next delimiter at or after `start` (−1: none in this text); each is
    // searched again only once passed, so a line costs O(its length).
    let quote = text.indexOf('"');
    let delim = text.indexOf(delimiter);
    for (;;) {
      const nl = text.indexOf('\n', start);
      if (nl < 0) break;
      if (quote >= 0 && quote < start) quote = text.indexOf('"', start);
      if (this.pending !== '' || this.skip > 0 || (quote >= 0 && quote < nl)) {
        const rec = this.handleLine(text.slice(start, nl));
        if (rec !== null) onRecord(rec);
      } else {
        const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        const f = this.fields;
        let n = 0;
        let i = start;
        for (;;) {
          if (delim >= 0 && delim < i) delim = text.indexOf(delimiter, i);
          const j = delim >= 0 && delim < end ? delim : end;
          const v = text.slice(i, j);
          f[n++] = j > i && (maybeSpace(text.charCodeAt(i)) || maybeSpace(text.charCodeAt(j - 1))) ? v.trim() : v;
          if (j === end) break;
          i = j + delimiter.length;
        }
        f.length = n;
        if (n > 1 || f[0] !== '') onRecord(f); // else a blank line
      }
      start = nl + 1;
    }
    this.carry = text.slice(start);
  }

  /** Ends the input: the last line may lack its newline. */
  end(onRecord: CsvRecordHandler): void {
    if (this.carry === '' && this.pending === '') return;
    const rec = this.handleLine(this.carry);
    this.carry = '';
    if (rec !== null) onRecord(rec);
    else if (this.pending !== '') throw new BerthError('BERTH_ERR_DRIFT_DATA', 'CSV ends inside a quoted field (unbalanced quote)');
  }

  private handleLine(rawLine: string): string[] | null {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (this.skip > 0 && this.pending === '') {
      this.skip--;
      return null;
    }
    const text = this.pending === '' ? line : `${this.pending}\n${line}`;
    const rec = parseRecord(text, this.delimiter);
    if (rec === null) {
      this.pending = text;
      return null;
    }
    this.pending = '';
    if (rec.length === 1 && rec[0] === '' && text.trim() === '') return null; // blank line
    return rec;
  }
}

/**
 * Decodes UTF-8 chunks. A chunk of pure ASCII (checked natively) is decoded as latin1,
 * several times faster and the same text; other chunks, and the chunk after one (which
 * may complete its last character), go through a StringDecoder, so a character cut by a
 * chunk boundary stays whole.
 */
class Utf8Chunks {
  private readonly decoder = new StringDecoder('utf8');
  private clean = true;

  write(chunk: string | Buffer): string {
    if (typeof chunk === 'string') return chunk;
    const ascii = isAscii(chunk);
    const text = ascii && this.clean ? chunk.toString('latin1') : this.decoder.write(chunk);
    this.clean = ascii;
    return text;
  }

  end(): string {
    return this.decoder.end();
  }
}

/** Calls onRecord for each record of an async stream of text or UTF-8 chunks. */
export async function forEachCsvRecord(chunks: AsyncIterable<string | Buffer>, options: CsvOptions, onRecord: CsvRecordHandler): Promise<void> {
  const splitter = new CsvSplitter(options);
  const decoder = new Utf8Chunks();
  for await (const chunk of chunks) splitter.push(decoder.write(chunk), onRecord);
  splitter.push(decoder.end(), onRecord);
  splitter.end(onRecord);
}

/** Yields records (fresh arrays) from an async stream of text chunks. */
export async function* csvRecords(chunks: AsyncIterable<string | Buffer>, options: CsvOptions = {}): AsyncGenerator<string[]> {
  const splitter = new CsvSplitter(options);
  const decoder = new Utf8Chunks();
  let batch: string[][] = [];
  const collect = (fields: string[]) => void batch.push(fields.slice());
  for await (const chunk of chunks) {
    splitter.push(decoder.write(chunk), collect);
    // An indexed loop: `yield*` over an array costs an extra await per record.
    for (let i = 0; i < batch.length; i++) yield batch[i]!;
    batch = [];
  }
  splitter.push(decoder.end(), collect);
  splitter.end(collect);
  for (let i = 0; i < batch.length; i++) yield batch[i]!;
}

function openCsv(path: string): AsyncIterable<Buffer> {
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  return (path.endsWith('.gz') ? file.pipe(createGunzip()) : file) as AsyncIterable<Buffer>;
}

function readError(err: unknown, path: string): BerthError {
  if (err instanceof BerthError) return new BerthError(err.code, `${path}: ${err.message}`, { cause: err });
  const code = (err as NodeJS.ErrnoException).code;
  const what = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
  return new BerthError('BERTH_ERR_FILE', `${path}: cannot read CSV (${what})`, { cause: err });
}

/** Opens a CSV file (gunzipping *.gz) as a stream of records. */
export async function* readCsvFile(path: string, options: CsvOptions = {}): AsyncGenerator<string[]> {
  try {
    yield* csvRecords(openCsv(path), options);
  } catch (err) {
    throw readError(err, path);
  }
}

/**
 * Calls onRecord for each record of a CSV file (gunzipping *.gz); `fields` is reused.
 * Errors from reading name the file; errors thrown by onRecord pass through unchanged.
 */
export async function forEachCsvFileRecord(path: string, options: CsvOptions, onRecord: CsvRecordHandler): Promise<void> {
  let handlerFailed = false;
  const guarded = (fields: string[]) => {
    try {
      onRecord(fields);
    } catch (err) {
      handlerFailed = true;
      throw err;
    }
  };
  try {
    await forEachCsvRecord(openCsv(path), options, guarded);
  } catch (err) {
    throw handlerFailed ? err : readError(err, path);
  }
}
