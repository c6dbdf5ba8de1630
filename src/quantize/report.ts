/**
 * @module quantize/report
 * Renders a QuantizeReport as the plain-text table `berth quantize` prints.
 */
import type { AccuracyReport, QuantizeReport } from './quantize.js';

function bytes(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(2)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd()).join('\n');
}

/** Two decimals with a real minus sign, and no "−0.00". */
const pts = (v: number): string => `${v <= -0.005 ? '−' : ''}${Math.abs(v).toFixed(2)}`;
/** A change in points: "−0.28 pts" lost, "+0.28 pts" gained, "0.00 pts". */
const change = (lost: number): string => `${lost >= 0.005 ? '−' : lost <= -0.005 ? '+' : ''}${Math.abs(lost).toFixed(2)} pts`;
const pValue = (p: number): string => (p >= 0.001 ? p.toFixed(p >= 0.1 ? 2 : 3) : p.toExponential(1));

/**
 * The accuracy claim in one line, never without its interval: "drop 0.28 pts, 95% CI
 * [−0.80, 1.40]; not significant (McNemar exact p = 0.62, mid-p 0.45)", then the verdict
 * against the limit when there is one.
 */
export function accuracyClaim(a: AccuracyReport): string {
  const what = a.metric === 'accuracy' ? 'drop' : 'changed predictions';
  let text = `${what} ${pts(a.drop)} pts, ${Math.round(a.interval.level * 100)}% CI [${pts(a.interval.lower)}, ${pts(a.interval.upper)}]`;
  if (a.paired !== undefined) {
    text += `; ${a.paired.significant ? 'significant' : 'not significant'} (McNemar exact p = ${pValue(a.paired.mcnemarExactP)}, mid-p ${pValue(a.paired.mcnemarMidP)}; ${a.paired.fp32Only} samples lost, ${a.paired.quantizedOnly} gained)`;
  } else {
    text += ` (${a.changed} of ${a.samples} samples)`;
  }
  if (a.limit !== undefined && a.verdict !== undefined) {
    const limit = `limit ${a.limit} pts`;
    text += {
      'within': `; within the ${limit} (the whole interval is)`,
      'not-shown-within': `; passes the ${limit} on the point estimate, but NOT SHOWN to be within it (the interval reaches ${pts(a.interval.upper)})`,
      'exceeded': `; EXCEEDS the ${limit} on the point estimate (not shown to: the interval reaches down to ${pts(a.interval.lower)})`,
      'shown-exceeded': `; EXCEEDS the ${limit} (the whole interval does)`,
    }[a.verdict];
  }
  return text;
}

