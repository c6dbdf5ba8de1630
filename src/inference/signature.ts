/**
 * @module inference/signature
 * Derives what a model version accepts and returns from the metadata ONNX Runtime reads
 * out of the .onnx file, refined by the optional model config. A dynamic first dimension
 * on every input makes the model batchable.
 */
import { BerthError } from '../errors.js';
import { fromOrtType } from '../runtime/datatypes.js';
import type { WireValueMetadata } from '../runtime/messages.js';
import type { ResolvedModelSettings } from '../repository/model-config.js';
import type { ModelSignature, TensorSpec } from './types.js';

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function specsFromMetadata(kind: 'input' | 'output', list: WireValueMetadata[]): TensorSpec[] {
  return list.map((m) => {
    if (!m.isTensor || m.type === undefined) {
      throw new BerthError('BERTH_ERR_MODEL_LOAD_FAILED', `${kind} '${m.name}' is not a tensor (a sequence or map); Berth serves tensor inputs and outputs only`);
    }
    const datatype = fromOrtType(m.type);
    if (datatype === undefined) {
      throw new BerthError('BERTH_ERR_MODEL_LOAD_FAILED', `${kind} '${m.name}' has element type ${m.type}, which the Open Inference Protocol cannot carry`);
    }
    const shape = (m.shape ?? []).map((d) => (typeof d === 'number' && d >= 0 ? d : -1));
    return { name: m.name, datatype, shape };
  });
}

function applyOverrides(kind: 'input' | 'output', specs: TensorSpec[], overrides: ResolvedModelSettings['inputs']): void {
  for (const o of overrides) {
    const spec = specs.find((s) => s.name === o.name);
    if (spec === undefined) {
      throw new BerthError('BERTH_ERR_MODEL_CONFIG', `config ${kind} '${o.name}' is not an ${kind} of the model (its ${kind}s: ${specs.map((s) => s.name).join(', ')})`);
    }
    if (o.datatype !== undefined && o.datatype !== spec.datatype) {
      throw new BerthError('BERTH_ERR_MODEL_CONFIG', `config ${kind} '${o.name}': datatype ${o.datatype} differs from the model's ${spec.datatype}`);
    }
    if (o.shape !== undefined) {
      const compatible = o.shape.length === spec.shape.length && o.shape.every((d, i) => spec.shape[i] === -1 || d === spec.shape[i]);
      if (!compatible) {
        throw new BerthError('BERTH_ERR_MODEL_CONFIG', `config ${kind} '${o.name}': shape ${formatShape(o.shape)} is not compatible with the model's ${formatShape(spec.shape)}`);
      }
      spec.shape = [...o.shape];
    }
    if (o.allowNonFinite !== undefined) spec.allowNonFinite = o.allowNonFinite;
  }
}

export function deriveSignature(inputs: WireValueMetadata[], outputs: WireValueMetadata[], settings: ResolvedModelSettings, defaultMaxBatchSize: number): ModelSignature {
  const ins = specsFromMetadata('input', inputs);
  const outs = specsFromMetadata('output', outputs);
  applyOverrides('input', ins, settings.inputs);
  applyOverrides('output', outs, settings.outputs);
  for (const s of ins) if (s.allowNonFinite === undefined) s.allowNonFinite = settings.allowNonFinite;

  // Batchable: every input has a dynamic first dim; outputs have one too, or an unknown shape.
  const notBatchable =
    ins.find((s) => s.shape.length === 0 || s.shape[0] !== -1) ??
    outs.find((s) => s.shape.length > 0 && s.shape[0] !== -1);
  let maxBatchSize: number;
  if (settings.maxBatchSize === 0 || ins.length === 0) {
    // A model without inputs has nothing to batch: each request runs it once.
    maxBatchSize = 0;
  } else if (notBatchable !== undefined) {
    if (settings.maxBatchSize !== undefined) {
      throw new BerthError('BERTH_ERR_MODEL_CONFIG', `maxBatchSize ${settings.maxBatchSize} needs a dynamic first dimension on every input and output, but '${notBatchable.name}' has shape ${formatShape(notBatchable.shape)}; set maxBatchSize: 0`);
    }
    maxBatchSize = 0;
  } else {
    maxBatchSize = settings.maxBatchSize ?? defaultMaxBatchSize;
  }
  return { inputs: ins, outputs: outs, maxBatchSize };
}

function describeSpecs(list: readonly TensorSpec[]): string {
  return list.map((s) => `${s.name} ${s.datatype} ${formatShape(s.shape)}`).join(', ');
}

/**
 * The first way two signatures differ for a client (input or output names, datatypes,
 * shapes), in words; undefined when a client of one can call the other unchanged.
 */
export function signatureDifference(serving: ModelSignature, candidate: ModelSignature): string | undefined {
  for (const kind of ['inputs', 'outputs'] as const) {
    const a = serving[kind];
    const b = candidate[kind];
    const same = a.length === b.length && a.every((s, i) => {
      const t = b[i]!;
      return s.name === t.name && s.datatype === t.datatype && formatShape(s.shape) === formatShape(t.shape);
    });
    if (!same) return `${kind} ${describeSpecs(b)} instead of ${describeSpecs(a)}`;
  }
  return undefined;
}
