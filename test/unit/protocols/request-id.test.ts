import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newRequestId, requestIdTime } from '../../../src/inference/request-id.js';

test('server-assigned ids are RFC 9562 version 7 UUIDs carrying the time', () => {
  const now = Date.UTC(2026, 10, 25, 17, 45, 0, 123);
  const id = newRequestId(now);
  assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(requestIdTime(id), now);
  // RFC 9562 appendix A.6 example: 017F22E2-79B0-7CC3-98C4-DC0C0C07398F is 2022-02-22T19:22:22.000Z.
  assert.equal(requestIdTime('017f22e2-79b0-7cc3-98c4-dc0c0c07398f'), Date.UTC(2022, 1, 22, 19, 22, 22));
  assert.equal(newRequestId(Date.UTC(2022, 1, 22, 19, 22, 22)).slice(0, 13), '017f22e2-79b0');
});

test('ids are unique and sort by time across milliseconds', () => {
  const ids = new Set<string>();
  const t0 = Date.now();
  let previous = '';
  for (let i = 0; i < 20_000; i++) {
    const id = newRequestId(t0 + Math.floor(i / 100));
    ids.add(id);
    if (i % 100 === 0) {
      assert.ok(id > previous, `${id} sorts after ${previous}`);
      previous = id;
    }
  }
  assert.equal(ids.size, 20_000);
});
