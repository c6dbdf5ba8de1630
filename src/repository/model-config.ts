/**
 * @module repository/model-config
 * The optional per-model configuration file (`<repo>/<model>/berth.yaml`, `.yml` or
 * `.json`): its schema, defaults and parsing. Without the file everything comes from the
 * ONNX model itself and the server-wide defaults.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { parse as parseYaml } from 'yaml';
import { BerthError, messageOf } from '../errors.js';
import { V2_DATATYPES } from '../runtime/datatypes.js';
import { validate } from '../config/validate.js';
import { AlertRulesSchema, defaultAlertRules, resolveAlertRules, type AlertRule, type AlertRuleConfig } from '../monitoring/alerts/config.js';

export const CONFIG_FILENAMES = ['berth.yaml', 'berth.yml', 'berth.json'] as const;

const Int = (min: number, description: string) => Type.Integer({ minimum: min, description });

export const VersionPolicySchema = Type.Union(
  [
    Type.Object({ latest: Type.Object({ numVersions: Int(1, 'Serve the N highest versions.') }, { additionalProperties: false }) }, { additionalProperties: false }),
    Type.Object({ all: Type.Object({}, { additionalProperties: false }) }, { additionalProperties: false }),
    Type.Object({ specific: Type.Object({ versions: Type.Array(Int(1, 'A version number.'), { minItems: 1 }) }, { additionalProperties: false }) }, { additionalProperties: false }),
  ],
  { description: 'Which versions to serve: {latest: {numVersions: N}} (default N=1), {all: {}}, or {specific: {versions: [..]}}.' },
);
export type VersionPolicy = Static<typeof VersionPolicySchema>;

export const BatchingSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ description: 'Dynamic batching on (default) or off.' })),
    maxQueueDelayMs: Type.Optional(Type.Number({ minimum: 0, description: 'How long the oldest request may wait for a fuller batch (ms).' })),
    preferredBatchSizes: Type.Optional(Type.Array(Int(1, 'A batch size.'), { description: 'Batch sizes sent without waiting.' })),
    maxQueueSize: Type.Optional(Int(1, 'Requests that may wait; more get 503.')),
    maxQueueWaitMs: Type.Optional(Type.Number({ minimum: 0, description: 'Admission by expected wait: a request that would wait in the queue longer than this (ms; never less than two batches\' time) or than its own deadline is refused at once with 503 and Retry-After; 0 (default) = by deadline only (see docs/protocol.md for why shedding is not yet the default).' })),
    queueTimeoutMs: Type.Optional(Type.Number({ minimum: 0, description: 'Default deadline for a queued request (ms); 0 = none.' })),
    probe: Type.Optional(Type.Boolean({ description: 'Before merging requests, prove at load that rows are independent (rows run alone and stacked agree); false trusts the dynamic first dimension (default true).' })),
  },
  { additionalProperties: false },
);

export const SessionSchema = Type.Object(
  {
    graphOptimizationLevel: Type.Optional(Type.Union([Type.Literal('disabled'), Type.Literal('basic'), Type.Literal('extended'), Type.Literal('all')], { description: 'ONNX Runtime graph optimizations (ORT default: all).' })),
    intraOpNumThreads: Type.Optional(Int(0, 'Threads inside one operator (0 = ONNX Runtime decides).')),
    interOpNumThreads: Type.Optional(Int(0, 'Threads across operators (0 = ONNX Runtime decides).')),
    executionMode: Type.Optional(Type.Union([Type.Literal('sequential'), Type.Literal('parallel')], { description: 'Run independent graph branches in parallel (ORT default: sequential).' })),
    enableCpuMemArena: Type.Optional(Type.Boolean({ description: 'ONNX Runtime CPU memory arena (ORT default: on).' })),
  },
  { additionalProperties: false },
);

const TensorOverride = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    datatype: Type.Optional(Type.Union(V2_DATATYPES.map((d) => Type.Literal(d)))),
    shape: Type.Optional(Type.Array(Type.Integer({ minimum: -1 }), { description: 'Full shape; -1 = dynamic.' })),
    allowNonFinite: Type.Optional(Type.Boolean({ description: 'Accept NaN/±Infinity in this float input (default: refuse).' })),
  },
  { additionalProperties: false },
);

/** One drift column's threshold overrides (the drift options' ColumnThresholds, drift/options.ts). */
const DriftThresholdsSchema = Type.Object(
  {
    alpha: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1 })),
    test: Type.Optional(Type.Union([Type.Literal('ks'), Type.Literal('cvm'), Type.Literal('chi2'), Type.Literal('z')])),
    effectMetric: Type.Optional(Type.Union([Type.Literal('wasserstein'), Type.Literal('psi'), Type.Literal('jensenshannon'), Type.Literal('hellinger'), Type.Literal('ks')])),
    effect: Type.Optional(Type.Number({ minimum: 0 })),
    missingRateDelta: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    unseenShare: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    bins: Type.Optional(Type.Integer({ minimum: 2 })),
  },
  { additionalProperties: false },
);

