/**
 * @module store/ack-journal
 * Makes what the default durability (`store.durability: async`) can lose visible. Before a
 * response is sent, its decision's (model, id) is appended to this run's journal — one
 * write(2) of one short line, no fsync: it survives the process being killed (the line is
 * in the kernel's page cache), not the machine losing power. As decisions reach the store or
 * the spool, or are dropped (and counted), a "settled" mark moves forward. A run that ends
 * without shutting down (SIGKILL, OOM kill, crash) leaves its journal behind; the next run
 * reads the entries past the mark, and the decision logger counts those found neither in
 * the store nor in the spool: acknowledged to a client, and lost.
 *
 *     journal/acks-<run>-<first seq>.jsonl   [seq, model, id] per line, seq ascending
 *     journal/acks-<run>.settled             every seq ≤ this number is settled
 *     (<run> = <start ms>-<pid>-<n>: unique per run, so runs never share files)
 *
 * Invariants:
 *   1. A seq is written to the journal before the caller acknowledges its decision.
 *   2. The settled mark only covers seqs that were settled: it is the oldest unsettled seq
 *      minus one (seqs are issued in order; a Set keeps them in that order).
 *   3. A segment is deleted only once the mark covers its last seq; a clean close() leaves
 *      nothing behind (every decision was settled by then).
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const SEGMENT = /^acks-(\d+-\d+-\d+)-(\d{12})\.jsonl$/;
const SETTLED = /^acks-(\d+-\d+-\d+)\.settled$/;
/** Journals opened by this process: part of the run id, so two in one process never share files. */
let instances = 0;

/** An acknowledged decision of an earlier run that was not settled when that run ended. */
export interface Unsettled {
  model: string;
  id: string;
}

/** What an earlier run that did not shut down cleanly left: its unsettled decisions. */
export interface PreviousRun {
  run: string;
  unsettled: Unsettled[];
  /** Its journal files, to delete once the check is done. */
  files: string[];
}

interface Segment {
  path: string;
  first: number;
  last: number;
}

export class AckJournal {
  readonly dir: string;
  readonly run: string;
  readonly segmentEntries: number;
  #fd: number | null = null;
  #settledFd: number | null = null;
  #segments: Segment[] = [];
  #seq = 0;
  #mark = 0;
  #writtenMark = 0;
  /** Unsettled seqs in issue order: the first one is the oldest (invariant 2). */
  readonly #outstanding = new Set<number>();
  #failed: unknown = null;

  constructor(dir: string, options: { segmentEntries?: number; now?: number } = {}) {
    this.dir = dir;
    this.run = `${options.now ?? Date.now()}-${process.pid}-${++instances}`;
    this.segmentEntries = options.segmentEntries ?? 50_000;
  }

  /** The error that stopped the journal (then nothing more is written), or null. */
  get failed(): unknown {
    return this.#failed;
  }

  /** Seqs issued and not yet settled. */
  get outstanding(): number {
    return this.#outstanding.size;
  }

  /**
   * Reads what earlier runs left (their unsettled entries) and, unless `write` is false
   * (sync durability journals nothing), opens this run's files. Synchronous: it runs once
   * at start, before the first decision can be acknowledged.
   */
  open(write = true): PreviousRun[] {
    mkdirSync(this.dir, { recursive: true });
    const names = readdirSync(this.dir);
    const runs = new Map<string, { segments: string[]; settled?: string }>();
    for (const name of names) {
      const seg = SEGMENT.exec(name);
      const set = SETTLED.exec(name);
      const run = seg?.[1] ?? set?.[1];
      if (run === undefined || run === this.run) continue;
      const entry = runs.get(run) ?? { segments: [] };
      if (seg !== null) entry.segments.push(name);
      else entry.settled = name;
      runs.set(run, entry);
    }
    const previous: PreviousRun[] = [];
    for (const [run, entry] of runs) {
      const mark = entry.settled === undefined ? 0 : Number.parseInt(readFileSync(join(this.dir, entry.settled), 'utf8').trim() || '0', 10) || 0;
      const unsettled: Unsettled[] = [];
      for (const name of entry.segments.sort()) {
        for (const line of readFileSync(join(this.dir, name), 'utf8').split('\n')) {
          if (line === '') continue;
          let parsed: unknown;
          try {
            parsed = JSON.parse(line);
          } catch {
            continue; // a torn line (power loss): its decision was never acknowledged whole
          }
          if (!Array.isArray(parsed) || typeof parsed[0] !== 'number' || typeof parsed[1] !== 'string' || typeof parsed[2] !== 'string') continue;
          if (parsed[0] > mark) unsettled.push({ model: parsed[1], id: parsed[2] });
        }
      }
      const files = [...entry.segments, ...(entry.settled === undefined ? [] : [entry.settled])].map((n) => join(this.dir, n));
      previous.push({ run, unsettled, files });
    }
    if (write) {
      this.#settledFd = openSync(join(this.dir, `acks-${this.run}.settled`), 'w');
      this.#newSegment(this.#seq + 1);
    }
    return previous;
  }

