/**
 * @module monitoring/labels
 * Checks ground-truth labels sent as feedback against what the model can predict, so a
 * typo is a 400 instead of a silently wrong accuracy: a classifier's label must be one of
 * its classes (by name or index; the preprocessing spec's label rule applied first, so
 * Adult's '>50K.' reads as '>50K'), a regressor's a finite number.
 */
import { BerthError } from '../errors.js';
import { labelText } from '../preprocessing/tabular.js';
import type { Task } from './binding.js';

export type LabelCheck = (label: unknown, where: string) => string | number;

function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : (JSON.stringify(v) ?? 'nothing');
}

function refuse(where: string, message: string): never {
  throw new BerthError('BERTH_ERR_BAD_REQUEST', `${where}: ${message}`);
}

/**
 * The checker for one model. `specRule` says a preprocessing spec with a label section is
 * present (its parse rule: trim, drop one trailing '.'); without it labels are taken as sent.
 */
export function labelChecker(model: string, task: Task, specRule: boolean): LabelCheck {
  if (task.kind === 'classification') {
    const { classes } = task;
    const valid = `${classes.map((c) => `'${c}'`).join(', ')} (or the class index 0–${classes.length - 1})`;
    return (label, where) => {
      if (typeof label === 'number') {
        if (Number.isInteger(label) && label >= 0 && label < classes.length) return classes[label]!;
        refuse(where, `${show(label)} is not a class of model '${model}': expected one of ${valid}`);
      }
      if (typeof label !== 'string' || label === '') refuse(where, `expected a class name or index, got ${show(label)}`);
      const text = specRule ? labelText(label) : label;
      if (classes.includes(text)) return text;
      if (/^\d+$/.test(text) && Number(text) < classes.length) return classes[Number(text)]!;
      refuse(where, `${show(label)} is not a class of model '${model}': expected one of ${valid}`);
    };
  }
  if (task.kind === 'regression') {
    return (label, where) => {
      const x = typeof label === 'number' ? label : typeof label === 'string' && label.trim() !== '' ? Number(label) : NaN;
      if (!Number.isFinite(x)) refuse(where, `expected a finite number (model '${model}' is a regressor), got ${show(label)}`);
      return x;
    };
  }
  return (label, where) => {
    if ((typeof label === 'number' && Number.isFinite(label)) || (typeof label === 'string' && label !== '')) return label;
    refuse(where, `expected a finite number or a non-empty string, got ${show(label)}`);
  };
}
