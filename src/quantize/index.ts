/**
 * @module quantize
 * Model quantization (dynamic INT8, static INT8 in QDQ form, FP16) with measurement and an
 * accuracy guard: the public surface of src/quantize. The server can pass its own
 * `CreateRunner` (e.g. one backed by a worker thread) to `quantize`.
 */
export { quantize, writeQuantized, accuracyFailed, modelInputSpecs, type QuantizeOptions, type QuantizeReport, type QuantizeResult, type QuantizeMode } from './quantize.js';
export { calibrate, augmentForCalibration, type CalibrationMethod, type CalibrationOptions, type TensorRange } from './calibrate.js';
export { createOrtRunner, type CreateRunner, type ModelRunner, type HostTensor, type Feeds, type RunnerOptions } from './runner.js';
export { loadDataset, loadLabels, type Dataset, type DataSpec, type InputSpec } from './data.js';
export { formatReport } from './report.js';
export { resolveRepositoryTarget } from './repository.js';
