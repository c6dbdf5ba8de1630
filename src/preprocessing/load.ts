/**
 * @module preprocessing/load
 * Finds and reads the preprocessing spec that belongs to a model version: `<model>/<N>/
 * preprocessing.json`, else the model folder's. The spec's content hash identifies the
 * pipeline a version serves with; tabular specs are checked and parsed, other kinds (image)
 * are kept as read.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { BerthError, messageOf } from '../errors.js';
import { specHash } from './spec-hash.js';
import { checkTabularSpec, type TabularSpec } from './tabular.js';

export const SPEC_FILENAME = 'preprocessing.json';

export interface VersionPreprocessing {
  /** Where it was found, relative to the repository: `<model>/<N>/preprocessing.json` or `<model>/preprocessing.json`. */
  location: string;
  kind: string;
  /** sha256 (hex) of the spec's canonical JSON (preprocessing/spec-hash): the pipeline's identity, stored with every decision. */
  hash: string;
  /** The spec's version field. */
  version: string | undefined;
  tabular: TabularSpec | undefined;
  /** The spec as read (for kinds other than tabular). */
  raw: Readonly<Record<string, unknown>>;
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
    const hash = specHash(o);
    if (typeof o.hash === 'string' && o.hash !== hash) {
      throw new BerthError('BERTH_ERR_PIPELINE_MISMATCH', `${c.location}: its "hash" field is ${o.hash} but its content hashes to ${hash}: the spec was edited after its hash was written; rewrite it with the tool that made it (e.g. the model's train.py)`);
    }
    let tabular: TabularSpec | undefined;
    if (kind === 'tabular') {
      try {
        tabular = checkTabularSpec(raw, c.location);
      } catch (err) {
        throw new BerthError('BERTH_ERR_MODEL_LOAD_FAILED', messageOf(err));
      }
    }
    return { location: c.location, kind, hash, version: typeof o.version === 'string' ? o.version : undefined, tabular, raw: o };
  }
  return undefined;
}
