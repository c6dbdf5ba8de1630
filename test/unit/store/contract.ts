/**
 * The PredictionStore contract: one suite, registered once per implementation
 * (sqlite.test.ts here, test/integration/store-postgres.test.ts against a real server), so
 * both stores are held to the same answers.
 */
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { isBerthError } from '../../../src/errors.js';
import type { DecisionRecord, PredictionStore, ReadLimits, StoredDecision } from '../../../src/store/store.js';

/** Opens a fresh, initialized, empty store for one test (with these read limits) and closes it in t.after(). */
export type OpenStore = (t: TestContext, reads?: Partial<ReadLimits>) => Promise<PredictionStore>;

const T0 = 1_800_000_000_000;

export function decision(i: number, overrides: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    id: `req-${i}`,
    time: T0 + i * 1000,
    model: 'income',
    version: '1',
    inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 3], data: [i, 0.5, -1.25] }],
    inputsHash: `hash-${i}`,
    outputs: [
      { name: 'probabilities', datatype: 'FP32', shape: [1, 2], data: [0.25, 0.75] },
      { name: 'label', datatype: 'INT64', shape: [1], data: [1] },
    ],
    latencyMs: 1.5 + i,
    batchSize: 4,
    outcome: 'success',
    flags: [],
    ...overrides,
  };
}

async function rejectsWith(p: Promise<unknown>, code: Parameters<typeof isBerthError>[1]): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isBerthError(err, code), `expected ${String(code)}, got ${String(err)}`);
    return true;
  });
}

function ids(list: readonly StoredDecision[]): string[] {
  return list.map((d) => d.id);
}

