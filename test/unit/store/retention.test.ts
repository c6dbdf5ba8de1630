/**
 * The retention task: runs the policy on its timer, survives a store that is down, stops cleanly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetentionTask } from '../../../src/store/retention.js';
import { FakeStore } from './fake-store.js';

test('retention runs after the initial delay and then every interval, with the clock it is given', async (t) => {
  const store = new FakeStore();
  const runs: { deleted: number; error?: unknown }[] = [];
  const task = new RetentionTask(store, {
    policy: { maxAgeMs: 1000, maxDecisions: 5 },
    initialDelayMs: 5,
    intervalMs: 20,
    now: () => 42,
    onRun: (r) => runs.push(r),
  });
  t.after(() => task.stop());
  task.start();
  await new Promise((r) => setTimeout(r, 80));
  assert.ok(store.retentionCalls.length >= 2, `${store.retentionCalls.length} runs`);
  assert.deepEqual(store.retentionCalls[0], { policy: { maxAgeMs: 1000, maxDecisions: 5 }, now: 42 });
  store.mode = 'down';
  const before = runs.length;
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(runs.slice(before).some((r) => r.error !== undefined), 'a failed run is reported');
  await task.stop();
  const after = store.retentionCalls.length + runs.length;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(store.retentionCalls.length + runs.length, after, 'nothing runs after stop()');
});

test('a policy that keeps everything never starts a timer; bad policies are refused', async () => {
  const store = new FakeStore();
  const task = new RetentionTask(store, { policy: { maxAgeMs: 0, maxDecisions: 0 }, initialDelayMs: 1 });
  assert.equal(task.active, false);
  task.start();
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(store.retentionCalls.length, 0);
  assert.throws(() => new RetentionTask(store, { policy: { maxAgeMs: -1, maxDecisions: 0 } }), /maxAgeMs/);
  assert.throws(() => new RetentionTask(store, { policy: { maxAgeMs: 0, maxDecisions: 1.5 } }), /maxDecisions/);
});
