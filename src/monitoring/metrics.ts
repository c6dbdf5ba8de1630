/**
 * @module monitoring/metrics
 * Writes the monitor's results into the Prometheus gauges declared in
 * metrics/server-metrics (quality, drift, memory, queue capacity, feedback).
 */
import type { DriftReport } from '../drift/report.js';
import type { ModelVersion } from '../inference/model-version.js';
import { removeMatching, type ServerMetrics } from '../metrics/server-metrics.js';
import { driftShare, usableLabels, type QualitySnapshot } from './monitor.js';
import type { WindowSummary } from './sliding-window.js';
import type { AttributeFairness, AttributeQuality } from './fairness.js';

export class MonitoringMetrics {
  constructor(readonly m: ServerMetrics) {}

  versionAttached(mv: ModelVersion, validatedAccuracy: number | undefined): void {
    const l = { model: mv.model, version: String(mv.version) };
    this.m.modelMemory.set(l, mv.memoryBytes);
    this.m.queueCapacity.set(l, mv.batching.maxQueueSize);
    if (validatedAccuracy !== undefined) this.m.validatedAccuracy.set(l, validatedAccuracy);
  }

  versionDetached(model: string, version: string): void {
    this.m.removeVersion(model, version);
  }

  /** The live fairness window's groups and disparities (monitoring/fairness). */
  fairness(mv: ModelVersion, attributes: readonly AttributeFairness[], quality: readonly AttributeQuality[] | undefined): void {
    const model = mv.model;
    const version = String(mv.version);
    for (const a of attributes) {
      for (const g of a.groups) {
        const l = { model, version, attribute: a.attribute, group: g.group };
        this.m.fairnessSelectionRate.set(l, g.selectionRate);
        this.m.fairnessDecisions.set(l, g.decisions);
      }
      const l = { model, version, attribute: a.attribute };
      if (Number.isFinite(a.demographicParityRatio)) this.m.fairnessParityRatio.set(l, a.demographicParityRatio);
      else this.m.fairnessParityRatio.remove(l);
      if (Number.isFinite(a.demographicParityDifference)) this.m.fairnessParityDifference.set(l, a.demographicParityDifference);
      else this.m.fairnessParityDifference.remove(l);
    }
    for (const a of quality ?? []) {
      for (const g of a.groups) {
        const values = { accuracy: g.accuracy, true_positive_rate: g.truePositiveRate, false_positive_rate: g.falsePositiveRate };
        for (const [metric, v] of Object.entries(values)) {
          const l = { model, version, attribute: a.attribute, group: g.group, metric };
          if (Number.isFinite(v)) this.m.fairnessGroupQuality.set(l, v);
          else this.m.fairnessGroupQuality.remove(l);
        }
      }
      const l = { model, version, attribute: a.attribute };
      if (Number.isFinite(a.equalizedOddsDifference)) this.m.fairnessEqualizedOdds.set(l, a.equalizedOddsDifference);
      else this.m.fairnessEqualizedOdds.remove(l);
    }
  }

  feedback(model: string, attached: number, unknown: number): void {
    if (attached > 0) this.m.feedbackTotal.inc({ model, outcome: 'attached' }, attached);
    if (unknown > 0) this.m.feedbackTotal.inc({ model, outcome: 'unknown' }, unknown);
  }

  update(mv: ModelVersion, r: { summary: WindowSummary; quality: QualitySnapshot | undefined; drift: DriftReport | undefined; minLabelled: number }): void {
    const model = mv.model;
    const version = String(mv.version);
    const q = r.quality;
    if (q !== undefined) {
      this.m.labelledDecisions.set({ model, version }, q.labelled);
      const set = (metric: string, v: number | undefined): void => {
        if (v !== undefined && Number.isFinite(v)) this.m.modelQuality.set({ model, version, metric }, v);
        else this.m.modelQuality.remove({ model, version, metric });
      };
      const enough = usableLabels(q) >= r.minLabelled;
      set('accuracy', enough ? q.classification?.accuracy : undefined);
      set('precision', enough ? q.classification?.precision : undefined);
      set('recall', enough ? q.classification?.recall : undefined);
      set('f1', enough ? q.classification?.f1 : undefined);
      set('auc', enough ? q.classification?.auc : undefined);
      set('mae', enough ? q.regression?.mae : undefined);
      set('rmse', enough ? q.regression?.rmse : undefined);
      // The label-free estimate (over recent rows); absent when unavailable (no calibration, not probabilities).
      const e = q.estimate?.available ? q.estimate.recent : undefined;
      set('estimated_accuracy', e?.accuracy.value);
      set('estimated_precision', e?.precision?.value);
      set('estimated_recall', e?.recall?.value);
      set('estimated_f1', e?.f1?.value);
      set('estimated_auc', e?.auc?.value);
    }
    const d = r.drift;
    if (d !== undefined) {
      removeMatching(this.m.driftDetected, { model, version });
      removeMatching(this.m.driftEffect, { model, version });
      this.m.driftDetected.set({ model, version, feature: '' }, d.verdict.drift ? 1 : 0);
      for (const f of [...d.features, ...d.outputs.columns]) {
        this.m.driftDetected.set({ model, version, feature: f.name }, f.drifted ? 1 : 0);
        if (Number.isFinite(f.effect.value)) this.m.driftEffect.set({ model, version, feature: f.name }, f.effect.value);
      }
      this.m.driftShare.set({ model, version }, driftShare(d));
    }
  }
}
