/**
 * @module store/decision-logger
 * The batching, never-blocking writer the server calls on every inference.
 * `log(record)` is O(1), never throws and never waits: the record joins a bounded ring
 * buffer; batches go to the store off the request path. When the store fails or is slower
 * than `writeTimeoutMs`, batches go to the on-disk spool (spool.ts) instead, the store is
 * probed with a real write (store.probe) with exponential backoff, and once a write works
 * again the spool is replayed, oldest first.
 *
 * Durability, for decisions the server is about to acknowledge (`reserve()` before the
 * response, then `log(record, ticket)`):
 *   - async (default): the response does not wait. The ticket's (model, id) goes to the
 *     acknowledgement journal (ack-journal.ts) first, so a crash loses at most what was in
 *     memory — about flushIntervalMs plus one write's worth — and the next run counts it
 *     (`crashLost`, the 'crash-check' event) instead of losing it silently.
 *   - sync: the ticket's promise resolves once the decision is durable — committed to the
 *     store (SQLite synchronous=FULL, PostgreSQL synchronous_commit=on) or appended to the
 *     fsync'd spool — and rejects if it was dropped. Group commit: whatever arrives while a
 *     write is in flight goes into the next one, so many requests share one transaction.
 *
 *            log() ──▶ ring buffer (bufferSize) ──batch──▶ store.writeDecisions ──▶ logged
 *                         │                                   │ fails / times out
 *                         │ full, or store down               ▼
 *                         └──────────────────────────────▶ spool (fsync'd JSONL) ──replay──▶ replayed
 *
 * Every record offered ends in exactly one place, and the stats say which:
 *
 *     offered = logged + replayed + dropped(all reasons) + pending + spoolRecords
 *
 * (`spoolRecords` counts records spooled by an earlier run too, so with a spool left from
 * a previous run the right-hand side starts ahead.) A record is dropped only for a reason
 * that is counted: invalid (malformed record), rejected (the store refused its content),
 * duplicate_id (a different decision with the same model and id is stored), buffer_full
 * (memory full while the spool is still busy with a full buffer's worth), spool_full
 * (spoolMaxBytes reached), spool_error (the disk refused, or a torn line from a crash),
 * closed (logged after close()).
 */
import { EventEmitter } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RingBuffer } from '../batching/ring-buffer.js';
import { BerthError, isBerthError, messageOf } from '../errors.js';
import { AckJournal, type PreviousRun } from './ack-journal.js';
import { Spool } from './spool.js';
import type { DecisionRecord, FeedbackItem, PredictionStore, WriteResult } from './store.js';

