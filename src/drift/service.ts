/**
 * @module drift/service
 * Live drift windows behind one interface, so the server can keep their statistics off the
 * HTTP thread: `open` a version's window against its reference profile, `add` rows, `close`
 * the window (its report; a new window starts). InProcessDriftService runs everything on the
 * caller's thread (tools, tests); WorkerDriftService (drift/worker-service) runs it in a
 * worker thread — closing a window of a two-model server under load used to stall the
 * event loop for 1.6–2.4 s.
 */
import { readFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { BerthError } from '../errors.js';
import { DriftAccumulator } from './accumulator.js';
import type { DriftOptionsInput } from './options.js';
import { parseProfile } from './profile.js';
import type { DriftReport } from './report.js';

/**
 * Rows of a window as columns in the reference profile's column order (numeric ones as
 * Float64Arrays, NaN = missing; categorical ones as arrays), so the sender needs no names.
 */
export type DriftColumns = (Float64Array | unknown[])[];

export interface DriftOpenOptions {
  /** Drift options (per-column thresholds, …). */
  drift: DriftOptionsInput;
  /** The column count the sender will send: a profile with another count is refused. */
  columns: number;
}

export interface OpenedWindow {
  /** The reference profile's column names, in order. */
  columns: string[];
}

export interface ClosedWindow {
  report: DriftReport;
  /** The thread that computed the report (0 is the main thread). */
  threadId: number;
}

export interface DriftService {
  /**
   * Reads and prepares `profilePath` for `key`; rejects with a message naming the problem.
   * `add` and `close` may follow at once: they are handled after the open.
   */
  open(key: string, profilePath: string, options: DriftOpenOptions): Promise<OpenedWindow>;
  /**
   * Adds rows to key's window (ignored when key is not open: its open failed, or it was
   * dropped). Numeric columns' buffers may be transferred (do not reuse them).
   */
  add(key: string, columns: DriftColumns): void;
  /** Tests key's window against its reference and starts a new one. */
  close(key: string): Promise<ClosedWindow>;
  /** Forgets key. */
  drop(key: string): void;
  /** Stops the service; pending calls reject. */
  shutdown(): Promise<void>;
}

/**
 * The windows themselves, keyed by version: what both services run (the worker runs one of
 * these). Errors are BerthErrors with the key in the message.
 */
export class DriftWindows {
  readonly #windows = new Map<string, DriftAccumulator>();

  open(key: string, profilePath: string, options: DriftOpenOptions): OpenedWindow {
    const profile = parseProfile(JSON.parse(readFileSync(profilePath, 'utf8')), profilePath);
    if (profile.columns.length !== options.columns) {
      throw new BerthError('BERTH_ERR_DRIFT_PROFILE', `${profilePath} has ${profile.columns.length} columns; this model version has ${options.columns} (inputs, scores, prediction): rebuild it with berth reference`);
    }
    const acc = new DriftAccumulator(profile, options.drift);
    this.#windows.set(key, acc);
    return { columns: profile.columns.map((c) => c.name) };
  }

  #get(key: string): DriftAccumulator {
    const acc = this.#windows.get(key);
    if (acc === undefined) throw new BerthError('BERTH_ERR_INTERNAL', `no drift window is open for ${key}`);
    return acc;
  }

  add(key: string, columns: DriftColumns): void {
    const acc = this.#windows.get(key);
    if (acc === undefined) return;
    const names = acc.columnNames;
    const byName: Record<string, Float64Array | unknown[]> = {};
    columns.forEach((c, i) => {
      if (i < names.length) byName[names[i]!] = c;
    });
    acc.addColumns(byName);
  }

  close(key: string): DriftReport {
    const acc = this.#get(key);
    try {
      return acc.evaluate();
    } finally {
      acc.reset();
    }
  }

  drop(key: string): void {
    this.#windows.delete(key);
  }
}

/** Everything on the caller's thread. */
export class InProcessDriftService implements DriftService {
  readonly #windows = new DriftWindows();

  async open(key: string, profilePath: string, options: DriftOpenOptions): Promise<OpenedWindow> {
    return this.#windows.open(key, profilePath, options);
  }

  add(key: string, columns: DriftColumns): void {
    this.#windows.add(key, columns);
  }

  async close(key: string): Promise<ClosedWindow> {
    return { report: this.#windows.close(key), threadId };
  }

  drop(key: string): void {
    this.#windows.drop(key);
  }

  async shutdown(): Promise<void> {}
}


