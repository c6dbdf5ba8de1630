/**
 * @module inference/types
 * Protocol-independent inference types. Every protocol adapter (V2 REST today; TF Serving,
 * SageMaker, TorchServe styles later) decodes into an `InferenceRequest` and encodes an
 * `InferenceResult`; everything below the adapters (validation, batching, runtime) sees
 * only these.
 */
import type { TensorData, V2Datatype } from '../runtime/datatypes.js';

/** A tensor with its data, row-major. */
export interface Tensor {
  name: string;
  datatype: V2Datatype;
  shape: number[];
  data: TensorData;
}

/** A model input or output as the model declares it; -1 marks a dynamic dimension. */
export interface TensorSpec {
  name: string;
  datatype: V2Datatype;
  /** Full shape, batch dimension included (as -1) when the model is batchable. */
  shape: number[];
  /** Whether NaN and ±Infinity are accepted in this (floating point) input. */
  allowNonFinite?: boolean;
}

/** What a served model version accepts and returns. */
export interface ModelSignature {
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  /** > 0: the first dimension of every input and output is the batch dimension. 0: no batch dimension. */
  maxBatchSize: number;
}

export interface InferenceRequest {
  /** Request id: the client's, or one the server assigned; echoed in the response. */
  id: string;
  /** The id the decision is logged under and feedback names, when it differs from `id` (see decision/ids). */
  decisionId?: string;
  /** Inputs in the model's declared input order, validated against its signature. */
  inputs: Tensor[];
  /** Names of the outputs to return, in the requested order (all outputs when the client named none). */
  outputs: string[];
  /** Rows in this request (the shared first dimension), 1 for models without a batch dimension. */
  batchSize: number;
  /** Absolute deadline (ms, on the scheduler's clock) after which a still-queued request is failed. */
  deadlineMs?: number;
  parameters: Record<string, unknown>;
}

export interface InferenceTimings {
  /** Time spent waiting in the batching queue. */
  queueNs: number;
  /** Time spent assembling and splitting batch tensors (compute_input + compute_output). */
  ioNs: number;
  /** Time ONNX Runtime spent running the model (compute_infer). */
  computeNs: number;
}

export interface InferenceResult {
  outputs: Tensor[];
  timings: InferenceTimings;
  /** Rows in the batch this request was executed in. */
  executedBatchSize: number;
}