export const DROP_REASONS = ['buffer_full', 'spool_full', 'spool_error', 'invalid', 'rejected', 'duplicate_id', 'closed'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export const DURABILITY_MODES = ['async', 'sync'] as const;
export type Durability = (typeof DURABILITY_MODES)[number];

/** What reserve() hands out for a decision about to be acknowledged; pass it to log(). */
export interface DecisionTicket {
  /** sync durability: resolves once the decision is durable, rejects if it was dropped. Undefined in async mode. */
  readonly durable: Promise<void> | undefined;
}

interface Ticket extends DecisionTicket {
  /** The acknowledgement journal's seq (async mode), else 0. */
  readonly seq: number;
  settle(error: BerthError | undefined): void;
}

/** What the check of an earlier run's journal found (the 'crash-check' event). */
export interface CrashCheck {
  /** The earlier run (start ms-pid-n). */
  run: string;
  /** Its acknowledged decisions that were not yet settled when it ended. */
  unsettled: number;
  /** Of those, found neither in the store nor in the spool: lost. */
  lost: number;
  /** The file listing the lost decisions' model and id (when lost > 0). */
  file?: string;
}

export interface DecisionLoggerOptions {
  /** The data directory; the spool lives in `<dataDir>/spool`. */
  dataDir: string;
  /** A partial batch is written at least this often; default 200 ms. */
  flushIntervalMs?: number;
  /** Records per store write (and per spool append); default 500. */
  batchSize?: number;
  /** Records held in memory before they go to the spool; default 50,000. */
  bufferSize?: number;
  /** Spool size cap in bytes; default 1 GiB. */
  spoolMaxBytes?: number;
  /** A store write not done by then counts as failed (its batch is spooled); default 5000 ms. */
  writeTimeoutMs?: number;
  /** First wait before probing a store that failed; doubles up to retryMaxMs. Default 250 ms. */
  retryMinMs?: number;
  /** Default 10,000 ms. */
  retryMaxMs?: number;
  /** 'async' (default) or 'sync': see the module comment. */
  durability?: Durability;
}

export interface DecisionLogStats {
  /** log() calls since start. */
  offered: number;
  /** Records written to the store straight from memory. */
  logged: number;
  /** Records appended to the spool. */
  spooled: number;
  /** Records written to the store from the spool. */
  replayed: number;
  /** Records lost, by reason: each one counted here and nowhere else. */
  dropped: Record<DropReason, number>;
  /** Records in memory: buffered or being written. */
  pending: number;
  /** Records in the spool waiting for replay. */
  spoolRecords: number;
  /** Bytes of spool files on disk. */
  spoolBytes: number;
  /** Whether the last write or probe succeeded. */
  storeUp: boolean;
  durability: Durability;
  /** The wait before the next probe of a store that is down (doubles until a decision write succeeds). */
  retryDelayMs: number;
  /** Acknowledged decisions of earlier runs that ended without shutting down, found lost at this start. */
  crashLost: number;
  /** Earlier runs whose journal is still to be checked (waiting for the store and the spool's replay). */
  crashChecksPending: number;
  /** Decisions acknowledged (reserved) and not yet in the store or the spool or counted as dropped. */
  unsettled: number;
}

export interface DecisionLoggerEvents {
  /** Every store write: its duration, its record count, whether it succeeded. */
  write: [seconds: number, records: number, ok: boolean];
  'store-down': [error: unknown];
  'store-up': [];
  /** Records dropped (already counted in stats.dropped); `error` when one caused it. */
  drop: [reason: DropReason, count: number, error: unknown];
  /** Something unexpected that lost nothing (e.g. a spool file that could not be deleted). */
  warning: [error: unknown];
  /** Each probe of a store that is down: whether it answered (init and a real write). */
  probe: [ok: boolean, error: unknown];
  /** An earlier run's acknowledgement journal was checked (one event per run). */
  'crash-check': [result: CrashCheck];
}

interface Tally {
  stored: number;
  conflicts: number;
  rejected: number;
}

interface WriteOutcome {
  tally: Tally;
  /** Records not written because the store is unavailable (in order). */
  unwritten: DecisionRecord[];
  /** Records the store refused (rejected) or that reused a stored id (conflicted). */
  rejected: DecisionRecord[];
  conflicted: DecisionRecord[];
  /** Why the store is considered down, when unwritten is not empty. */
  error?: unknown;
  /** The last content error, when some records were rejected. */
  rejectError?: unknown;
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 1) throw new BerthError('BERTH_ERR_STORE_CONFIG', `decision logger: ${name} must be a positive integer, got ${String(value)}`);
  return v;
}

/** Cheap shape check: a record that would fail every write is dropped here, not retried forever. */
export function isValidRecord(r: unknown): r is DecisionRecord {
  if (r === null || typeof r !== 'object') return false;
  const d = r as Record<string, unknown>;
  return typeof d.id === 'string' && d.id !== '' && typeof d.model === 'string' && d.model !== '' && typeof d.version === 'string'
    && typeof d.time === 'number' && Number.isFinite(d.time) && (d.inputs === null || Array.isArray(d.inputs))
    && typeof d.inputsHash === 'string' && Array.isArray(d.outputs) && typeof d.latencyMs === 'number' && Number.isFinite(d.latencyMs)
    && Number.isInteger(d.batchSize) && typeof d.outcome === 'string' && Array.isArray(d.flags);
}

