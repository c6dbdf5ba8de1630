/**
 * @module test/e2e/load
 * Traffic for the end-to-end dashboard test: concurrent V2 infer requests with rows of the
 * Adult test split already encoded for the `income` example (examples/data/adult), and
 * ground truth sent back as feedback for a share of them, like a client whose labels
 * arrive later.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/**
 * Labels are sent this long after the answer: the decision log writes asynchronously (in
 * batches, every 200 ms by default), and feedback for a decision not yet stored is a 404.
 */
const FEEDBACK_DELAY_MS = 1000;

export interface IncomeRows {
  /** Row-major [count, width] float32 features. */
  features: Float32Array;
  /** 1 = ">50K", 0 = "<=50K". */
  labels: Uint8Array;
  count: number;
  width: number;
}

export function readIncomeRows(root: string): IncomeRows {
  const dir = join(root, 'examples/data/adult');
  const meta = JSON.parse(readFileSync(join(dir, 'test-encoded.json'), 'utf8')) as { features: { shape: [number, number] } };
  const [count, width] = meta.features.shape;
  const bytes = gunzipSync(readFileSync(join(dir, 'test-encoded.f32.gz')));
  const features = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  if (features.length !== count * width) throw new Error(`${dir}/test-encoded.f32.gz holds ${features.length} floats, expected ${count} × ${width}`);
  return { features, labels: new Uint8Array(readFileSync(join(dir, 'test-labels.u8'))), count, width };
}

export interface LoadOptions {
  url: string;
  model: string;
  rows: IncomeRows;
  /** Requests in flight at once. */
  concurrency: number;
  /** Share of answered single-row requests whose label is sent back (0..1). */
  feedbackShare: number;
  /** Prefix of the request ids. */
  idPrefix: string;
  /** Every n-th request carries this many rows (batched requests); the others one. */
  multiRowEvery?: number;
  multiRows?: number;
  /** Changes a row before it is sent (e.g. shift a feature so drift shows). */
  shift?: (row: Float32Array) => void;
}

export interface LoadStats {
  sent: number;
  answered: number;
  failed: number;
  labelled: number;
  /** Ids of answered single-row requests, oldest first. */
  ids: string[];
}

/** Runs until stop(); stop() resolves when every request in flight and the last feedback are done. */
export class LoadGenerator {
  readonly stats: LoadStats = { sent: 0, answered: 0, failed: 0, labelled: 0, ids: [] };
  readonly #o: LoadOptions;
  #running = false;
  #next = 0;
  #workers: Promise<void>[] = [];
  #feedback: { id: string; label: number; due: number }[] = [];
  #feedbackTimer: NodeJS.Timeout | undefined;
  #feedbackInFlight: Promise<void> = Promise.resolve();
  #errors: string[] = [];

  constructor(options: LoadOptions) {
    this.#o = options;
  }

  start(): void {
    this.#running = true;
    for (let w = 0; w < this.#o.concurrency; w++) this.#workers.push(this.#worker());
    this.#feedbackTimer = setInterval(() => this.#sendFeedback(), 250);
  }

  /** Unexpected answers (first few), for assertion messages. */
  get errors(): readonly string[] {
    return this.#errors;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#workers);
    clearInterval(this.#feedbackTimer);
    await new Promise((res) => setTimeout(res, FEEDBACK_DELAY_MS));
    this.#sendFeedback(true);
    await this.#feedbackInFlight;
  }

  async #worker(): Promise<void> {
    const { rows, url, model } = this.#o;
    while (this.#running) {
      const i = this.#next++;
      const n = this.#o.multiRowEvery !== undefined && i % this.#o.multiRowEvery === 0 ? this.#o.multiRows ?? 4 : 1;
      const first = (i * 7) % (rows.count - n);
      const data = rows.features.slice(first * rows.width, (first + n) * rows.width);
      if (this.#o.shift !== undefined) for (let r = 0; r < n; r++) this.#o.shift(data.subarray(r * rows.width, (r + 1) * rows.width));
      const id = `${this.#o.idPrefix}-${i}`;
      const body = JSON.stringify({ id, inputs: [{ name: 'features', datatype: 'FP32', shape: [n, rows.width], data: Array.from(data) }] });
      this.stats.sent += 1;
      try {
        const res = await fetch(`${url}/v2/models/${model}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
        this.stats.answered += 1;
        if (n === 1) {
          this.stats.ids.push(id);
          // Deterministic share: every k-th answered request gets its label back.
          if ((i % 100) < this.#o.feedbackShare * 100) this.#feedback.push({ id, label: rows.labels[first]!, due: Date.now() + FEEDBACK_DELAY_MS });
        }
      } catch (err) {
        this.stats.failed += 1;
        if (this.#errors.length < 5) this.#errors.push(`${id}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  #sendFeedback(all = false): void {
    let n = 0;
    const now = Date.now();
    while (n < this.#feedback.length && (all || this.#feedback[n]!.due <= now)) n++;
    if (n === 0) return;
    const batch = this.#feedback.splice(0, n).map(({ id, label }) => ({ id, label }));
    const previous = this.#feedbackInFlight;
    this.#feedbackInFlight = (async () => {
      await previous;
      const res = await fetch(`${this.#o.url}/v2/models/${this.#o.model}/feedback`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ feedback: batch }),
      }).catch((err: unknown) => err as Error);
      if (res instanceof Error) {
        if (this.#errors.length < 5) this.#errors.push(`feedback: ${res.message}`);
        return;
      }
      const body = (await res.json().catch(() => ({}))) as { attached?: number; error?: string };
      this.stats.labelled += body.attached ?? 0;
      if (res.status !== 200 && this.#errors.length < 5) this.#errors.push(`feedback: HTTP ${res.status} ${body.error ?? ''}`);
    })();
  }
}
