/**
 * @module store/spool
 * The on-disk spool of the decision logger: where decisions go when the store is slow or
 * down, until they can be replayed. Append-only JSON Lines segments in `<dataDir>/spool/`,
 * fsync'd after every appended batch, read back oldest first, deleted once replayed.
 *
 *     spool/decisions-000001732540000123-000000.jsonl   oldest: being replayed (cursor inside)
 *     spool/decisions-000001732540004567-000001.jsonl   closed
 *     spool/decisions-000001732540009876-000002.jsonl   active: appends go here
 *
 * Invariants:
 *   1. Records leave in the order they were appended (segments by name, lines in order).
 *   2. A segment is only read once it is closed: replay reaching the active segment closes
 *      it first, so a line is never read while it is being written.
 *   3. An append is whole or absent: after a failed write the segment is cut back to its
 *      previous length (and a torn last line left by a crash is read as corrupt, not as data).
 *   4. `bytes` never exceeds `maxBytes` through an append: what does not fit is refused.
 *   5. Operations run one at a time (an internal queue), whoever calls them.
 * Replay is at-least-once: a crash between writing a chunk to the store and committing it
 * replays the chunk again, which the store's idempotent write absorbs.
 */
import { type FileHandle, mkdir, open, readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { recordJson } from './rows.js';
import type { DecisionRecord } from './store.js';

const SEGMENT = /^decisions-\d{15}-\d{6,}\.jsonl$/;

interface Segment {
  path: string;
  bytes: number;
  /** Lines not yet replayed (corrupt lines included until they are read). */
  records: number;
}

export interface SpoolOptions {
  /** Total size cap; appends beyond it are refused (the caller counts them as dropped). */
  maxBytes: number;
  /** A segment is closed and a new one started past this size; default 16 MiB. */
  segmentBytes?: number;
}

export interface AppendResult {
  written: number;
  /** Did not fit under maxBytes. */
  refused: number;
  /** The disk refused them (see error). */
  failed: number;
  error?: unknown;
}

export interface SpoolChunk {
  records: DecisionRecord[];
  /** Lines in this chunk that could not be parsed (a torn write): lost, for the caller to count. */
  corrupt: number;
}

export class Spool {
  readonly dir: string;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  #segments: Segment[] = [];
  #active: { handle: FileHandle; segment: Segment } | null = null;
  /** The oldest segment's lines, loaded for replay; `next` is the first line not yet committed. */
  #cursor: { segment: Segment; lines: string[]; next: number; peeked: number } | null = null;
  /** The newest segment name's parts: new names continue from them. */
  #lastTs = 0;
  #seq = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #bytes = 0;
  #records = 0;

  constructor(dir: string, options: SpoolOptions) {
    this.dir = dir;
    this.maxBytes = options.maxBytes;
    this.segmentBytes = options.segmentBytes ?? 16 * 1024 * 1024;
  }

  /** Bytes on disk in the spool's segments. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Records waiting to be replayed. */
  get records(): number {
    return this.#records;
  }

  #serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(op, op);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /** Creates the directory and takes over segments left by an earlier run (they are replayed first). */
  open(): Promise<void> {
    return this.#serial(async () => {
      await mkdir(this.dir, { recursive: true });
      const names = (await readdir(this.dir)).filter((n) => SEGMENT.test(n)).sort();
      const newest = names.at(-1)?.match(/^decisions-(\d+)-(\d+)\.jsonl$/);
      if (newest) {
        this.#lastTs = Number(newest[1]);
        this.#seq = Number(newest[2]);
      }
      for (const name of names) {
        const path = join(this.dir, name);
        const { size } = await stat(path);
        if (size === 0) {
          await unlink(path);
          continue;
        }
        const text = await readFile(path, 'utf8');
        const lines = text.split('\n').filter((l) => l !== '').length;
        this.#segments.push({ path, bytes: size, records: lines });
        this.#bytes += size;
        this.#records += lines;
      }
    });
  }

  /**
   * Appends records in order, `chunkRecords` per fsync'd write. Never throws: says how many
   * were written, how many did not fit under maxBytes (refused), and how many the disk
   * refused (failed, with the error). After a refusal or failure the rest is not written
   * either, so what the spool holds is always a prefix of what it was given, in order.
   */
  append(records: readonly DecisionRecord[], chunkRecords = records.length): Promise<AppendResult> {
    return this.#serial(async () => {
      const result: AppendResult = { written: 0, refused: 0, failed: 0 };
      for (let i = 0; i < records.length; i += Math.max(1, chunkRecords)) {
        const chunk = records.slice(i, i + Math.max(1, chunkRecords));
        if (result.refused > 0 || result.failed > 0) {
          if (result.failed > 0) result.failed += chunk.length;
          else result.refused += chunk.length;
          continue;
        }
        const lines: string[] = [];
        let size = 0;
        for (const r of chunk) {
          const line = `${recordJson(r)}\n`;
          const n = Buffer.byteLength(line);
          if (this.#bytes + size + n > this.maxBytes) break;
          lines.push(line);
          size += n;
        }
        result.refused += chunk.length - lines.length;
        if (lines.length === 0) continue;
        try {
          await this.#write(lines.join(''), size);
        } catch (err) {
          result.failed += lines.length;
          result.error = err;
          continue;
        }
        result.written += lines.length;
        this.#records += lines.length;
        const active = this.#active;
        if (active !== null) active.segment.records += lines.length;
        if (active !== null && active.segment.bytes >= this.segmentBytes) await this.#closeActive();
      }
      return result;
    });
  }

  /** One fsync'd write to the active segment; on failure the segment is cut back and closed. */
  async #write(text: string, size: number): Promise<void> {
    const active = await this.#activeSegment();
    const before = active.segment.bytes;
    try {
      await active.handle.appendFile(text);
      await active.handle.datasync();
    } catch (err) {
      await active.handle.truncate(before).catch(() => undefined);
      await this.#closeActive();
      throw err;
    }
    active.segment.bytes += size;
    this.#bytes += size;
  }

  async #activeSegment(): Promise<{ handle: FileHandle; segment: Segment }> {
    if (this.#active !== null) return this.#active;
    // Names sort in creation order, also across runs and a clock that steps back: never
    // below the newest existing name. 'ax' refuses a name another process took.
    const now = Date.now();
    if (now > this.#lastTs) {
      this.#lastTs = now;
      this.#seq = 0;
    } else {
      this.#seq += 1;
    }
    const name = `decisions-${String(this.#lastTs).padStart(15, '0')}-${String(this.#seq).padStart(6, '0')}.jsonl`;
    const segment: Segment = { path: join(this.dir, name), bytes: 0, records: 0 };
    const handle = await open(segment.path, 'ax');
    this.#segments.push(segment);
    this.#active = { handle, segment };
    return this.#active;
  }

  async #closeActive(): Promise<void> {
    const active = this.#active;
    if (active === null) return;
    this.#active = null;
    await active.handle.close().catch(() => undefined);
    if (active.segment.bytes === 0) {
      this.#segments = this.#segments.filter((s) => s !== active.segment);
      await unlink(active.segment.path).catch(() => undefined);
    }
  }

  /**
   * The oldest records not yet replayed (at most `max`, from one segment), left in the spool
   * until `commit()`. Peeking again without committing returns the same records.
   */
  peek(max: number): Promise<SpoolChunk> {
    return this.#serial(async () => {
      const cursor = await this.#loadOldest();
      if (cursor === null) return { records: [], corrupt: 0 };
      const records: DecisionRecord[] = [];
      let corrupt = 0;
      let i = cursor.next;
      for (; i < cursor.lines.length && records.length < max; i++) {
        try {
          records.push(JSON.parse(cursor.lines[i]!) as DecisionRecord);
        } catch {
          corrupt += 1;
        }
      }
      cursor.peeked = i - cursor.next;
      return { records, corrupt };
    });
  }

  /** Removes what the last peek returned; deletes the segment once all of it is replayed. */
  commit(): Promise<void> {
    return this.#serial(async () => {
      const cursor = this.#cursor;
      if (cursor === null || cursor.peeked === 0) return;
      const done = cursor.next + cursor.peeked >= cursor.lines.length;
      // A file that cannot be deleted is replayed again by the next run: harmless (idempotent).
      if (done) await unlink(cursor.segment.path).catch(() => undefined);
      // The counters change together, after the last await, so nobody sees them half-updated.
      cursor.next += cursor.peeked;
      cursor.segment.records -= cursor.peeked;
      this.#records -= cursor.peeked;
      cursor.peeked = 0;
      if (done) {
        this.#segments.shift();
        this.#bytes -= cursor.segment.bytes;
        this.#cursor = null;
      }
    });
  }

  async #loadOldest(): Promise<{ segment: Segment; lines: string[]; next: number; peeked: number } | null> {
    if (this.#cursor !== null) return this.#cursor;
    const segment = this.#segments[0];
    if (segment === undefined) return null;
    if (this.#active?.segment === segment) await this.#closeActive();
    if (this.#segments[0] !== segment) return this.#loadOldest();
    const lines = (await readFile(segment.path, 'utf8')).split('\n').filter((l) => l !== '');
    if (lines.length === 0) {
      await unlink(segment.path).catch(() => undefined);
      this.#segments.shift();
      this.#bytes -= segment.bytes;
      this.#records -= segment.records;
      return this.#loadOldest();
    }
    // The count taken at open/append is what the stats showed; the file is the truth.
    this.#records += lines.length - segment.records;
    segment.records = lines.length;
    this.#cursor = { segment, lines, next: 0, peeked: 0 };
    return this.#cursor;
  }

  /** Closes the active segment; the spool's files stay for the next run to replay. */
  close(): Promise<void> {
    return this.#serial(() => this.#closeActive());
  }
}