/** The error a sync-durability request gets when its decision was dropped instead of stored. */
function notDurable(reason: DropReason, cause: unknown): BerthError {
  if (reason === 'duplicate_id') {
    return new BerthError('BERTH_ERR_DECISION_ID_IN_USE', 'id: another decision of this model is already logged under this request id, so this one was not logged; send a new id, or none (the server assigns one)');
  }
  if (reason === 'rejected' || reason === 'invalid') {
    return new BerthError('BERTH_ERR_STORE_REJECTED', `the decision store refused this decision (${reason})${cause === undefined ? '' : `: ${messageOf(cause)}`}`, { cause });
  }
  const why: Record<string, string> = {
    buffer_full: 'the decision log is full (memory and spool busy)',
    spool_full: 'the store is down and the spool is full (store.logger.spoolMaxBytes)',
    spool_error: 'the store is down and the spool cannot be written',
    closed: 'the server is shutting down',
  };
  return new BerthError('BERTH_ERR_DECISION_NOT_DURABLE', `the decision could not be made durable (store.durability: sync): ${why[reason] ?? reason}; it was not logged and is counted in berth_decisions_dropped_total{reason="${reason}"}`, { cause, headers: { 'Retry-After': '5' } });
}

/** Ids looked up per store call by the crash check. */
const CRASH_CHECK_CHUNK = 1000;

export class DecisionLogger extends EventEmitter<DecisionLoggerEvents> {
  readonly store: PredictionStore;
  readonly durability: Durability;
  readonly flushIntervalMs: number;
  readonly batchSize: number;
  readonly bufferSize: number;
  readonly writeTimeoutMs: number;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  readonly #buffer: RingBuffer<DecisionRecord>;
  readonly #spool: Spool;
  #spoolReady: Promise<boolean> | null = null;
  readonly #journal: AckJournal;
  /** Whether this run journals its acknowledgements (async mode, and the journal opened). */
  #journaling = false;
  /** Earlier runs' journals still to check, and the spool records they may be in. */
  #previousRuns: PreviousRun[] = [];
  #previousSpool = 0;
  #crashChecking = false;
  #crashLost = 0;

  #storeUp = false;
  #started: Promise<void> | null = null;
  #closing: Promise<void> | null = null;
  #closed = false;
  #pumping: Promise<void> | null = null;
  #pumpScheduled = false;
  #spillScheduled = false;
  #flushTimer: NodeJS.Timeout | null = null;
  #probeTimer: NodeJS.Timeout | null = null;
  #backoffMs: number;

  /** Batches taken from the buffer and not yet settled (written, spooled or dropped). */
  readonly #inflight = new Set<Promise<void>>();
  #inflightRecords = 0;
  /** Records on their way into the spool: bounds memory when the disk is slower than the traffic. */
  #spoolQueued = 0;
  #enqueued = 0;
  #dequeued = 0;
  #progressWaiters: (() => void)[] = [];
  /** The ticket of each logged record not yet settled; empty when nobody reserves. */
  readonly #tickets = new Map<DecisionRecord, Ticket>();
  /** Tickets reserved and not yet logged (the monitor builds the record after the response). */
  readonly #reserved = new Set<Ticket>();

  #offered = 0;
  #logged = 0;
  #spooled = 0;
  #replayed = 0;
  readonly #dropped: Record<DropReason, number> = Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>;

  constructor(store: PredictionStore, options: DecisionLoggerOptions) {
    super();
    if (typeof options.dataDir !== 'string' || options.dataDir === '') {
      throw new BerthError('BERTH_ERR_STORE_CONFIG', 'decision logger: dataDir must be a non-empty directory path');
    }
    const durability = options.durability ?? 'async';
    if (!(DURABILITY_MODES as readonly string[]).includes(durability)) {
      throw new BerthError('BERTH_ERR_STORE_CONFIG', `decision logger: durability must be 'async' or 'sync', got ${JSON.stringify(durability)}`);
    }
    this.store = store;
    this.durability = durability;
    this.flushIntervalMs = positiveInt('flushIntervalMs', options.flushIntervalMs, 200);
    this.batchSize = positiveInt('batchSize', options.batchSize, 500);
    this.bufferSize = positiveInt('bufferSize', options.bufferSize, 50_000);
    this.writeTimeoutMs = positiveInt('writeTimeoutMs', options.writeTimeoutMs, 5000);
    this.#retryMinMs = positiveInt('retryMinMs', options.retryMinMs, 250);
    this.#retryMaxMs = positiveInt('retryMaxMs', options.retryMaxMs, 10_000);
    const spoolMaxBytes = positiveInt('spoolMaxBytes', options.spoolMaxBytes, 1024 ** 3);
    if (this.batchSize > this.bufferSize) {
      throw new BerthError('BERTH_ERR_STORE_CONFIG', `decision logger: batchSize (${this.batchSize}) must not exceed bufferSize (${this.bufferSize})`);
    }
    this.#backoffMs = this.#retryMinMs;
    this.#buffer = new RingBuffer<DecisionRecord>(this.bufferSize);
    this.#spool = new Spool(join(options.dataDir, 'spool'), { maxBytes: spoolMaxBytes });
    this.#journal = new AckJournal(join(options.dataDir, 'journal'));
  }

