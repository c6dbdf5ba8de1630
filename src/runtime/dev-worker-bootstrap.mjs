// Starts a TypeScript worker when Berth runs from its sources (tests, benchmarks under
// tsx): Node 20 does not pass tsx's module hooks on to worker threads, so the worker
// registers them itself, then imports the real entry. The built package never uses this.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.berthWorkerEntry);
