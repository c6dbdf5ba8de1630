/**
 * @module quantize/repository
 * Places a quantized model as a new version in a model repository laid out as
 * `<repo>/<model>/<version>/model.onnx`: the new version is the largest numeric version
 * folder + 1 (1 for a new model).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

export interface RepositoryTarget {
  modelDir: string;
  version: number;
  modelPath: string;
}

function isVersionDir(dir: string, name: string): boolean {
  return /^\d+$/.test(name) && statSync(join(dir, name)).isDirectory();
}

/** The model name a source path implies: `<model>/<version>/model.onnx` → model, else the file stem. */
export function modelNameFromSource(sourcePath: string): string {
  const abs = resolve(sourcePath);
  const versionDir = basename(dirname(abs));
  if (/^\d+$/.test(versionDir)) return basename(dirname(dirname(abs)));
  return basename(abs).replace(/\.onnx$/i, '');
}

/**
 * Resolves `--into-repository DIR[/model]`. DIR/model when the last folder already holds
 * numeric versions or does not exist yet under an existing repository; otherwise DIR is the
 * repository and the model keeps the source's name.
 */
export function resolveRepositoryTarget(target: string, sourcePath: string): RepositoryTarget {
  const abs = resolve(target);
  let modelDir: string;
  if (existsSync(abs) && statSync(abs).isDirectory() && readdirSync(abs).some((n) => isVersionDir(abs, n))) {
    modelDir = abs;
  } else if (!existsSync(abs) && existsSync(dirname(abs))) {
    modelDir = abs;
  } else {
    modelDir = join(abs, modelNameFromSource(sourcePath));
  }
  const versions = existsSync(modelDir) ? readdirSync(modelDir).filter((n) => isVersionDir(modelDir, n)).map(Number) : [];
  const version = versions.length === 0 ? 1 : Math.max(...versions) + 1;
  return { modelDir, version, modelPath: join(modelDir, String(version), 'model.onnx') };
}
