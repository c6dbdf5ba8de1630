/**
 * @module drift/worker-messages
 * The messages between WorkerDriftService (HTTP thread) and drift-worker. Numeric columns
 * cross as Float64Arrays whose buffers are transferred.
 */
import type { ClosedWindow, DriftColumns, DriftOpenOptions, OpenedWindow } from './service.js';

export type ToDriftWorker =
  | { op: 'open'; id: number; key: string; profilePath: string; options: DriftOpenOptions }
  | { op: 'add'; id: number; key: string; columns: DriftColumns }
  | { op: 'close'; id: number; key: string }
  | { op: 'drop'; id: number; key: string };

export interface WorkerError {
  message: string;
  code?: string;
}

export type FromDriftWorker =
  | { id: number; ok: true; result: OpenedWindow | ClosedWindow }
  /** id −1: an add or drop failed (nobody waits for those); `key` says whose. */
  | { id: number; ok: false; error: WorkerError; key?: string };
