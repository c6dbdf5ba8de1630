/**
 * @module runtime/start-worker
 * Starts a worker thread from a module URL. From TypeScript sources (tests, benchmarks under
 * tsx) the worker starts through dev-worker-bootstrap.mjs, which registers tsx inside the
 * worker first: Node 20 does not pass tsx's module hooks on to worker threads. The built
 * package (.js) starts the module directly.
 */
import { Worker } from 'node:worker_threads';

/** The sibling module `./<name>.ts` under tsx, `./<name>.js` in the build. */
export function siblingModuleUrl(name: string, importMetaUrl: string): URL {
  const ext = importMetaUrl.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./${name}${ext}`, importMetaUrl);
}

/** A worker running `url`; `workerData` reaches it as `workerData` (plus `berthWorkerEntry` under tsx). */
export function startWorker(url: URL, name: string, workerData?: Record<string, unknown>): Worker {
  if (!url.pathname.endsWith('.ts')) return new Worker(url, { name, workerData });
  return new Worker(new URL('./dev-worker-bootstrap.mjs', import.meta.url), {
    name,
    workerData: { ...workerData, berthWorkerEntry: url.href },
  });
}
