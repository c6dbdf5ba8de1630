/**
 * @module metrics/server-metrics
 * Prometheus metrics (prom-client) on a registry of the app's own, never the global one,
 * so several apps (tests) can live in one process. Every metric here is documented in
 * docs/metrics.md; test/unit/metrics-doc.test.ts checks the two agree.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { registerAlertMetrics, type AlertMetrics } from '../monitoring/alerts/metrics.js';
import { DecisionLogMetrics } from '../store/metrics.js';

const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];

export type RequestOutcome = 'success' | 'invalid' | 'rejected' | 'timeout' | 'error';
export const VERSION_STATES = ['LOADING', 'READY', 'UNLOADING', 'UNAVAILABLE'] as const;
export type VersionState = (typeof VERSION_STATES)[number];

export class ServerMetrics {
  readonly registry = new Registry();

  readonly requests = new Counter({
    name: 'berth_inference_requests_total',
    help: 'Inference requests by model, version and outcome (success, invalid, rejected, timeout, error).',
    labelNames: ['model', 'version', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'berth_inference_request_duration_seconds',
    help: 'End-to-end time of successful inference requests, from receipt of the body to the encoded response.',
    labelNames: ['model', 'version'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly queueDuration = new Histogram({
    name: 'berth_inference_queue_duration_seconds',
    help: 'Time requests waited in the batching queue.',
    labelNames: ['model', 'version'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly computeDuration = new Histogram({
    name: 'berth_inference_compute_duration_seconds',
    help: 'Time ONNX Runtime spent running one batch.',
    labelNames: ['model', 'version'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'berth_inference_batch_size',
    help: 'Rows in each batch executed by ONNX Runtime.',
    labelNames: ['model', 'version'] as const,
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });
  readonly batchRequests = new Histogram({
    name: 'berth_inference_batch_requests',
    help: 'Requests merged into each executed batch.',
    labelNames: ['model', 'version'] as const,
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });
  readonly batchIsolations = new Counter({
    name: 'berth_inference_batch_isolations_total',
    help: 'Batches ONNX Runtime failed on that were split and re-run so that only the requests failing alone fail.',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
  });
  readonly anomalies = new Counter({
    name: 'berth_anomalies_total',
    help: 'Request rows the anomaly layer flagged, by kind (unknown_field, missing_field, wrong_type, non_finite, unseen_category, out_of_range, ood); a row with several flags of a kind counts once for it.',
    labelNames: ['model', 'version', 'kind'] as const,
    registers: [this.registry],
  });
  readonly anomalyRows = new Counter({
    name: 'berth_anomaly_rows_total',
    help: 'Request rows the anomaly layer checked, by whether it flagged them (flagged="true"|"false"); the AnomalyRate alert is the flagged share.',
    labelNames: ['model', 'version', 'flagged'] as const,
    registers: [this.registry],
  });
  /** Read from the schedulers at scrape time (see setQueueDepthSource), not set per request. */
  #queueDepthSource: () => Iterable<{ model: string; version: string; depth: number }> = () => [];
  readonly queueDepth = new Gauge({
    name: 'berth_inference_queue_depth',
    help: 'Requests waiting in the batching queue now.',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
    collect: () => {
      this.queueDepth.reset();
      for (const q of this.#queueDepthSource()) this.queueDepth.set({ model: q.model, version: q.version }, q.depth);
    },
  });
  readonly modelState = new Gauge({
    name: 'berth_model_state',
    help: 'Model version state: 1 for the current state (LOADING, READY, UNLOADING, UNAVAILABLE), 0 for the others.',
    labelNames: ['model', 'version', 'state'] as const,
    registers: [this.registry],
  });
  readonly modelLoads = new Counter({
    name: 'berth_model_loads_total',
    help: 'Successful model version loads.',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
  });
  readonly modelLoadFailures = new Counter({
    name: 'berth_model_load_failures_total',
    help: 'Model version loads that failed (corrupt file, bad config); the reason is in the repository index and the log.',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
  });
  readonly modelLoadDuration = new Histogram({
    name: 'berth_model_load_duration_seconds',
    help: 'Time to load a model version (session creation in a worker).',
    labelNames: ['model'] as const,
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [this.registry],
  });
  readonly httpRequests = new Counter({
    name: 'berth_http_requests_total',
    help: 'HTTP requests by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly workerRestarts = new Counter({
    name: 'berth_worker_restarts_total',
    help: 'Inference worker threads that died and were replaced.',
    registers: [this.registry],
  });
  readonly processMemory = new Gauge({
    name: 'berth_process_memory_bytes',
    help: 'Process memory by kind (rss, heap_used, heap_total, external, array_buffers), read at scrape time.',
    labelNames: ['kind'] as const,
    registers: [this.registry],
    collect() {
      const m = process.memoryUsage();
      this.set({ kind: 'rss' }, m.rss);
      this.set({ kind: 'heap_used' }, m.heapUsed);
      this.set({ kind: 'heap_total' }, m.heapTotal);
      this.set({ kind: 'external' }, m.external);
      this.set({ kind: 'array_buffers' }, m.arrayBuffers);
    },
  });

  // --- live monitoring (src/monitoring) ---
  readonly modelQuality = new Gauge({
    name: 'berth_model_quality',
    help: 'Live model quality over the quality window: metric = accuracy, precision, recall, f1, auc (classifiers, on labelled decisions), mae, rmse (regressors), estimated_accuracy, estimated_precision, estimated_recall, estimated_f1, estimated_auc (the calibrated label-free estimate over recent rows; absent without a calibration or when the scores are not probabilities; it cannot see concept shift).',
    labelNames: ['model', 'version', 'metric'] as const,
    registers: [this.registry],
  });
  readonly validatedAccuracy = new Gauge({
    name: 'berth_model_validated_accuracy',
    help: 'Accuracy the model version was validated at (model metadata berth.metrics.test_accuracy or monitoring.validatedAccuracy).',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
  });
  readonly labelledDecisions = new Gauge({
    name: 'berth_model_labelled_decisions',
    help: 'Decisions with ground truth in the quality window.',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
  });
  readonly modelMemory = new Gauge({
    name: 'berth_model_memory_bytes',
    help: 'Approximate memory footprint of a model version (resident memory growth across its session loads).',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
  });
  readonly queueCapacity = new Gauge({
    name: 'berth_inference_queue_capacity',
    help: 'Requests the batching queue can hold (maxQueueSize).',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
  });
  readonly driftDetected = new Gauge({
    name: 'berth_drift_detected',
    help: 'Drift decision of the last closed drift window: 1 drift, 0 none; per feature, and feature="" for the dataset verdict.',
    labelNames: ['model', 'version', 'feature'] as const,
    registers: [this.registry],
  });
  readonly driftShare = new Gauge({
    name: 'berth_drift_share',
    help: 'Share of input features drifting in the last closed drift window (0..1; at least 1/features when only output or multivariate drift is found).',
    labelNames: ['model', 'version'] as const,
    registers: [this.registry],
  });
  readonly driftEffect = new Gauge({
    name: 'berth_drift_effect',
    help: 'Effect size of each watched column in the last closed drift window (the metric its decision rule uses).',
    labelNames: ['model', 'version', 'feature'] as const,
    registers: [this.registry],
  });
  readonly fairnessSelectionRate = new Gauge({
    name: 'berth_fairness_selection_rate',
    help: 'Share of favourable decisions per group of a sensitive attribute (berth.yaml monitoring.sensitive), over the newest monitoring.fairnessWindow decisions.',
    labelNames: ['model', 'version', 'attribute', 'group'] as const,
    registers: [this.registry],
  });
  readonly fairnessDecisions = new Gauge({
    name: 'berth_fairness_group_decisions',
    help: 'Decisions per group of a sensitive attribute in the live fairness window (groups below monitoring.minGroupSize are left out of the disparity).',
    labelNames: ['model', 'version', 'attribute', 'group'] as const,
    registers: [this.registry],
  });
  readonly fairnessParityRatio = new Gauge({
    name: 'berth_fairness_demographic_parity_ratio',
    help: 'Lowest ÷ highest group selection rate of a sensitive attribute, over groups with at least monitoring.minGroupSize decisions (Fairlearn demographic_parity_ratio); absent with fewer than two such groups.',
    labelNames: ['model', 'version', 'attribute'] as const,
    registers: [this.registry],
  });
  readonly fairnessParityDifference = new Gauge({
    name: 'berth_fairness_demographic_parity_difference',
    help: 'Highest − lowest group selection rate of a sensitive attribute, over the same groups (Fairlearn demographic_parity_difference).',
    labelNames: ['model', 'version', 'attribute'] as const,
    registers: [this.registry],
  });
  readonly fairnessGroupQuality = new Gauge({
    name: 'berth_fairness_group_quality',
    help: 'Per group of a sensitive attribute, on the labelled decisions of the quality window (binary classifiers): metric = accuracy, true_positive_rate, false_positive_rate.',
    labelNames: ['model', 'version', 'attribute', 'group', 'metric'] as const,
    registers: [this.registry],
  });
  readonly fairnessEqualizedOdds = new Gauge({
    name: 'berth_fairness_equalized_odds_difference',
    help: 'The larger of the TPR and FPR spreads (max − min) over groups with at least monitoring.minGroupSize labelled decisions (Fairlearn equalized_odds_difference).',
    labelNames: ['model', 'version', 'attribute'] as const,
    registers: [this.registry],
  });
  readonly feedbackTotal = new Counter({
    name: 'berth_feedback_total',
    help: 'Ground-truth labels received, by outcome: attached to a logged decision, or unknown id.',
    labelNames: ['model', 'outcome'] as const,
    registers: [this.registry],
  });

  // --- explanations in the decision log (src/explain/decision-explainer) ---
  readonly explanations = new Counter({
    name: 'berth_explanations_total',
    help: 'Decisions selected by their model\'s explain.log policy, by how they ended: attached (stored with the decision), skipped (the explainer was behind: queue full), failed, unmatched (the decision never reached the store), closed (shutdown).',
    labelNames: ['model', 'result'] as const,
    registers: [this.registry],
  });
  #explainer: { stats: { pending: number } } | undefined;
  readonly explanationsPending = (() => {
    const metrics = this;
    return new Gauge({
      name: 'berth_explanations_pending',
      help: 'Selected decisions waiting for their logged explanation (queued, running or waiting to be attached).',
      registers: [this.registry],
      collect() {
        this.set(metrics.#explainer?.stats.pending ?? 0);
      },
    });
  })();

  bindExplainer(explainer: { stats: { pending: number } }): void {
    this.#explainer = explainer;
  }

  /** The alert engine's metrics (berth_alerts, berth_alert_notifications_total). */
  readonly alerts: AlertMetrics = registerAlertMetrics(this.registry);
  /** The decision log's metrics (berth_decisions_*); bound to the logger when there is one. */
  readonly decisionLog = new DecisionLogMetrics(this.registry);

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  setModelState(model: string, version: string, state: VersionState | undefined): void {
    for (const s of VERSION_STATES) this.modelState.set({ model, version, state: s }, s === state ? 1 : 0);
  }

  /** Where scrapes read queue depths from (the model manager's served versions). */
  setQueueDepthSource(source: () => Iterable<{ model: string; version: string; depth: number }>): void {
    this.#queueDepthSource = source;
  }

  /** Forgets every series of a model version (after it is gone from the repository). */
  removeVersion(model: string, version: string): void {
    for (const s of VERSION_STATES) this.modelState.remove({ model, version, state: s });
    for (const g of [this.validatedAccuracy, this.labelledDecisions, this.modelMemory, this.queueCapacity, this.driftShare]) g.remove({ model, version });
    for (const g of [this.modelQuality, this.driftDetected, this.driftEffect, this.fairnessSelectionRate, this.fairnessDecisions, this.fairnessParityRatio, this.fairnessParityDifference, this.fairnessGroupQuality, this.fairnessEqualizedOdds] as Gauge<string>[]) removeMatching(g, { model, version });
  }
}

/** Removes every series of a gauge whose labels include `match`. */
export function removeMatching(g: Gauge<string>, match: Record<string, string>): void {
  const values = (g as unknown as { hashMap: Record<string, { labels: Record<string, string> }> }).hashMap;
  for (const entry of Object.values(values)) {
    if (Object.entries(match).every(([k, v]) => entry.labels[k] === v)) g.remove(entry.labels);
  }
}
