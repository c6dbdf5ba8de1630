/**
 * @module runtime/session-worker
 * Body of one worker thread: owns ONNX Runtime sessions and runs them. `session.run`
 * blocks the thread for the whole inference, which is why it lives here and never on the
 * HTTP thread. Messages are handled one at a time in arrival order.
 */
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { DataType, encodeModel, makeGraph, makeModel, makeNode, makeValueInfo, readModelMetadata } from '../onnx/index.js';
import { fromHalfBits } from './datatypes.js';
import type { FromWorker, MaskedRowsJob, SessionOptions, ToWorker, WireTensor, WireValueMetadata } from './messages.js';

if (parentPort === null) throw new Error('session-worker must run in a worker thread');
const port = parentPort;
const sessions = new Map<string, ort.InferenceSession>();

/**
 * ONNX Runtime sets up its environment (thread pools, allocators) on the first session
 * a process creates. Doing that here, with a one-node model, keeps that one-off cost out
 * of the first real model's load time and memory footprint.
 */
async function initRuntime(): Promise<void> {
  const graph = makeGraph('warmup', [makeNode('Identity', ['x'], ['y'])], [makeValueInfo('x', DataType.FLOAT, [1])], [makeValueInfo('y', DataType.FLOAT, [1])]);
  const s = await ort.InferenceSession.create(encodeModel(makeModel(graph, { opset: 13 })));
  await s.release();
}
const ready = initRuntime().catch(() => undefined);

function metadataOf(list: readonly ort.InferenceSession.ValueMetadata[]): WireValueMetadata[] {
  return list.map((m) =>
    m.isTensor
      ? { name: m.name, isTensor: true, type: m.type, shape: [...m.shape] }
      : { name: m.name, isTensor: false },
  );
}

function ortOptions(o: SessionOptions): ort.InferenceSession.SessionOptions {
  const out: ort.InferenceSession.SessionOptions = {};
  if (o.graphOptimizationLevel !== undefined) out.graphOptimizationLevel = o.graphOptimizationLevel;
  if (o.intraOpNumThreads !== undefined) out.intraOpNumThreads = o.intraOpNumThreads;
  if (o.interOpNumThreads !== undefined) out.interOpNumThreads = o.interOpNumThreads;
  if (o.executionMode !== undefined) out.executionMode = o.executionMode;
  if (o.enableCpuMemArena !== undefined) out.enableCpuMemArena = o.enableCpuMemArena;
  return out;
}

/**
 * The distinct rows of a masked-rows job (see runtime/messages MaskedRowsJob) and, for each
 * (mask, background row), which of them it is. A feature whose slots are equal in the record
 * and a background row gives the same row whether it is masked in or not, so only the masks'
 * bits on the features that differ from that background row make distinct rows: on the
 * income model most background records share several fields with the record (capital-loss
 * 0, race, native-country, …), which cuts the rows an exact explanation runs several-fold.
 */
function maskedRows(job: MaskedRowsJob): { rows: Float32Array; count: number; rowOf: Int32Array } {
  const width = job.x.length;
  const b = job.background.length / width;
  const m = job.blocks.length / 2;
  const masks = job.masks.length / m;
  const rowOf = new Int32Array(masks * b);
  const firsts: number[] = []; // (mask, background) pair that made each distinct row
  const differs = new Uint8Array(m);
  for (let j = 0; j < b; j++) {
    for (let i = 0; i < m; i++) {
      const offset = job.blocks[2 * i]!;
      let same = true;
      for (let k = offset; k < offset + job.blocks[2 * i + 1]!; k++) if (job.x[k] !== job.background[j * width + k]) same = false;
      differs[i] = same ? 0 : 1;
    }
    const seen = new Map<number | string, number>();
    for (let c = 0; c < masks; c++) {
      // The masked-in features that differ, as a number while it fits exactly, else as a string.
      let bits = 0;
      let text = '';
      for (let i = 0; i < m; i++) {
        const on = differs[i] === 1 && job.masks[c * m + i] !== 0;
        if (m <= 30) bits = bits * 2 + (on ? 1 : 0);
        else text += on ? '1' : '0';
      }
      const key = m <= 30 ? bits : text;
      let row = seen.get(key);
      if (row === undefined) {
        row = firsts.length;
        firsts.push(c * b + j);
        seen.set(key, row);
      }
      rowOf[c * b + j] = row;
    }
  }
  const count = firsts.length;
  const rows = new Float32Array(count * width);
  for (let r = 0; r < count; r++) {
    const c = Math.floor(firsts[r]! / b);
    const j = firsts[r]! % b;
    const at = r * width;
    rows.set(job.background.subarray(j * width, (j + 1) * width), at);
    for (let i = 0; i < m; i++) {
      if (job.masks[c * m + i] === 0) continue;
      const offset = job.blocks[2 * i]!;
      rows.set(job.x.subarray(offset, offset + job.blocks[2 * i + 1]!), at + offset);
    }
  }
  return { rows, count, rowOf };
}

