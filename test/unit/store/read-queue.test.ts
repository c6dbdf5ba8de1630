/**
 * The read queue both stores put their reads through: at most `concurrency` run, at most
 * `maxQueued` wait (then BERTH_ERR_STORE_BUSY at once), and a read whose caller aborts
 * leaves the queue without ever running, or is told to stop while running.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../../../src/errors.js';
import { ReadQueue } from '../../../src/store/read-queue.js';

interface Gate {
  started: boolean;
  signal: AbortSignal | undefined;
  open(): void;
  work: (signal: AbortSignal) => Promise<string>;
}

/** A read that runs until opened (or until its signal aborts, like the real stores). */
function gate(name: string): Gate {
  let release!: () => void;
  const g: Gate = {
    started: false,
    signal: undefined,
    open: () => release(),
    work: (signal) => {
      g.started = true;
      g.signal = signal;
      return new Promise<string>((resolve, reject) => {
        release = () => resolve(name);
        signal.addEventListener('abort', () => reject(new Error('stopped between rows')), { once: true });
      });
    },
  };
  return g;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

test('read queue: runs at most `concurrency` at once, in order; the rest wait', async () => {
  const q = new ReadQueue('the test store', 1, 10);
  const a = gate('a');
  const b = gate('b');
  const pa = q.run(a.work);
  const pb = q.run(b.work);
  await tick();
  assert.equal(a.started, true);
  assert.equal(b.started, false);
  assert.deepEqual({ queued: q.stats.queued, running: q.stats.running }, { queued: 1, running: 1 });
  a.open();
  assert.equal(await pa, 'a');
  await tick();
  assert.equal(b.started, true);
  b.open();
  assert.equal(await pb, 'b');
  assert.deepEqual(q.stats, { queued: 0, running: 0, completed: 2, cancelled: 0, refused: 0, tooCostly: 0, failed: 0 });
});

test('read queue: beyond maxQueued a read is refused at once as BERTH_ERR_STORE_BUSY with Retry-After', async () => {
  const q = new ReadQueue('the test store', 1, 2);
  const running = gate('running');
  const p = q.run(running.work);
  const w1 = gate('w1');
  const w2 = gate('w2');
  const waiting = [q.run(w1.work), q.run(w2.work)];
  await assert.rejects(q.run(gate('w3').work), (err: unknown) => {
    assert.ok(isBerthError(err, 'BERTH_ERR_STORE_BUSY'));
    assert.equal(err.status, 503);
    assert.equal(err.headers['Retry-After'], '1');
    assert.match(err.message, /store\.queries\.maxQueued: 2/);
    return true;
  });
  assert.equal(q.stats.refused, 1);
  running.open();
  await p;
  // Each waiter starts in turn; none is lost.
  await tick();
  assert.equal(w1.started, true);
  w1.open();
  await waiting[0];
  await tick();
  w2.open();
  assert.deepEqual(await Promise.all(waiting), ['w1', 'w2']);
  assert.equal(q.stats.completed, 3);
});

test('read queue: an abandoned read leaves the queue without running; a running one is told to stop; both reject as cancelled', async () => {
  const q = new ReadQueue('the test store', 1, 10);
  const first = gate('first');
  const queued = gate('queued');
  const firstCaller = new AbortController();
  const queuedCaller = new AbortController();
  const pFirst = q.run(first.work, firstCaller.signal);
  const pQueued = q.run(queued.work, queuedCaller.signal);
  await tick();
  queuedCaller.abort();
  await assert.rejects(pQueued, { code: 'BERTH_ERR_QUERY_CANCELLED' });
  assert.equal(queued.started, false, 'a cancelled queued read never runs');
  assert.equal(q.stats.queued, 0);
  firstCaller.abort();
  assert.equal(first.signal?.aborted, true, 'the running read is told to stop');
  await assert.rejects(pFirst, { code: 'BERTH_ERR_QUERY_CANCELLED' });
  // An already aborted signal never queues.
  await assert.rejects(q.run(gate('late').work, AbortSignal.abort()), { code: 'BERTH_ERR_QUERY_CANCELLED' });
  assert.deepEqual(q.stats, { queued: 0, running: 0, completed: 0, cancelled: 3, refused: 0, tooCostly: 0, failed: 0 });
  // The slot is free again.
  const next = gate('next');
  const pNext = q.run(next.work);
  await tick();
  next.open();
  assert.equal(await pNext, 'next');
});

test('read queue: a failure is counted as failed, a cost refusal as tooCostly; options are validated', async () => {
  const q = new ReadQueue('the test store', 2, 0);
  await assert.rejects(q.run(async () => {
    throw new Error('disk I/O error');
  }), /disk I\/O error/);
  const { tooManyBytes } = await import('../../../src/store/rows.js');
  await assert.rejects(q.run(async () => {
    throw tooManyBytes(100, 7, 1024);
  }), { code: 'BERTH_ERR_QUERY_TOO_COSTLY' });
  assert.equal(q.stats.failed, 1);
  assert.equal(q.stats.tooCostly, 1);
  assert.throws(() => new ReadQueue('x', 0, 1), /concurrency must be a positive integer, got 0/);
  assert.throws(() => new ReadQueue('x', 1, -1), /store\.queries\.maxQueued must be an integer ≥ 0, got -1/);
});
