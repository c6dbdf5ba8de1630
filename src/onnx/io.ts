/**
 * @module onnx/io
 * Reading and writing `.onnx` files, including tensors whose bytes live in external data
 * files (data_location = EXTERNAL with "location", "offset", "length" entries, paths relative
 * to the model's folder). Files are read in chunks (no 2 GiB readFile limit) and every write
 * goes to a temporary file that is renamed into place, so a failed write never leaves a
 * partial model behind.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { basename, dirname, isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { BerthError, messageOf } from '../errors.js';
import { decodeModel, encodeModel } from './codec.js';
import { isExternal } from './tensor.js';
import { entriesToMap, type GraphProto, type ModelProto, type TensorProto } from './types.js';

export interface ReadModelOptions {
  /**
   * 'load' (default): read external tensors into raw_data, so the model is self-contained.
   * 'keep': leave the references as they are (re-encoding then reproduces the file exactly).
   */
  externalData?: 'load' | 'keep';
}

export interface WriteModelOptions {
  /** Move tensors of at least `threshold` bytes (default 1024) into `location` (default `<model file>.data`). */
  externalData?: { location?: string; threshold?: number; align?: number };
  /** Folder that still-external tensors of `model` are relative to (for models read with 'keep'). */
  sourceDir?: string;
}

/** Reads a whole file into one Buffer, in chunks, so files past 2 GiB still load. */
export function readWholeFile(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new BerthError('BERTH_ERR_FILE', `cannot open '${path}': ${messageOf(err)}`, { cause: err });
  }
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, Math.min(size - off, 1 << 30), off);
      if (n === 0) break;
      off += n;
    }
    return off === size ? buf : buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

export function readModel(path: string, options: ReadModelOptions = {}): ModelProto {
  const model = decodeModel(readWholeFile(path), `'${path}'`);
  if ((options.externalData ?? 'load') === 'load') loadExternalData(model, dirname(resolve(path)));
  return model;
}

/** Every initializer and tensor-valued attribute in the model, subgraphs included. */
export function* allTensors(model: ModelProto): Generator<TensorProto> {
  function* ofGraph(g: GraphProto): Generator<TensorProto> {
    yield* g.initializer ?? [];
    for (const node of g.node ?? []) {
      for (const a of node.attribute ?? []) {
        if (a.t) yield a.t;
        yield* a.tensors ?? [];
        if (a.g) yield* ofGraph(a.g);
        for (const sub of a.graphs ?? []) yield* ofGraph(sub);
      }
    }
  }
  if (model.graph) yield* ofGraph(model.graph);
}

function externalRef(t: TensorProto, baseDir: string): { file: string; offset: number; length: number | undefined } {
  const info = entriesToMap(t.externalData);
  const location = info.get('location');
  const label = `tensor '${t.name ?? ''}'`;
  if (location === undefined || location === '') {
    throw new BerthError('BERTH_ERR_ONNX_EXTERNAL_DATA', `${label} is EXTERNAL but has no "location" entry`);
  }
  const rel = normalize(location);
  if (isAbsolute(rel) || rel === '..' || rel.startsWith(`..${sep}`)) {
    throw new BerthError('BERTH_ERR_ONNX_EXTERNAL_DATA', `${label}: external data location '${location}' must be a path inside the model's folder`);
  }
  const offset = Number(info.get('offset') ?? '0');
  const lengthText = info.get('length');
  const length = lengthText === undefined ? undefined : Number(lengthText);
  if (!Number.isSafeInteger(offset) || offset < 0 || (length !== undefined && (!Number.isSafeInteger(length) || length < 0))) {
    throw new BerthError('BERTH_ERR_ONNX_EXTERNAL_DATA', `${label}: bad external data offset/length (${info.get('offset')}, ${lengthText})`);
  }
  return { file: join(baseDir, rel), offset, length };
}

/** The raw bytes of a tensor, reading them from its external file when needed. */
export function tensorBytes(t: TensorProto, baseDir?: string): Uint8Array {
  if (!isExternal(t)) return t.rawData ?? new Uint8Array(0);
  if (baseDir === undefined) {
    throw new BerthError('BERTH_ERR_ONNX_EXTERNAL_DATA', `tensor '${t.name ?? ''}' is external; the model's folder is needed to read it`);
  }
  return readExternal(t, baseDir, new Map());
}

function readExternal(t: TensorProto, baseDir: string, fds: Map<string, { fd: number; size: number }>): Buffer {
  const ref = externalRef(t, baseDir);
  let open = fds.get(ref.file);
  if (open === undefined) {
    try {
      const fd = openSync(ref.file, 'r');
      open = { fd, size: fstatSync(fd).size };
    } catch (err) {
      throw new BerthError('BERTH_ERR_ONNX_EXTERNAL_DATA', `tensor '${t.name ?? ''}': cannot open external data file '${ref.file}': ${messageOf(err)}`, { cause: err });
    }
    fds.set(ref.file, open);
  }
  const length = ref.length ?? open.size - ref.offset;
  if (ref.offset + length > open.size) {
    throw new BerthError('BERTH_ERR_ONNX_EXTERNAL_DATA',
      `tensor '${t.name ?? ''}': external data [${ref.offset}, ${ref.offset + length}) is past the end of '${ref.file}' (${open.size} bytes)`);
  }
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const n = readSync(open.fd, buf, done, Math.min(length - done, 1 << 30), ref.offset + done);
    if (n === 0) break;
    done += n;
  }
  return buf;
}

