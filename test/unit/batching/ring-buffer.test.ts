import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { RingBuffer } from '../../../src/batching/ring-buffer.js';

/** Checks the invariants written at the top of ring-buffer.ts against the internal layout. */
function checkInvariants<T>(rb: RingBuffer<T>, expected: readonly T[]): void {
  const { head, length, slots } = rb.debugState();
  assert.ok(length >= 0 && length <= rb.capacity, 'invariant 1: 0 <= length <= capacity');
  assert.ok(head >= 0 && head < rb.capacity, 'invariant 1: 0 <= head < capacity');
  assert.equal(slots.length, rb.capacity);
  const live: T[] = [];
  for (let i = 0; i < length; i++) live.push(slots[(head + i) % rb.capacity] as T);
  assert.deepEqual(live, expected, 'invariant 2: items are head..head+length-1, oldest first');
  for (let i = length; i < rb.capacity; i++) assert.equal(slots[(head + i) % rb.capacity], undefined, 'invariant 3: other slots are undefined');
  assert.deepEqual([...rb], expected);
  assert.equal(rb.length, expected.length);
  assert.equal(rb.isEmpty(), expected.length === 0);
  assert.equal(rb.isFull(), expected.length === rb.capacity);
  assert.equal(rb.peek(), expected[0]);
}

describe('RingBuffer', () => {
  test('rejects a capacity that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, NaN, Infinity]) assert.throws(() => new RingBuffer(bad), RangeError);
  });

  test('push/shift in FIFO order, wrapping around the end', () => {
    const rb = new RingBuffer<number>(3);
    assert.equal(rb.push(1), true);
    assert.equal(rb.push(2), true);
    assert.equal(rb.shift(), 1);
    assert.equal(rb.push(3), true);
    assert.equal(rb.push(4), true); // wraps: slot 0
    checkInvariants(rb, [2, 3, 4]);
    assert.equal(rb.debugState().head, 1);
    assert.equal(rb.shift(), 2);
    assert.equal(rb.shift(), 3);
    assert.equal(rb.shift(), 4);
    assert.equal(rb.shift(), undefined);
    checkInvariants(rb, []);
  });

  test('a full buffer refuses push and keeps its items (invariant 4)', () => {
    const rb = new RingBuffer<string>(2);
    assert.ok(rb.push('a'));
    assert.ok(rb.push('b'));
    assert.equal(rb.push('c'), false);
    checkInvariants(rb, ['a', 'b']);
  });

  test('shift releases the slot (no item kept alive)', () => {
    const rb = new RingBuffer<object>(2);
    const o = {};
    rb.push(o);
    rb.shift();
    assert.equal(rb.debugState().slots[0], undefined);
  });

  test('at(i) indexes from the head and is undefined out of range', () => {
    const rb = new RingBuffer<number>(4);
    for (const x of [1, 2, 3, 4]) rb.push(x);
    rb.shift();
    rb.push(5);
    assert.deepEqual([0, 1, 2, 3].map((i) => rb.at(i)), [2, 3, 4, 5]);
    assert.equal(rb.at(4), undefined);
    assert.equal(rb.at(-1), undefined);
    assert.equal(rb.at(0.5), undefined);
  });

  test('removeIf is a stable compaction across the wrap point (invariant 5)', () => {
    const rb = new RingBuffer<number>(5);
    for (const x of [0, 1, 2]) rb.push(x);
    rb.shift();
    rb.shift();
    for (const x of [3, 4, 5, 6]) rb.push(x); // items 2..6, wrapped
    const removed = rb.removeIf((x) => x % 2 === 1);
    assert.deepEqual(removed, [3, 5]);
    checkInvariants(rb, [2, 4, 6]);
    assert.ok(rb.push(7));
    assert.ok(rb.push(8));
    assert.equal(rb.push(9), false);
    checkInvariants(rb, [2, 4, 6, 7, 8]);
  });

  test('drain empties in order', () => {
    const rb = new RingBuffer<number>(3);
    rb.push(1);
    rb.push(2);
    assert.deepEqual(rb.drain(), [1, 2]);
    checkInvariants(rb, []);
  });

  test('behaves like a bounded array queue under random operations (property)', () => {
    type Op = { kind: 'push'; v: number } | { kind: 'shift' } | { kind: 'remove'; mod: number };
    const op = fc.oneof(
      fc.record({ kind: fc.constant('push' as const), v: fc.integer() }),
      fc.record({ kind: fc.constant('shift' as const) }),
      fc.record({ kind: fc.constant('remove' as const), mod: fc.integer({ min: 2, max: 5 }) }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(op, { maxLength: 200 }), (capacity, ops: Op[]) => {
        const rb = new RingBuffer<number>(capacity);
        let model: number[] = [];
        for (const o of ops) {
          if (o.kind === 'push') {
            const ok = rb.push(o.v);
            assert.equal(ok, model.length < capacity);
            if (ok) model.push(o.v);
          } else if (o.kind === 'shift') {
            assert.equal(rb.shift(), model.shift());
          } else {
            const pred = (x: number): boolean => Math.abs(x) % o.mod === 0;
            assert.deepEqual(rb.removeIf(pred), model.filter(pred));
            model = model.filter((x) => !pred(x));
          }
          checkInvariants(rb, model);
        }
      }),
      { seed: 20261125, numRuns: 300 },
    );
  });
});
