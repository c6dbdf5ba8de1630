/**
 * @module repository/scan
 * Reads a model repository directory (Triton / TF Serving layout):
 *
 *     <repository>/<model>/berth.yaml          optional config
 *     <repository>/<model>/<version>/model.onnx   version = positive integer
 *
 * Scanning only reads the file system; deciding what to load is the manager's job.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { messageOf } from '../errors.js';
import { SPEC_FILENAME } from '../preprocessing/load.js';
import { CONFIG_FILENAMES, type ModelConfig, readModelConfig } from './model-config.js';

export interface ScannedVersion {
  version: number;
  path: string;
  /** Changes whenever the file, or the preprocessing spec it serves with, is replaced or rewritten (mtime and size). */
  stamp: string;
}

export interface ScannedModel {
  name: string;
  dir: string;
  config: ModelConfig;
  configFile: string | undefined;
  /** Changes whenever the config file changes. */
  configStamp: string;
  /** Set when the config file is invalid; `config` is then empty. */
  configError: string | undefined;
  versions: ScannedVersion[];
}

const MODEL_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const VERSION_DIR = /^[1-9][0-9]{0,15}$/;

export function isValidModelName(name: string): boolean {
  return MODEL_NAME.test(name) && name.length <= 128;
}

async function stampOf(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? `${s.mtimeMs}:${s.size}` : undefined;
  } catch {
    return undefined;
  }
}

/** Scans one model directory; undefined when it no longer exists. */
export async function scanModel(root: string, name: string): Promise<ScannedModel | undefined> {
  const dir = join(root, name);
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return undefined;
  }
  let config: ModelConfig = {};
  let configFile: string | undefined;
  let configError: string | undefined;
  // Stamped before reading: a file rewritten while (or just after) it is read then shows a newer
  // stamp on the next scan and is read again. Stamping after the read could pair a half-written
  // file's content with the finished file's stamp, and the finished file would never be read.
  const stampsBefore = new Map<string, string | undefined>();
  for (const n of CONFIG_FILENAMES) stampsBefore.set(join(dir, n), await stampOf(join(dir, n)));
  try {
    const found = await readModelConfig(dir, name);
    if (found !== undefined) {
      config = found.config;
      configFile = found.file;
    }
  } catch (err) {
    configError = messageOf(err);
  }
  const configStamp = configFile === undefined ? 'none' : (stampsBefore.get(configFile) ?? 'none');
  const filename = config.defaultModelFilename ?? 'model.onnx';
  // The preprocessing spec is part of what a version serves: a changed spec reloads it.
  const modelSpec = (await stampOf(join(dir, SPEC_FILENAME))) ?? 'none';
  const versions: ScannedVersion[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || !VERSION_DIR.test(e.name)) continue;
    const path = join(dir, e.name, filename);
    const stamp = await stampOf(path);
    // A version directory without its model file (e.g. still being copied) is not a version yet.
    if (stamp === undefined) continue;
    const versionSpec = (await stampOf(join(dir, e.name, SPEC_FILENAME))) ?? 'none';
    versions.push({ version: Number(e.name), path, stamp: `${stamp}|spec:${versionSpec}|${modelSpec}` });
  }
  versions.sort((a, b) => a.version - b.version);
  return { name, dir, config, configFile, configStamp: configError === undefined ? configStamp : `error:${configStamp}`, configError, versions };
}

/** Names of the model directories in the repository. */
export async function listModelNames(root: string): Promise<string[]> {
  const entries = await readdir(root, { withFileTypes: true });
  return entries.filter((e) => e.isDirectory() && isValidModelName(e.name)).map((e) => e.name).sort();
}
