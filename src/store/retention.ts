/**
 * @module store/retention
 * Runs the store's retention policy on a timer: once shortly after start, then every
 * `intervalMs`. A run that fails (store down) is reported and tried again next time; runs
 * never overlap.
 */
import { BerthError } from '../errors.js';
import type { PredictionStore, RetentionPolicy } from './store.js';

export interface RetentionTaskOptions {
  policy: RetentionPolicy;
  /** Between runs; default 10 minutes. */
  intervalMs?: number;
  /** Before the first run; default 10 s (start-up stays quick). */
  initialDelayMs?: number;
  /** The clock; default Date.now. */
  now?: () => number;
  /** After each run: decisions deleted, or the error. */
  onRun?: (result: { deleted: number; error?: unknown; durationMs: number }) => void;
}

export class RetentionTask {
  readonly #store: PredictionStore;
  readonly #policy: RetentionPolicy;
  readonly #intervalMs: number;
  readonly #initialDelayMs: number;
  readonly #now: () => number;
  readonly #onRun: RetentionTaskOptions['onRun'];
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<number> | null = null;
  #stopped = true;

  constructor(store: PredictionStore, options: RetentionTaskOptions) {
    const { maxAgeMs, maxDecisions } = options.policy;
    if (!(maxAgeMs >= 0) || !Number.isFinite(maxAgeMs)) throw new BerthError('BERTH_ERR_STORE_CONFIG', `retention: maxAgeMs must be a finite number ≥ 0, got ${String(maxAgeMs)}`);
    if (!Number.isInteger(maxDecisions) || maxDecisions < 0) throw new BerthError('BERTH_ERR_STORE_CONFIG', `retention: maxDecisions must be an integer ≥ 0, got ${String(maxDecisions)}`);
    const intervalMs = options.intervalMs ?? 600_000;
    if (!Number.isFinite(intervalMs) || intervalMs < 1) throw new BerthError('BERTH_ERR_STORE_CONFIG', `retention: intervalMs must be ≥ 1, got ${String(intervalMs)}`);
    this.#store = store;
    this.#policy = options.policy;
    this.#intervalMs = intervalMs;
    this.#initialDelayMs = options.initialDelayMs ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#onRun = options.onRun;
  }

  /** Whether the policy deletes anything at all (both limits 0 = keep everything). */
  get active(): boolean {
    return this.#policy.maxAgeMs > 0 || this.#policy.maxDecisions > 0;
  }

  start(): void {
    if (!this.#stopped || !this.active) return;
    this.#stopped = false;
    this.#schedule(this.#initialDelayMs);
  }

  #schedule(delay: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.runOnce().finally(() => this.#schedule(this.#intervalMs));
    }, delay);
    this.#timer.unref();
  }

  /** One run now (joins a run in progress); resolves to the decisions deleted, 0 on failure. */
  runOnce(): Promise<number> {
    this.#running ??= (async () => {
      const t0 = performance.now();
      try {
        const deleted = await this.#store.applyRetention(this.#policy, this.#now());
        this.#onRun?.({ deleted, durationMs: performance.now() - t0 });
        return deleted;
      } catch (error) {
        this.#onRun?.({ deleted: 0, error, durationMs: performance.now() - t0 });
        return 0;
      } finally {
        this.#running = null;
      }
    })();
    return this.#running;
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
  }
}
