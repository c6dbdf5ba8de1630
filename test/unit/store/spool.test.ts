/**
 * The spool's invariants (see the diagram in src/store/spool.ts): order across segments,
 * peek-then-commit, the size cap as a prefix, files taken over from an earlier run.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { recordJson } from '../../../src/store/rows.js';
import { Spool } from '../../../src/store/spool.js';
import { decision } from './contract.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-spool-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function drain(spool: Spool, chunk: number): Promise<string[]> {
  const ids: string[] = [];
  for (;;) {
    const c = await spool.peek(chunk);
    if (c.records.length === 0 && c.corrupt === 0) return ids;
    ids.push(...c.records.map((r) => r.id));
    await spool.commit();
  }
}

test('records come back in append order across segment rotations, and the files go once replayed', async (t) => {
  const dir = tempDir(t);
  const line = Buffer.byteLength(`${recordJson(decision(0))}\n`);
  const spool = new Spool(dir, { maxBytes: 1e9, segmentBytes: line * 25 });
  await spool.open();
  for (let i = 0; i < 10; i++) await spool.append(Array.from({ length: 20 }, (_, k) => decision(i * 20 + k)), 7);
  assert.equal(spool.records, 200);
  assert.ok(readdirSync(dir).length >= 5, `segments: ${readdirSync(dir).length}`);
  // Appends while replaying go behind what is being replayed.
  const first = await spool.peek(30);
  assert.deepEqual((await spool.peek(30)).records.map((r) => r.id), first.records.map((r) => r.id), 'peek without commit repeats');
  await spool.commit();
  await spool.append([decision(1000)]);
  const rest = await drain(spool, 13);
  assert.deepEqual([...first.records.map((r) => r.id), ...rest], [...Array.from({ length: 200 }, (_, i) => `req-${i}`), 'req-1000']);
  assert.equal(spool.records, 0);
  assert.equal(spool.bytes, 0);
  assert.deepEqual(readdirSync(dir), []);
});

test('the size cap keeps a prefix: what does not fit, and everything after it, is refused', async (t) => {
  const dir = tempDir(t);
  const line = Buffer.byteLength(`${recordJson(decision(10))}\n`);
  const spool = new Spool(dir, { maxBytes: line * 5 });
  await spool.open();
  assert.deepEqual(await spool.append(Array.from({ length: 3 }, (_, i) => decision(10 + i))), { written: 3, refused: 0, failed: 0 });
  assert.deepEqual(await spool.append(Array.from({ length: 4 }, (_, i) => decision(20 + i)), 1), { written: 2, refused: 2, failed: 0 });
  assert.equal(spool.bytes, line * 5);
  assert.deepEqual(await drain(spool, 100), ['req-10', 'req-11', 'req-12', 'req-20', 'req-21']);
  assert.deepEqual(await spool.append([decision(30)]), { written: 1, refused: 0, failed: 0 }, 'room again after replay');
});

test('a new spool takes over the segments an earlier one left, oldest first', async (t) => {
  const dir = tempDir(t);
  const a = new Spool(dir, { maxBytes: 1e9 });
  await a.open();
  await a.append([decision(1), decision(2)]);
  await a.close();
  const b = new Spool(dir, { maxBytes: 1e9 });
  await b.open();
  await b.append([decision(3)]);
  await b.close();
  const c = new Spool(dir, { maxBytes: 1e9 });
  await c.open();
  assert.equal(c.records, 3);
  assert.deepEqual(await drain(c, 10), ['req-1', 'req-2', 'req-3']);
});
