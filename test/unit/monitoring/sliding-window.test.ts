import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlidingWindow } from '../../../src/monitoring/sliding-window.js';

test('percentiles within the bins\' 5% relative error, error rate, and forgetting old buckets', () => {
  const w = new SlidingWindow(60_000, 30);
  const t0 = 1_000_000;
  for (let i = 1; i <= 1000; i++) w.recordSuccess(t0 + i, i / 10); // 0.1 … 100 ms, uniform
  for (let i = 0; i < 10; i++) w.recordFailure(t0 + 5);
  const s = w.summary(t0 + 2000);
  assert.equal(s.requests, 1010);
  assert.equal(s.failed, 10);
  assert.ok(Math.abs(s.errorRate - 10 / 1010) < 1e-12);
  for (const [got, exact] of [[s.p50Ms, 50], [s.p95Ms, 95], [s.p99Ms, 99]] as const) {
    assert.ok(got >= exact && got <= exact * 1.033, `percentile ${got} for exact ${exact}`);
  }
  const later = w.summary(t0 + 62_001);
  assert.equal(later.requests, 0, 'a minute later the window is empty');
  assert.ok(Number.isNaN(later.p95Ms));
  assert.equal(later.errorRate, 0);
});

test('throughput is requests per elapsed second of the window', () => {
  const w = new SlidingWindow(10_000, 10);
  for (let t = 0; t < 10_000; t += 10) w.recordSuccess(50_000 + t, 1, 2);
  const s = w.summary(59_999);
  assert.ok(Math.abs(s.throughput - 100) < 5, `throughput ${s.throughput}`);
  assert.ok(Math.abs(s.rowsPerSecond - 200) < 10);
});
