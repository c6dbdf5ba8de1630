/**
 * @module protocols/v2/triton
 * Triton's model_configuration extension: a served model version described in Triton's
 * model-config JSON (max_batch_size, input/output dims without the batch dimension,
 * dynamic_batching, instance_group), so tools like perf_analyzer can drive Berth.
 */
import type { ModelVersion } from '../../inference/model-version.js';
import type { TensorSpec } from '../../inference/types.js';
import { tritonType } from '../../runtime/datatypes.js';

function tensorConfig(spec: TensorSpec, batched: boolean, kind: 'input' | 'output'): Record<string, unknown> {
  const dims = batched ? spec.shape.slice(1) : spec.shape;
  const out: Record<string, unknown> = {
    name: spec.name,
    data_type: tritonType(spec.datatype),
    // Triton needs at least one dim; a per-row scalar is dims [1] reshaped to [].
    dims: dims.length === 0 ? [1] : dims,
    is_shape_tensor: false,
  };
  if (dims.length === 0) out.reshape = { shape: [] };
  if (kind === 'input') Object.assign(out, { format: 'FORMAT_NONE', allow_ragged_batch: false, optional: false });
  else out.label_filename = '';
  return out;
}

export function tritonModelConfig(v: ModelVersion): Record<string, unknown> {
  const batched = v.signature.maxBatchSize > 0;
  const policy = v.settings.versionPolicy;
  const versionPolicy = 'latest' in policy
    ? { latest: { num_versions: policy.latest.numVersions } }
    : 'all' in policy ? { all: {} } : { specific: { versions: policy.specific.versions } };
  const b = v.batching;
  const config: Record<string, unknown> = {
    name: v.model,
    platform: 'onnxruntime_onnx',
    backend: 'onnxruntime',
    version_policy: versionPolicy,
    max_batch_size: v.signature.maxBatchSize,
    input: v.signature.inputs.map((s) => tensorConfig(s, batched, 'input')),
    output: v.signature.outputs.map((s) => tensorConfig(s, batched, 'output')),
    instance_group: [{ name: v.model, kind: 'KIND_CPU', count: v.instanceCount }],
    default_model_filename: v.settings.defaultModelFilename,
    parameters: Object.fromEntries(Object.entries(v.settings.parameters).map(([k, s]) => [k, { string_value: s }])),
  };
  if (batched && b.enabled) {
    config.dynamic_batching = {
      preferred_batch_size: b.preferredBatchSizes,
      max_queue_delay_microseconds: Math.round(b.maxQueueDelayMs * 1000),
      preserve_ordering: false,
      default_queue_policy: {
        timeout_action: 'REJECT',
        default_timeout_microseconds: Math.round(v.settings.batching.queueTimeoutMs * 1000),
        allow_timeout_override: true,
        max_queue_size: b.maxQueueSize,
      },
    };
  }
  return config;
}
