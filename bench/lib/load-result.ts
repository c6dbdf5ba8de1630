/**
 * @module bench/lib/load-result
 * What one load-generator run reports, whichever generator (wrk or the Node fallback) ran.
 */

export interface LoadResult {
  generator: 'wrk' | 'node';
  concurrency: number;
  /** Measured wall time, seconds. */
  seconds: number;
  /** Completed responses (any status). */
  requests: number;
  /** Responses with a status other than 200. */
  non200: number;
  /** Connect, read, write errors and timeouts. */
  socketErrors: number;
  /** Latency distribution: [microseconds, count] pairs, ascending. */
  latencyUs: [number, number][];
  /** CPU seconds the generator process used in all (it shares the machine with the server). */
  generatorCpuS: number;
}

export interface LoadOptions {
  url: string;
  bodyFile: string;
  /** Request headers (Content-Type, and Inference-Header-Content-Length for binary). */
  headers: Record<string, string>;
  concurrency: number;
  /** Whole seconds (wrk's unit). */
  seconds: number;
  /** Repository root, for starting Node children. */
  cwd: string;
}
