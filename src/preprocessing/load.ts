/**
 * @module preprocessing/load
 * Finds and reads the preprocessing spec that belongs to a model version: `<model>/<N>/
 * preprocessing.json`, else the model folder's. The spec's content hash identifies the
 * pipeline a version serves with; tabular specs are checked and parsed, other kinds (image)
 * are kept as read.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BerthError, messageOf } from '../errors.js';
import { checkTabularSpec, type TabularSpec } from './tabular.js';

export const SPEC_FILENAME = 'preprocessing.json';

export interface VersionPreprocessing {
  /** Where it was found, relative to the repository: `<model>/<N>/preprocessing.json` or `<model>/preprocessing.json`. */
  location: string;
  kind: string;
  /** sha256 (hex) of the file's bytes. */
  sha256: string;
  /** The spec's own `hash` field (sha256 of its canonical JSON), when it has one. */
  specHash: string | undefined;
  tabular: TabularSpec | undefined;
}

function readIfPresent(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new BerthError('BERTH_ERR_MODEL_LOAD_FAILED', `${SPEC_FILENAME}: cannot read: ${messageOf(err)}`);
  }
}

/** The spec of the version whose model file is `modelFile` (`<repo>/<model>/<N>/model.onnx`), or undefined. */
export function loadVersionPreprocessing(modelFile: string): VersionPreprocessing | undefined {
  const versionDir = dirname(modelFile);
  const modelDir = dirname(versionDir);
  const candidates = [
    { path: join(versionDir, SPEC_FILENAME), location: `${basename(modelDir)}/${basename(versionDir)}/${SPEC_FILENAME}` },
    { path: join(modelDir, SPEC_FILENAME), location: `${basename(modelDir)}/${SPEC_FILENAME}` },
  ];
  for (const c of candidates) {
    const bytes = readIfPresent(c.path);
    if (bytes === undefined) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw new BerthError('BERTH_ERR_MODEL_LOAD_FAILED', `${c.location}: not valid JSON: ${messageOf(err)}`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new BerthError('BERTH_ERR_MODEL_LOAD_FAILED', `${c.location}: expected a JSON object`);
    const o = raw as Record<string, unknown>;
    const kind = typeof o.kind === 'string' ? o.kind : 'unknown';
    let tabular: TabularSpec | undefined;
    if (kind === 'tabular') {
      try {
        tabular = checkTabularSpec(raw, c.location);
      } catch (err) {
        throw new BerthError('BERTH_ERR_MODEL_LOAD_FAILED', messageOf(err));
      }
    }
    return {
      location: c.location,
      kind,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      specHash: typeof o.hash === 'string' ? o.hash : undefined,
      tabular,
    };
  }
  return undefined;
}