export function formatReport(r: QuantizeReport): string {
  const label = r.mode === 'fp16' ? 'FP16' : 'INT8';
  const lines: string[] = [];
  lines.push(`berth quantize: ${r.mode} (${r.method})${r.settings.perChannel ? ', per-channel' : ''}`);
  lines.push(`  source  ${r.source.path}`);
  if (r.output) lines.push(`  output  ${r.output.path}`);
  if (r.cpu) lines.push(`  cpu     ${r.cpu.model ?? 'unknown model'} (${r.cpu.isa}${r.cpu.flags.length > 0 ? `; ${r.cpu.flags.join(' ')}` : ''}); latency below is measured here, on this CPU`);
  if (r.reduceRange) lines.push(`  weights ${r.reduceRange.reduceRange ? '7-bit (reduce-range)' : '8-bit'}: ${r.reduceRange.reason}`);
  if (r.data) lines.push(`  data    ${r.data.note}`);
  lines.push('');
  const rows: string[][] = [['', 'FP32', label, `${label}/FP32`]];
  rows.push(['size', bytes(r.size.fp32Bytes), bytes(r.size.quantizedBytes), r.size.ratio.toFixed(3)]);
  for (const b of r.latency.batches) {
    rows.push([`latency batch ${b.batch} (median ms, ${b.runs} runs)`, b.fp32Ms.toFixed(3), b.quantizedMs.toFixed(3), `${b.ratio.toFixed(3)} (${b.speedup.toFixed(2)}× speed-up)`]);
  }
  const a = r.accuracy;
  const bi = r.batchInvariance;
  if (a) {
    const batch1 = bi.score;
    rows.push([`${a.metric} % at batch ${a.batch} (${a.samples} samples, '${a.output}')`, a.fp32.toFixed(2), a.quantized.toFixed(2), change(a.drop)]);
    if (batch1) rows.push([`${batch1.metric} % at batch 1`, batch1.fp32Batch1.toFixed(2), batch1.quantizedBatch1.toFixed(2), change(batch1.fp32Batch1 - batch1.quantizedBatch1)]);
  }
  // The scored output's difference (all outputs are in the JSON report).
  const shown = a?.output ?? Object.keys(bi.quantized.perOutput)[0];
  if (shown !== undefined) rows.push([`max |Δ| '${shown}' alone vs in batch of ${bi.servedBatch}`, (bi.fp32.perOutput[shown] ?? NaN).toPrecision(3), (bi.quantized.perOutput[shown] ?? NaN).toPrecision(3), '']);
  lines.push(table(rows));
  if (r.latency.batches.length > 0) lines.push(`  (latency: measured here${r.cpu ? '' : ` on ${r.latency.measuredOn}`}, FP32 and ${label} runs interleaved, same session settings, intra-op threads ${r.latency.threads === 0 ? 'ORT default' : r.latency.threads}; noisy while other processes run)`);
  if (a) {
    lines.push(`  accuracy: ${a.claim}`);
    lines.push(`    (interval: ${a.interval.method})`);
    lines.push(`  max |Δ| vs FP32 on '${a.output}': ${a.maxAbsDiff.toPrecision(3)}`);
  }
  if (r.accuracyUnavailable) lines.push(`  accuracy: ${r.accuracyUnavailable}`);
  const o = r.outputs;
  if (o.comparisons.length > 0) {
    lines.push(`  outputs vs FP32 (${o.rows} rows at batch ${o.batch}):`);
    const outRows = o.comparisons.map((c) => {
      const shape = c.sampleShape.length > 0 ? ` [${c.sampleShape.join(', ')}]` : '';
      const what = c.kind === 'class-scores' ? `class scores${shape}` : c.kind === 'labels' ? `labels${shape}` : `values${shape}`;
      const agreement = c.agreement === undefined ? '' : c.kind === 'class-scores' ? `argmax agreement ${c.agreement.toFixed(2)}%` : `equal ${c.agreement.toFixed(2)}%`;
      const relative = c.meanAbsFp32 > 0 ? ` (${((100 * c.meanAbsDiff) / c.meanAbsFp32).toPrecision(2)}% of mean |FP32|)` : '';
      return [`'${c.name}'`, what, agreement, c.kind === 'labels' ? '' : `mean |Δ| ${c.meanAbsDiff.toPrecision(3)}${relative}`, c.kind === 'labels' ? '' : `max |Δ| ${c.maxAbsDiff.toPrecision(3)}`];
    });
    lines.push(table(outRows).split('\n').map((l) => `    ${l}`).join('\n'));
  }
  const changed = bi.quantized.classesChanged !== undefined ? `, ${bi.quantized.classesChanged} of ${bi.rows} predictions change` : '';
  lines.push(`  batch invariance (${bi.rows} rows, alone vs batch ${bi.servedBatch}): FP32 ${bi.fp32.invariant ? 'invariant' : 'NOT invariant'}; ${r.mode} ${bi.quantized.invariant ? 'invariant' : `NOT invariant (${bi.quantized.elementsOutside} output values differ${changed}): a row's answer depends on the rows batched with it`} → metadata berth.quantize.batch_invariant=${bi.quantized.invariant}`);
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
