/**
 * @module test/helpers/poison
 * The FP32 value that makes test/helpers/crashing-session-worker.ts exit like a crashed worker.
 */
export const POISON_VALUE = 1234.5;
