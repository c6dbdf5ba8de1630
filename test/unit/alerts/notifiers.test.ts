import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { AlertingSchema } from '../../../src/monitoring/alerts/config.js';
import { createNotifiers } from '../../../src/monitoring/alerts/notifiers.js';
import { LogNotifier } from '../../../src/monitoring/alerts/log-notifier.js';
import { WebhookNotifier } from '../../../src/monitoring/alerts/webhook.js';
import { silentLogger } from '../../../src/logging/logger.js';

test('the alerting config has sensible defaults and builds the log notifier plus one webhook notifier per receiver', () => {
  const config = Value.Default(AlertingSchema, { webhooks: [{ url: 'http://127.0.0.1:9/a' }, { url: 'https://hooks.example/b', name: 'pager', maxAttempts: 2 }] }) as typeof AlertingSchema.static;
  assert.ok(Value.Check(AlertingSchema, config));
  assert.deepEqual([config.enabled, config.repeatIntervalMs, config.resolvedRetentionMs, config.groupBy, config.log], [true, 14_400_000, 900_000, ['alertname', 'model'], true]);
  const notifiers = createNotifiers(config, { logger: silentLogger() });
  assert.deepEqual(notifiers.map((n) => [n.constructor.name, n.name]), [[LogNotifier.name, 'log'], [WebhookNotifier.name, 'webhook'], [WebhookNotifier.name, 'pager']]);
  assert.throws(() => createNotifiers({ log: false, webhooks: [{ url: 'http://a/', name: 'x' }, { url: 'http://b/', name: 'x' }] }, { logger: silentLogger() }), { code: 'BERTH_ERR_ALERT_CONFIG', message: /webhooks\[1\]\.name/ });
  assert.equal(Value.Check(AlertingSchema, { ...config, webhooks: [{ url: 'http://a/', retries: 3 }] }), false, 'unknown webhook fields are refused');
});
