/**
 * @module inference/model-version
 * One loaded, servable model version: its signature, its sessions (instances) in the
 * worker pool, its batching scheduler, and its statistics. Created by the model manager;
 * protocol adapters call `infer` on it.
 */
import { BatchScheduler, type ExecutionInstance } from '../batching/scheduler.js';
import { BerthError } from '../errors.js';
import type { ServerMetrics, RequestOutcome } from '../metrics/server-metrics.js';
import { VersionStats } from '../metrics/version-stats.js';
import type { ResolvedModelSettings } from '../repository/model-config.js';
import { fromOrtType, toOrtType } from '../runtime/datatypes.js';
import type { SessionHandle, WorkerPool } from '../runtime/worker-pool.js';
import type { MaskedRowsJob } from '../runtime/messages.js';
import { ANOMALY_KINDS, type AnomalyDetector, type AnomalyFlag, type AnomalyKind } from '../anomaly/detector.js';
import { loadAnomalyDetector } from '../anomaly/load.js';
import { loadBackground } from '../explain/background.js';
import { loadFieldDistributions, type FieldDistribution } from '../explain/reasons.js';
import { decideTask, type Task } from '../monitoring/binding.js';
import { createTransformer, type Transformer } from '../pipeline/transformer.js';
import { loadVersionPreprocessing, type VersionPreprocessing } from '../preprocessing/load.js';
import { probeBatching } from './batch-probe.js';
import { deriveSignature } from './signature.js';
import type { InferenceRequest, InferenceResult, ModelSignature, Tensor } from './types.js';

export interface ModelVersionInit {
  model: string;
  version: number;
  path: string;
  settings: ResolvedModelSettings;
  pool: WorkerPool;
  metrics: ServerMetrics;
  defaultMaxBatchSize: number;
}

function instanceFor(pool: WorkerPool, handle: SessionHandle): ExecutionInstance {
  return {
    async run(inputs, outputNames, transfer) {
      const feeds = inputs.map((t) => ({ name: t.name, type: toOrtType(t.datatype), dims: t.shape, data: t.data }));
      const r = await pool.run(handle, feeds, outputNames, transfer);
      const outputs: Tensor[] = r.outputs.map((o) => {
        const datatype = fromOrtType(o.type);
        if (datatype === undefined) throw new BerthError('BERTH_ERR_INFERENCE_FAILED', `output '${o.name}' has unsupported type ${o.type}`);
        return { name: o.name, datatype, shape: o.dims, data: o.data };
      });
      return { outputs, computeNs: r.computeNs };
    },
  };
}

/**
 * A model that records the hash of the preprocessing spec it was trained with
 * (`berth.preprocessing.hash`) is served only with that spec: another one would feed it
 * features it never learned (training/serving skew), so the version refuses to load. A
 * version without any spec still loads, for tensor requests only.
 */
function checkPipelineHash(metadata: Readonly<Record<string, string>>, preprocessing: VersionPreprocessing | undefined): void {
  const trained = metadata['berth.preprocessing.hash'];
  if (trained === undefined || trained === '') return;
  // Without a spec the version serves tensors only (clients encode records themselves): nothing to mismatch.
  if (preprocessing === undefined) return;
  if (preprocessing.hash !== trained) {
    throw new BerthError('BERTH_ERR_PIPELINE_MISMATCH', `${preprocessing.location} hashes to ${preprocessing.hash}, but the model was trained with spec ${trained} (ONNX metadata berth.preprocessing.hash); put the spec it was trained with in the version folder`);
  }
}

/**
 * Whether this version's requests may be merged. A dynamic first dimension is a claim, not a
 * proof: unless the config trusts it (batching.probe: false), the probe checks that rows run
 * alone and stacked agree; a model that fails it is served as if it had no batch dimension
 * (each request runs whole, as sent). A model quantized with per-batch activation scales says
 * so in its metadata and keeps its batch dimension without merging.
 */
