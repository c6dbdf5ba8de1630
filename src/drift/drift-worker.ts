/**
 * @module drift/drift-worker
 * The worker thread behind WorkerDriftService: holds the live drift windows (DriftWindows)
 * and answers the HTTP thread's messages in order — open, add (no answer unless it fails),
 * close (the report), drop. Every message is handled to the end before the next, so rows
 * sent before a close belong to the window it closes.
 */
import { parentPort, threadId } from 'node:worker_threads';
import { messageOf } from '../errors.js';
import type { FromDriftWorker, ToDriftWorker } from './worker-messages.js';
import { DriftWindows } from './service.js';

if (parentPort === null) throw new Error('drift-worker must run in a worker thread');
const port = parentPort;
const windows = new DriftWindows();

function reply(msg: FromDriftWorker): void {
  port.postMessage(msg);
}

port.on('message', (msg: ToDriftWorker) => {
  try {
    switch (msg.op) {
      case 'open':
        reply({ id: msg.id, ok: true, result: windows.open(msg.key, msg.profilePath, msg.options) });
        break;
      case 'add':
        windows.add(msg.key, msg.columns);
        break;
      case 'close':
        reply({ id: msg.id, ok: true, result: { report: windows.close(msg.key), threadId } });
        break;
      case 'drop':
        windows.drop(msg.key);
        break;
    }
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const error = { message: messageOf(err), ...(typeof code === 'string' ? { code } : {}) };
    if (msg.op === 'add' || msg.op === 'drop') reply({ id: -1, ok: false, key: msg.key, error });
    else reply({ id: msg.id, ok: false, error });
  }
});
