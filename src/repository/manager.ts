/**
 * @module repository/manager
 * Keeps the served models in step with the repository directory. A sync scans the
 * directory, loads versions the version policy selects and that are new or changed, then
 * swaps them in atomically; versions that leave the policy are retired (drained, then
 * unloaded) only once every selected version is ready, so a version that fails to load
 * (corrupt file, bad config) is reported with its reason while what was serving keeps
 * serving. Syncs run one at a time: on start, every poll interval, and on the repository
 * API's index/load/unload calls.
 */
import { BerthError, messageOf } from '../errors.js';
import { ModelVersion } from '../inference/model-version.js';
import { signatureDifference } from '../inference/signature.js';
import type { Logger } from '../logging/logger.js';
import type { ServerMetrics, VersionState } from '../metrics/server-metrics.js';
import type { WorkerPool } from '../runtime/worker-pool.js';
import { type ModelDefaults, resolveSettings } from './model-config.js';
import { isValidModelName, listModelNames, type ScannedModel, scanModel } from './scan.js';
import { selectVersions } from './version-policy.js';

export interface ModelManagerOptions {
  root: string;
  pool: WorkerPool;
  metrics: ServerMetrics;
  logger: Logger;
  defaults: ModelDefaults;
  defaultMaxBatchSize: number;
  /** Re-scan interval in ms; 0 = only on start and on API calls. */
  pollIntervalMs: number;
  /** Told when a loaded version starts serving, and when a served one stops (monitoring attaches here). */
  onVersionServing?: (mv: ModelVersion) => void;
  onVersionRetired?: (mv: ModelVersion) => void;
}

interface VersionEntry {
  version: number;
  state: VersionState;
  reason: string;
  /** The servable version while READY (or UNLOADING). */
  served: ModelVersion | undefined;
  /** File + config stamp the current `served` (or the last failed attempt) was loaded from. */
  stamp: string;
  /**
   * Set while the version is READY but not the model's default: its signature differs from the
   * default's and the config does not allow signature changes. Reached only at /versions/N.
   */
  held?: string;
}

interface ModelEntry {
  name: string;
  versions: Map<number, VersionEntry>;
  unloadedByUser: boolean;
  configError: string | undefined;
}

export interface IndexEntry {
  name: string;
  version?: string;
  state: VersionState;
  reason: string;
  /** The content hash of the preprocessing spec the version serves with (when it ships one). */
  preprocessing_hash?: string;
}

export class ModelManager {
  readonly root: string;
  #opts: ModelManagerOptions;
  #models = new Map<string, ModelEntry>();
  #chain: Promise<unknown> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: ModelManagerOptions) {
    this.#opts = options;
    this.root = options.root;
    options.pool.on('sessions-lost', (keys: string[], reason: string) => this.#onSessionsLost(keys, reason));
  }

  /** First scan and load; then polling if configured. */
  async start(): Promise<void> {
    await this.syncAll();
    if (this.#opts.pollIntervalMs > 0) {
      this.#timer = setInterval(() => {
        this.syncAll().catch((err: unknown) => this.#opts.logger.error({ err: messageOf(err) }, 'repository poll failed'));
      }, this.#opts.pollIntervalMs);
      this.#timer.unref();
    }
  }

