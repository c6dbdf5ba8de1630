/**
 * The acknowledgement journal: what a run that did not shut down leaves is read back by the
 * next one — exactly the entries past the settled mark — and a clean close leaves nothing.
 * The crash is a real one: a child process that journals and then SIGKILLs itself.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { AckJournal } from '../../../src/store/ack-journal.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'berth-journal-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('ack journal: a clean close with everything settled leaves no files', (t) => {
  const dir = tempDir(t);
  const j = new AckJournal(dir, { segmentEntries: 10 });
  assert.deepEqual(j.open(), []);
  const seqs = Array.from({ length: 35 }, (_, i) => j.append('income', `id-${i}`));
  assert.deepEqual(seqs.slice(0, 3), [1, 2, 3]);
  for (const s of seqs) j.settle(s);
  j.close();
  assert.deepEqual(readdirSync(dir), []);
});

test('ack journal: checkpoint deletes the segments the settled mark covers, keeps the rest', (t) => {
  const dir = tempDir(t);
  const j = new AckJournal(dir, { segmentEntries: 10 });
  j.open();
  const seqs = Array.from({ length: 35 }, (_, i) => j.append('income', `id-${i}`));
  // Settled out of order: 1..20 and 25, but not 21..24: the mark is 20.
  for (const s of [...seqs.slice(0, 20), 25]) j.settle(s);
  j.checkpoint();
  const segments = readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort();
  assert.equal(segments.length, 2, `segments of seqs 21-30 and 31-35 stay: ${segments.join(', ')}`);
  assert.equal(j.outstanding, 14);
  // A second journal in the same directory sees this one's leftovers as an earlier run's.
  const next = new AckJournal(dir);
  const [previous, ...more] = next.open();
  assert.equal(more.length, 0);
  assert.deepEqual(previous!.unsettled.map((u) => u.id), seqs.slice(20).map((s) => `id-${s - 1}`));
  next.close();
  j.close();
});

test('ack journal: a run killed with SIGKILL leaves exactly its unsettled entries; a torn last line is ignored', (t) => {
  const dir = tempDir(t);
  const child = `
    import { AckJournal } from ${JSON.stringify(new URL('../../../src/store/ack-journal.ts', import.meta.url).pathname)};
    const j = new AckJournal(${JSON.stringify(dir)}, { segmentEntries: 7 });
    j.open();
    const seqs = [];
    for (let i = 0; i < 50; i++) seqs.push(j.append(i % 2 ? 'income' : 'digits', 'id-' + i + '\\n"quoted"'));
    for (const s of seqs.slice(0, 30)) j.settle(s);
    j.checkpoint();
    for (const s of seqs.slice(30, 40)) j.settle(s); // settled after the last checkpoint: still looked up
    process.kill(process.pid, 'SIGKILL');
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', child], { encoding: 'utf8' });
  assert.equal(r.signal, 'SIGKILL', r.stderr);
  // A power loss could tear the last line: it is not an acknowledged entry.
  const last = readdirSync(dir).filter((n) => n.endsWith('.jsonl')).sort().at(-1)!;
  appendFileSync(join(dir, last), '[51,"income","id-');
  writeFileSync(join(dir, 'unrelated.txt'), 'not a journal');
  const next = new AckJournal(dir);
  const previous = next.open();
  assert.equal(previous.length, 1);
  const ids = previous[0]!.unsettled.map((u) => `${u.model}/${u.id}`);
  assert.deepEqual(ids, Array.from({ length: 20 }, (_, k) => `${(30 + k) % 2 ? 'income' : 'digits'}/id-${30 + k}\n"quoted"`));
  next.forget(previous[0]!);
  next.close();
  assert.deepEqual(readdirSync(dir), ['unrelated.txt']);
});