export function storeContract(name: string, open: OpenStore): void {
  describe(`PredictionStore contract: ${name}`, () => {
    test('a decision reads back exactly as written (JSON round trip, nulls, typed arrays, prediction, detail)', async (t) => {
      const store = await open(t);
      const full = decision(1, {
        inputs: [
          { name: 'x', datatype: 'FP32', shape: [2, 2], data: [[1.5, -0], [3.25, 1e-7]] },
          { name: 's', datatype: 'BYTES', shape: [2], data: ['héllo "quoted"', ''], parameters: { note: null } },
        ],
        outputs: [{ name: 'y', datatype: 'FP64', shape: [3], data: [0.1, null, 12345.678] }],
        flags: ['out_of_range:age', 'slow'],
        prediction: { label: '>50K', score: 0.875 },
        detail: {
          record: { age: 150, workclass: 'Martian', 'native-country': null },
          pipeline: { kind: 'tabular', hash: 'a'.repeat(64) },
          row: 2,
          requestId: 'req',
          anomalies: [{ kind: 'out_of_range', field: 'age', message: "'age' is 150, outside the training range [17, 90]" }, { kind: 'ood', message: 'unlike the training data', score: 81.5 }],
          decision: { class: '<=50K', probability: 0.125, outcome: 'rejected', adverse: true },
        },
      });
      const hashOnly = decision(2, { inputs: null, prediction: { value: 42.5 } });
      const typed = decision(3, {
        inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: new Float32Array([0.5, 2]) }],
        outputs: [{ name: 'label', datatype: 'INT64', shape: [2], data: new BigInt64Array([7n, -2n]) }],
        prediction: { label: 1 },
      });
      const result = await store.writeDecisions([full, hashOnly, typed]);
      assert.deepEqual(result, { inserted: 3, alreadyStored: 0, conflicts: 0, conflictIndexes: [] });

      const [got1] = await store.queryDecisions({ id: 'req-1' });
      assert.deepEqual(got1, { ...full, outputs: [{ name: 'y', datatype: 'FP64', shape: [3], data: [0.1, null, 12345.678] }], inputs: [
        { name: 'x', datatype: 'FP32', shape: [2, 2], data: [[1.5, 0], [3.25, 1e-7]] },
        { name: 's', datatype: 'BYTES', shape: [2], data: ['héllo "quoted"', ''], parameters: { note: null } },
      ] });
      const [got2] = await store.queryDecisions({ id: 'req-2' });
      assert.equal(got2?.inputs, null);
      assert.deepEqual(got2?.prediction, { value: 42.5 });
      assert.equal(got2?.label, undefined);
      assert.equal('labelTime' in (got2 ?? {}), false);
      assert.equal('detail' in (got2 ?? {}), false, 'no detail written, none read back');
      const [got3] = await store.queryDecisions({ id: 'req-3' });
      assert.deepEqual(got3?.inputs, [{ name: 'x', datatype: 'FP32', shape: [1, 2], data: [0.5, 2] }]);
      assert.deepEqual(got3?.outputs, [{ name: 'label', datatype: 'INT64', shape: [2], data: [7, -2] }]);
      assert.deepEqual(got3?.prediction, { label: 1 });
      const noPrediction = decision(4);
      await store.writeDecisions([noPrediction]);
      const [got4] = await store.queryDecisions({ id: 'req-4' });
      assert.equal('prediction' in (got4 ?? {}), false);
    });

    test('typed arrays the server holds read back as the values they stand for (stored as base64 bytes)', async (t) => {
      const store = await open(t);
      // A view at an odd byte offset into a larger buffer, float32 values that print long as
      // doubles, an int64 beyond 2^53 (read back as a decimal string), FP16 bits, uint8 for BOOL
      // (not the canonical form of BOOL: written as a JSON array).
      const backing = new ArrayBuffer(4 * 8);
      const f32 = new Float32Array(backing, 4, 3);
      f32.set([0.1, -1 / 3, 3.4e38]);
      const tensors = [
        { name: 'f', datatype: 'FP32', shape: [3], data: f32 },
        { name: 'd', datatype: 'FP64', shape: [2], data: new Float64Array([Math.PI, -0]) },
        { name: 'i', datatype: 'INT64', shape: [2], data: new BigInt64Array([2n ** 60n + 1n, -5n]) },
        { name: 'h', datatype: 'FP16', shape: [2], data: new Uint16Array([0x3c00, 0xc000]) },
        { name: 'u', datatype: 'UINT8', shape: [2], data: new Uint8Array([0, 255]) },
        { name: 'b', datatype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) },
        { name: 'x', datatype: 'FP32', shape: [1], data: new Float64Array([0.25]) },
      ];
      await store.writeDecisions([decision(5, { inputs: tensors, outputs: tensors.slice(0, 2) })]);
      const [got] = await store.queryDecisions({ id: 'req-5' });
      const expected = [
        { name: 'f', datatype: 'FP32', shape: [3], data: Array.from(f32) },
        { name: 'd', datatype: 'FP64', shape: [2], data: [Math.PI, -0] }, // the bytes keep the sign of zero (a JSON array would not)
        { name: 'i', datatype: 'INT64', shape: [2], data: [String(2n ** 60n + 1n), -5] },
        { name: 'h', datatype: 'FP16', shape: [2], data: [0x3c00, 0xc000] },
        { name: 'u', datatype: 'UINT8', shape: [2], data: [0, 255] },
        { name: 'b', datatype: 'BOOL', shape: [2], data: [1, 0] },
        { name: 'x', datatype: 'FP32', shape: [1], data: [0.25] },
      ];
      assert.deepEqual(got?.inputs, expected);
      assert.deepEqual(got?.outputs, expected.slice(0, 2));
    });

    test('time is stored as integer milliseconds', async (t) => {
      const store = await open(t);
      await store.writeDecisions([decision(1, { time: T0 + 0.9 })]);
      const [d] = await store.queryDecisions({});
      assert.equal(d?.time, T0);
    });

    test('queries filter by model, version, id, outcome and time; newest first; limit', async (t) => {
      const store = await open(t);
      const records: DecisionRecord[] = [];
      for (let i = 0; i < 40; i++) {
        records.push(decision(i, {
          model: i % 2 === 0 ? 'income' : 'iris',
          version: i % 4 < 2 ? '1' : '2',
          outcome: i % 10 === 9 ? 'error' : 'success',
        }));
      }
      await store.writeDecisions(records);
      const all = await store.queryDecisions({});
      assert.equal(all.length, 40);
      assert.deepEqual(ids(all), records.map((r) => r.id).reverse(), 'newest first');
      assert.deepEqual(ids(await store.queryDecisions({ model: 'iris', version: '2' })), ['req-39', 'req-35', 'req-31', 'req-27', 'req-23', 'req-19', 'req-15', 'req-11', 'req-7', 'req-3']);
      assert.deepEqual(ids(await store.queryDecisions({ outcome: 'error' })), ['req-39', 'req-29', 'req-19', 'req-9']);
      assert.deepEqual(ids(await store.queryDecisions({ id: 'req-7' })), ['req-7']);
      assert.deepEqual(ids(await store.queryDecisions({ id: 'req-7', model: 'income' })), []);
      // since inclusive, until exclusive
      assert.deepEqual(ids(await store.queryDecisions({ since: T0 + 10_000, until: T0 + 13_000 })), ['req-12', 'req-11', 'req-10']);
      assert.deepEqual(ids(await store.queryDecisions({ limit: 3 })), ['req-39', 'req-38', 'req-37']);
      assert.deepEqual(ids(await store.queryDecisions({ model: 'income', since: T0 + 30_000, limit: 2 })), ['req-38', 'req-36']);
      assert.equal(await store.countDecisions({}), 40);
      assert.equal(await store.countDecisions({ model: 'income', version: '1' }), 10);
      assert.equal(await store.countDecisions({ since: T0 + 35_000 }), 5);
    });

    test('payload: false leaves out the tensors and keeps everything else', async (t) => {
      const store = await open(t);
      await store.writeDecisions([decision(1, { prediction: { label: '>50K', score: 0.9 } }), decision(2)]);
      await store.attachFeedback('income', [{ id: 'req-1', label: '<=50K', time: T0 }]);
      const [lean, full] = [await store.queryDecisions({ labelled: true, payload: false }), await store.queryDecisions({ labelled: true })];
      assert.equal(lean.length, 1);
      assert.deepEqual(lean[0], { ...full[0], inputs: null, outputs: [] });
      assert.equal(lean[0]?.label, '<=50K');
      assert.deepEqual(lean[0]?.prediction, { label: '>50K', score: 0.9 });
    });

    test('ties in time are ordered by id, descending', async (t) => {
      const store = await open(t);
      await store.writeDecisions(['b', 'a', 'c'].map((id) => decision(0, { id })));
      assert.deepEqual(ids(await store.queryDecisions({})), ['c', 'b', 'a']);
    });

    test('the default limit is 100, larger limits are capped at 10,000, bad limits are refused', async (t) => {
      const store = await open(t);
      await store.writeDecisions(Array.from({ length: 150 }, (_, i) => decision(i)));
      assert.equal((await store.queryDecisions({})).length, 100);
      assert.equal((await store.queryDecisions({ limit: 1_000_000 })).length, 150);
      await rejectsWith(store.queryDecisions({ limit: 0 }), 'BERTH_ERR_STORE_INVALID_QUERY');
      await rejectsWith(store.queryDecisions({ limit: 2.5 }), 'BERTH_ERR_STORE_INVALID_QUERY');
      await rejectsWith(store.queryDecisions({ since: Number.NaN }), 'BERTH_ERR_STORE_INVALID_QUERY');
    });

    test('rewriting a batch is idempotent; a reused id for another decision is a conflict and keeps the first', async (t) => {
      const store = await open(t);
      const batch = Array.from({ length: 20 }, (_, i) => decision(i));
      assert.deepEqual(await store.writeDecisions(batch), { inserted: 20, alreadyStored: 0, conflicts: 0, conflictIndexes: [] });
      assert.deepEqual(await store.writeDecisions(batch), { inserted: 0, alreadyStored: 20, conflicts: 0, conflictIndexes: [] });
      const mixed = [decision(20), decision(3), decision(99, { id: 'req-4' }), decision(21), decision(21)];
      assert.deepEqual(await store.writeDecisions(mixed), { inserted: 2, alreadyStored: 2, conflicts: 1, conflictIndexes: [2] });
      assert.equal(await store.countDecisions({}), 22);
      const [kept] = await store.queryDecisions({ id: 'req-4' });
      assert.equal(kept?.inputsHash, 'hash-4');
      // The same id under another model is another decision.
      assert.deepEqual(await store.writeDecisions([decision(4, { model: 'iris' })]), { inserted: 1, alreadyStored: 0, conflicts: 0, conflictIndexes: [] });
    });

    test('a batch with a record the database refuses fails as REJECTED and writes none of it', async (t) => {
      const store = await open(t);
      const bad = decision(2, { latencyMs: Number.NaN });
      await rejectsWith(store.writeDecisions([decision(1), bad, decision(3)]), 'BERTH_ERR_STORE_REJECTED');
      assert.equal(await store.countDecisions({}), 0);
      assert.deepEqual(await store.writeDecisions([decision(1), decision(3)]), { inserted: 2, alreadyStored: 0, conflicts: 0, conflictIndexes: [] });
    });

    test('feedback attaches to known ids, reports unknown ones, keeps the label type, and the newer label wins', async (t) => {
      const store = await open(t);
      await store.writeDecisions([decision(1), decision(2), decision(3), decision(4, { model: 'iris' })]);
      const r1 = await store.attachFeedback('income', [
        { id: 'req-1', label: 1, time: T0 + 100 },
        { id: 'req-2', label: '>50K', time: T0 + 100 },
        { id: 'nope', label: 0 },
        { id: 'req-4', label: 0 }, // another model's decision
      ]);
      assert.deepEqual(r1.attached.sort(), ['req-1', 'req-2']);
      assert.deepEqual(r1.unknown.sort(), ['nope', 'req-4']);
      let [d1] = await store.queryDecisions({ id: 'req-1' });
      const [d2] = await store.queryDecisions({ id: 'req-2' });
      assert.equal(d1?.label, 1);
      assert.equal(d1?.labelTime, T0 + 100);
      assert.equal(d2?.label, '>50K');

      // Re-label: a newer label overwrites, an older one (late delivery) does not but still matches.
      assert.deepEqual(await store.attachFeedback('income', [{ id: 'req-1', label: '0', time: T0 + 200 }]), { attached: ['req-1'], unknown: [] });
      [d1] = await store.queryDecisions({ id: 'req-1' });
      assert.equal(d1?.label, '0');
      assert.deepEqual(await store.attachFeedback('income', [{ id: 'req-1', label: 5, time: T0 + 150 }]), { attached: ['req-1'], unknown: [] });
      [d1] = await store.queryDecisions({ id: 'req-1' });
      assert.equal(d1?.label, '0');
      assert.equal(d1?.labelTime, T0 + 200);

      // The same id twice in one call: the later time wins, then the later item.
      await store.attachFeedback('income', [{ id: 'req-3', label: 2.5, time: T0 + 300 }, { id: 'req-3', label: 9, time: T0 + 250 }, { id: 'req-3', label: 3.5, time: T0 + 300 }]);
      const [d3] = await store.queryDecisions({ id: 'req-3' });
      assert.equal(d3?.label, 3.5);

      // Without a time, the label is stamped now.
      const before = Date.now();
      await store.attachFeedback('iris', [{ id: 'req-4', label: 'setosa' }]);
      const [d4] = await store.queryDecisions({ id: 'req-4' });
      assert.ok((d4?.labelTime ?? 0) >= before - 1);
    });

    test('explanations attach to known ids of their model, replace an older one, and read back with and without the payload', async (t) => {
      const store = await open(t);
      await store.writeDecisions([decision(1), decision(2), decision(3, { model: 'iris' })]);
      const first = { method: 'exact', value: 0.31, base_value: 0.24, attributions: [{ feature: 'age', value: 39, contribution: 0.07 }] };
      const r = await store.attachExplanations('income', [{ id: 'req-1', explanation: first }, { id: 'req-3', explanation: first }, { id: 'nope', explanation: first }]);
      assert.deepEqual(r.attached, ['req-1']);
      assert.deepEqual(r.unknown.sort(), ['nope', 'req-3']);
      const [d1] = await store.queryDecisions({ id: 'req-1' });
      assert.deepEqual(d1?.explanation, first);
      const [d2] = await store.queryDecisions({ id: 'req-2' });
      assert.equal(d2?.explanation, undefined);
      const second = { ...first, value: 0.5 };
      await store.attachExplanations('income', [{ id: 'req-1', explanation: second }]);
      const [lean] = await store.queryDecisions({ id: 'req-1', payload: false });
      assert.deepEqual(lean?.explanation, second);
      await rejectsWith(store.attachExplanations('income', [{ id: 'req-1', explanation: [1] as unknown as Record<string, unknown> }]), 'BERTH_ERR_STORE_INVALID_QUERY');
      await rejectsWith(store.attachExplanations('income', [{ id: '', explanation: first }]), 'BERTH_ERR_STORE_INVALID_QUERY');
      assert.deepEqual(await store.attachExplanations('income', []), { attached: [], unknown: [] });
    });

    test('feedback with a bad label is refused; empty feedback is a no-op', async (t) => {
      const store = await open(t);
      await store.writeDecisions([decision(1)]);
      await rejectsWith(store.attachFeedback('income', [{ id: 'req-1', label: { a: 1 } as unknown as string }]), 'BERTH_ERR_STORE_INVALID_QUERY');
      await rejectsWith(store.attachFeedback('income', [{ id: 'req-1', label: Number.NaN }]), 'BERTH_ERR_STORE_INVALID_QUERY');
      await rejectsWith(store.attachFeedback('income', [{ id: '', label: 1 }]), 'BERTH_ERR_STORE_INVALID_QUERY');
      assert.deepEqual(await store.attachFeedback('income', []), { attached: [], unknown: [] });
    });

    test('the labelled filter and counts follow feedback', async (t) => {
      const store = await open(t);
      await store.writeDecisions(Array.from({ length: 10 }, (_, i) => decision(i)));
      await store.attachFeedback('income', [{ id: 'req-2', label: 1 }, { id: 'req-5', label: 0 }, { id: 'req-7', label: 1 }]);
      assert.deepEqual(ids(await store.queryDecisions({ labelled: true })), ['req-7', 'req-5', 'req-2']);
      assert.equal((await store.queryDecisions({ labelled: false })).length, 7);
      assert.equal(await store.countDecisions({ labelled: true }), 3);
      assert.equal(await store.countDecisions({ labelled: true, since: T0 + 3000 }), 2);
      assert.equal(await store.countDecisions({ labelled: false, model: 'income' }), 7);
    });

    test('time series points: write, filter, oldest first, NaN and infinities', async (t) => {
      const store = await open(t);
      await store.writePoints([
        { time: T0 + 3, metric: 'accuracy', model: 'income', version: '1', key: '', value: 0.83 },
        { time: T0 + 1, metric: 'accuracy', model: 'income', version: '1', key: '', value: 0.85 },
        { time: T0 + 2, metric: 'drift_score', model: 'income', version: '1', key: 'age', value: 0.4 },
        { time: T0 + 2, metric: 'drift_score', model: 'income', version: '1', key: 'hours', value: Number.NaN },
        { time: T0 + 4, metric: 'accuracy', model: 'income', version: '2', key: '', value: Number.POSITIVE_INFINITY },
        { time: T0 + 5, metric: 'accuracy', model: 'iris', version: '1', key: '', value: -1.5 },
      ]);
      const acc = await store.queryPoints({ model: 'income', version: '1', metric: 'accuracy' });
      assert.deepEqual(acc.map((p) => [p.time, p.value]), [[T0 + 1, 0.85], [T0 + 3, 0.83]]);
      const drift = await store.queryPoints({ metric: 'drift_score' });
      assert.equal(drift.length, 2);
      const hours = await store.queryPoints({ metric: 'drift_score', key: 'hours' });
      assert.equal(hours.length, 1);
      assert.ok(Number.isNaN(hours[0]?.value));
      assert.equal((await store.queryPoints({ version: '2' }))[0]?.value, Number.POSITIVE_INFINITY);
      assert.deepEqual((await store.queryPoints({ since: T0 + 2, until: T0 + 5 })).map((p) => p.time), [T0 + 2, T0 + 2, T0 + 3, T0 + 4]);
      assert.deepEqual((await store.queryPoints({ limit: 2 })).map((p) => p.time), [T0 + 1, T0 + 2]);
      assert.deepEqual(await store.queryPoints({ model: 'nobody' }), []);
      await store.writePoints([]);
      await rejectsWith(store.writePoints([{ time: Number.NaN, metric: 'a', model: 'm', version: '1', key: '', value: 1 }]), 'BERTH_ERR_STORE_INVALID_QUERY');
    });

    test('retention by age deletes old decisions and points and says how many decisions', async (t) => {
      const store = await open(t);
      await store.writeDecisions(Array.from({ length: 30 }, (_, i) => decision(i)));
      await store.writePoints(Array.from({ length: 30 }, (_, i) => ({ time: T0 + i * 1000, metric: 'm', model: 'income', version: '1', key: '', value: i })));
      const now = T0 + 40_000;
      assert.equal(await store.applyRetention({ maxAgeMs: 0, maxDecisions: 0 }, now), 0);
      assert.equal(await store.applyRetention({ maxAgeMs: 20_000, maxDecisions: 0 }, now), 20); // keeps time >= T0+20s
      assert.equal(await store.countDecisions({}), 10);
      assert.equal((await store.queryDecisions({ limit: 10_000 })).at(-1)?.id, 'req-20');
      assert.equal((await store.queryPoints({}))[0]?.time, T0 + 20_000);
      assert.equal(await store.applyRetention({ maxAgeMs: 20_000, maxDecisions: 0 }, now), 0);
    });

    test('retention by count keeps exactly the newest N, ties broken by model then id', async (t) => {
      const store = await open(t);
      const records = Array.from({ length: 50 }, (_, i) => decision(i));
      // Five decisions share one time to put the cut in the middle of a tie.
      for (const id of ['t-a', 't-b', 't-c', 't-d', 't-e']) records.push(decision(0, { id, time: T0 + 44_500 }));
      await store.writeDecisions(records);
      assert.equal(await store.applyRetention({ maxAgeMs: 0, maxDecisions: 8 }, T0), 47);
      assert.equal(await store.countDecisions({}), 8);
      assert.deepEqual(ids(await store.queryDecisions({})), ['req-49', 'req-48', 'req-47', 'req-46', 'req-45', 't-e', 't-d', 't-c']);
      assert.equal(await store.applyRetention({ maxAgeMs: 0, maxDecisions: 8 }, T0), 0);
      // Both limits together: age first, then count.
      assert.equal(await store.applyRetention({ maxAgeMs: 4_000, maxDecisions: 2 }, T0 + 49_000), 6);
      assert.deepEqual(ids(await store.queryDecisions({})), ['req-49', 'req-48']);
    });

    test('a large batch (10,000) is written in one call', async (t) => {
      // Reading all 10,000 back passes the default 2 MiB answer cap (tested below): raise it here.
      const store = await open(t, { maxResultBytes: 64 * 1024 * 1024 });
      const batch = Array.from({ length: 10_000 }, (_, i) => decision(i, { model: i % 3 === 0 ? 'a' : 'b' }));
      assert.deepEqual(await store.writeDecisions(batch), { inserted: 10_000, alreadyStored: 0, conflicts: 0, conflictIndexes: [] });
      assert.equal(await store.countDecisions({}), 10_000);
      assert.equal(await store.countDecisions({ model: 'a' }), 3334);
      assert.equal((await store.queryDecisions({ limit: 20_000 })).length, 10_000);
      assert.deepEqual(await store.writeDecisions(batch), { inserted: 0, alreadyStored: 10_000, conflicts: 0, conflictIndexes: [] });
    });

    test('concurrent writers with overlapping batches store each decision once', async (t) => {
      const store = await open(t);
      const writers = Array.from({ length: 8 }, (_, w) => Array.from({ length: 300 }, (_, i) => decision(w * 150 + i)));
      const results = await Promise.all(writers.map((batch) => store.writeDecisions(batch)));
      const unique = 7 * 150 + 300;
      assert.equal(results.reduce((n, r) => n + r.inserted, 0), unique);
      assert.equal(results.reduce((n, r) => n + r.alreadyStored, 0), 8 * 300 - unique);
      assert.equal(results.reduce((n, r) => n + r.conflicts, 0), 0);
      assert.equal(await store.countDecisions({}), unique);
      await Promise.all([
        store.attachFeedback('income', [{ id: 'req-10', label: 1 }]),
        store.queryDecisions({ limit: 50 }),
        store.writePoints([{ time: T0, metric: 'x', model: 'income', version: '1', key: '', value: 1 }]),
        store.writeDecisions([decision(5000)]),
      ]);
      assert.equal(await store.countDecisions({}), unique + 1);
    });

    test('probe() is a committed write that works on a healthy store; storedIds finds exactly the stored ids of a model', async (t) => {
      const store = await open(t);
      await store.probe();
      await store.probe();
      await store.writeDecisions([decision(1), decision(2), decision(3, { model: 'iris' })]);
      assert.deepEqual([...(await store.storedIds('income', ['req-1', 'req-3', 'nope', 'req-2']))].sort(), ['req-1', 'req-2']);
      assert.deepEqual([...(await store.storedIds('iris', ['req-1', 'req-3']))], ['req-3']);
      assert.equal((await store.storedIds('income', [])).size, 0);
      // The probe row is not a decision.
      assert.equal(await store.countDecisions({}), 3);
    });

    test('a filter given as several values (a repeated URL parameter) is a bad query naming it, not a database error', async (t) => {
      const store = await open(t);
      await rejectsWith(store.queryDecisions({ id: ['a', 'b'] as unknown as string }), 'BERTH_ERR_STORE_INVALID_QUERY');
      await assert.rejects(store.queryDecisions({ model: ['a', 'b'] as unknown as string }), /^BerthError: model: expected one string, got 2 values$/);
      await rejectsWith(store.countDecisions({ version: [1] as unknown as string }), 'BERTH_ERR_STORE_INVALID_QUERY');
      await rejectsWith(store.queryPoints({ metric: ['x'] as unknown as string }), 'BERTH_ERR_STORE_INVALID_QUERY');
    });

    test('a decision query whose tensors pass maxResultBytes is refused naming limit and saying how many fit; that many then work', async (t) => {
      const store = await open(t, { maxResultBytes: 20_000 });
      await store.writeDecisions(Array.from({ length: 400 }, (_, i) => decision(i)));
      let fit = -1;
      await assert.rejects(store.queryDecisions({ limit: 400 }), (err: unknown) => {
        assert.ok(isBerthError(err, 'BERTH_ERR_QUERY_TOO_COSTLY'), String(err));
        assert.equal(err.status, 400);
        const m = /^limit: the 400 decisions asked for hold more than .* \(store\.queries\.maxResultBytes\); the newest (\d+) fit: ask for limit=\1 or fewer/.exec(err.message);
        assert.ok(m !== null, err.message);
        fit = Number(m[1]);
        return true;
      });
      assert.ok(fit > 10 && fit < 400, `fit ${fit}`);
      const newest = await store.queryDecisions({ limit: fit });
      assert.equal(newest.length, fit);
      assert.equal(newest[0]!.id, 'req-399');
      await rejectsWith(store.queryDecisions({ limit: fit + 1 }), 'BERTH_ERR_QUERY_TOO_COSTLY');
      // Without the tensors the same query is small.
      assert.equal((await store.queryDecisions({ limit: 400, payload: false })).length, 400);
      assert.equal(store.readStats().tooCostly, 2);
    });

    test('reads are cancellable: an aborted signal rejects as BERTH_ERR_QUERY_CANCELLED; reads are counted by outcome', async (t) => {
      const store = await open(t);
      await store.writeDecisions(Array.from({ length: 50 }, (_, i) => decision(i)));
      await rejectsWith(store.queryDecisions({ limit: 10 }, { signal: AbortSignal.abort() }), 'BERTH_ERR_QUERY_CANCELLED');
      // Many at once, all abandoned right away: each rejects as cancelled, none is left running or queued.
      const controllers = Array.from({ length: 8 }, () => new AbortController());
      const reads = controllers.map((c) => store.queryDecisions({ limit: 50 }, { signal: c.signal }));
      for (const c of controllers) c.abort();
      const outcomes = await Promise.allSettled(reads);
      for (const o of outcomes) assert.ok(o.status === 'fulfilled' || isBerthError(o.reason, 'BERTH_ERR_QUERY_CANCELLED'), String((o as PromiseRejectedResult).reason));
      assert.ok(outcomes.filter((o) => o.status === 'rejected').length >= 7, 'at most the one already answered completes');
      assert.equal((await store.queryDecisions({ limit: 5 })).length, 5);
      const s = store.readStats();
      assert.deepEqual({ queued: s.queued, running: s.running, failed: s.failed }, { queued: 0, running: 0, failed: 0 });
      assert.equal(s.cancelled + s.completed, 1 + 8 + 1);
    });

    test('a read running longer than timeoutMs is stopped and refused as too costly', async (t) => {
      const store = await open(t, { timeoutMs: 1 });
      const big = { name: 'x', datatype: 'FP32', shape: [1, 2000], data: Array.from({ length: 2000 }, (_, k) => k / 7) };
      for (let i = 0; i < 5; i++) await store.writeDecisions(Array.from({ length: 1000 }, (_, k) => decision(i * 1000 + k, { inputs: [big] })));
      // 5,000 decisions of 2,000 numbers each cannot be read and decoded in 1 ms.
      await assert.rejects(store.queryDecisions({ limit: 5000 }), (err: unknown) => isBerthError(err, 'BERTH_ERR_QUERY_TOO_COSTLY') && /store\.queries\.timeoutMs \(1 ms\)/.test(err.message));
    });

    test('init is idempotent, ping answers, and a closed store refuses calls as unavailable', async (t) => {
      const store = await open(t);
      await store.init();
      await store.init();
      await store.ping();
      await store.writeDecisions([decision(1)]);
      await store.close();
      await rejectsWith(store.writeDecisions([decision(2)]), 'BERTH_ERR_STORE_UNAVAILABLE');
      await store.close();
    });
  });
}
