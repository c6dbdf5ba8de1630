/**
 * @module metrics/version-stats
 * Per model version counters in the shape of Triton's statistics extension
 * (`GET /v2/models/{m}/stats`), so existing tools such as perf_analyzer can read them.
 */

interface CountNs { count: number; ns: number }
const zero = (): CountNs => ({ count: 0, ns: 0 });

export interface BatchStat {
  batch_size: number;
  compute_input: CountNs;
  compute_infer: CountNs;
  compute_output: CountNs;
}

export class VersionStats {
  lastInferenceMs = 0;
  inferenceCount = 0; // rows inferred (Triton counts batch elements)
  executionCount = 0; // batches executed
  readonly success = zero();
  readonly fail = zero();
  readonly queue = zero();
  readonly computeInput = zero();
  readonly computeInfer = zero();
  readonly computeOutput = zero();
  readonly #batches = new Map<number, BatchStat>();

  requestSucceeded(totalNs: number, queueNs: number, ioNs: number, computeNs: number, rows: number): void {
    this.lastInferenceMs = Date.now();
    this.inferenceCount += rows;
    add(this.success, totalNs);
    add(this.queue, queueNs);
    add(this.computeInput, ioNs / 2);
    add(this.computeInfer, computeNs);
    add(this.computeOutput, ioNs / 2);
  }

  requestFailed(totalNs: number): void {
    add(this.fail, totalNs);
  }

  batchExecuted(rows: number, computeNs: number, ioNs: number): void {
    this.executionCount += 1;
    let b = this.#batches.get(rows);
    if (b === undefined) {
      b = { batch_size: rows, compute_input: zero(), compute_infer: zero(), compute_output: zero() };
      this.#batches.set(rows, b);
    }
    add(b.compute_input, ioNs / 2);
    add(b.compute_infer, computeNs);
    add(b.compute_output, ioNs / 2);
  }

  /** Triton's `model_stats` entry for this version. */
  toJSON(name: string, version: string): object {
    const c = (x: CountNs): CountNs => ({ count: x.count, ns: Math.round(x.ns) });
    return {
      name,
      version,
      last_inference: this.lastInferenceMs,
      inference_count: this.inferenceCount,
      execution_count: this.executionCount,
      inference_stats: {
        success: c(this.success),
        fail: c(this.fail),
        queue: c(this.queue),
        compute_input: c(this.computeInput),
        compute_infer: c(this.computeInfer),
        compute_output: c(this.computeOutput),
        cache_hit: zero(),
        cache_miss: zero(),
      },
      batch_stats: [...this.#batches.values()]
        .sort((a, b) => a.batch_size - b.batch_size)
        .map((b) => ({ batch_size: b.batch_size, compute_input: c(b.compute_input), compute_infer: c(b.compute_infer), compute_output: c(b.compute_output) })),
    };
  }
}

function add(x: CountNs, ns: number): void {
  x.count += 1;
  x.ns += ns;
}