async function decideBatching(declared: ModelSignature, init: ModelVersionInit, handle: SessionHandle): Promise<{ signature: ModelSignature; note: { merged: boolean; reason: string } }> {
  const b = init.settings.batching;
  if (declared.maxBatchSize === 0) return { signature: declared, note: { merged: false, reason: 'not batched: the model has no batch dimension (maxBatchSize 0)' } };
  if (!b.enabled) return { signature: declared, note: { merged: false, reason: 'not batched: batching.enabled is false in the model config' } };
  if (handle.metadata['berth.quantize.batch_invariant'] === 'false') {
    return { signature: declared, note: { merged: false, reason: 'not batched: the model was quantized with per-batch activation scales (metadata berth.quantize.batch_invariant=false), so a row\'s answer would depend on the rows batched with it' } };
  }
  if (!b.probe) return { signature: declared, note: { merged: true, reason: 'batched: batching.probe is false in the model config (rows trusted to be independent)' } };
  const names = declared.outputs.map((o) => o.name);
  const result = await probeBatching(declared, async (inputs) => (await instanceFor(init.pool, handle).run(inputs, names, [])).outputs);
  if (result.batchable) return { signature: declared, note: { merged: true, reason: result.reason } };
  return { signature: { ...declared, maxBatchSize: 0 }, note: { merged: false, reason: result.reason } };
}

const OUTCOMES: readonly RequestOutcome[] = ['success', 'invalid', 'rejected', 'timeout', 'error'];

function bindMetrics(m: ServerMetrics, labels: { model: string; version: string }) {
  return {
    requests: Object.fromEntries(OUTCOMES.map((o) => [o, m.requests.labels({ ...labels, outcome: o })])) as Record<RequestOutcome, ReturnType<ServerMetrics['requests']['labels']>>,
    requestDuration: m.requestDuration.labels(labels),
    queueDuration: m.queueDuration.labels(labels),
    computeDuration: m.computeDuration.labels(labels),
    batchSize: m.batchSize.labels(labels),
    batchRequests: m.batchRequests.labels(labels),
    batchIsolations: m.batchIsolations.labels(labels),
    anomalyRows: { true: m.anomalyRows.labels({ ...labels, flagged: 'true' }), false: m.anomalyRows.labels({ ...labels, flagged: 'false' }) },
    anomalies: Object.fromEntries(ANOMALY_KINDS.map((k) => [k, m.anomalies.labels({ ...labels, kind: k })])) as Record<AnomalyKind, ReturnType<ServerMetrics['anomalies']['labels']>>,
  };
}

export class ModelVersion {
  readonly model: string;
  readonly version: number;
  readonly path: string;
  readonly settings: ResolvedModelSettings;
  readonly signature: ModelSignature;
  readonly stats = new VersionStats();
  readonly loadMs: number;
  /** The model's metadata_props (e.g. berth.classes, berth.metrics.test_accuracy). */
  readonly metadata: Readonly<Record<string, string>>;
  readonly docString: string;
  /** Approximate memory footprint: resident memory growth across the session loads. */
  readonly memoryBytes: number;
  /** The preprocessing spec versioned with this model version, if it ships one. */
  readonly preprocessing: VersionPreprocessing | undefined;
  /** Raw records → the model's inputs (versions with a tabular spec); undefined: tensors only. */
  readonly transformer: Transformer | undefined;
  /** The anomaly layer's profile-based checks (range, OOD), when the version ships a profile. */
  readonly anomaly: AnomalyDetector | undefined;
  /** Why the anomaly layer is as it is, in words (metadata and the log). */
  readonly anomalyNote: string;
  /** Encoded background records explanations hide fields with (tabular versions shipping explain.background.json). */
  readonly explainBackground: Float32Array | undefined;
  /** Why explanations are as they are, in words. */
  readonly explainNote: string;
  /** The raw fields' reference distributions reason codes place values in (empty without a profile). */
  readonly explainFields: ReadonlyMap<string, FieldDistribution>;
  /** What the model predicts (classifier, regressor): the decision path's post-processing. */
  readonly task: Task;
  /** Whether requests are merged into batches, and why (the batching probe's finding, or the config). */
  readonly batchingNote: { merged: boolean; reason: string };
  readonly #scheduler: BatchScheduler;
  readonly #handles: SessionHandle[];
  readonly #pool: WorkerPool;
  /** Metric children bound once: no label lookups on the request path. */
  readonly #m: ReturnType<typeof bindMetrics>;

