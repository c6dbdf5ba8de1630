/**
 * An in-memory PredictionStore for the decision logger's tests, with the failures a real
 * one has: down (every call fails as unavailable), slow (a write lands only after
 * `slowMs`, whatever the caller's timeout said), content it refuses (poison ids), and
 * `writesFail` (init, ping and probe answer but every decision write fails: a nearly full
 * disk, where a small write still fits). Writes are idempotent on (model, id) like the
 * real stores.
 */
import { BerthError } from '../../../src/errors.js';
import type {
  DecisionQuery, DecisionRecord, ExplanationItem, FeedbackItem, PredictionStore, ReadStats, RetentionPolicy, StoredDecision, TimeSeriesPoint,
  TimeSeriesQuery, WriteResult,
} from '../../../src/store/store.js';

export class FakeStore implements PredictionStore {
  readonly kind = 'fake';
  /** Stored decisions in the order they were first written. */
  readonly stored = new Map<string, DecisionRecord>();
  /** Every writeDecisions call's size, successful or not. */
  readonly calls: number[] = [];
  mode: 'up' | 'down' | 'slow' = 'up';
  slowMs = 0;
  /** Decision writes fail as unavailable while the rest answers. */
  writesFail = false;
  readonly poison = new Set<string>();
  initCalls = 0;
  /** When each probe() was called (performance.now()). */
  readonly probeTimes: number[] = [];
  retentionCalls: { policy: RetentionPolicy; now: number }[] = [];

  #check(): void {
    if (this.mode === 'down') throw new BerthError('BERTH_ERR_STORE_UNAVAILABLE', 'fake store is down');
  }

  async init(): Promise<void> {
    this.initCalls += 1;
    await Promise.resolve();
    this.#check();
  }

  async ping(): Promise<void> {
    this.#check();
  }

  async probe(): Promise<void> {
    this.probeTimes.push(performance.now());
    await Promise.resolve();
    this.#check();
  }

  readStats(): ReadStats {
    return { queued: 0, running: 0, completed: 0, cancelled: 0, refused: 0, tooCostly: 0, failed: 0 };
  }

  async storedIds(model: string, ids: readonly string[]): Promise<Set<string>> {
    this.#check();
    return new Set(ids.filter((id) => this.stored.has(`${model}/${id}`)));
  }

  async writeDecisions(records: readonly DecisionRecord[]): Promise<WriteResult> {
    this.calls.push(records.length);
    if (this.mode === 'slow') await new Promise((r) => setTimeout(r, this.slowMs));
    else await Promise.resolve();
    this.#check();
    if (this.writesFail) throw new BerthError('BERTH_ERR_STORE_UNAVAILABLE', 'fake store: database or disk is full');
    if (records.some((r) => this.poison.has(r.id))) throw new BerthError('BERTH_ERR_STORE_REJECTED', 'fake store refuses a poison id');
    const result: WriteResult = { inserted: 0, alreadyStored: 0, conflicts: 0, conflictIndexes: [] };
    for (const [i, r] of records.entries()) {
      const key = `${r.model}/${r.id}`;
      const prev = this.stored.get(key);
      if (prev === undefined) {
        // Through JSON, as a real store would: later mutation of the caller's object cannot change it.
        this.stored.set(key, JSON.parse(JSON.stringify(r)) as DecisionRecord);
        result.inserted += 1;
      } else if (prev.time === Math.trunc(r.time) && prev.version === r.version && prev.inputsHash === r.inputsHash) {
        result.alreadyStored += 1;
      } else {
        result.conflicts += 1;
        result.conflictIndexes.push(i);
      }
    }
    return result;
  }

  async attachFeedback(model: string, items: readonly FeedbackItem[]): Promise<{ attached: string[]; unknown: string[] }> {
    this.#check();
    const attached: string[] = [];
    const unknown: string[] = [];
    for (const item of items) (this.stored.has(`${model}/${item.id}`) ? attached : unknown).push(item.id);
    return { attached, unknown };
  }

  async attachExplanations(model: string, items: readonly ExplanationItem[]): Promise<{ attached: string[]; unknown: string[] }> {
    this.#check();
    const attached: string[] = [];
    const unknown: string[] = [];
    for (const item of items) {
      const stored = this.stored.get(`${model}/${item.id}`);
      if (stored === undefined) unknown.push(item.id);
      else {
        (stored as StoredDecision).explanation = item.explanation;
        attached.push(item.id);
      }
    }
    return { attached, unknown };
  }

  async queryDecisions(_query: DecisionQuery): Promise<StoredDecision[]> {
    this.#check();
    return [...this.stored.values()];
  }

  async countDecisions(_query: Omit<DecisionQuery, 'limit'>): Promise<number> {
    this.#check();
    return this.stored.size;
  }

  async writePoints(_points: readonly TimeSeriesPoint[]): Promise<void> {
    this.#check();
  }

  async queryPoints(_query: TimeSeriesQuery): Promise<TimeSeriesPoint[]> {
    this.#check();
    return [];
  }

  async applyRetention(policy: RetentionPolicy, now: number): Promise<number> {
    this.#check();
    this.retentionCalls.push({ policy, now });
    return 0;
  }

  async close(): Promise<void> {}
}
