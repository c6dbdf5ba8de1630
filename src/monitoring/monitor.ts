/**
 * @module monitoring/monitor
 * Live monitoring of every served model version. On the request path it only appends the
 * finished request to a list and counts it in a sliding window (O(1)); everything else runs
 * off the request path: decisions are turned into log records (decision log), rows feed the
 * version's live drift window, and every evaluation interval the monitor computes the
 * signals — latency percentiles, error rate, memory, queue saturation, accuracy on
 * labelled decisions (and a calibrated label-free estimate beside them), drift — exports
 * them as Prometheus gauges, stores them as time series, and hands them to the alert engine.
 * Drift windows live in a worker thread (drift/worker-service): the HTTP thread only sends
 * rows and receives reports.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { DriftReport } from '../drift/report.js';
import type { DriftService } from '../drift/service.js';
import { WorkerDriftService } from '../drift/worker-service.js';
import { isBerthError, messageOf } from '../errors.js';
import type { ModelVersion } from '../inference/model-version.js';
import type { InferenceRequest, InferenceResult, Tensor } from '../inference/types.js';
import type { Logger } from '../logging/logger.js';
import { inputsForLog } from '../store/hash.js';
import { sliceRows } from '../batching/tensor-batch.js';
import { detailOf, flagKey, type PreparedDecision } from '../decision/path.js';
import { rowIds } from '../decision/outcome.js';
import type { RowDecision } from '../decision/outcome.js';
import type { DecisionTicket } from '../store/decision-logger.js';
import type { DecisionDetail, DecisionRecord, FeedbackItem, PredictionStore, StoredDecision, TimeSeriesPoint } from '../store/store.js';
import { bindModel, type Binding, type DriftColumn, type MonitoringConfig } from './binding.js';
import type { MonitoringMetrics } from './metrics.js';
import { CALIBRATION_FILE, parseCalibration, type Calibration } from './calibration.js';
import { CONCEPT_SHIFT_CAVEAT, ESTIMATE_INTERVAL, estimateBinary, estimateMulticlass, type PerformanceEstimate } from './estimate.js';
import { classificationQuality, regressionQuality, type ClassificationQuality, type RegressionQuality } from './quality.js';
import { columnsFor, REFERENCE_PROFILE_FILE, type ColumnSource } from './reference.js';
import { personalRedactor, type PersonalRedactor } from './personal.js';
import { FairnessWindow, groupQuality, groupsOf, type AttributeFairness, type AttributeQuality } from './fairness.js';
import { classProbabilities, type ClassificationTask, type ClassProbabilities } from './scores.js';
import { SlidingWindow, type WindowSummary } from './sliding-window.js';
import type { SignalName, SignalSample } from './alerts/types.js';

export type { SignalName, SignalSample };

/** Where decision records go (the decision logger): `log` must not block or throw. */
export interface DecisionSink {
  log(record: DecisionRecord, ticket?: DecisionTicket): void;
  /** Called before the response is sent (store.durability: see store/decision-logger.ts). */
  reserve?(model: string, id: string): DecisionTicket;
  /** The record of a reserved decision could not be built. */
  abandon?(ticket: DecisionTicket, error: unknown): void;
  /** Writes what is buffered (so feedback sent right after a response finds its decision). */
  flush?(): Promise<void>;
}

/** Where served decisions go to be explained for the log (explain/decision-explainer), by the model's policy. */
export interface ExplanationSink {
  offer(mv: ModelVersion, prepared: PreparedDecision, decision: RowDecision, id: string): void;
}

/** The alert engine as the monitor uses it. */
export interface AlertSink {
  evaluate(samples: SignalSample[]): void;
}

export interface MonitorOptions {
  log: Logger;
  metrics: MonitoringMetrics;
  store?: PredictionStore | undefined;
  decisions?: DecisionSink | undefined;
  /** Logged decisions get explanations by their model's explain.log policy. */
  explainer?: ExplanationSink | undefined;
  alerts?: AlertSink | undefined;
  clock?: { now(): number };
  /** How often signals are computed (ms). */
  evaluationIntervalMs: number;
  /** Labelled decisions newer than this count for live quality (ms). */
  qualityWindowMs: number;
  /** Live quality needs at least this many labelled decisions. */
  minLabelled: number;
  /** Latency and error-rate window (ms). */
  latencyWindowMs: number;
  /** Drift windows close after this long (ms)… */
  driftWindowMs: number;
  /** …once they hold at least this many rows. */
  driftMinRows: number;
  /**
   * Above this many rows a second (per version), the drift window takes a uniform random
   * sample of them (each row with probability limit ÷ the previous second's rows): the tests
   * need thousands of rows per window, not every row, and drift costs CPU per row.
   */
  driftMaxRowsPerSecond?: number;
  /** Random numbers in [0, 1) for that sample; default Math.random (tests pass a seeded one). */
  random?: () => number;
  /** Keep request inputs in the decision log (else only their hash). */
  keepInputs: boolean;
  /** Inputs larger than this (bytes of tensor data) are logged as a hash only. */
  maxInputBytes: number;
  /** The key for personal fields (monitoring/personal); asked for only when a spec marks some. */
  personalKey?: () => Buffer;
  /** Where drift windows are kept and tested; default a worker thread (WorkerDriftService). */
  drift?: DriftService;
}

/** The label-free estimate of a classifier, or why there is none. */
export interface EstimateSnapshot {
  available: boolean;
  /** Why the estimate is unavailable (no calibration, scores that are not probabilities, …). */
  reason?: string;
  /** How it is made, the calibration it rests on, and what its interval means. */
  method: string;
  calibration?: { method: 'isotonic'; rows: number; source: string };
  interval: string;
  /** Said on every surface: what the estimate cannot see. */
  caveat: string;
  /** Over the newest rows served (batched requests included), no labels needed. */
  recent?: PerformanceEstimate;
  /** Over exactly the labelled decisions `classification` was computed from: estimate and realised side by side. */
  labelled?: PerformanceEstimate;
}

