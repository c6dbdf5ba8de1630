import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../../../src/config/load.js';
import { isBerthError } from '../../../src/errors.js';
import { parseModelConfig, resolveSettings } from '../../../src/repository/model-config.js';
import { selectVersions } from '../../../src/repository/version-policy.js';

const dir = mkdtempSync(join(tmpdir(), 'berth-config-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(isBerthError(e), `expected a BerthError, got ${String(e)}`);
    return e.message;
  }
  assert.fail('expected an error');
}

describe('server configuration', () => {
  test('defaults', () => {
    const c = loadConfig();
    assert.equal(c.server.port, 8000);
    assert.equal(c.server.host, '127.0.0.1');
    assert.equal(c.repository.pollIntervalMs, 5000);
    assert.ok((c.runtime.workers ?? 0) >= 1);
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.server), 'frozen');
  });

  test('defaults ← file ← environment ← flags', () => {
    const f = file('a.yaml', 'server:\n  port: 9000\n  host: 127.0.0.1\nrepository:\n  path: /from/file\nlogging:\n  level: warn\n');
    const c = loadConfig({ file: f, env: { BERTH_PORT: '9100', BERTH_REPOSITORY: '/from/env' }, flags: { repository: { path: '/from/flags' } } });
    assert.equal(c.server.host, '127.0.0.1', 'file over default');
    assert.equal(c.server.port, 9100, 'environment over file');
    assert.equal(c.repository.path, '/from/flags', 'flags over environment');
    assert.equal(c.logging.level, 'warn');
    assert.equal(c.repository.pollIntervalMs, 5000, 'untouched default stays');
  });

  test('JSON config files are read too', () => {
    const f = file('b.json', JSON.stringify({ runtime: { workers: 3 }, models: { maxBatchSize: 8, batching: { maxQueueDelayMs: 1 } } }));
    const c = loadConfig({ file: f });
    assert.equal(c.runtime.workers, 3);
    assert.equal(c.models.maxBatchSize, 8);
  });

  test('errors name the source and the field', () => {
    assert.match(message(() => loadConfig({ file: file('c.yaml', 'server:\n  port: eighty\n') })), /config file .*c\.yaml: server\.port: expected integer/);
    assert.match(message(() => loadConfig({ file: file('d.yaml', 'server:\n  prot: 80\n') })), /server\.prot: unknown field/);
    assert.match(message(() => loadConfig({ file: file('e.yaml', 'server: [1\n') })), /config file .*e\.yaml: not valid YAML/);
    assert.match(message(() => loadConfig({ file: join(dir, 'missing.yaml') })), /missing\.yaml: cannot read/);
    assert.match(message(() => loadConfig({ env: { BERTH_PORT: '80a' } })), /environment BERTH_PORT: expected an integer, got '80a'/);
    assert.match(message(() => loadConfig({ env: { BERTH_PORT: '70000' } })), /environment: server\.port: expected integer to be less or equal to 65535/);
    assert.match(message(() => loadConfig({ env: { BERTH_REPOSITORY_API: 'maybe' } })), /BERTH_REPOSITORY_API: expected true or false/);
    assert.match(message(() => loadConfig({ flags: { logging: { level: 'loud' } } })), /command-line flags: logging\.level/);
    assert.match(message(() => loadConfig({ flags: { models: { batching: { maxQueueSize: 0 } } } })), /models\.batching\.maxQueueSize: expected integer to be greater or equal to 1/);
  });
});

describe('model configuration', () => {
  test('parses YAML and JSON, rejects unknown fields and a name that differs from the directory', () => {
    assert.deepEqual(parseModelConfig('maxBatchSize: 4\n', 'berth.yaml', 'm'), { maxBatchSize: 4 });
    assert.deepEqual(parseModelConfig('', 'berth.yaml', 'm'), {});
    assert.deepEqual(parseModelConfig('{"batching": {"enabled": false}}', 'berth.json', 'm'), { batching: { enabled: false } });
    assert.match(message(() => parseModelConfig('maxBatchSze: 4\n', 'berth.yaml', 'm')), /berth\.yaml: maxBatchSze: unknown field/);
    assert.match(message(() => parseModelConfig('name: other\n', 'berth.yaml', 'm')), /name 'other' does not match the model directory 'm'/);
    assert.match(message(() => parseModelConfig('batching: {maxQueueDelayMs: -1}\n', 'berth.yaml', 'm')), /batching\.maxQueueDelayMs/);
    assert.match(message(() => parseModelConfig('{', 'berth.json', 'm')), /not valid JSON/);
  });

  test('model settings: built-in ← server defaults ← model file', () => {
    const s = resolveSettings({ batching: { maxQueueDelayMs: 3, maxQueueSize: 10 }, instanceCount: 2 }, { batching: { maxQueueSize: 5 } });
    assert.equal(s.batching.maxQueueDelayMs, 3);
    assert.equal(s.batching.maxQueueSize, 5);
    assert.equal(s.batching.enabled, true);
    assert.equal(s.instanceCount, 2);
    assert.equal(s.maxBatchSize, undefined, 'decided from the model later');
    assert.deepEqual(s.versionPolicy, { latest: { numVersions: 1 } });
  });

  test('version policies', () => {
    assert.deepEqual(selectVersions({ latest: { numVersions: 1 } }, [1, 3, 2]), [3]);
    assert.deepEqual(selectVersions({ latest: { numVersions: 2 } }, [1, 3, 2]), [3, 2]);
    assert.deepEqual(selectVersions({ all: {} }, [2, 1]), [2, 1]);
    assert.deepEqual(selectVersions({ specific: { versions: [1, 5] } }, [1, 2, 3]), [1]);
    assert.deepEqual(selectVersions({ latest: { numVersions: 1 } }, []), []);
  });
});
