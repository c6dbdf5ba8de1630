/**
 * @module test/helpers/crashing-session-worker
 * The real session worker, plus a way to make it die like a crashed worker: a `run` whose
 * FP32 input contains POISON_VALUE (./poison.ts) makes the thread exit (code 1) once every earlier message
 * is answered; that run and everything after it are never answered. Exiting between
 * messages keeps onnxruntime's native code idle, because terminating a thread while it is
 * inside a session run can abort the whole process ("terminate called after throwing an
 * instance of 'Napi::Error'"). Used through startServer({ workerUrl }).
 */
import { parentPort, type TransferListItem } from 'node:worker_threads';
import { POISON_VALUE } from './poison.js';

const port = parentPort;
if (port === null) throw new Error('crashing-session-worker must run in a worker thread');

const outstanding = new Set<number>();
let dying = false;

function exitWhenIdle(): void {
  if (dying && outstanding.size === 0) setImmediate(() => process.exit(1));
}

function isPoison(msg: { type?: string; feeds?: { data: unknown }[] }): boolean {
  return msg.type === 'run' && (msg.feeds ?? []).some((f) => f.data instanceof Float32Array && f.data.includes(POISON_VALUE));
}

const post = port.postMessage.bind(port);
port.postMessage = ((value: { id?: number }, transfer?: readonly TransferListItem[]) => {
  if (typeof value?.id === 'number') outstanding.delete(value.id);
  post(value, transfer);
  exitWhenIdle();
}) as typeof port.postMessage;

const on = port.on.bind(port);
port.on = ((event: string, listener: (msg: any) => void) => {
  if (event !== 'message') return on(event, listener);
  return on('message', (msg: { id: number; type?: string; feeds?: { data: unknown }[] }) => {
    if (dying) return;
    if (isPoison(msg)) {
      dying = true;
      exitWhenIdle();
      return;
    }
    outstanding.add(msg.id);
    listener(msg);
  });
}) as typeof port.on;

await import('../../src/runtime/session-worker.js');