export interface QualitySnapshot {
  task: Binding['task']['kind'];
  /** Labelled decisions in the window. */
  labelled: number;
  /** Set when quality was computed from only the newest this-many of them. */
  sampled?: number;
  windowMs: number;
  classification?: ClassificationQuality;
  regression?: RegressionQuality;
  /** Classifiers: why the live AUC is missing (scores that are not probabilities). */
  aucUnavailable?: string;
  /** Classifiers: the calibrated label-free estimate (CBPE-style), or why there is none. */
  estimate?: EstimateSnapshot;
  /** estimate.recent.accuracy.value, when available (not a measurement). */
  estimatedAccuracy?: number;
  /** Rows estimate.recent rests on. */
  estimatedFrom: number;
  validatedAccuracy?: number;
  /** Binary classifiers with monitoring.sensitive: accuracy, TPR and FPR by group over the same labelled decisions. */
  fairness?: AttributeQuality[];
  at: number;
}

/**
 * Labelled decisions the quality was computed from: those with a prediction to compare (a
 * multi-row request has none), which is what minLabelled counts.
 */
export function usableLabels(q: QualitySnapshot): number {
  return q.classification?.count ?? q.regression?.count ?? 0;
}

export interface FairnessSnapshot {
  /** Newest decisions the rates cover, and how many there are so far. */
  window: number;
  decisions: number;
  minGroupSize: number;
  attributes: AttributeFairness[];
  /** Accuracy, TPR and FPR by group on the labelled decisions (binary classifiers). */
  quality?: AttributeQuality[];
}

export interface DriftSnapshot {
  enabled: boolean;
  reason?: string;
  /** The last closed window's report. */
  report?: DriftReport;
  windowEnd?: number;
  /** Rows in the window being filled now (sampled rows, when sampling). */
  currentRows: number;
  /** Rows served in the window being filled now; more than currentRows when the window samples. */
  currentServedRows: number;
  /** Share of the served rows the last closed window kept (1 = all). */
  sampleRate?: number;
}

interface Pending {
  mv: ModelVersion;
  request: InferenceRequest;
  /** Undefined for a refused or failed request (then `refusal` says why). */
  result: InferenceResult | undefined;
  latencyMs: number;
  time: number;
  ticket: DecisionTicket | undefined;
  /** What the decision path learnt (raw records, flags, pipeline) and decided. */
  prepared?: PreparedDecision;
  decisions?: RowDecision[];
  refusal?: { outcome: string; code: string; message: string };
}

/** The label-free estimate covers this many of the newest rows served. */
const ESTIMATE_RING = 10_000;
/** Live fairness: the newest decisions the group selection rates cover, and the smallest group counted in a disparity (berth.yaml defaults). */
const FAIRNESS_WINDOW = 10_000;
const MIN_GROUP_SIZE = 30;

/** Live quality is computed from at most this many of the newest labelled decisions. */
const QUALITY_SAMPLE = 10_000;

class VersionMonitor {
  readonly key: string;
  readonly binding: Binding;
  readonly columns: DriftColumn[];
  readonly window: SlidingWindow;
  /** The newest ESTIMATE_RING rows' class probabilities and predicted classes (classifiers). */
  readonly ringProbabilities: Float32Array;
  readonly ringPredicted: Int32Array;
  ringCount = 0;
  calibration: Calibration | undefined;
  /** Why there is no estimate (set at attach, or when scores turn out not to be probabilities). */
  estimateReason: string | undefined;
  /** Set at the first score row that is not a probability vector (sticky). */
  scoreProblem: string | undefined;
  /** Drift: opening the window in the service, open, or off (driftReason says why). */
  driftState: 'opening' | 'open' | 'off' = 'off';
  driftReason: string | undefined;
  /** Rows sent to the current window; a close is in flight. */
  driftRows = 0;
  driftClosing = false;
  /** The window's key in the drift service (unique per attach: a reloaded version gets a new one). */
  driftKey: string | undefined;
  driftStart: number;
  lastDrift: { report: DriftReport; at: number; servedRows: number } | undefined;
  /** Rows served since the drift window started (sampled or not). */
  driftServedRows = 0;
  /** Rows served in the current and in the previous second (the sampling probability's denominator). */
  secondStart = 0;
  rowsThisSecond = 0;
  rowsLastSecond = 0;
  quality: QualitySnapshot | undefined;
  qualityRunning = false;
  /** Live selection rates by group of the version's sensitive attributes (monitoring.sensitive), if any. */
  readonly fairness: FairnessWindow | undefined;
  logged = 0;
  /** Batches and rows executed at the previous tick, for the mean batch size between ticks. */
  lastExecutions = 0;
  lastRows = 0;

  constructor(readonly mv: ModelVersion, readonly config: MonitoringConfig, opts: MonitorOptions, now: number) {
    this.key = `${mv.model}/${mv.version}`;
    this.binding = bindModel(mv.signature, mv.metadata, config, mv.preprocessing?.tabular);
    this.columns = this.binding.columns;
    this.window = new SlidingWindow(opts.latencyWindowMs);
    this.driftStart = now;
    const sensitive = mv.settings.monitoring.sensitive ?? [];
    this.fairness = sensitive.length > 0 ? new FairnessWindow(sensitive, mv.settings.monitoring.fairnessWindow ?? FAIRNESS_WINDOW) : undefined;
    const task = this.binding.task;
    const C = task.kind === 'classification' ? task.classCount : 0;
    this.ringProbabilities = new Float32Array(ESTIMATE_RING * C);
    this.ringPredicted = new Int32Array(task.kind === 'classification' ? ESTIMATE_RING : 0);
    if (task.kind === 'classification') this.loadCalibration(task);
    if (this.columns.length === 0) this.driftReason = 'no columns to watch (inputs without a fixed row shape)';
    else if (!existsSync(this.profilePath)) this.driftReason = `no reference profile: run \`berth reference ${dirname(mv.path)} …\` to write ${REFERENCE_PROFILE_FILE}`;
    else this.driftState = 'opening';
  }

  get profilePath(): string {
    return join(dirname(this.mv.path), REFERENCE_PROFILE_FILE);
  }

