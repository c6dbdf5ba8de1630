/**
 * The batching probe on real models run by ONNX Runtime in process: models whose first
 * dimension is a true batch pass; models that accept a dynamic first dimension but mix rows
 * (a sequence-first LSTM, CumSum over axis 0, Unique, a mean over the batch axis) fail with
 * a reason that says what differed.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { probeBatching, type ProbeRun } from '../../../src/inference/batch-probe.js';
import { deriveSignature } from '../../../src/inference/signature.js';
import type { Tensor } from '../../../src/inference/types.js';
import { resolveSettings } from '../../../src/repository/model-config.js';
import { fromOrtType, toOrtType } from '../../../src/runtime/datatypes.js';
import type { WireValueMetadata } from '../../../src/runtime/messages.js';
import { EXAMPLES, fixture } from '../../helpers/server.js';

function metadata(list: readonly ort.InferenceSession.ValueMetadata[]): WireValueMetadata[] {
  return list.map((m) => (m.isTensor ? { name: m.name, isTensor: true, type: m.type, shape: [...m.shape] } : { name: m.name, isTensor: false }));
}

async function load(path: string): Promise<{ run: ProbeRun; signature: ReturnType<typeof deriveSignature>; runs: () => number }> {
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
  const signature = deriveSignature(metadata(session.inputMetadata), metadata(session.outputMetadata), resolveSettings({}, {}), 32);
  let runs = 0;
  const run: ProbeRun = async (inputs) => {
    runs += 1;
    const feeds: Record<string, ort.Tensor> = {};
    for (const t of inputs) feeds[t.name] = new ort.Tensor(toOrtType(t.datatype), t.data as never, t.shape);
    const out = await session.run(feeds);
    return signature.outputs.map((o): Tensor => {
      const r = out[o.name]!;
      return { name: o.name, datatype: fromOrtType(r.type as never)!, shape: [...r.dims], data: r.data as Tensor['data'] };
    });
  };
  return { run, signature, runs: () => runs };
}

describe('batching probe', () => {
  for (const [name, path] of [
    ['the digits CNN', join(EXAMPLES, 'digits/1/model.onnx')],
    ['the income MLP', join(EXAMPLES, 'income/1/model.onnx')],
    ['a torch export', fixture('mlp_torch.onnx')],
    ['an identity over every datatype (strings, bool, int64, fp16)', fixture('identity_all_types.onnx')],
    ['mixed-type arithmetic', fixture('arith_mixed.onnx')],
  ] as const) {
    test(`${name} is batchable: rows alone and stacked agree`, async () => {
      const m = await load(path);
      const r = await probeBatching(m.signature, m.run);
      assert.equal(r.batchable, true, r.reason);
      assert.match(r.reason, /^batched/);
      assert.ok(r.maxAbsDiff < 1e-4, `max |Δ| ${r.maxAbsDiff}`);
      // 3 rows alone + 2 stacked orders: a bounded cost at load.
      assert.equal(m.runs(), 5);
    });
  }

  for (const [name, file, pattern] of [
    ['regression: a sequence-first LSTM ([T,B,F]) mixed rows when batched', 'lstm_seq_first.onnx', /rows are not independent.*output 'y'/],
    ['regression: CumSum over axis 0 mixed rows when batched', 'cumsum_axis0.onnx', /rows are not independent.*output 'y'/],
    ['regression: Unique answered 500 when batched', 'unique_rows.onnx', /stacked rows give output 'y' of shape \[3\]/],
    ['a mean over the batch axis mixes rows', 'mean_center.onnx', /rows are not independent/],
  ] as const) {
    test(`${name}: the probe refuses to batch it and says why`, async () => {
      const m = await load(fixture(file));
      assert.ok(m.signature.maxBatchSize > 0, 'the signature alone would have batched it');
      const r = await probeBatching(m.signature, m.run);
      assert.equal(r.batchable, false);
      assert.match(r.reason, pattern);
      assert.match(r.reason, /^not batched/);
    });
  }

  test('a model the probe cannot run is served unbatched, with the error as the reason', async () => {
    const m = await load(join(EXAMPLES, 'income/1/model.onnx'));
    const r = await probeBatching(m.signature, async () => {
      throw new Error('Gather index 7 out of range');
    });
    assert.equal(r.batchable, false);
    assert.match(r.reason, /could not run the model on generated inputs \(Gather index 7 out of range\)/);
  });

  test('a model without a batch dimension is not probed', async () => {
    const m = await load(fixture('scalar_in.onnx'));
    assert.equal(m.signature.maxBatchSize, 0);
    const r = await probeBatching(m.signature, m.run);
    assert.equal(r.batchable, false);
    assert.equal(m.runs(), 0);
  });
});
