/**
 * @module anomaly/load
 * Reads a version's anomaly profile (`<model>/<N>/anomaly.profile.json`) and builds its
 * detector, or says why there is none (no file, or a file for another input).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { messageOf } from '../errors.js';
import type { ModelSignature } from '../inference/types.js';
import type { AnomalyConfig } from '../repository/model-config.js';
import { AnomalyDetector } from './detector.js';
import { ANOMALY_PROFILE_FILE, checkAnomalyProfile } from './profile.js';

export function loadAnomalyDetector(modelFile: string, signature: ModelSignature, config: Required<AnomalyConfig>): { detector: AnomalyDetector | undefined; note: string } {
  if (config.policy === 'off') return { detector: undefined, note: 'anomaly.policy is off' };
  let text: string;
  try {
    text = readFileSync(join(dirname(modelFile), ANOMALY_PROFILE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { detector: undefined, note: `no ${ANOMALY_PROFILE_FILE} beside the model (write it with berth reference); only field checks run` };
    return { detector: undefined, note: `${ANOMALY_PROFILE_FILE}: ${messageOf(err)}` };
  }
  try {
    const profile = checkAnomalyProfile(JSON.parse(text), ANOMALY_PROFILE_FILE);
    const input = signature.inputs.find((s) => s.name === profile.input.name);
    const width = input === undefined ? undefined : input.shape.slice(signature.maxBatchSize > 0 ? 1 : 0).reduce((a, b) => a * b, 1);
    if (width !== profile.input.width) {
      return { detector: undefined, note: `${ANOMALY_PROFILE_FILE} describes input '${profile.input.name}' of ${profile.input.width} elements, which this version does not have; rewrite it with berth reference` };
    }
    const detector = new AnomalyDetector(profile, config);
    return { detector, note: `policy ${config.policy}; ${profile.rows} training rows${detector.oodUnavailable === undefined ? `, OOD threshold at their ${100 * config.oodQuantile}th percentile` : `; no OOD score: ${detector.oodUnavailable}`}` };
  } catch (err) {
    return { detector: undefined, note: `${ANOMALY_PROFILE_FILE}: ${messageOf(err)}` };
  }
}