  private loadCalibration(task: ClassificationTask): void {
    const path = join(dirname(this.mv.path), CALIBRATION_FILE);
    if (!existsSync(path)) {
      this.estimateReason = `no calibration: run \`berth reference ${dirname(this.mv.path)} … --calibration-raw|--calibration-data …\` with labelled rows held out from training to write ${CALIBRATION_FILE}`;
      return;
    }
    try {
      const cal = parseCalibration(JSON.parse(readFileSync(path, 'utf8')), path);
      const kind = task.scoreKind ?? 'probabilities';
      if (cal.classes.join('\u0000') !== task.classes.join('\u0000')) throw new Error(`${path} is for classes ${cal.classes.join(', ')}; this version has ${task.classes.join(', ')}: rebuild it with berth reference`);
      if (cal.scoreKind !== kind) throw new Error(`${path} calibrates ${cal.scoreKind}; this version's monitoring.scoreKind is ${kind}: rebuild it with berth reference`);
      const positive = task.positiveIndex === undefined ? undefined : task.classes[task.positiveIndex];
      if (task.classCount === 2 && cal.positiveClass !== positive) throw new Error(`${path} calibrates p(${cal.positiveClass ?? '?'}); this version's positive class is ${positive ?? '?'}: rebuild it with berth reference`);
      this.calibration = cal;
    } catch (err) {
      this.estimateReason = messageOf(err);
    }
  }

  /** Keeps a request's class probabilities for the label-free estimate. */
  pushProbabilities(p: ClassProbabilities, rows: number, C: number): void {
    for (let r = 0; r < rows; r++) {
      const slot = this.ringCount % ESTIMATE_RING;
      this.ringProbabilities.set(p.probabilities.subarray(r * C, (r + 1) * C), slot * C);
      this.ringPredicted[slot] = p.predicted[r]!;
      this.ringCount += 1;
    }
  }

  get ringRows(): number {
    return Math.min(this.ringCount, ESTIMATE_RING);
  }
}

/**
 * A tensor as the decision log keeps it: typed-array data copied to its own compact buffer
 * (results are often views into a whole batch's output, and the SQLite store posts records
 * to its worker thread, which would clone the entire underlying buffer).
 */
function logTensor(t: Tensor): { name: string; datatype: string; shape: number[]; data: unknown } {
  return { name: t.name, datatype: t.datatype, shape: t.shape, data: Array.isArray(t.data) ? t.data : t.data.slice() };
}

/** The ids a request's decisions are logged under (see decision/outcome rowIds). */
function rowIdsOf(request: InferenceRequest): string[] {
  return rowIds(request.decisionId ?? request.id, Math.max(1, request.batchSize));
}

/** One ticket per row of a batched request, durable when all are. */
class RowTickets implements DecisionTicket {
  constructor(readonly tickets: DecisionTicket[], readonly durable: Promise<void> | undefined) {}
}

/** Personal fields of a logged raw record: the hash the logged tensor carries (`personal:<column>`), or nothing. */
function redactRecord(record: Record<string, unknown>, columns: Readonly<Record<string, string>>, logged: readonly Tensor[], row: number): void {
  for (const [column, policy] of Object.entries(columns)) {
    if (!(column in record)) continue;
    if (policy === 'drop') {
      delete record[column];
      continue;
    }
    const hashes = logged.find((t) => t.name === `personal:${column}`);
    record[column] = hashes === undefined ? null : `hmac:${String((hashes.data as string[])[row])}`;
  }
}

export class Monitor {
  readonly #opts: MonitorOptions;
  readonly #clock: { now(): number };
  readonly #random: () => number;
  readonly #versions = new Map<string, VersionMonitor>();
  #pending: Pending[] = [];
  readonly #redactors = new WeakMap<ModelVersion, PersonalRedactor | null>();
  #key: Buffer | undefined;
  #flushScheduled = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #drift: DriftService;
  #driftKeys = 0;

