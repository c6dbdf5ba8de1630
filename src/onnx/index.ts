/**
 * @module onnx
 * ONNX model I/O and graph editing in TypeScript: the public surface of src/onnx.
 */
export * from './types.js';
export * from './codec.js';
export * from './io.js';
export * from './tensor.js';
export * from './graph.js';
export * from './build.js';
export * from './infer-types.js';
export * from './metadata.js';