  /** Starts the segment whose first entry will be `first`. */
  #newSegment(first: number): void {
    if (this.#fd !== null) closeSync(this.#fd);
    const path = join(this.dir, `acks-${this.run}-${String(first).padStart(12, '0')}.jsonl`);
    this.#fd = openSync(path, 'a');
    this.#segments.push({ path, first, last: first - 1 });
  }

  /**
   * Journals one acknowledged decision before its response goes out (invariant 1); returns
   * its seq, to settle later. After a write error the journal stops (see `failed`): the seq
   * is still issued, so the caller's bookkeeping does not change.
   */
  append(model: string, id: string): number {
    const seq = ++this.#seq;
    this.#outstanding.add(seq);
    if (this.#fd === null || this.#failed !== null) return seq;
    try {
      const segment = this.#segments.at(-1)!;
      if (segment.last - segment.first + 1 >= this.segmentEntries) this.#newSegment(seq);
      writeSync(this.#fd, `${JSON.stringify([seq, model, id])}\n`);
      this.#segments.at(-1)!.last = seq;
    } catch (err) {
      this.#failed = err;
    }
    return seq;
  }

  /** The decision is in the store or the spool, or was dropped and counted. */
  settle(seq: number): void {
    this.#outstanding.delete(seq);
  }

  /**
   * Writes the settled mark if it moved and deletes the segments it covers (invariants 2,
   * 3). Called on the logger's flush timer: a crash between a settle and the next
   * checkpoint only makes the next run look up a few more ids.
   */
  checkpoint(): void {
    const oldest = this.#outstanding.values().next();
    this.#mark = oldest.done === true ? this.#seq : oldest.value - 1;
    if (this.#mark === this.#writtenMark || this.#settledFd === null || this.#failed !== null) return;
    try {
      writeSync(this.#settledFd, `${String(this.#mark).padStart(16, '0')}\n`, 0);
      this.#writtenMark = this.#mark;
      while (this.#segments.length > 1 && this.#segments[0]!.last <= this.#mark) unlinkSync(this.#segments.shift()!.path);
    } catch (err) {
      this.#failed = err;
    }
  }

  /** Deletes an earlier run's files once its check is done. */
  forget(run: PreviousRun): void {
    for (const f of run.files) {
      try {
        unlinkSync(f);
      } catch {
        // already gone
      }
    }
  }

  /**
   * Closes this run's files; with nothing unsettled (a clean shutdown) they are deleted,
   * otherwise they stay for the next run to check.
   */
  close(): void {
    this.checkpoint();
    for (const fd of [this.#fd, this.#settledFd]) if (fd !== null) closeSync(fd);
    this.#fd = null;
    this.#settledFd = null;
    if (this.#outstanding.size > 0 || this.#failed !== null || this.#segments.length === 0) return;
    for (const s of this.#segments) {
      try {
        unlinkSync(s.path);
      } catch {
        // already gone
      }
    }
    try {
      unlinkSync(join(this.dir, `acks-${this.run}.settled`));
    } catch {
      // already gone
    }
    this.#segments = [];
  }
}