  constructor(options: MonitorOptions) {
    this.#opts = options;
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.#random = options.random ?? Math.random;
    this.#drift = options.drift ?? new WorkerDriftService({
      onError: (key, message) => options.log.error({ window: key, err: message }, 'drift window failed'),
    });
  }

  start(): void {
    if (this.#timer !== undefined || this.#opts.evaluationIntervalMs <= 0) return;
    this.#timer = setInterval(() => {
      this.tick().catch((err: unknown) => this.#opts.log.error({ err: messageOf(err) }, 'monitoring evaluation failed'));
    }, this.#opts.evaluationIntervalMs);
    this.#timer.unref();
  }

  // --- versions ---------------------------------------------------------------------

  attach(mv: ModelVersion): void {
    const vm = new VersionMonitor(mv, mv.settings.monitoring, this.#opts, this.#clock.now());
    this.#versions.set(vm.key, vm);
    this.#opts.metrics.versionAttached(mv, vm.binding.validatedAccuracy);
    if (vm.estimateReason !== undefined && vm.binding.task.kind === 'classification') this.#opts.log.info({ model: mv.model, version: mv.version, reason: vm.estimateReason }, 'no label-free estimate for this version');
    if (vm.driftState === 'opening') this.#openDrift(vm);
    else this.#opts.log.info({ model: mv.model, version: mv.version, reason: vm.driftReason }, 'live drift off for this version');
  }

  /**
   * Opens the version's drift window in the drift service (the reference is read and
   * prepared there); rows and closes sent meanwhile are handled after the open.
   */
  #openDrift(vm: VersionMonitor): void {
    vm.driftKey = `${vm.key}#${++this.#driftKeys}`;
    const drift = vm.config.driftThresholds === undefined ? {} : { columns: vm.config.driftThresholds };
    this.#drift.open(vm.driftKey, vm.profilePath, { drift, columns: vm.columns.length }).then(
      () => {
        if (vm.driftState === 'opening') vm.driftState = 'open';
      },
      (err: unknown) => {
        const msg = messageOf(err);
        // Thresholds from berth.yaml name columns of the profile: say where the bad name came from.
        this.#driftOff(vm, msg.startsWith('option columns.') ? `monitoring.driftThresholds in the model's berth.yaml: ${msg.slice('option '.length)}` : msg);
      },
    );
  }

  #driftOff(vm: VersionMonitor, reason: string): void {
    vm.driftState = 'off';
    vm.driftReason = reason;
    if (vm.driftKey !== undefined) this.#drift.drop(vm.driftKey);
    this.#opts.log.warn({ model: vm.mv.model, version: vm.mv.version, reason }, 'live drift off for this version');
  }

  detach(mv: ModelVersion): void {
    const key = `${mv.model}/${mv.version}`;
    const vm = this.#versions.get(key);
    if (vm === undefined || vm.mv !== mv) return;
    this.#flush();
    this.#versions.delete(key);
    if (vm.driftKey !== undefined) this.#drift.drop(vm.driftKey);
    vm.driftState = 'off';
    this.#opts.metrics.versionDetached(mv.model, String(mv.version));
  }

  #monitorOf(mv: ModelVersion): VersionMonitor | undefined {
    const vm = this.#versions.get(`${mv.model}/${mv.version}`);
    return vm !== undefined && vm.mv === mv ? vm : undefined;
  }

  // --- the request path -------------------------------------------------------------

  /**
   * A successful inference. O(1): the heavy work runs in the flush, after the response is
   * sent. Returns a promise with `store.durability: sync`: the response waits for it (the
   * decision is durable, or it rejects with why not); undefined otherwise.
   */
  recordSuccess(mv: ModelVersion, request: InferenceRequest, result: InferenceResult, latencyMs: number, prepared?: PreparedDecision, decisions?: RowDecision[]): Promise<void> | undefined {
    const now = this.#clock.now();
    this.#monitorOf(mv)?.window.recordSuccess(now, latencyMs, request.batchSize);
    if (prepared !== undefined) this.#countAnomalies(mv, prepared, now);
    const ticket = this.#reserve(mv, request);
    const item: Pending = { mv, request, result, latencyMs, time: now, ticket };
    if (prepared !== undefined) item.prepared = prepared;
    if (decisions !== undefined) item.decisions = decisions;
    this.#enqueue(item);
    return ticket?.durable;
  }

  /**
   * A request the decision path refused (422: a record that cannot be encoded, the anomaly
   * policy) or that failed in the model: logged with its reason, never acknowledged as served.
   */
  recordRefusal(mv: ModelVersion, prepared: PreparedDecision, error: unknown, latencyMs: number): void {
    const code = isBerthError(error) ? error.code : 'BERTH_ERR_INTERNAL';
    const status = isBerthError(error) ? error.status : 500;
    const outcome = code === 'BERTH_ERR_DEADLINE_EXCEEDED' ? 'timeout' : status < 500 ? 'invalid' : 'error';
    if (code === 'BERTH_ERR_INVALID_RECORD' || code === 'BERTH_ERR_ANOMALY_REJECTED') this.#countAnomalies(mv, prepared, this.#clock.now());
    this.#enqueue({ mv, request: prepared.request, result: undefined, latencyMs, time: this.#clock.now(), ticket: undefined, prepared, refusal: { outcome, code, message: messageOf(error) } });
  }

  /** The anomaly layer's rows in the version's window (the anomaly_rate signal), when the layer is on. */
  #countAnomalies(mv: ModelVersion, prepared: PreparedDecision, now: number): void {
    if (!prepared.checked) return;
    let flagged = 0;
    for (const row of prepared.flags) if (row.length > 0) flagged++;
    this.#monitorOf(mv)?.window.recordAnomalies(now, prepared.flags.length, flagged);
  }

  /** Reserves the decision ids a request will be logged under: one per row of a batched request. */
  #reserve(mv: ModelVersion, request: InferenceRequest): DecisionTicket | undefined {
    const reserve = this.#opts.decisions?.reserve;
    if (reserve === undefined) return undefined;
    const ids = rowIdsOf(request);
    if (ids.length === 1) return reserve.call(this.#opts.decisions, mv.model, ids[0]!);
    const tickets = ids.map((id) => reserve.call(this.#opts.decisions, mv.model, id));
    const durable = tickets.some((t) => t.durable !== undefined) ? Promise.all(tickets.map((t) => t.durable)).then(() => undefined) : undefined;
    return new RowTickets(tickets, durable);
  }

  #enqueue(item: Pending): void {
    this.#pending.push(item);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  /** A request that failed on the server's side (rejected, timed out, errored); client errors do not count. */
  recordFailure(mv: ModelVersion): void {
    this.#monitorOf(mv)?.window.recordFailure(this.#clock.now());
  }

  #flush(): void {
    this.#flushScheduled = false;
    const items = this.#pending;
    if (items.length === 0) return;
    this.#pending = [];
    // Drift rows are fed per version and by column, once per flush (see columnsFor).
    const drift = new Map<VersionMonitor, ColumnSource[]>();
    for (const it of items) {
      const vm = this.#monitorOf(it.mv);
      try {
        if (it.result === undefined) {
          this.#logRefusal(it);
          continue;
        }
        const probabilities = this.#process(it, it.result, vm);
        if (vm !== undefined && vm.driftState !== 'off' && it.request.batchSize > 0 && this.#sampleForDrift(vm, it.time, it.request.batchSize)) {
          const list = drift.get(vm) ?? [];
          list.push({ inputs: it.request.inputs, outputs: it.result.outputs, rows: it.request.batchSize, probabilities, ...(it.prepared?.records === undefined ? {} : { records: it.prepared.records }) });
          drift.set(vm, list);
        }
      } catch (err) {
        if (it.ticket instanceof RowTickets) for (const t of it.ticket.tickets) this.#opts.decisions?.abandon?.(t, err);
        else if (it.ticket !== undefined) this.#opts.decisions?.abandon?.(it.ticket, err);
        this.#opts.log.error({ model: it.mv.model, version: it.mv.version, id: it.request.id, err: messageOf(err) }, 'monitoring could not process a decision');
      }
    }
    for (const [vm, list] of drift) {
      try {
        const byName = columnsFor(vm.columns, vm.binding, list);
        this.#drift.add(vm.driftKey!, vm.columns.map((c) => byName[c.name]!));
        for (const it of list) vm.driftRows += it.rows;
      } catch (err) {
        this.#opts.log.error({ model: vm.mv.model, version: vm.mv.version, err: messageOf(err) }, 'monitoring could not add rows to the drift window');
      }
    }
  }

  /** Whether a request's rows go into the drift window (see driftMaxRowsPerSecond). */
  #sampleForDrift(vm: VersionMonitor, time: number, rows: number): boolean {
    vm.driftServedRows += rows;
    const limit = this.#opts.driftMaxRowsPerSecond;
    if (limit === undefined) return true;
    const second = Math.floor(time / 1000);
    if (second !== vm.secondStart) {
      vm.rowsLastSecond = second === vm.secondStart + 1 ? vm.rowsThisSecond : 0;
      vm.rowsThisSecond = 0;
      vm.secondStart = second;
    }
    vm.rowsThisSecond += rows;
    // One probability for the whole second, from the previous second's rows, so the sample
    // is uniform within each second (the first second of a burst is kept whole).
    return vm.rowsLastSecond <= limit || this.#random() < limit / vm.rowsLastSecond;
  }

  /** Logs the decision and keeps its probabilities for the estimate; returns them (classifiers) for the drift columns. */
  #process(it: Pending, result: InferenceResult, vm: VersionMonitor | undefined): ClassProbabilities | undefined {
    const { mv, request } = it;
    const binding = vm?.binding ?? bindModel(mv.signature, mv.metadata, mv.settings.monitoring, mv.preprocessing?.tabular);
    const rows = request.batchSize;
    const task = binding.task;
    const predictions: (DecisionRecord['prediction'])[] = new Array(rows);
    let probabilities: ClassProbabilities | undefined;
    if (task.kind === 'classification') {
      const scores = result.outputs.find((o) => o.name === task.scoreOutput);
      if (scores !== undefined && rows > 0) {
        probabilities = classProbabilities(task, scores, rows);
        const C = task.classCount;
        // The stored score is the predicted class's probability (the raw score if they are not probabilities).
        for (let r = 0; r < rows; r++) {
          const k = probabilities.predicted[r]!;
          predictions[r] = { label: task.classes[k]!, score: probabilities.probabilities[r * C + k]! };
        }
        if (vm !== undefined) {
          if (probabilities.problem !== undefined && vm.scoreProblem === undefined) {
            vm.scoreProblem = probabilities.problem;
            this.#opts.log.warn({ model: mv.model, version: mv.version, reason: probabilities.problem }, 'scores are not probabilities: no label-free estimate or live AUC for this version');
          }
          if (vm.scoreProblem === undefined) vm.pushProbabilities(probabilities, rows, C);
        }
      }
    } else if (task.kind === 'regression') {
      const out = result.outputs.find((o) => o.name === task.valueOutput);
      if (out !== undefined && rows > 0) {
        const width = out.data.length / rows;
        for (let r = 0; r < rows; r++) predictions[r] = { value: Number(out.data[r * width]) };
      }
    }
    if (this.#opts.decisions !== undefined) {
      for (const record of this.#records(it, result.outputs, 'success', result.executedBatchSize)) {
        const row = record.detail?.row ?? 0;
        const prediction = predictions[row];
        if (prediction !== undefined) record.prediction = prediction;
        if (it.decisions?.[row] !== undefined) {
          const shown = detailOf(it.prepared!, row, it.decisions[row]).decision;
          if (shown !== undefined) (record.detail ??= {}).decision = shown;
          const fairness = vm?.fairness;
          if (fairness !== undefined && it.decisions[row].adverse !== undefined) {
            const groups = groupsOf(fairness.attributes, it.prepared?.records?.[row], request.parameters.context);
            fairness.add(groups, it.decisions[row].adverse === false);
            (record.detail ??= {}).context = Object.fromEntries(fairness.attributes.map((a, i) => [a, groups[i]!]));
          }
        }
        this.#opts.decisions.log(record, it.ticket instanceof RowTickets ? it.ticket.tickets[row] : it.ticket);
        if (it.decisions?.[row] !== undefined) this.#opts.explainer?.offer(mv, it.prepared!, it.decisions[row], record.id);
      }
      if (vm !== undefined) vm.logged += rows > 1 ? rows : 1;
    }
    return probabilities;
  }

  /** A refused or failed request in the decision log: no outputs, its reason in the detail. */
  #logRefusal(it: Pending): void {
    if (this.#opts.decisions === undefined) return;
    for (const record of this.#records(it, [], it.refusal!.outcome, 0)) {
      (record.detail ??= {}).reason = { code: it.refusal!.code, message: it.refusal!.message };
      this.#opts.decisions.log(record);
    }
  }

  /**
   * The decision-log records of a request: one for a one-row request, one per row (id
   * `<id>/<row>`) for a batched one, so feedback can label each row. Each carries its
   * inputs (personal fields redacted), their hash, and the decision path's detail.
   */
  #records(it: Pending, outputs: readonly Tensor[], outcome: string, batchSize: number): DecisionRecord[] {
    const { mv, request, prepared } = it;
    const redactor = this.#redactorOf(mv);
    const logged = redactor?.redact(request.inputs) ?? request.inputs;
    const rows = request.batchSize;
    const ids = rowIdsOf(request);
    const policy = { keepInputs: mv.settings.monitoring.keepInputs ?? this.#opts.keepInputs, maxInputBytes: this.#opts.maxInputBytes };
    const out: DecisionRecord[] = [];
    for (let r = 0; r < ids.length; r++) {
      const split = ids.length > 1;
      const inputs = split ? logged.map((t) => (t.shape[0] === rows ? sliceRows(t, r, 1) : t)) : logged;
      const rowOutputs = split ? outputs.map((t) => (t.shape[0] === rows ? sliceRows(t, r, 1) : t)) : outputs;
      const kept = inputsForLog(inputs, policy);
      const record: DecisionRecord = {
        id: ids[r]!,
        time: it.time,
        model: mv.model,
        version: String(mv.version),
        inputs: kept.inputs === null ? null : inputs.map(logTensor),
        inputsHash: kept.inputsHash,
        outputs: rowOutputs.map(logTensor),
        latencyMs: it.latencyMs,
        batchSize,
        outcome,
        flags: (prepared?.flags[r] ?? []).map(flagKey),
      };
      const detail: DecisionDetail = prepared === undefined ? {} : detailOf(prepared, r);
      if (detail.record !== undefined && redactor !== undefined) redactRecord(detail.record, redactor.columns, logged, r);
      if (split) {
        detail.row = r;
        detail.requestId = request.decisionId ?? request.id;
      }
      if (Object.keys(detail).length > 0) record.detail = detail;
      out.push(record);
    }
    return out;
  }

  /** The personal-field redactor of a version (null: its spec marks none). */
  #redactorOf(mv: ModelVersion): PersonalRedactor | undefined {
    let r = this.#redactors.get(mv);
    if (r === undefined) {
      const spec = mv.preprocessing?.tabular;
      r = (spec === undefined ? undefined : personalRedactor(spec, this.#personalKey())) ?? null;
      this.#redactors.set(mv, r);
      if (r !== null) this.#opts.log.info({ model: mv.model, version: mv.version, personal: r.columns }, 'personal fields are hashed or dropped in the decision log');
    }
    return r ?? undefined;
  }

  #personalKey(): Buffer {
    if (this.#key === undefined) this.#key = this.#opts.personalKey?.() ?? randomBytes(32);
    return this.#key;
  }

  // --- feedback ---------------------------------------------------------------------

  /** Attaches ground truth; labels may be class names or class indices. */
  async feedback(model: string, items: FeedbackItem[]): Promise<{ attached: string[]; unknown: string[] }> {
    const store = this.#opts.store;
    if (store === undefined) throw new Error('no prediction store is configured');
    this.#flush();
    await this.#opts.decisions?.flush?.().catch(() => undefined);
    const classes = [...this.#versions.values()].find((v) => v.mv.model === model && v.binding.task.kind === 'classification')?.binding.task as { classes: string[] } | undefined;
    const normalised = items.map((it) => ({ ...it, label: normaliseLabel(it.label, classes?.classes) }));
    const result = await store.attachFeedback(model, normalised);
    this.#opts.metrics.feedback(model, result.attached.length, result.unknown.length);
    return result;
  }

  // --- evaluation -------------------------------------------------------------------

  /** Computes every signal now; exported for tests (the timer calls it). */
  async tick(): Promise<SignalSample[]> {
    this.#flush();
    const now = this.#clock.now();
    const samples: SignalSample[] = [];
    const points: TimeSeriesPoint[] = [];
    // Quality reads the store and drift waits for the drift worker: neither blocks the HTTP thread.
    await Promise.all([...this.#versions.values()].flatMap((vm) => [this.#updateQuality(vm, now), this.#rollDrift(vm, now)]));
    for (const vm of this.#versions.values()) {
      const model = vm.mv.model;
      const version = String(vm.mv.version);
      const s = vm.window.summary(now);
      const sig = (signal: SignalName, value: number, labels?: Record<string, string>): void => {
        if (Number.isFinite(value)) samples.push(labels === undefined ? { signal, model, version, value } : { signal, model, version, value, labels });
      };
      const point = (metric: string, value: number, key = ''): void => {
        if (Number.isFinite(value)) points.push({ time: now, metric, model, version, key, value });
      };
      sig('latency_p95_ms', s.p95Ms);
      sig('error_rate', s.requests > 0 ? s.errorRate : NaN);
      sig('anomaly_rate', s.anomalyRate);
      sig('memory_mb', vm.mv.memoryBytes / 1048576);
      const saturation = vm.mv.queueDepth / vm.mv.batching.maxQueueSize;
      sig('queue_saturation', saturation);
      this.#windowPoints(s, point);
      point('queue_depth', vm.mv.queueDepth);
      const executions = vm.mv.stats.executionCount - vm.lastExecutions;
      if (executions > 0) point('batch_size', (vm.mv.stats.inferenceCount - vm.lastRows) / executions);
      vm.lastExecutions = vm.mv.stats.executionCount;
      vm.lastRows = vm.mv.stats.inferenceCount;
      point('memory_mb', vm.mv.memoryBytes / 1048576);
      point('process_rss_mb', process.memoryUsage.rss() / 1048576);

      const q = vm.quality;
      if (q !== undefined) {
        const acc = q.classification?.accuracy;
        if (acc !== undefined && usableLabels(q) >= this.#opts.minLabelled) {
          sig('accuracy', acc);
          if (q.validatedAccuracy !== undefined) sig('accuracy_drop', q.validatedAccuracy - acc);
          point('accuracy', acc);
        }
        if (q.estimatedAccuracy !== undefined) point('estimated_accuracy', q.estimatedAccuracy);
        const sameDecisions = q.estimate?.labelled?.accuracy.value;
        if (sameDecisions !== undefined && usableLabels(q) >= this.#opts.minLabelled) point('estimated_accuracy_labelled', sameDecisions);
        if (q.regression !== undefined && usableLabels(q) >= this.#opts.minLabelled) {
          point('mae', q.regression.mae);
          point('rmse', q.regression.rmse);
        }
        point('labelled', q.labelled);
      }

      const d = vm.lastDrift?.report;
      if (d !== undefined) {
        const share = driftShare(d);
        sig('drift', share);
        point('drift_share', share);
        for (const f of [...d.features, ...d.outputs.columns]) if (Number.isFinite(f.effect.value)) point('drift_effect', f.effect.value, f.name);
      }
      this.#opts.metrics.update(vm.mv, { summary: s, quality: q, drift: d, minLabelled: this.#opts.minLabelled });
      if (vm.fairness !== undefined) {
        const rates = vm.fairness.summary(vm.mv.settings.monitoring.minGroupSize ?? MIN_GROUP_SIZE);
        this.#opts.metrics.fairness(vm.mv, rates, q?.fairness);
        // The worst attribute's parity (attributes with fewer than two comparable groups have none).
        sig('fairness_parity_ratio', Math.min(...rates.map((a) => (Number.isFinite(a.demographicParityRatio) ? a.demographicParityRatio : Infinity))));
      }
    }
    if (this.#opts.store !== undefined && points.length > 0) {
      await this.#opts.store.writePoints(points).catch((err: unknown) => this.#opts.log.warn({ err: messageOf(err) }, 'could not store monitoring time series'));
    }
    this.#opts.alerts?.evaluate(samples);
    return samples;
  }

  #windowPoints(s: WindowSummary, point: (metric: string, value: number) => void): void {
    point('throughput', s.throughput);
    point('rows_per_second', s.rowsPerSecond);
    point('latency_p50_ms', s.p50Ms);
    point('latency_p95_ms', s.p95Ms);
    point('latency_p99_ms', s.p99Ms);
    point('error_rate', s.requests > 0 ? s.errorRate : NaN);
    point('anomaly_rate', s.anomalyRate);
  }

  /** Closes the version's drift window when it is old and full enough; the worker tests it. */
  async #rollDrift(vm: VersionMonitor, now: number): Promise<void> {
    if (vm.driftState === 'off' || vm.driftClosing) return;
    if (now - vm.driftStart < this.#opts.driftWindowMs || vm.driftRows < this.#opts.driftMinRows) return;
    const servedRows = vm.driftServedRows;
    // Rows sent from here on belong to the next window (the worker handles messages in order).
    vm.driftRows = 0;
    vm.driftServedRows = 0;
    vm.driftStart = now;
    vm.driftClosing = true;
    try {
      const { report } = await this.#drift.close(vm.driftKey!);
      // The version may have been detached (or its drift switched off) meanwhile.
      if (this.#monitorOf(vm.mv) === vm) vm.lastDrift = { report, at: now, servedRows };
    } catch (err) {
      this.#opts.log.error({ model: vm.mv.model, version: vm.mv.version, err: messageOf(err) }, 'drift evaluation failed');
    } finally {
      vm.driftClosing = false;
    }
  }

  async #updateQuality(vm: VersionMonitor, now: number): Promise<void> {
    const store = this.#opts.store;
    const task = vm.binding.task;
    const snapshot: QualitySnapshot = { task: task.kind, labelled: 0, windowMs: this.#opts.qualityWindowMs, estimatedFrom: 0, at: now };
    if (vm.binding.validatedAccuracy !== undefined) snapshot.validatedAccuracy = vm.binding.validatedAccuracy;
    if (task.kind === 'classification') {
      snapshot.estimate = recentEstimate(vm, task);
      const recent = snapshot.estimate.recent;
      if (recent !== undefined) {
        snapshot.estimatedAccuracy = recent.accuracy.value;
        snapshot.estimatedFrom = recent.rows;
      }
      if (vm.scoreProblem !== undefined) snapshot.aucUnavailable = vm.scoreProblem;
    }
    const carryOver = (): void => {
      const prev = vm.quality;
      if (prev === undefined) return;
      snapshot.labelled = prev.labelled;
      if (prev.classification !== undefined) snapshot.classification = prev.classification;
      if (prev.regression !== undefined) snapshot.regression = prev.regression;
      if (prev.fairness !== undefined) snapshot.fairness = prev.fairness;
      if (prev.estimate?.labelled !== undefined && snapshot.estimate?.available) snapshot.estimate.labelled = prev.estimate.labelled;
    };
    if (store === undefined || task.kind === 'none') {
      vm.quality = snapshot;
      return;
    }
    if (vm.qualityRunning) {
      // The previous query is still running: keep its figures rather than report none.
      carryOver();
      vm.quality = snapshot;
      return;
    }
    vm.qualityRunning = true;
    try {
      const where = { model: vm.mv.model, version: String(vm.mv.version), since: now - this.#opts.qualityWindowMs, labelled: true };
      // Quality from the newest QUALITY_SAMPLE labelled decisions; the count covers the whole window.
      // payload: false — only the prediction and the label are needed, not the tensors.
      const [labelled, count] = await Promise.all([store.queryDecisions({ ...where, limit: QUALITY_SAMPLE, payload: false }), store.countDecisions(where)]);
      snapshot.labelled = count;
      if (labelled.length < count) snapshot.sampled = labelled.length;
      if (task.kind === 'classification') {
        // Only one-row decisions have a predicted class and its score: those are compared.
        const usable = labelled.filter((d) => d.label !== undefined && d.prediction?.label !== undefined);
        snapshot.classification = classifierQuality(usable, task, vm.scoreProblem === undefined);
        if (snapshot.estimate?.available && vm.calibration !== undefined && usable.length > 0) {
          const same = labelledEstimate(usable, task, vm.calibration);
          if (same !== undefined) snapshot.estimate.labelled = same;
        }
        if (vm.fairness !== undefined && task.classCount === 2 && task.positiveIndex !== undefined) {
          const decisions = usable.map((d) => ({ context: d.detail?.context, label: String(d.label), predicted: String(d.prediction!.label) }));
          snapshot.fairness = groupQuality(decisions, vm.fairness.attributes, task.classes[task.positiveIndex]!, vm.mv.settings.monitoring.minGroupSize ?? MIN_GROUP_SIZE);
        }
      } else {
        // Only decisions with a predicted value (one-row requests) and a numeric label count.
        const usable = labelled.filter((d) => Number.isFinite(Number(d.label)) && d.label !== '' && Number.isFinite(d.prediction?.value));
        snapshot.regression = regressionQuality(usable.map((d) => Number(d.label)), usable.map((d) => d.prediction!.value!));
      }
    } catch (err) {
      this.#opts.log.warn({ model: vm.mv.model, err: messageOf(err) }, 'could not read labelled decisions');
      carryOver();
    } finally {
      vm.qualityRunning = false;
    }
    vm.quality = snapshot;
  }

  // --- queries for the API and dashboard --------------------------------------------

  versions(): { model: string; version: string; binding: Binding; driftColumns: number; logged: number }[] {
    return [...this.#versions.values()].map((vm) => ({ model: vm.mv.model, version: String(vm.mv.version), binding: vm.binding, driftColumns: vm.columns.length, logged: vm.logged }));
  }

  quality(model: string, version: string): QualitySnapshot | undefined {
    return this.#versions.get(`${model}/${version}`)?.quality;
  }

  /** Live fairness of one version: selection rates by group now, and quality by group at the last evaluation; undefined without monitoring.sensitive. */
  fairness(model: string, version: string): FairnessSnapshot | undefined {
    const vm = this.#versions.get(`${model}/${version}`);
    if (vm?.fairness === undefined) return undefined;
    const minGroupSize = vm.mv.settings.monitoring.minGroupSize ?? MIN_GROUP_SIZE;
    const snap: FairnessSnapshot = { window: vm.fairness.size, decisions: vm.fairness.count, minGroupSize, attributes: vm.fairness.summary(minGroupSize) };
    if (vm.quality?.fairness !== undefined) snap.quality = vm.quality.fairness;
    return snap;
  }

  drift(model: string, version: string): DriftSnapshot | undefined {
    const vm = this.#versions.get(`${model}/${version}`);
    if (vm === undefined) return undefined;
    const snap: DriftSnapshot = { enabled: vm.driftState !== 'off', currentRows: vm.driftRows, currentServedRows: vm.driftServedRows };
    if (vm.driftReason !== undefined) snap.reason = vm.driftReason;
    if (vm.lastDrift !== undefined) {
      snap.report = vm.lastDrift.report;
      snap.windowEnd = vm.lastDrift.at;
      snap.sampleRate = vm.lastDrift.servedRows > 0 ? vm.lastDrift.report.current.rows / vm.lastDrift.servedRows : 1;
    }
    return snap;
  }

  window(model: string, version: string): WindowSummary | undefined {
    return this.#versions.get(`${model}/${version}`)?.window.summary(this.#clock.now());
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#flush();
    this.#drift.shutdown().catch((err: unknown) => this.#opts.log.warn({ err: messageOf(err) }, 'could not stop the drift worker'));
  }

  get closed(): boolean {
    return this.#closed;
  }
}

/** Share of input features drifting (0..1); at least a token share when only the dataset-level signals (outputs, multivariate) say drift. */
export function driftShare(report: DriftReport): number {
  const n = report.verdict.featureCount;
  const share = n === 0 ? 0 : report.verdict.driftedFeatures.length / n;
  return report.verdict.drift && share === 0 ? Math.max(share, 1 / Math.max(n, 1)) : share;
}

function normaliseLabel(label: string | number, classes: string[] | undefined): string | number {
  if (classes === undefined) return label;
  const s = String(label);
  if (classes.includes(s)) return s;
  const i = Number(s);
  return Number.isInteger(i) && i >= 0 && i < classes.length ? classes[i]! : label;
}

/**
 * Live quality of a classifier on labelled one-row decisions. For two classes the AUC ranks
 * by the positive class's probability: the stored score is the predicted class's
 * probability from a row normalised to sum to 1 (monitoring/scores), so the positive one's
 * is that score or its complement — which is not so for logits or other raw scores: then
 * `scoresAreProbabilities` is false and there is no AUC.
 */
function classifierQuality(usable: readonly StoredDecision[], task: ClassificationTask, scoresAreProbabilities: boolean): ClassificationQuality {
  const labels = usable.map((d) => String(d.label));
  const predicted = usable.map((d) => String(d.prediction!.label));
  if (task.positiveIndex === undefined) return classificationQuality(labels, predicted);
  const positive = task.classes[task.positiveIndex]!;
  if (!scoresAreProbabilities) return classificationQuality(labels, predicted, { positive });
  const scores = usable.map((d) => positiveProbability(d, positive));
  return classificationQuality(labels, predicted, scores.every(Number.isFinite) ? { positive, scores } : { positive });
}

/** A binary decision's positive-class probability (see classifierQuality). */
function positiveProbability(d: StoredDecision, positive: string): number {
  const score = d.prediction?.score ?? Number.NaN;
  return String(d.prediction?.label) === positive ? score : 1 - score;
}

function estimateBase(task: ClassificationTask, calibration: Calibration | undefined): EstimateSnapshot {
  const out: EstimateSnapshot = {
    available: false,
    method: calibration === undefined
      ? 'confidence-based performance estimation (CBPE): scores calibrated on labelled reference data, then the expected confusion matrix'
      : `confidence-based performance estimation (CBPE): scores calibrated by isotonic regression on ${calibration.rows} labelled reference rows (${calibration.source}), then the expected confusion matrix${task.classCount > 2 ? '; accuracy from the calibrated probability of the predicted class, macro precision/recall/F1 from one-vs-rest calibrations' : ''}`,
    interval: ESTIMATE_INTERVAL,
    caveat: `The estimate is ${CONCEPT_SHIFT_CAVEAT}.`,
  };
  if (calibration !== undefined) out.calibration = { method: calibration.method, rows: calibration.rows, source: calibration.source };
  return out;
}

/** The label-free estimate over the newest rows served, or why there is none. */
function recentEstimate(vm: VersionMonitor, task: ClassificationTask): EstimateSnapshot {
  const out = estimateBase(task, vm.calibration);
  const reason = vm.scoreProblem ?? vm.estimateReason;
  if (reason !== undefined || vm.calibration === undefined) {
    out.reason = reason ?? 'no calibration';
    return out;
  }
  out.available = true;
  const n = vm.ringRows;
  if (n === 0) return out;
  const C = task.classCount;
  const probs = vm.ringProbabilities.subarray(0, n * C);
  const predicted = vm.ringPredicted.subarray(0, n);
  let est: PerformanceEstimate | undefined;
  if (C === 2 && task.positiveIndex !== undefined) {
    const pos = task.positiveIndex;
    est = estimateBinary(Float64Array.from({ length: n }, (_, i) => probs[i * C + pos]!), Array.from(predicted, (p) => p === pos), vm.calibration);
  } else {
    const confidence = Float64Array.from({ length: n }, (_, i) => probs[i * C + predicted[i]!]!);
    est = estimateMulticlass(confidence, vm.calibration, { probabilities: Float64Array.from(probs), predicted: Int32Array.from(predicted) });
  }
  if (est !== undefined) out.recent = est;
  return out;
}

/** The estimate over the labelled decisions live quality is computed from (their stored scores). */
function labelledEstimate(usable: readonly StoredDecision[], task: ClassificationTask, calibration: Calibration): PerformanceEstimate | undefined {
  if (task.classCount === 2 && task.positiveIndex !== undefined) {
    const positive = task.classes[task.positiveIndex]!;
    const p = usable.map((d) => positiveProbability(d, positive));
    if (!p.every(Number.isFinite)) return undefined;
    return estimateBinary(p, usable.map((d) => String(d.prediction!.label) === positive), calibration);
  }
  const confidence = usable.map((d) => d.prediction!.score ?? Number.NaN);
  return confidence.every(Number.isFinite) ? estimateMulticlass(confidence, calibration) : undefined;
}