/** Reads every external tensor into raw_data (in place) and marks it inline. */
export function loadExternalData(model: ModelProto, baseDir: string): void {
  const fds = new Map<string, { fd: number; size: number }>();
  try {
    for (const t of allTensors(model)) {
      if (!isExternal(t)) continue;
      t.rawData = readExternal(t, baseDir, fds);
      t.externalData = [];
      delete t.dataLocation;
    }
  } finally {
    for (const { fd } of fds.values()) closeSync(fd);
  }
}

function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Writes `data` to `path` atomically (temp file in the same folder, then rename).
 * `data` may be a buffer or a function that writes through the given fd.
 */
export function writeFileAtomic(path: string, data: Uint8Array | ((fd: number) => void)): void {
  const tmp = tempPath(path);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w');
    if (typeof data === 'function') data(fd);
    else writeAll(fd, data);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    if (err instanceof BerthError) throw err;
    throw new BerthError('BERTH_ERR_FILE', `cannot write '${path}': ${messageOf(err)}`, { cause: err });
  }
}

function writeAll(fd: number, data: Uint8Array, position?: number): void {
  let off = 0;
  while (off < data.byteLength) {
    const n = writeSync(fd, data, off, Math.min(data.byteLength - off, 1 << 30), position === undefined ? null : position + off);
    off += n;
  }
}

/**
 * Writes a model. Tensors still external in `model` are read from `sourceDir` and either
 * inlined or re-laid into the new external data file. The model object is left unchanged.
 * Returns the files written.
 */
export function writeModel(path: string, model: ModelProto, options: WriteModelOptions = {}): string[] {
  const target = resolve(path);
  const dir = dirname(target);
  const ext = options.externalData;
  const tensors = [...allTensors(model)];
  // Snapshot the fields this function swaps, to restore them whatever happens.
  const saved = tensors.map((t) => ({
    t,
    had: { rawData: Object.hasOwn(t, 'rawData'), externalData: Object.hasOwn(t, 'externalData'), dataLocation: Object.hasOwn(t, 'dataLocation') },
    rawData: t.rawData, externalData: t.externalData, dataLocation: t.dataLocation,
  }));
  const written: string[] = [];
  try {
    if (ext === undefined) {
      for (const t of tensors) {
        if (!isExternal(t)) continue;
        t.rawData = tensorBytes(t, options.sourceDir);
        t.externalData = [];
        delete t.dataLocation;
      }
      writeFileAtomic(target, encodeModel(model));
      written.push(target);
      return written;
    }
    const location = ext.location ?? `${basename(target)}.data`;
    const threshold = ext.threshold ?? 1024;
    const align = Math.max(1, ext.align ?? 64);
    const dataPath = join(dir, location);
    if (resolve(dataPath) === target) {
      throw new BerthError('BERTH_ERR_FILE', `external data location '${location}' would overwrite the model file`);
    }
    writeFileAtomic(dataPath, (fd) => {
      let offset = 0;
      for (const t of tensors) {
        const bytes = isExternal(t) ? tensorBytes(t, options.sourceDir) : t.rawData;
        if (bytes === undefined || bytes.byteLength < threshold) {
          if (isExternal(t)) { t.rawData = bytes ?? new Uint8Array(0); t.externalData = []; delete t.dataLocation; }
          continue;
        }
        const pad = (align - (offset % align)) % align;
        if (pad > 0) { writeAll(fd, new Uint8Array(pad), offset); offset += pad; }
        writeAll(fd, bytes, offset);
        t.externalData = [
          { key: 'location', value: location },
          { key: 'offset', value: String(offset) },
          { key: 'length', value: String(bytes.byteLength) },
        ];
        t.dataLocation = 1;
        delete t.rawData;
        offset += bytes.byteLength;
      }
    });
    written.push(dataPath);
    writeFileAtomic(target, encodeModel(model));
    written.push(target);
    return written;
  } catch (err) {
    for (const f of written) if (f !== target) rmSync(f, { force: true });
    throw err;
  } finally {
    for (const s of saved) {
      for (const key of ['rawData', 'externalData', 'dataLocation'] as const) {
        if (s.had[key]) (s.t as Record<string, unknown>)[key] = s[key];
        else delete (s.t as Record<string, unknown>)[key];
      }
    }
  }
}

/** Size of a model on disk: the .onnx file plus every external data file it references. */
export function modelSizeOnDisk(path: string): number {
  let total = statSync(path).size;
  const model = readModel(path, { externalData: 'keep' });
  const files = new Set<string>();
  for (const t of allTensors(model)) {
    if (!isExternal(t)) continue;
    const loc = entriesToMap(t.externalData).get('location');
    if (loc !== undefined) files.add(join(dirname(resolve(path)), normalize(loc)));
  }
  for (const f of files) if (existsSync(f)) total += statSync(f).size;
  return total;
}

/** SHA-256 of a file, streamed in chunks. */
export function sha256File(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    let pos = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      hash.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}