  private constructor(init: ModelVersionInit, handles: SessionHandle[], signature: ModelSignature, batchingNote: { merged: boolean; reason: string }, preprocessing: VersionPreprocessing | undefined) {
    this.batchingNote = batchingNote;
    this.preprocessing = preprocessing;
    this.transformer = preprocessing === undefined ? undefined : createTransformer(preprocessing, signature);
    const anomaly = loadAnomalyDetector(init.path, signature, init.settings.anomaly);
    this.anomaly = anomaly.detector;
    this.anomalyNote = anomaly.note;
    this.task = decideTask(signature, handles[0]!.metadata, init.settings.monitoring);
    const bg = this.transformer?.kind === 'tabular' ? loadBackground(init.path) : { note: 'explanations need a tabular preprocessing spec' };
    const encoded = bg.records === undefined ? undefined : this.transformer!.encode(bg.records);
    const unusable = encoded?.problems.findIndex((p) => p.some((x) => x.blocking)) ?? -1;
    this.explainBackground = encoded !== undefined && unusable < 0 ? (encoded.inputs[0]!.data as Float32Array) : undefined;
    const unknown = init.settings.explain.immutable.filter((n) => this.transformer?.fields.some((f) => f.name === n) !== true);
    if (unknown.length > 0) throw new BerthError('BERTH_ERR_MODEL_CONFIG', `berth.yaml explain.immutable: ${unknown.map((n) => `'${n}'`).join(', ')} ${unknown.length === 1 ? 'is not a field' : 'are not fields'} of version ${init.version}'s preprocessing spec (fields: ${this.transformer?.fields.map((f) => f.name).join(', ') ?? 'none: no spec'})`);
    this.explainFields = this.explainBackground === undefined ? new Map() : loadFieldDistributions(init.path);
    this.explainNote = unusable >= 0 ? `background record ${unusable} cannot be encoded: ${encoded!.problems[unusable]!.map((p) => p.message).join('; ')}` : bg.note;
    this.model = init.model;
    this.version = init.version;
    this.path = init.path;
    this.settings = init.settings;
    this.signature = signature;
    this.#handles = handles;
    this.#pool = init.pool;
    this.loadMs = Math.max(...handles.map((h) => h.loadMs));
    this.metadata = handles[0]!.metadata;
    this.docString = handles[0]!.docString;
    this.memoryBytes = handles.reduce((n, h) => n + h.memoryBytes, 0);
    this.#m = bindMetrics(init.metrics, { model: init.model, version: String(init.version) });
    const b = init.settings.batching;
    this.#scheduler = new BatchScheduler(
      { enabled: batchingNote.merged, maxBatchSize: signature.maxBatchSize, maxQueueDelayMs: b.maxQueueDelayMs, preferredBatchSizes: b.preferredBatchSizes.filter((s) => s <= signature.maxBatchSize), maxQueueSize: b.maxQueueSize, maxQueueWaitMs: b.maxQueueWaitMs },
      handles.map((h) => instanceFor(init.pool, h)),
      {
        batchExecuted: ({ rows, requests, computeNs, ioNs, ok }) => {
          if (!ok) return;
          this.stats.batchExecuted(rows, computeNs, ioNs);
          this.#m.batchSize.observe(rows);
          this.#m.batchRequests.observe(requests);
          this.#m.computeDuration.observe(computeNs / 1e9);
        },
        batchIsolated: () => this.#m.batchIsolations.inc(),
      },
    );
  }

  /** Loads `instanceCount` sessions on distinct workers (as far as the pool allows) and builds the version. */
  static async load(init: ModelVersionInit): Promise<ModelVersion> {
    const handles: SessionHandle[] = [];
    const used = new Set<number>();
    const preprocessing = loadVersionPreprocessing(init.path);
    try {
      for (let i = 0; i < init.settings.instanceCount; i++) {
        const worker = init.pool.leastLoadedWorker(used);
        used.add(worker);
        handles.push(await init.pool.load(init.path, init.settings.session, worker));
      }
      const first = handles[0]!;
      checkPipelineHash(first.metadata, preprocessing);
      const declared = deriveSignature(first.inputs, first.outputs, init.settings, init.defaultMaxBatchSize);
      const { signature, note } = await decideBatching(declared, init, first);
      return new ModelVersion(init, handles, signature, note, preprocessing);
    } catch (err) {
      await Promise.all(handles.map((h) => init.pool.unload(h)));
      throw err;
    }
  }

  get queueDepth(): number {
    return this.#scheduler.queueDepth;
  }

  /** How long a request queued now would wait (ms); 0 before any batch ran (see BatchScheduler.expectedWaitMs). */
  get expectedWaitMs(): number {
    return this.#scheduler.expectedWaitMs();
  }

  /** Admission before the body is read (see BatchScheduler.admitEarly): throws BERTH_ERR_OVERLOADED, else returns the release. */
  admitEarly(deadlineMs?: number): () => void {
    return this.#scheduler.admitEarly(deadlineMs);
  }

  /** Requests admitted before their body was read and not yet queued or gone. */
  get arriving(): number {
    return this.#scheduler.arriving;
  }

  get batching(): BatchScheduler['options'] {
    return this.#scheduler.options;
  }

  get instanceCount(): number {
    return this.#handles.length;
  }

  /** Session keys, so the manager can tell which versions a dead worker took with it. */
  ownsSession(key: string): boolean {
    return this.#handles.some((h) => h.key === key);
  }

  /** Queues the request; throws synchronously (queue full, unloading) so callers can answer 503 at once. */
  infer(request: InferenceRequest): Promise<InferenceResult> {
    return this.#scheduler.submit(request);
  }

  /** Records a finished request (called by protocol adapters once the response is encoded). */
  observe(outcome: RequestOutcome, totalNs: number, result?: InferenceResult, rows = 0): void {
    this.#m.requests[outcome].inc();
    if (outcome === 'success' && result !== undefined) {
      this.stats.requestSucceeded(totalNs, result.timings.queueNs, result.timings.ioNs, result.timings.computeNs, rows);
      this.#m.requestDuration.observe(totalNs / 1e9);
      this.#m.queueDuration.observe(result.timings.queueNs / 1e9);
    } else if (outcome !== 'invalid') {
      this.stats.requestFailed(totalNs);
    }
  }

  /** Counts one checked row in berth_anomaly_rows_total and, once per kind it was flagged for, in berth_anomalies_total. */
  countAnomalies(flags: readonly AnomalyFlag[]): void {
    this.#m.anomalyRows[flags.length > 0 ? 'true' : 'false'].inc();
    const seen = new Set<AnomalyKind>();
    for (const f of flags) {
      if (seen.has(f.kind)) continue;
      seen.add(f.kind);
      this.#m.anomalies[f.kind].inc();
    }
  }

  /**
   * Runs rows straight on the first session's worker, outside the batching queue and its
   * max batch size (explanations evaluate thousands of coalition rows at once). The worker
   * runs them between batches: serving waits at most one such call.
   */
  async runRows(inputs: Tensor[]): Promise<Tensor[]> {
    const names = this.signature.outputs.map((o) => o.name);
    const transfer = inputs.flatMap((t) => (ArrayBuffer.isView(t.data) ? [t.data.buffer as ArrayBuffer] : []));
    return (await instanceFor(this.#pool, this.#handles[0]!).run(inputs, names, transfer)).outputs;
  }

  /**
   * Scores rows the worker builds from one record and background rows (runtime/messages
   * MaskedRowsJob), on the first session's worker like runRows: only the masks go there and
   * one number per row comes back, so explanations cost the HTTP thread almost nothing.
   */
  async scoreMasked(job: MaskedRowsJob): Promise<Float64Array> {
    return (await this.#pool.runMasked(this.#handles[0]!, job)).scores;
  }

  /** Stops taking requests, lets queued and running ones finish, then frees the sessions. */
  async unload(): Promise<void> {
    await this.#scheduler.drain();
    await Promise.all(this.#handles.map((h) => this.#pool.unload(h)));
  }

  /** Fails everything queued (worker lost, shutdown) and frees the sessions. */
  async abort(error: Error): Promise<void> {
    this.#scheduler.abort(error);
    await Promise.all(this.#handles.map((h) => this.#pool.unload(h)));
  }
}
