import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatGoFloat, humanize, humanizePercentage } from '../../../src/monitoring/alerts/go-format.js';
import { compileTemplate } from '../../../src/monitoring/alerts/template.js';

const render = (t: string, value = 0, labels: Record<string, string> = { model: 'income', version: '3' }) => compileTemplate(t, 'test')(labels, value);

test('templates: $labels, $value, printf, humanize, humanizePercentage, plain text', () => {
  assert.equal(render('{{ $labels.model }} v{{$labels.version}}'), 'income v3');
  assert.equal(render('no actions at all'), 'no actions at all');
  assert.equal(render('{{ $value }}', 153.25), '153.25');
  assert.equal(render('{{ $value | printf "%.1f ms" }}', 153.25), '153.2 ms', 'half to even on the exact value 153.25');
  assert.equal(render('{{ printf "%.2f" $value }}', 0.125), '0.12');
  assert.equal(render('{{ printf "%.0f%%" $value }}', 99.5), '100%');
  assert.equal(render('{{ printf "model %s" $labels.model }}'), 'model income');
  assert.equal(render('{{ $value | humanize }}', 1_500_000), '1.5M');
  assert.equal(render('{{ $value | humanizePercentage }}', 0.0525), '5.25%');
  assert.equal(render('{{ $labels.missing }}'), '<no value>');
  assert.equal(render('{{ $labels.model }}', 0, { model: 'a$&b' }), 'a$&b');
});

test('templates outside the supported subset are refused when compiled', () => {
  for (const t of ['{{ .Labels.model }}', '{{ $labels.model | humanize }}', '{{ if gt $value 1.0 }}x{{ end }}', '{{ $value', 'x }}', '{{ printf "%d %d" $value $value }}', '{{ $value | title }}', '{{- $value -}}', '{{ printf "%.2f" }}', '{{ $externalLabels.x }}']) {
    assert.throws(() => compileTemplate(t, 'rule X: annotations.summary'), { code: 'BERTH_ERR_ALERT_RULE', message: /^rule X: annotations\.summary: / }, t);
  }
});

test('floats print as Go prints them (what Prometheus puts in annotations)', () => {
  const v: [number, string][] = [[0, '0'], [1, '1'], [-2.5, '-2.5'], [123456, '123456'], [1e6, '1e+06'], [1234567, '1.234567e+06'], [0.0001, '0.0001'], [0.00001, '1e-05'], [0.1 + 0.2, '0.30000000000000004'], [1e21, '1e+21'], [Infinity, '+Inf'], [-Infinity, '-Inf'], [Number.NaN, 'NaN']];
  for (const [x, s] of v) assert.equal(formatGoFloat(x, 'v'), s, `%v of ${x}`);
  const f: [number, number, string][] = [[0.125, 2, '0.12'], [0.375, 2, '0.38'], [2.5, 0, '2'], [3.5, 0, '4'], [1.005, 2, '1.00'], [999.96, 1, '1000.0'], [0.005, 2, '0.01'], [-0.001, 2, '-0.00']];
  for (const [x, p, s] of f) assert.equal(formatGoFloat(x, 'f', p), s, `%.${p}f of ${x}`);
  assert.equal(formatGoFloat(12345, 'g', 4), '1.234e+04');
  assert.equal(formatGoFloat(1, 'e', 3), '1.000e+00');
  assert.deepEqual([humanize(0), humanize(1234), humanize(0.05), humanize(999.99), humanize(2 ** 40)], ['0', '1.234k', '50m', '1000', '1.1T']);
  assert.deepEqual([humanizePercentage(0.1), humanizePercentage(1 / 3)], ['10%', '33.33%']);
});
