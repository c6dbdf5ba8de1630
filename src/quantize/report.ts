/**
 * @module quantize/report
 * Renders a QuantizeReport as the plain-text table `berth quantize` prints.
 */
import type { QuantizeReport } from './quantize.js';

function bytes(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(2)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd()).join('\n');
}

export function formatReport(r: QuantizeReport): string {
  const label = r.mode === 'fp16' ? 'FP16' : 'INT8';
  const lines: string[] = [];
  lines.push(`berth quantize: ${r.mode} (${r.method})${r.settings.perChannel ? ', per-channel' : ''}`);
  lines.push(`  source  ${r.source.path}`);
  if (r.output) lines.push(`  output  ${r.output.path}`);
  if (r.cpu) lines.push(`  cpu     ${r.cpu.model ?? 'unknown model'} (${r.cpu.isa}); latency below is measured on this CPU`);
  if (r.reduceRange) lines.push(`  weights ${r.reduceRange.reduceRange ? '7-bit (reduce-range)' : '8-bit'}: ${r.reduceRange.reason}`);
  lines.push('');
  const rows: string[][] = [['', 'FP32', label, `${label}/FP32`]];
  rows.push(['size', bytes(r.size.fp32Bytes), bytes(r.size.quantizedBytes), r.size.ratio.toFixed(3)]);
  for (const b of r.latency.batches) {
    rows.push([`latency batch ${b.batch} (median ms)`, b.fp32Ms.toFixed(3), b.quantizedMs.toFixed(3), b.ratio.toFixed(3)]);
  }
  const a = r.accuracy;
  if (a) {
    rows.push([`${a.metric} % (${a.samples} samples, '${a.output}')`, a.fp32.toFixed(2), a.quantized.toFixed(2), `${a.drop >= 0 ? '-' : '+'}${Math.abs(a.drop).toFixed(2)} pts`]);
  }
  lines.push(table(rows));
  if (r.latency.batches.length > 0) lines.push(`  (latency: same session settings for both, intra-op threads ${r.latency.threads === 0 ? 'ORT default' : r.latency.threads})`);
  if (a) {
    lines.push(`  max |Δ| on '${a.output}': ${a.maxAbsDiff.toPrecision(3)}`);
    if (a.limit !== undefined) lines.push(`  accuracy limit: drop ≤ ${a.limit} pts → ${a.drop <= a.limit ? 'OK' : 'EXCEEDED'}`);
  }
  if (r.guard.triggered) {
    lines.push('');
    lines.push(`accuracy guard: initial drop ${r.guard.initialDrop?.toFixed(2)} pts; sensitivity (points recovered when left in float):`);
    for (const s of r.guard.sensitivity) lines.push(`  ${s.recovered >= 0 ? '+' : ''}${s.recovered.toFixed(2)}  ${s.opType} ${s.node}`);
    lines.push(`  kept in float: ${r.guard.keptFloat.length > 0 ? r.guard.keptFloat.join(', ') : 'none'}`);
  }
  lines.push('');
  lines.push(`nodes: ${r.summary.quantized} converted, ${r.summary.float} left in float`);
  const nodeRows = [['node', 'op', 'status', 'why']];
  for (const d of r.nodes) nodeRows.push([d.node, d.opType, d.quantized ? label : 'float', d.reason]);
  lines.push(table(nodeRows).split('\n').map((l) => `  ${l}`).join('\n'));
  return lines.join('\n');
}