  /**
   * Opens the acknowledgement journal (reading what earlier runs left) and the spool
   * (taking over what they left), probes the store once and starts the flush timer. Never
   * fails because the store is down: the logger then spools and probes. Records logged
   * before start() wait in the buffer.
   */
  start(): Promise<void> {
    this.#started ??= (async () => {
      try {
        this.#previousRuns = this.#journal.open(this.durability === 'async');
        this.#journaling = this.durability === 'async';
      } catch (err) {
        this.emit('warning', new Error(`the acknowledgement journal cannot be opened, so decisions lost in a crash will not be counted: ${messageOf(err)}`));
      }
      await this.#openSpool();
      this.#previousSpool = this.#spool.records;
      try {
        await this.#timed(this.store.init().then(() => this.store.probe()));
        this.#setUp();
      } catch (err) {
        this.#setDown(err);
      }
      this.#flushTimer = setInterval(() => this.#tick(), this.flushIntervalMs);
      this.#flushTimer.unref();
      if (this.#storeUp) void this.#pump();
      this.#checkCrashes();
    })();
    return this.#started;
  }

  /**
   * Called on the request path before a decision is acknowledged (its response sent); pass
   * the ticket to log() with the record. O(1). async: journals (model, id) with one
   * write(2), so a crash cannot lose it uncounted. sync: `ticket.durable` settles when the
   * record is durable or dropped; the caller waits for it before answering.
   */
  reserve(model: string, id: string): DecisionTicket {
    let ticket: Ticket;
    if (this.durability === 'sync') {
      let settle!: (error: BerthError | undefined) => void;
      const durable = new Promise<void>((resolve, reject) => {
        settle = (error) => (error === undefined ? resolve() : reject(error));
      });
      // Marked as handled: a caller that stops waiting (client gone) must not crash the process.
      durable.catch(() => undefined);
      ticket = { seq: 0, durable, settle };
    } else {
      const seq = this.#journaling ? this.#journal.append(model, id) : 0;
      ticket = {
        seq,
        durable: undefined,
        settle: () => {
          if (seq > 0) this.#journal.settle(seq);
        },
      };
      if (this.#journaling && this.#journal.failed !== null) {
        this.#journaling = false;
        this.emit('warning', new Error(`the acknowledgement journal cannot be written, so decisions lost in a crash will not be counted from now on: ${messageOf(this.#journal.failed)}`));
      }
    }
    this.#reserved.add(ticket);
    return ticket;
  }

  /**
   * A reserved decision whose record could not be built (counted as dropped, reason
   * invalid): its ticket settles with an error.
   */
  abandon(ticket: DecisionTicket, error: unknown): void {
    const t = ticket as Ticket;
    if (!this.#reserved.delete(t)) return;
    this.#offered += 1;
    this.#drop('invalid', 1, error);
    t.settle(notDurable('invalid', error));
  }

  /** Takes a record for the log. O(1); never throws, never waits. */
  log(record: DecisionRecord, ticket?: DecisionTicket): void {
    this.#offered += 1;
    const t = ticket as Ticket | undefined;
    if (t !== undefined && this.#reserved.delete(t)) this.#tickets.set(record, t);
    try {
      if (this.#closed) return this.#dropNow(record, 'closed', undefined);
      if (!isValidRecord(record)) return this.#dropNow(record, 'invalid', undefined);
      if (this.#buffer.isFull()) {
        if (this.#spoolQueued >= this.bufferSize) return this.#dropNow(record, 'buffer_full', undefined);
        void this.#spillBuffer();
      }
      this.#buffer.push(record);
      this.#enqueued += 1;
      if (this.#storeUp) {
        // sync: every record is written at once, together with whatever arrives meanwhile (group commit).
        if (this.#buffer.length >= this.batchSize || this.durability === 'sync') this.#schedulePump();
      } else if (this.durability === 'sync') {
        this.#scheduleSpill();
      }
    } catch (err) {
      this.#dropNow(record, 'invalid', err);
    }
  }

  get stats(): DecisionLogStats {
    return {
      offered: this.#offered,
      logged: this.#logged,
      spooled: this.#spooled,
      replayed: this.#replayed,
      dropped: { ...this.#dropped },
      pending: this.#buffer.length + this.#inflightRecords,
      spoolRecords: this.#spool.records,
      spoolBytes: this.#spool.bytes,
      storeUp: this.#storeUp,
      durability: this.durability,
      retryDelayMs: this.#backoffMs,
      crashLost: this.#crashLost,
      crashChecksPending: this.#previousRuns.length,
      unsettled: this.#reserved.size + this.#tickets.size,
    };
  }

  /**
   * Resolves once every record logged before the call is in the store or in the spool (or
   * counted as dropped). Does not wait for the spool's replay.
   */
  async flush(): Promise<void> {
    const target = this.#enqueued;
    while (this.#dequeued < target) {
      if (this.#storeUp && this.#closing === null) void this.#pump();
      else void this.#spillBuffer();
      await this.#progress();
    }
    await Promise.allSettled([...this.#inflight]);
  }

  /**
   * Like store.attachFeedback, but ids not found while decisions are still on their way to
   * the store (buffered or being written) are tried once more after flush(): feedback may
   * arrive right after the response, before its decision's batch was written.
   */
  async attachFeedback(model: string, items: readonly FeedbackItem[]): Promise<{ attached: string[]; unknown: string[] }> {
    const first = await this.store.attachFeedback(model, items);
    if (first.unknown.length === 0 || (this.#buffer.isEmpty() && this.#inflight.size === 0)) return first;
    await this.flush();
    const retry = new Set(first.unknown);
    const second = await this.store.attachFeedback(model, items.filter((i) => retry.has(i.id)));
    return { attached: [...first.attached, ...second.attached], unknown: second.unknown };
  }

  /**
   * Stops taking records (later ones are dropped as 'closed'), writes what is in memory to
   * the store while it answers and spools the rest, so the next run replays it. Does not
   * close the store: its owner does, after this. With everything settled, this run's
   * acknowledgement journal is deleted: a clean shutdown leaves nothing to check.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      if (this.#flushTimer !== null) clearInterval(this.#flushTimer);
      if (this.#probeTimer !== null) clearTimeout(this.#probeTimer);
      this.#flushTimer = null;
      this.#probeTimer = null;
      await this.#pumping;
      while (!this.#buffer.isEmpty()) {
        const batch = this.#take(this.batchSize);
        await this.#track(this.#storeUp ? this.#writeFromMemory(batch) : this.#spill(batch), batch.length);
      }
      await Promise.allSettled([...this.#inflight]);
      // Reserved and never logged: sync callers learn it now; async ones stay in the journal (lost, and counted next run).
      if (this.durability === 'sync') {
        for (const t of this.#reserved) {
          this.#offered += 1;
          this.#drop('closed', 1, undefined);
          t.settle(notDurable('closed', undefined));
        }
        this.#reserved.clear();
      }
      await this.#spool.close().catch((err: unknown) => this.emit('warning', err));
      try {
        this.#journal.close();
      } catch (err) {
        this.emit('warning', err);
      }
    })();
    return this.#closing;
  }

  // --- internals ---

  #openSpool(): Promise<boolean> {
    this.#spoolReady ??= this.#spool.open().then(
      () => true,
      (err: unknown) => {
        this.emit('warning', err);
        return false;
      },
    );
    return this.#spoolReady;
  }

  #drop(reason: DropReason, count: number, error: unknown): void {
    if (count <= 0) return;
    this.#dropped[reason] += count;
    this.emit('drop', reason, count, error);
  }

  /** A record dropped inside log(): counted, and its ticket settled. */
  #dropNow(record: DecisionRecord, reason: DropReason, error: unknown): void {
    this.#drop(reason, 1, error);
    this.#settle(record, reason, error);
  }

  /** Settles a record's ticket, if it has one: stored or spooled (no reason), or dropped. */
  #settle(record: DecisionRecord, reason?: DropReason, error?: unknown): void {
    if (this.#tickets.size === 0) return;
    const t = this.#tickets.get(record);
    if (t === undefined) return;
    this.#tickets.delete(record);
    t.settle(reason === undefined ? undefined : notDurable(reason, error));
  }

  #tick(): void {
    if (this.#closing !== null) return;
    if (this.#storeUp) {
      if (!this.#buffer.isEmpty() || this.#spool.records > 0) void this.#pump();
    } else if (!this.#buffer.isEmpty()) {
      void this.#spillBuffer();
    }
    if (this.#journaling) {
      this.#journal.checkpoint();
      if (this.#journal.failed !== null) {
        this.#journaling = false;
        this.emit('warning', new Error(`the acknowledgement journal cannot be written, so decisions lost in a crash will not be counted from now on: ${messageOf(this.#journal.failed)}`));
      }
    }
    this.#checkCrashes();
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    // Not inline: a store write encodes its batch synchronously, which must not happen inside log().
    setImmediate(() => {
      this.#pumpScheduled = false;
      if (this.#storeUp && this.#closing === null) void this.#pump();
    });
  }

  /** sync mode, store down: what is buffered goes to the spool now, not at the next tick. */
  #scheduleSpill(): void {
    if (this.#spillScheduled) return;
    this.#spillScheduled = true;
    setImmediate(() => {
      this.#spillScheduled = false;
      if (!this.#storeUp && this.#closing === null) void this.#spillBuffer();
    });
  }

  #pump(): Promise<void> {
    this.#pumping ??= this.#pumpLoop()
      .catch((err: unknown) => {
        this.emit('warning', err);
      })
      .finally(() => {
        this.#pumping = null;
      });
    return this.#pumping;
  }

  /**
   * Memory first (so the buffer does not overflow), then one spool chunk, until both are
   * empty or the store fails. Whatever is in memory is written on the first round (the tick,
   * flush or close that started the pump wants it); later rounds write only full batches, so
   * under load writes stay batchSize large instead of taking the few records that arrived
   * during the previous write (measured: a mean of 80 records per write at 5,000/s, and
   * SQLite's cost per record falls by a third from batches of 100 to 2,000). In sync mode
   * every round takes what is there: a request waits for its write, so the next write
   * carries whatever arrived during the previous one (group commit).
   */
  async #pumpLoop(): Promise<void> {
    let first = true;
    while (this.#storeUp) {
      let progressed = false;
      const partialOk = first || this.#closing !== null || this.durability === 'sync';
      first = false;
      if (this.#buffer.length >= (partialOk ? 1 : this.batchSize)) {
        const batch = this.#take(this.batchSize);
        await this.#track(this.#writeFromMemory(batch), batch.length);
        progressed = true;
      }
      if (this.#storeUp && this.#closing === null && this.#spool.records > 0) {
        progressed = (await this.#replayChunk()) || progressed;
      }
      if (!progressed) return;
    }
  }

  #take(n: number): DecisionRecord[] {
    const batch: DecisionRecord[] = [];
    while (batch.length < n) {
      const r = this.#buffer.shift();
      if (r === undefined) break;
      batch.push(r);
    }
    this.#dequeued += batch.length;
    this.#notify();
    return batch;
  }

  #track(work: Promise<void>, records: number): Promise<void> {
    this.#inflightRecords += records;
    const p = work.finally(() => {
      this.#inflightRecords -= records;
      this.#inflight.delete(p);
      this.#notify();
    });
    this.#inflight.add(p);
    return p;
  }

  #notify(): void {
    const waiters = this.#progressWaiters;
    this.#progressWaiters = [];
    for (const w of waiters) w();
  }

  /** The next take or settle, or a short timeout (a safety net, not the mechanism). */
  #progress(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 50);
      this.#progressWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #spillBuffer(): Promise<void> {
    const batch = this.#take(this.#buffer.length);
    if (batch.length === 0) return Promise.resolve();
    return this.#track(this.#spill(batch), batch.length);
  }

  /**
   * Appends to the spool (fsync'd per batchSize); what it cannot take is dropped and counted.
   * Spills reach the spool in call order: each awaits the same memoized open() promise, whose
   * continuations run in the order they were registered, then queues one append.
   */
  async #spill(records: readonly DecisionRecord[]): Promise<void> {
    this.#spoolQueued += records.length;
    try {
      if (!(await this.#openSpool())) {
        const error = new Error('the spool directory cannot be opened');
        this.#drop('spool_error', records.length, error);
        for (const r of records) this.#settle(r, 'spool_error', error);
        return;
      }
      const r = await this.#spool.append(records, this.batchSize);
      this.#spooled += r.written;
      this.#drop('spool_full', r.refused, undefined);
      this.#drop('spool_error', r.failed, r.error);
      // What the spool holds is a prefix of what it was given (spool.ts): the rest was dropped.
      const reason: DropReason = r.failed > 0 ? 'spool_error' : 'spool_full';
      for (let i = 0; i < records.length; i++) this.#settle(records[i]!, i < r.written ? undefined : reason, r.error);
    } finally {
      this.#spoolQueued -= records.length;
    }
  }

  async #writeFromMemory(batch: DecisionRecord[]): Promise<void> {
    const out = await this.#write(batch);
    this.#logged += out.tally.stored;
    this.#drop('duplicate_id', out.tally.conflicts, undefined);
    this.#drop('rejected', out.tally.rejected, out.rejectError);
    if (this.#tickets.size > 0) {
      for (const r of out.rejected) this.#settle(r, 'rejected', out.rejectError);
      for (const r of out.conflicted) this.#settle(r, 'duplicate_id');
      const unwritten = new Set(out.unwritten);
      for (const r of batch) if (!unwritten.has(r)) this.#settle(r);
    }
    if (out.unwritten.length > 0) {
      this.#setDown(out.error);
      await this.#spill(out.unwritten);
    } else if (out.tally.stored > 0) {
      // Only a decision write that worked ends the backoff: a probe can pass on a disk too
      // full for a batch (a small row still fits), which would otherwise flap at retryMinMs.
      this.#backoffMs = this.#retryMinMs;
    }
  }

  /** Replays one spool chunk; false when there was nothing to do or the store failed. */
  async #replayChunk(): Promise<boolean> {
    if (!(await this.#openSpool())) return false;
    const chunk = await this.#spool.peek(this.batchSize);
    if (chunk.records.length === 0 && chunk.corrupt === 0) return false;
    const out = await this.#write(chunk.records);
    if (out.unwritten.length > 0) {
      // Nothing of the chunk is counted: it stays in the spool and is replayed whole later
      // (records already written then come back as alreadyStored, counted once).
      this.#setDown(out.error);
      return false;
    }
    await this.#spool.commit().catch((err: unknown) => this.emit('warning', err));
    this.#replayed += out.tally.stored;
    if (out.tally.stored > 0) this.#backoffMs = this.#retryMinMs;
    this.#previousSpool = Math.max(0, this.#previousSpool - chunk.records.length - chunk.corrupt);
    this.#drop('duplicate_id', out.tally.conflicts, undefined);
    this.#drop('rejected', out.tally.rejected, out.rejectError);
    this.#drop('spool_error', chunk.corrupt, new Error('a spool line could not be parsed (torn write)'));
    if (this.#previousSpool === 0) this.#checkCrashes();
    return true;
  }

  /**
   * One batch to the store. A content error (BERTH_ERR_STORE_REJECTED) is narrowed down by
   * halving until the refused records are found, so one bad record never holds back the others.
   */
  async #write(batch: DecisionRecord[]): Promise<WriteOutcome> {
    const tally: Tally = { stored: 0, conflicts: 0, rejected: 0 };
    if (batch.length === 0) return { tally, unwritten: [], rejected: [], conflicted: [] };
    const t0 = performance.now();
    let result: WriteResult;
    try {
      result = await this.#timed(this.store.writeDecisions(batch));
    } catch (err) {
      this.emit('write', (performance.now() - t0) / 1000, batch.length, false);
      if (!isBerthError(err, 'BERTH_ERR_STORE_REJECTED')) return { tally, unwritten: batch, rejected: [], conflicted: [], error: err };
      if (batch.length === 1) return { tally: { ...tally, rejected: 1 }, unwritten: [], rejected: batch, conflicted: [], rejectError: err };
      const mid = batch.length >> 1;
      const left = await this.#write(batch.slice(0, mid));
      if (left.unwritten.length > 0) return { ...left, unwritten: [...left.unwritten, ...batch.slice(mid)] };
      const right = await this.#write(batch.slice(mid));
      const sum: Tally = {
        stored: left.tally.stored + right.tally.stored,
        conflicts: left.tally.conflicts + right.tally.conflicts,
        rejected: left.tally.rejected + right.tally.rejected,
      };
      return {
        ...right,
        tally: sum,
        rejected: [...left.rejected, ...right.rejected],
        conflicted: [...left.conflicted, ...right.conflicted],
        rejectError: right.rejectError ?? left.rejectError,
      };
    }
    this.emit('write', (performance.now() - t0) / 1000, batch.length, true);
    tally.stored = result.inserted + result.alreadyStored;
    tally.conflicts = result.conflicts;
    return { tally, unwritten: [], rejected: [], conflicted: result.conflictIndexes.map((i) => batch[i]!) };
  }

  #timed<T>(work: Promise<T>): Promise<T> {
    work.catch(() => undefined); // a failure after the timeout has nobody waiting for it
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BerthError('BERTH_ERR_STORE_UNAVAILABLE', `the ${this.store.kind} store did not answer within writeTimeoutMs (${this.writeTimeoutMs} ms)`)), this.writeTimeoutMs);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

  #setUp(): void {
    if (this.#storeUp) return;
    this.#storeUp = true;
    this.emit('store-up');
    this.#checkCrashes();
  }

  #setDown(error: unknown): void {
    if (this.#storeUp) {
      this.#storeUp = false;
      this.emit('store-down', error);
    }
    this.#scheduleProbe();
  }

  /** The next probe after the current backoff, which doubles each time (reset only by a decision write that works). */
  #scheduleProbe(): void {
    if (this.#probeTimer !== null || this.#closed) return;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#retryMaxMs);
    this.#probeTimer = setTimeout(() => {
      this.#probeTimer = null;
      if (this.#closed) return;
      this.#timed(Promise.resolve().then(() => this.store.init()).then(() => this.store.probe())).then(
        () => {
          this.emit('probe', true, undefined);
          if (this.#closed) return;
          this.#setUp();
          void this.#pump();
        },
        (err: unknown) => {
          this.emit('probe', false, err);
          this.#scheduleProbe();
        },
      );
    }, delay);
    this.#probeTimer.unref();
  }

  /**
   * Checks the journals of earlier runs that ended without shutting down: their unsettled
   * decisions that are not in the store are lost. Runs once the store answers and the
   * spool those runs left has been replayed (their decisions may be in it); a failed
   * look-up is tried again at the next tick.
   */
  #checkCrashes(): void {
    if (this.#previousRuns.length === 0 || this.#crashChecking || !this.#storeUp || this.#previousSpool > 0 || this.#closed) return;
    this.#crashChecking = true;
    void (async () => {
      try {
        while (this.#previousRuns.length > 0) {
          const run = this.#previousRuns[0]!;
          const byModel = new Map<string, string[]>();
          for (const u of run.unsettled) {
            const list = byModel.get(u.model) ?? [];
            list.push(u.id);
            byModel.set(u.model, list);
          }
          const lost: { model: string; id: string }[] = [];
          for (const [model, ids] of byModel) {
            for (let i = 0; i < ids.length; i += CRASH_CHECK_CHUNK) {
              const chunk = ids.slice(i, i + CRASH_CHECK_CHUNK);
              const found = await this.store.storedIds(model, chunk);
              for (const id of chunk) if (!found.has(id)) lost.push({ model, id });
            }
          }
          const result: CrashCheck = { run: run.run, unsettled: run.unsettled.length, lost: lost.length };
          if (lost.length > 0) {
            const file = join(this.#journal.dir, `lost-${run.run}.jsonl`);
            try {
              writeFileSync(file, lost.map((l) => `${JSON.stringify(l)}\n`).join(''));
              result.file = file;
            } catch (err) {
              this.emit('warning', err);
            }
          }
          this.#crashLost += lost.length;
          this.#journal.forget(run);
          this.#previousRuns.shift();
          this.emit('crash-check', result);
        }
      } catch (err) {
        this.emit('warning', new Error(`checking the acknowledgement journal of an earlier run failed; trying again: ${messageOf(err)}`));
      } finally {
        this.#crashChecking = false;
      }
    })();
  }
}