export const MonitoringConfigSchema = Type.Object(
  {
    task: Type.Optional(Type.Union([Type.Literal('classification'), Type.Literal('regression'), Type.Literal('none')], { description: 'What the model predicts (default: decided from its outputs).' })),
    scoreOutput: Type.Optional(Type.String({ description: 'Classifier output with class scores [batch, C].' })),
    labelOutput: Type.Optional(Type.String({ description: 'Classifier output with the predicted class [batch].' })),
    valueOutput: Type.Optional(Type.String({ description: 'Regressor output [batch] or [batch, 1].' })),
    classes: Type.Optional(Type.Array(Type.String(), { minItems: 2, description: 'Class names in score order (default: ONNX metadata berth.classes, else indices).' })),
    positiveClass: Type.Optional(Type.String({ description: 'Positive class of a binary classifier (default: the second).' })),
    validatedAccuracy: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Accuracy at validation, for the accuracy-drop alert (default: ONNX metadata berth.metrics.test_accuracy).' })),
    featureNames: Type.Optional(Type.Array(Type.String(), { description: 'Names of the input row elements (default: from the reference profile).' })),
    keepInputs: Type.Optional(Type.Boolean({ description: 'Keep request inputs in the decision log (default true); otherwise only their hash.' })),
    scoreKind: Type.Optional(Type.Union([Type.Literal('probabilities'), Type.Literal('logits')], { description: 'What the score output holds: class probabilities, or logits (turned into probabilities by softmax; by the sigmoid for a single-column output). Default: probabilities if every row is one (values in [0, 1] summing to 1), else the estimate and AUC are unavailable.' })),
    sensitive: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { uniqueItems: true, description: 'Sensitive attributes whose groups get live selection rates and demographic parity (berth_fairness_*): a raw field of the record, or a key of the request\'s parameters.context (then it need not be a model input). Their values are stored with each decision (detail.context).' })),
    fairnessWindow: Type.Optional(Type.Integer({ minimum: 1, description: 'Newest decisions the live selection rates are computed over (default 10,000).' })),
    minGroupSize: Type.Optional(Type.Integer({ minimum: 1, description: 'Groups with fewer decisions in the window are listed but left out of the disparity (default 30).' })),
    driftThresholds: Type.Optional(Type.Record(Type.String(), DriftThresholdsSchema, { description: 'Per drift column (by name, e.g. "sex" or "age"): thresholds overriding the defaults (alpha, test, effectMetric, effect, missingRateDelta, unseenShare, bins); berth drift reports print the snippet.' })),
  },
  { additionalProperties: false },
);
export type MonitoringConfig = Static<typeof MonitoringConfigSchema>;

export const DecisionConfigSchema = Type.Object(
  {
    threshold: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'Binary classifiers: the decision is the positive class when its probability is at least this (default: the class with the highest score).' })),
    positiveOutcome: Type.Optional(Type.String({ minLength: 1, description: 'What the positive class means for the person decided on (e.g. approved); default: the class name.' })),
    negativeOutcome: Type.Optional(Type.String({ minLength: 1, description: 'What the other class means (e.g. rejected); default: the class name.' })),
    adverseOutcome: Type.Optional(Type.String({ minLength: 1, description: 'Which outcome is adverse to the person (explanations and reason codes are written for it); default: the negative one.' })),
  },
  { additionalProperties: false },
);
export type DecisionConfig = Static<typeof DecisionConfigSchema>;