  /** Runs `fn` after every sync queued before it (syncs never overlap). */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(fn, fn);
    this.#chain = next.catch(() => undefined);
    return next;
  }

  syncAll(): Promise<void> {
    return this.#serial(async () => {
      if (this.#closed) return;
      let names: string[];
      try {
        names = await listModelNames(this.root);
      } catch (err) {
        throw new BerthError('BERTH_ERR_CONFIG', `cannot read the model repository ${this.root}: ${messageOf(err)}`);
      }
      const all = new Set([...names, ...this.#models.keys()]);
      await Promise.all([...all].map((name) => this.#syncModel(name, false)));
    });
  }

  /** Explicit load (repository API): re-reads the model, retries failed versions. Throws if nothing is ready. */
  loadModel(name: string): Promise<void> {
    return this.#serial(async () => {
      await this.#checkListed(name);
      const entry = this.#models.get(name);
      if (entry !== undefined) entry.unloadedByUser = false;
      const scanned = await scanModel(this.root, name);
      if (scanned === undefined) throw new BerthError('BERTH_ERR_MODEL_NOT_FOUND', `no model directory '${name}' in the repository`);
      await this.#syncModel(name, true, scanned);
      const after = this.#models.get(name);
      const ready = after !== undefined && [...after.versions.values()].some((v) => v.state === 'READY');
      if (!ready) {
        const reasons = after === undefined ? [] : this.index().filter((e) => e.name === name).map((e) => `${e.version ?? ''}: ${e.reason}`);
        throw new BerthError('BERTH_ERR_MODEL_LOAD_FAILED', `model '${name}' failed to load${reasons.length > 0 ? `: ${reasons.join('; ')}` : ''}`);
      }
    });
  }

  /**
   * A name from the API must be one of the repository's model directories, exactly as listed:
   * one path segment, no aliases (`./digits`, `digits/.`), nothing outside the repository.
   */
  async #checkListed(name: string): Promise<void> {
    const listed = isValidModelName(name) && (await listModelNames(this.root).catch(() => [] as string[])).includes(name);
    if (!listed) {
      const shown = name.length > 64 ? `${name.slice(0, 64)}…` : name;
      throw new BerthError('BERTH_ERR_MODEL_NOT_FOUND', `no model '${shown}' in the repository: a model name is one directory of the repository (letters, digits, '_', '.', '-'; not starting with '.'), as POST /v2/repository/index lists them`);
    }
  }

  /** Explicit unload (repository API): drains and unloads every version; polling leaves it unloaded. */
  unloadModel(name: string): Promise<void> {
    return this.#serial(async () => {
      const entry = this.#models.get(name);
      if (entry === undefined) throw new BerthError('BERTH_ERR_MODEL_NOT_FOUND', `unknown model '${name}'`);
      entry.unloadedByUser = true;
      await Promise.all([...entry.versions.values()].map((v) => this.#retire(name, entry, v)));
    });
  }

  async #syncModel(name: string, force: boolean, scannedIn?: ScannedModel): Promise<void> {
    const scanned = scannedIn ?? (await scanModel(this.root, name));
    let entry = this.#models.get(name);
    if (scanned === undefined) {
      // The directory is gone: retire everything and forget the model.
      if (entry !== undefined) {
        await Promise.all([...entry.versions.values()].map((v) => this.#retire(name, entry!, v)));
        this.#models.delete(name);
      }
      return;
    }
    if (entry === undefined) {
      entry = { name, versions: new Map(), unloadedByUser: false, configError: undefined };
      this.#models.set(name, entry);
    }
    entry.configError = scanned.configError;
    if (entry.unloadedByUser) return;

    if (scanned.configError !== undefined) {
      // A bad config never takes down what is serving; new versions wait for a good one. A version
      // that is not serving (new, failed, or lost with a crashed worker) cannot load until then.
      for (const sv of scanned.versions) {
        const v = entry.versions.get(sv.version);
        if (v === undefined || v.state !== 'READY') this.#setState(name, entry, sv.version, 'UNAVAILABLE', scanned.configError, `error:${sv.stamp}`);
      }
      // The serving versions say why config changes are not applied (else the error is only in the log).
      for (const v of entry.versions.values()) {
        if (v.state === 'READY') v.reason = `serving with the previously loaded config: ${scanned.configError}`;
      }
      this.#opts.logger.error({ model: name, reason: scanned.configError }, 'model config is invalid');
      return;
    }

    const settings = resolveSettings(this.#opts.defaults, scanned.config);
    const wanted = new Set(selectVersions(settings.versionPolicy, scanned.versions.map((v) => v.version)));
    for (const sv of scanned.versions) {
      if (!wanted.has(sv.version)) continue;
      const stamp = `${sv.stamp}|${scanned.configStamp}`;
      const existing = entry.versions.get(sv.version);
      const upToDate = existing !== undefined && existing.stamp === stamp && (existing.state === 'READY' || (existing.state === 'UNAVAILABLE' && !force));
      if (upToDate) continue;
      await this.#load(name, entry, sv.version, sv.path, stamp, settings);
    }

    // Retire versions outside the policy once every wanted version is ready.
    const allWantedReady = [...wanted].every((v) => entry!.versions.get(v)?.state === 'READY' && entry!.versions.get(v)?.held === undefined);
    for (const v of [...entry.versions.values()]) {
      if (wanted.has(v.version)) continue;
      if (v.state !== 'READY' || allWantedReady) await this.#retire(name, entry, v);
    }
    this.#releaseHeld(name, entry);
  }

  /** The version unversioned requests reach: the highest READY one that is not held back. */
  #defaultEntry(entry: ModelEntry, except?: number): VersionEntry | undefined {
    let best: VersionEntry | undefined;
    for (const v of entry.versions.values()) {
      if (v.version === except || v.state !== 'READY' || v.served === undefined || v.held !== undefined) continue;
      if (best === undefined || v.version > best.version) best = v;
    }
    return best;
  }

  /**
   * How `candidate` (about to serve as `version`) differs from what clients call now: the
   * file it replaces when that version is the default ('itself'), else the default version.
   */
  #signatureChange(entry: ModelEntry, version: number, candidate: ModelVersion): { change: string | undefined; against: 'itself' | 'default' | undefined } {
    const same = entry.versions.get(version);
    if (same?.state === 'READY' && same.served !== undefined && same.held === undefined) {
      return { change: signatureDifference(same.served.signature, candidate.signature), against: 'itself' };
    }
    const reference = this.#defaultEntry(entry, version);
    // A version below the default never becomes the default, so it is not held back.
    if (reference?.served === undefined || reference.version > version) return { change: undefined, against: undefined };
    return { change: signatureDifference(reference.served.signature, candidate.signature), against: 'default' };
  }

  /** When nothing else can serve as the default any more (its version was removed), the highest held-back version becomes it. */
  #releaseHeld(name: string, entry: ModelEntry): void {
    if (this.#defaultEntry(entry) !== undefined) return;
    let top: VersionEntry | undefined;
    for (const v of entry.versions.values()) if (v.held !== undefined && v.state === 'READY' && (top === undefined || v.version > top.version)) top = v;
    if (top === undefined) return;
    delete top.held;
    top.reason = top.served !== undefined && !top.served.batchingNote.merged ? top.served.batchingNote.reason : '';
    this.#opts.logger.info({ model: name, version: top.version }, 'held-back model version is now the default: no other version serves');
  }

  async #load(name: string, entry: ModelEntry, version: number, path: string, stamp: string, settings: ReturnType<typeof resolveSettings>): Promise<void> {
    const previous = entry.versions.get(version);
    if (previous === undefined || previous.state !== 'READY') this.#setState(name, entry, version, 'LOADING', 'loading', stamp);
    const t0 = performance.now();
    try {
      const served = await ModelVersion.load({
        model: name, version, path, settings, pool: this.#opts.pool, metrics: this.#opts.metrics, defaultMaxBatchSize: this.#opts.defaultMaxBatchSize,
      });
      if (this.#closed) {
        await served.unload();
        return;
      }
      const old = entry.versions.get(version)?.served;
      const { change, against } = settings.allowSignatureChange ? { change: undefined, against: undefined } : this.#signatureChange(entry, version, served);
      if (change !== undefined && against === 'itself') {
        // The same version number cannot be served twice: keep the loaded file, refuse the new one.
        await served.unload();
        const current = entry.versions.get(version)!;
        current.reason = `reload refused, serving the previously loaded file: the new file has ${change}; set allowSignatureChange: true in berth.yaml to accept it`;
        current.stamp = stamp;
        this.#opts.logger.error({ model: name, version, reason: current.reason }, 'model version reload refused: signature changed');
        return;
      }
      // The swap: from here on new requests reach the new sessions; the old drain and go.
      const loaded: VersionEntry = { version, state: 'READY', reason: served.batchingNote.merged ? '' : served.batchingNote.reason, served, stamp };
      if (change !== undefined) {
        loaded.held = `loaded but not the default: it has ${change} (the default is version ${this.#defaultEntry(entry)!.version}); requests reach it only at /versions/${version}; set allowSignatureChange: true in berth.yaml to make it the default`;
        loaded.reason = loaded.held;
        this.#opts.logger.warn({ model: name, version, reason: loaded.held }, 'model version held back: signature changed');
      }
      entry.versions.set(version, loaded);
      if (old !== undefined) this.#opts.onVersionRetired?.(old);
      this.#opts.onVersionServing?.(served);
      this.#opts.metrics.setModelState(name, String(version), 'READY');
      this.#opts.metrics.modelLoads.inc({ model: name, version: String(version) });
      this.#opts.metrics.modelLoadDuration.observe({ model: name }, (performance.now() - t0) / 1000);
      this.#opts.logger.info(
        { model: name, version, loadMs: Math.round(performance.now() - t0), maxBatchSize: served.signature.maxBatchSize, batching: served.batchingNote.reason, instances: served.instanceCount, reload: old !== undefined },
        'model version loaded',
      );
      if (old !== undefined) await old.unload();
    } catch (err) {
      const reason = messageOf(err);
      this.#opts.metrics.modelLoadFailures.inc({ model: name, version: String(version) });
      this.#opts.logger.error({ model: name, version, reason }, 'model version failed to load');
      const current = entry.versions.get(version);
      if (current?.state === 'READY') {
        // A changed file failed to load: keep serving what was loaded, remember the failure.
        current.reason = `reload failed, serving the previously loaded file: ${reason}`;
        current.stamp = stamp;
      } else {
        this.#setState(name, entry, version, 'UNAVAILABLE', reason, stamp);
      }
    }
  }

  async #retire(name: string, entry: ModelEntry, v: VersionEntry): Promise<void> {
    const served = v.served;
    if (served !== undefined) {
      this.#opts.onVersionRetired?.(served);
      v.state = 'UNLOADING';
      v.reason = 'unloading';
      this.#opts.metrics.setModelState(name, String(v.version), 'UNLOADING');
      await served.unload();
      this.#opts.logger.info({ model: name, version: v.version }, 'model version unloaded');
    }
    if (entry.versions.get(v.version) === v) entry.versions.delete(v.version);
    this.#opts.metrics.removeVersion(name, String(v.version));
  }

  #setState(name: string, entry: ModelEntry, version: number, state: VersionState, reason: string, stamp: string): void {
    const v = entry.versions.get(version);
    if (v === undefined) entry.versions.set(version, { version, state, reason, served: undefined, stamp });
    else Object.assign(v, { state, reason, stamp });
    this.#opts.metrics.setModelState(name, String(version), state);
  }

  #onSessionsLost(keys: string[], reason: string): void {
    this.#opts.metrics.workerRestarts.inc();
    for (const [name, entry] of this.#models) {
      let affected = false;
      for (const v of entry.versions.values()) {
        if (v.served !== undefined && keys.some((k) => v.served!.ownsSession(k))) {
          affected = true;
          this.#opts.logger.error({ model: name, version: v.version, reason }, 'inference worker died; reloading the model version');
          const lost = v.served;
          this.#opts.onVersionRetired?.(lost);
          v.served = undefined;
          v.state = 'LOADING';
          v.reason = `reloading after a worker failure: ${reason}`;
          v.stamp = 'lost';
          this.#opts.metrics.setModelState(name, String(v.version), 'LOADING');
          void lost.abort(new BerthError('BERTH_ERR_MODEL_NOT_READY', 'the inference worker restarted; the model is reloading', { headers: { 'Retry-After': '1' } }));
        }
      }
      if (affected) void this.#serial(() => this.#syncModel(name, true)).catch(() => undefined);
    }
  }

  // --- queries -----------------------------------------------------------------------

  modelNames(): string[] {
    return [...this.#models.keys()].sort();
  }

  has(name: string): boolean {
    return this.#models.has(name);
  }

  /**
   * The version a request reaches: the given one, or the highest READY version.
   * 404 for an unknown model or version, 503 (Retry-After) while loading or unavailable.
   */
  resolve(name: string, version?: string): ModelVersion {
    const entry = this.#models.get(name);
    if (entry === undefined) throw new BerthError('BERTH_ERR_MODEL_NOT_FOUND', `unknown model '${name}'; GET /v2/repository/index lists the models`);
    if (version !== undefined && version !== '') {
      const n = /^[1-9][0-9]*$/.test(version) ? Number(version) : NaN;
      const v = entry.versions.get(n);
      if (v === undefined) {
        const have = [...entry.versions.keys()].sort((a, b) => a - b).join(', ');
        throw new BerthError('BERTH_ERR_VERSION_NOT_FOUND', `model '${name}' has no version '${version}'${have === '' ? '' : ` (versions: ${have})`}`);
      }
      if (v.state === 'READY' && v.served !== undefined) return v.served;
      throw notReady(name, v);
    }
    const best = this.#defaultEntry(entry);
    if (best?.served !== undefined) return best.served;
    if (entry.unloadedByUser) throw new BerthError('BERTH_ERR_MODEL_NOT_READY', `model '${name}' is unloaded; POST /v2/repository/models/${name}/load to load it`);
    const any = [...entry.versions.values()].sort((a, b) => b.version - a.version)[0];
    if (any !== undefined) throw notReady(name, any);
    throw new BerthError('BERTH_ERR_MODEL_NOT_READY', `model '${name}' has no loadable version${entry.configError !== undefined ? `: ${entry.configError}` : ' (expected <model>/<version>/model.onnx)'}`);
  }

  /** Versions currently READY, highest first. */
  readyVersions(name: string): ModelVersion[] {
    const entry = this.#models.get(name);
    if (entry === undefined) return [];
    return [...entry.versions.values()]
      .filter((v) => v.state === 'READY' && v.served !== undefined)
      .sort((a, b) => b.version - a.version)
      .map((v) => v.served!);
  }

  /** Version numbers known for the model (any state), ascending. */
  versionNumbers(name: string): number[] {
    const entry = this.#models.get(name);
    return entry === undefined ? [] : [...entry.versions.keys()].sort((a, b) => a - b);
  }

  /** Repository index: every model and version with state and reason (Triton's repository index). */
  index(): IndexEntry[] {
    const out: IndexEntry[] = [];
    for (const name of this.modelNames()) {
      const entry = this.#models.get(name)!;
      if (entry.versions.size === 0) {
        const reason = entry.unloadedByUser ? 'unloaded' : (entry.configError ?? 'no version directory with a model file');
        out.push({ name, state: 'UNAVAILABLE', reason });
        continue;
      }
      for (const v of [...entry.versions.values()].sort((a, b) => a.version - b.version)) {
        const e: IndexEntry = { name, version: String(v.version), state: v.state, reason: v.reason };
        const hash = v.served?.preprocessing?.hash;
        if (hash !== undefined) e.preprocessing_hash = hash;
        out.push(e);
      }
    }
    return out;
  }

  /** True when every model has at least one READY version. */
  allReady(): boolean {
    for (const name of this.#models.keys()) if (this.readyVersions(name).length === 0 && !this.#models.get(name)!.unloadedByUser) return false;
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#chain.catch(() => undefined);
    const all: Promise<void>[] = [];
    for (const entry of this.#models.values()) for (const v of entry.versions.values()) if (v.served !== undefined) all.push(v.served.unload());
    await Promise.all(all);
  }
}

function notReady(name: string, v: VersionEntry): BerthError {
  const what = v.state === 'LOADING' ? 'is loading' : v.state === 'UNLOADING' ? 'is unloading' : `is unavailable: ${v.reason}`;
  return new BerthError('BERTH_ERR_MODEL_NOT_READY', `model '${name}' version ${v.version} ${what}`, { headers: { 'Retry-After': v.state === 'UNAVAILABLE' ? '30' : '1' } });
}
