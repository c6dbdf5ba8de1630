// The charts of one model version, in page order: which time series each one draws. No
// imports, so Node can load it too (the e2e test checks it against what the monitor writes).

/**
 * The charts, in page order. `metric` names are the time series the monitor writes
 * (src/monitoring/monitor.ts). `tasks` limits a chart to model versions of those tasks.
 * `constant` draws a value from /api/models as a flat reference line.
 */
export const CHART_SPECS = [
  { id: 'throughput', title: 'Throughput', unit: 'per second', fmt: 'num', series: [
    { metric: 'throughput', label: 'requests/s' },
    { metric: 'rows_per_second', label: 'rows/s' },
  ] },
  { id: 'latency', title: 'Latency percentiles', unit: 'ms, successful requests', fmt: 'ms', series: [
    { metric: 'latency_p50_ms', label: 'p50' },
    { metric: 'latency_p95_ms', label: 'p95' },
    { metric: 'latency_p99_ms', label: 'p99' },
  ] },
  { id: 'errors', title: 'Error rate', unit: 'share of requests failed', fmt: 'pct', series: [
    { metric: 'error_rate', label: 'failed' },
  ] },
  { id: 'anomalies', title: 'Anomalous rows', unit: 'share of checked rows the anomaly layer flagged', fmt: 'pct', series: [
    { metric: 'anomaly_rate', label: 'flagged' },
  ] },
  { id: 'batch', title: 'Batch size and queue', unit: 'rows per executed batch; queued requests', fmt: 'num', series: [
    { metric: 'batch_size', label: 'mean batch' },
    { metric: 'queue_depth', label: 'queue depth' },
  ] },
  { id: 'memory', title: 'Memory', unit: 'MB', fmt: 'num', series: [
    { metric: 'memory_mb', label: 'model version' },
    { metric: 'process_rss_mb', label: 'server process (RSS)' },
  ] },
  { id: 'accuracy', title: 'Accuracy', unit: 'share correct; the estimate needs no labels and cannot see concept shift', fmt: 'num', tasks: ['classification'], zero: false, series: [
    { metric: 'accuracy', label: 'live (labelled)' },
    { metric: 'estimated_accuracy', label: 'estimate (recent rows)', dash: [6, 4] },
    { metric: 'estimated_accuracy_labelled', label: 'estimate (same labelled decisions)', dash: [2, 2] },
    { constant: 'validatedAccuracy', label: 'validated', dash: [2, 4] },
  ] },
  { id: 'regression', title: 'Regression error', unit: 'on labelled decisions', fmt: 'num', tasks: ['regression'], series: [
    { metric: 'mae', label: 'MAE' },
    { metric: 'rmse', label: 'RMSE' },
  ] },
  { id: 'labelled', title: 'Labelled decisions', unit: 'in the quality window', fmt: 'int', tasks: ['classification', 'regression'], series: [
    { metric: 'labelled', label: 'labelled' },
  ] },
  { id: 'drift', title: 'Drift', unit: 'share of input features drifting', fmt: 'pct', series: [
    { metric: 'drift_share', label: 'drifting' },
  ] },
  // Series filled in from the drift panel: the worst columns of the last window.
  { id: 'drift-features', title: 'Effect size of the worst columns', unit: 'per closed window', fmt: 'num', series: [] },
];