export const AnomalyConfigSchema = Type.Object(
  {
    policy: Type.Optional(Type.Union([Type.Literal('off'), Type.Literal('flag'), Type.Literal('reject')], { description: 'What the anomaly layer does with an unusual row: off (no checks), flag (serve it and report the flags; default), reject (422 naming every offending field).' })),
    rangeMargin: Type.Optional(Type.Number({ minimum: 0, description: 'A numeric value is out of range when it lies outside the training range widened by this share of the range on each side (default 0.1).' })),
    oodQuantile: Type.Optional(Type.Number({ exclusiveMinimum: 0.5, maximum: 1, description: 'The multivariate score threshold is this quantile of the reference rows\' scores (default 0.99: about 1% of reference rows are flagged).' })),
  },
  { additionalProperties: false },
);
export type AnomalyConfig = Static<typeof AnomalyConfigSchema>;

export const ExplainConfigSchema = Type.Object(
  {
    immutable: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { uniqueItems: true, description: 'Raw fields a counterfactual never proposes to change: immutable or protected ones (e.g. age, sex, race). Each must be a field of the version\'s preprocessing spec.' })),
    log: Type.Optional(Type.Union([Type.Literal('off'), Type.Literal('adverse'), Type.Literal('sampled'), Type.Literal('all')], { description: 'Which decisions get an explanation stored with them in the decision log, computed off the request path (docs/explain.md): off (default), adverse (rejected applicants), sampled (a share logRate of decisions), all. An explainer that falls behind skips and counts (berth_explanations_total{result="skipped"}); it never delays inference.' })),
    logRate: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 1, description: 'With log: sampled, the share of decisions explained (0 < logRate <= 1); default 0.1.' })),
  },
  { additionalProperties: false },
);
export type ExplainConfig = Static<typeof ExplainConfigSchema>;
export type ExplanationLogPolicy = NonNullable<ExplainConfig['log']>;

/** Settings that can also be given server-wide as defaults for every model. */
export const ModelDefaultsSchema = Type.Object(
  {
    versionPolicy: Type.Optional(VersionPolicySchema),
    maxBatchSize: Type.Optional(Int(0, 'Largest batch; 0 = the model has no batch dimension.')),
    batching: Type.Optional(BatchingSchema),
    instanceCount: Type.Optional(Int(1, 'Sessions of each version, spread over the workers.')),
    session: Type.Optional(SessionSchema),
    allowNonFinite: Type.Optional(Type.Boolean({ description: 'Accept NaN/±Infinity in float inputs (default: refuse).' })),
    allowSignatureChange: Type.Optional(Type.Boolean({ description: 'Let a new version whose inputs or outputs differ from the serving one become the default (default false: it loads, is reachable at /versions/N, and the serving one stays the default).' })),
    alerts: Type.Optional(AlertRulesSchema),
  },
  { additionalProperties: false },
);

export const ModelConfigSchema = Type.Composite([
  ModelDefaultsSchema,
  Type.Object({
    name: Type.Optional(Type.String({ description: 'Must equal the directory name when given.' })),
    platform: Type.Optional(Type.Literal('onnxruntime_onnx', { description: 'The only platform: ONNX models run by ONNX Runtime.' })),
    defaultModelFilename: Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '^(?!\\.\\.?$)[^/\\\\]+$', description: 'File name inside each version directory (default model.onnx); a plain name, no path.' })),
    inputs: Type.Optional(Type.Array(TensorOverride, { description: 'Per input: {name, datatype?, shape?, allowNonFinite?}; checked against the model, may fix dynamic dims.' })),
    outputs: Type.Optional(Type.Array(TensorOverride, { description: 'Per output: {name, datatype?, shape?}; checked against the model.' })),
    parameters: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'Free-form string metadata, shown in the Triton config.' })),
    monitoring: Type.Optional(MonitoringConfigSchema),
    decision: Type.Optional(DecisionConfigSchema),
    anomaly: Type.Optional(AnomalyConfigSchema),
    explain: Type.Optional(ExplainConfigSchema),
  }),
], { additionalProperties: false });

export type ModelDefaults = Static<typeof ModelDefaultsSchema>;
export type ModelConfig = Static<typeof ModelConfigSchema>;