/** Buffers that can be transferred without detaching memory shared with something else. */
function transferable(data: WireTensor['data'], list: ArrayBuffer[]): void {
  if (Array.isArray(data)) return;
  const buf = data.buffer;
  if (buf instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === buf.byteLength && !list.includes(buf)) {
    list.push(buf);
  }
}

async function handle(msg: ToWorker): Promise<void> {
  switch (msg.type) {
    case 'load': {
      const t0 = performance.now();
      // Resident memory growth across the load: a rough footprint of the session (weights,
      // arena, graph); process-wide, so loads running in other workers at the same time blur it.
      const rssBefore = process.memoryUsage.rss();
      const session = await ort.InferenceSession.create(msg.path, ortOptions(msg.options));
      const memoryBytes = Math.max(0, process.memoryUsage.rss() - rssBefore);
      sessions.get(msg.key)?.release().catch(() => undefined);
      sessions.set(msg.key, session);
      const meta = readModelMetadata(msg.path);
      const reply: FromWorker = {
        type: 'loaded', id: msg.id, loadMs: performance.now() - t0,
        inputs: metadataOf(session.inputMetadata), outputs: metadataOf(session.outputMetadata),
        metadata: meta.props, docString: meta.docString, memoryBytes,
      };
      port.postMessage(reply);
      return;
    }
    case 'run': {
      const session = sessions.get(msg.key);
      if (session === undefined) throw new Error(`session ${msg.key} is not loaded in this worker`);
      const feeds: Record<string, ort.Tensor> = {};
      for (const f of msg.feeds) feeds[f.name] = new ort.Tensor(f.type, f.data as never, f.dims);
      const t0 = process.hrtime.bigint();
      // ONNX Runtime would also print a failed run to stderr; the error goes back to the caller, which reports it.
      const result = await session.run(feeds, msg.fetches, { logSeverityLevel: 4 });
      const computeNs = Number(process.hrtime.bigint() - t0);
      const outputs: WireTensor[] = [];
      const transfer: ArrayBuffer[] = [];
      for (const name of msg.fetches) {
        const t = result[name];
        if (t === undefined) throw new Error(`model produced no output '${name}'`);
        const data = t.data as WireTensor['data'];
        transferable(data, transfer);
        outputs.push({ name, type: t.type as WireTensor['type'], dims: [...t.dims], data });
      }
      const reply: FromWorker = { type: 'result', id: msg.id, outputs, computeNs };
      port.postMessage(reply, transfer);
      return;
    }
    case 'masked': {
      const session = sessions.get(msg.key);
      if (session === undefined) throw new Error(`session ${msg.key} is not loaded in this worker`);
      const { rows, count, rowOf } = maskedRows(msg.job);
      const width = msg.job.x.length;
      const t0 = process.hrtime.bigint();
      const result = await session.run({ [msg.job.input]: new ort.Tensor('float32', rows, [count, width]) }, [msg.job.output], { logSeverityLevel: 4 });
      const computeNs = Number(process.hrtime.bigint() - t0);
      const out = result[msg.job.output];
      if (out === undefined) throw new Error(`model produced no output '${msg.job.output}'`);
      const data = out.data as ArrayLike<number | bigint>;
      const half = out.type === 'float16';
      const distinct = new Float64Array(count);
      for (let r = 0; r < count; r++) {
        const v = data[r * msg.job.stride + msg.job.index]!;
        distinct[r] = half ? fromHalfBits(v as number) : Number(v);
      }
      const scores = new Float64Array(rowOf.length);
      for (let r = 0; r < rowOf.length; r++) scores[r] = distinct[rowOf[r]!]!;
      port.postMessage({ type: 'scores', id: msg.id, scores, computeNs } satisfies FromWorker, [scores.buffer]);
      return;
    }
    case 'unload': {
      const session = sessions.get(msg.key);
      sessions.delete(msg.key);
      await session?.release();
      port.postMessage({ type: 'unloaded', id: msg.id } satisfies FromWorker);
      return;
    }
    case 'shutdown': {
      // Exiting on its own, after the runtime's start-up and every session's release, instead
      // of being terminated: a worker terminated while ONNX Runtime still calls back into it
      // (creating a session, say) aborts the whole process ("terminate called after throwing
      // an instance of 'Napi::Error'").
      for (const s of sessions.values()) await s.release().catch(() => undefined);
      sessions.clear();
      port.close();
      return;
    }
  }
}

// Serialise handling: one message at a time, in order.
let chain: Promise<void> = ready;
port.on('message', (msg: ToWorker) => {
  chain = chain.then(() =>
    handle(msg).catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      port.postMessage({ type: 'error', id: msg.id, message } satisfies FromWorker);
    }),
  );
});
