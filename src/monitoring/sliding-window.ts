/**
 * @module monitoring/sliding-window
 * Request counts, failures and a latency histogram over a sliding time window, kept in a
 * ring of fixed time buckets: O(1) per request, fixed memory, percentiles from the merged
 * histogram (512 log-spaced bins from 0.01 ms to 100 s: each bin spans 3.2%, the error bound of a percentile). Feeds the latency and error-rate signals.
 */

const BINS = 512;
const MIN_MS = 0.01;
const MAX_MS = 100_000;
const LOG_MIN = Math.log(MIN_MS);
const LOG_SPAN = Math.log(MAX_MS) - LOG_MIN;

function binOf(ms: number): number {
  if (!(ms > MIN_MS)) return 0;
  if (ms >= MAX_MS) return BINS - 1;
  return Math.min(BINS - 1, Math.floor(((Math.log(ms) - LOG_MIN) / LOG_SPAN) * BINS));
}

/** Upper edge of a bin (ms): a percentile is reported as the edge of the bin it falls in. */
function edgeOf(bin: number): number {
  return Math.exp(LOG_MIN + ((bin + 1) / BINS) * LOG_SPAN);
}

interface Bucket {
  start: number;
  ok: number;
  failed: number;
  rows: number;
  /** Rows the anomaly layer checked, and those it flagged. */
  checked: number;
  flagged: number;
  hist: Uint32Array;
}

export interface WindowSummary {
  requests: number;
  failed: number;
  errorRate: number;
  /** Requests per second over the part of the window that has elapsed. */
  throughput: number;
  rowsPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** Rows the anomaly layer checked in the window, and the share it flagged (NaN when none was checked). */
  checkedRows: number;
  anomalyRate: number;
}

export class SlidingWindow {
  readonly #bucketMs: number;
  readonly #buckets: Bucket[];

  constructor(readonly windowMs: number, bucketCount = 30) {
    this.#bucketMs = Math.max(1, Math.ceil(windowMs / bucketCount));
    this.#buckets = Array.from({ length: bucketCount }, () => ({ start: -Infinity, ok: 0, failed: 0, rows: 0, checked: 0, flagged: 0, hist: new Uint32Array(BINS) }));
  }

  #bucket(now: number): Bucket {
    const start = Math.floor(now / this.#bucketMs) * this.#bucketMs;
    const b = this.#buckets[Math.floor(start / this.#bucketMs) % this.#buckets.length]!;
    if (b.start !== start) {
      b.start = start;
      b.ok = 0;
      b.failed = 0;
      b.rows = 0;
      b.checked = 0;
      b.flagged = 0;
      b.hist.fill(0);
    }
    return b;
  }

  recordSuccess(now: number, latencyMs: number, rows = 1): void {
    const b = this.#bucket(now);
    b.ok += 1;
    b.rows += rows;
    b.hist[binOf(latencyMs)]! += 1;
  }

  recordFailure(now: number): void {
    this.#bucket(now).failed += 1;
  }

  /** Rows the anomaly layer checked (served or refused) and how many of them it flagged. */
  recordAnomalies(now: number, checked: number, flagged: number): void {
    const b = this.#bucket(now);
    b.checked += checked;
    b.flagged += flagged;
  }

  summary(now: number): WindowSummary {
    const hist = new Uint32Array(BINS);
    let ok = 0;
    let failed = 0;
    let rows = 0;
    let checked = 0;
    let flagged = 0;
    let oldest = now;
    for (const b of this.#buckets) {
      if (b.start <= now - this.windowMs || b.start > now) continue;
      ok += b.ok;
      failed += b.failed;
      rows += b.rows;
      checked += b.checked;
      flagged += b.flagged;
      oldest = Math.min(oldest, b.start);
      for (let i = 0; i < BINS; i++) hist[i]! += b.hist[i]!;
    }
    const pct = (q: number): number => {
      if (ok === 0) return NaN;
      const target = Math.ceil(q * ok);
      let seen = 0;
      for (let i = 0; i < BINS; i++) {
        seen += hist[i]!;
        if (seen >= target) return edgeOf(i);
      }
      return MAX_MS;
    };
    const seconds = Math.max(this.#bucketMs, now - oldest) / 1000;
    const requests = ok + failed;
    return {
      requests, failed, errorRate: requests === 0 ? 0 : failed / requests,
      throughput: requests / seconds, rowsPerSecond: rows / seconds,
      p50Ms: pct(0.5), p95Ms: pct(0.95), p99Ms: pct(0.99),
      checkedRows: checked, anomalyRate: checked === 0 ? NaN : flagged / checked,
    };
  }
}