/** Fully-defaulted settings a loaded model version runs with. */
export interface ResolvedModelSettings {
  versionPolicy: VersionPolicy;
  /** undefined: decide from the model (batchable → default size, else 0). */
  maxBatchSize: number | undefined;
  batching: { enabled: boolean; maxQueueDelayMs: number; preferredBatchSizes: number[]; maxQueueSize: number; maxQueueWaitMs: number; queueTimeoutMs: number; probe: boolean };
  instanceCount: number;
  session: Static<typeof SessionSchema>;
  allowNonFinite: boolean;
  allowSignatureChange: boolean;
  defaultModelFilename: string;
  inputs: Static<typeof TensorOverride>[];
  outputs: Static<typeof TensorOverride>[];
  parameters: Record<string, string>;
  monitoring: MonitoringConfig;
  decision: DecisionConfig;
  anomaly: Required<AnomalyConfig>;
  explain: { immutable: string[]; log: ExplanationLogPolicy; logRate: number };
  /** Alert rules: the built-in defaults ← server models.alerts ← the model's alerts, merged by name. */
  alertRules: AlertRule[];
}

export const BUILTIN_DEFAULTS = {
  maxBatchSize: 32,
  batching: { enabled: true, maxQueueDelayMs: 0, preferredBatchSizes: [] as number[], maxQueueSize: 1024, maxQueueWaitMs: 0, queueTimeoutMs: 30_000, probe: true },
  instanceCount: 1,
} as const;

/** Server defaults ← model file, field by field. */
export function resolveSettings(defaults: ModelDefaults, config: ModelConfig): ResolvedModelSettings {
  const b = { ...BUILTIN_DEFAULTS.batching, ...stripUndefined(defaults.batching ?? {}), ...stripUndefined(config.batching ?? {}) };
  return {
    versionPolicy: config.versionPolicy ?? defaults.versionPolicy ?? { latest: { numVersions: 1 } },
    maxBatchSize: config.maxBatchSize ?? defaults.maxBatchSize,
    batching: { ...b, preferredBatchSizes: [...b.preferredBatchSizes] },
    instanceCount: config.instanceCount ?? defaults.instanceCount ?? BUILTIN_DEFAULTS.instanceCount,
    session: { ...stripUndefined(defaults.session ?? {}), ...stripUndefined(config.session ?? {}) },
    allowNonFinite: config.allowNonFinite ?? defaults.allowNonFinite ?? false,
    allowSignatureChange: config.allowSignatureChange ?? defaults.allowSignatureChange ?? false,
    defaultModelFilename: config.defaultModelFilename ?? 'model.onnx',
    inputs: config.inputs ?? [],
    outputs: config.outputs ?? [],
    parameters: config.parameters ?? {},
    monitoring: config.monitoring ?? {},
    decision: config.decision ?? {},
    anomaly: { policy: 'flag', rangeMargin: 0.1, oodQuantile: 0.99, ...stripUndefined(config.anomaly ?? {}) },
    explain: { immutable: [...(config.explain?.immutable ?? [])], log: config.explain?.log ?? 'off', logRate: config.explain?.logRate ?? 0.1 },
    alertRules: resolveAlertRules(
      defaultAlertRules(),
      { where: 'config: models.alerts', rules: defaults.alerts as AlertRuleConfig[] | undefined },
      { where: 'berth.yaml: alerts', rules: config.alerts as AlertRuleConfig[] | undefined },
    ),
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Parses config text (YAML or JSON by file name) and validates it. */
export function parseModelConfig(text: string, file: string, modelName: string): ModelConfig {
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new BerthError('BERTH_ERR_MODEL_CONFIG', `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${messageOf(err)}`);
  }
  if (raw === null || raw === undefined) raw = {};
  const config = validate(ModelConfigSchema, raw, file, 'BERTH_ERR_MODEL_CONFIG');
  if (config.name !== undefined && config.name !== modelName) {
    throw new BerthError('BERTH_ERR_MODEL_CONFIG', `${file}: name '${config.name}' does not match the model directory '${modelName}'`);
  }
  return config;
}

/** Reads the model's config file if there is one: {file, config} or undefined. Throws on a bad file. */
export async function readModelConfig(modelDir: string, modelName: string): Promise<{ file: string; config: ModelConfig } | undefined> {
  for (const name of CONFIG_FILENAMES) {
    const file = join(modelDir, name);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new BerthError('BERTH_ERR_MODEL_CONFIG', `${file}: cannot read: ${messageOf(err)}`);
    }
    return { file, config: parseModelConfig(text, file, modelName) };
  }
  return undefined;
}
