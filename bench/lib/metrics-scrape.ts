/**
 * @module bench/lib/metrics-scrape
 * Reads the server's own view of a measurement from `GET /metrics`, scraped before and
 * after: how many batches ran and how big they were, how long ONNX Runtime was busy, and
 * the server-side request and queue times. The difference of two scrapes covers exactly
 * the measured window.
 */

export interface ServerCounters {
  batches: number;
  batchRows: number;
  batchRequests: number;
  computeS: number;
  requests: number;
  requestS: number;
  queueS: number;
}

const SERIES: Record<string, keyof ServerCounters> = {
  berth_inference_batch_size_count: 'batches',
  berth_inference_batch_size_sum: 'batchRows',
  berth_inference_batch_requests_sum: 'batchRequests',
  berth_inference_compute_duration_seconds_sum: 'computeS',
  berth_inference_request_duration_seconds_count: 'requests',
  berth_inference_request_duration_seconds_sum: 'requestS',
  berth_inference_queue_duration_seconds_sum: 'queueS',
};

export async function scrape(baseUrl: string, model: string): Promise<ServerCounters> {
  const res = await fetch(`${baseUrl}/metrics`);
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
  return parseCounters(await res.text(), model);
}

export function parseCounters(text: string, model: string): ServerCounters {
  const out: ServerCounters = { batches: 0, batchRows: 0, batchRequests: 0, computeS: 0, requests: 0, requestS: 0, queueS: 0 };
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    if (brace < 0) continue;
    const key = SERIES[line.slice(0, brace)];
    if (key === undefined || !line.includes(`model="${model}"`)) continue;
    out[key] += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return out;
}

/** What the server saw in the window between two scrapes. */
export interface ServerWindow {
  batches: number;
  /** Mean rows per executed batch. */
  meanBatchRows: number;
  /** Mean requests merged into one batch. */
  meanBatchRequests: number;
  /** Fraction of the wall time ONNX Runtime was running a batch (one session instance). */
  ortBusy: number;
  /** Mean ONNX Runtime time per batch, ms. */
  computeMsPerBatch: number;
  /** Mean server-side time per request (body received → response encoded), ms. */
  serverMsPerRequest: number;
  /** Mean time waiting in the batching queue, ms. */
  queueMsPerRequest: number;
}

export function windowOf(before: ServerCounters, after: ServerCounters, wallS: number): ServerWindow {
  const d = (k: keyof ServerCounters): number => after[k] - before[k];
  const batches = d('batches');
  const requests = d('requests');
  const per = (x: number, n: number): number => (n > 0 ? x / n : NaN);
  return {
    batches,
    meanBatchRows: per(d('batchRows'), batches),
    meanBatchRequests: per(d('batchRequests'), batches),
    ortBusy: d('computeS') / wallS,
    computeMsPerBatch: per(d('computeS') * 1000, batches),
    serverMsPerRequest: per(d('requestS') * 1000, requests),
    queueMsPerRequest: per(d('queueS') * 1000, requests),
  };
}
