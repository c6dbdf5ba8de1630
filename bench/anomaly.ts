/**
 * @module bench/anomaly
 * How well does the anomaly layer tell unusual rows from ordinary ones (issue 11, item 3)?
 * Without a server: the income version's transformer (pipeline/tabular) and detector
 * (anomaly/detector, policy flag, the defaults of berth.yaml's `anomaly:`) with the profile it
 * ships (examples/models/income/1/anomaly.profile.json, from adult.data) over
 *   (a) the Adult test split as clients would send it → the false-flag rate, overall and by kind;
 *   (b) a seeded edge-case set made from clean test rows, one defect per row → the detection
 *       rate by kind and case (the aim: 100% of field-level cases);
 *   (c) rows whose every value was seen in training but whose combination is implausible →
 *       the share the OOD score flags (reported, no aim).
 * The timings beside it are in process, µs per row, and as noisy as the machine.
 * Usage: npm run bench:anomaly [-- --cases 200 --seed 11]   (writes bench/results/anomaly.json)
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { type AnomalyFlag, AnomalyDetector, ANOMALY_KINDS } from '../src/anomaly/detector.js';
import { checkAnomalyProfile } from '../src/anomaly/profile.js';
import { recordFromCsv } from '../src/anomaly/reference.js';
import type { RawRecord } from '../src/pipeline/transformer.js';
import { TabularTransformer } from '../src/pipeline/tabular.js';
import { parseSimpleCsv, readTabularSpec } from '../src/preprocessing/tabular.js';
import { mulberry32 } from '../src/random.js';
import { resolveSettings } from '../src/repository/model-config.js';
import { numberArg } from './lib/args.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CASES = numberArg('--cases', 200);
const SEED = numberArg('--seed', 11);

const spec = readTabularSpec(join(ROOT, 'examples/models/income/preprocessing.json'));
const profile = checkAnomalyProfile(JSON.parse(readFileSync(join(ROOT, 'examples/models/income/1/anomaly.profile.json'), 'utf8')), 'anomaly.profile.json');
const config = { ...resolveSettings({}, {}).anomaly, policy: 'flag' as const };
const transformer = new TabularTransformer(spec, spec.hash);
const detector = new AnomalyDetector(profile, config);

function flagRecords(records: readonly RawRecord[]): AnomalyFlag[][] {
  const enc = transformer.encode(records);
  return detector.check(enc.inputs[0], records.length, records, enc.problems);
}

const csv = (file: string): RawRecord[] => parseSimpleCsv(gunzipSync(readFileSync(join(ROOT, file))).toString('utf8'), spec).map((row) => recordFromCsv(row, spec));
const test = csv('examples/data/adult/adult.test.gz');

// ---- (a) the test split ----
const t0 = performance.now();
const testFlags = flagRecords(test);
const testMs = performance.now() - t0;
const testByKind = Object.fromEntries(ANOMALY_KINDS.map((k) => [k, testFlags.filter((f) => f.some((x) => x.kind === k)).length]));
const testFlagged = testFlags.filter((f) => f.length > 0).length;
const clean = test.filter((_, i) => testFlags[i]!.length === 0);
// What drives the OOD flags: a category seen in under 1% of the training rows.
const rare = new Map((profile.fields ?? []).flatMap((f) => (f.type === 'categorical' ? [[f.name, new Set(Object.entries(f.counts).filter(([, n]) => n < 0.01 * profile.rows).map(([c]) => c))] as const] : [])));
const hasRare = (r: RawRecord): boolean => [...rare].some(([field, cats]) => cats.has(String(r[field] === '' ? '?' : r[field])));
const testOod = test.filter((_, i) => testFlags[i]!.some((x) => x.kind === 'ood'));
const oodWithRare = testOod.filter(hasRare).length;
const rareRows = test.filter(hasRare).length;

// ---- (b) edge cases: one defect on a clean test row ----
interface Case {
  kind: string;
  name: string;
  /** Mutates a copy of the record; returns the fields whose flag of `kind` must be raised. */
  make: (r: Record<string, unknown>, rand: () => number) => string[];
  /** The kind expected on those fields. */
  expect: AnomalyFlag['kind'];
}
const pick = <T>(xs: readonly T[], rand: () => number): T => xs[Math.floor(rand() * xs.length)]!;
const between = (lo: number, hi: number, rand: () => number): number => Math.round(lo + (hi - lo) * rand());
const USED = spec.features.map((f) => f.column);
const CATEGORICAL = spec.features.filter((f) => f.type === 'categorical').map((f) => f.column);

const cases: Case[] = [
  { kind: 'out_of_range', name: 'age 120…200', expect: 'out_of_range', make: (r, g) => ((r.age = between(120, 200, g)), ['age']) },
  { kind: 'out_of_range', name: 'age 0…9', expect: 'out_of_range', make: (r, g) => ((r.age = between(0, 9, g)), ['age']) },
  { kind: 'out_of_range', name: 'hours-per-week 200…1e6', expect: 'out_of_range', make: (r, g) => ((r['hours-per-week'] = between(200, 1e6, g)), ['hours-per-week']) },
  { kind: 'out_of_range', name: 'capital-gain −5000…−1', expect: 'out_of_range', make: (r, g) => ((r['capital-gain'] = -between(1, 5000, g)), ['capital-gain']) },
  { kind: 'out_of_range', name: 'capital-loss 5000…1e6', expect: 'out_of_range', make: (r, g) => ((r['capital-loss'] = between(5000, 1e6, g)), ['capital-loss']) },
  { kind: 'out_of_range', name: 'education-num 20…99', expect: 'out_of_range', make: (r, g) => ((r['education-num'] = between(20, 99, g)), ['education-num']) },
  {
    kind: 'unseen_category', name: 'made-up category', expect: 'unseen_category',
    make: (r, g) => {
      const field = pick(CATEGORICAL, g);
      r[field] = pick(['Freelance', 'Atlantis', 'Astronaut', 'unknown', 'private', 'Married'], g);
      return [field];
    },
  },
  {
    kind: 'wrong_type', name: 'swapped age ↔ workclass', expect: 'wrong_type',
    make: (r) => {
      [r.age, r.workclass] = [r.workclass === '' ? 'Private' : r.workclass, r.age];
      return ['age', 'workclass'];
    },
  },
  {
    kind: 'wrong_type', name: 'swapped hours-per-week ↔ occupation', expect: 'wrong_type',
    make: (r) => {
      [r['hours-per-week'], r.occupation] = [r.occupation === '' ? 'Sales' : r.occupation, r['hours-per-week']];
      return ['hours-per-week', 'occupation'];
    },
  },
  { kind: 'wrong_type', name: 'number as words ("forty")', expect: 'wrong_type', make: (r) => ((r['hours-per-week'] = 'forty'), ['hours-per-week']) },
  { kind: 'wrong_type', name: 'boolean / object / array in a field', expect: 'wrong_type', make: (r, g) => { const f = pick(USED, g); r[f] = pick([true, { value: 1 }, [1]], g); return [f]; } },
  { kind: 'non_finite', name: 'NaN / ±Infinity as numbers', expect: 'non_finite', make: (r, g) => { const f = pick(['age', 'capital-gain', 'hours-per-week'], g); r[f] = pick([NaN, Infinity, -Infinity], g); return [f]; } },
  { kind: 'non_finite', name: '"NaN" / "Infinity" / "-inf" strings', expect: 'non_finite', make: (r, g) => { const f = pick(['age', 'capital-loss', 'education-num'], g); r[f] = pick(['NaN', 'nan', 'Infinity', '-inf', '+Inf'], g); return [f]; } },
  { kind: 'non_finite', name: '"1e999" (overflows)', expect: 'non_finite', make: (r) => ((r['capital-gain'] = '1e999'), ['capital-gain']) },
  { kind: 'missing_field', name: 'a used field left out', expect: 'missing_field', make: (r, g) => { const f = pick(USED, g); delete r[f]; return [f]; } },
  { kind: 'unknown_field', name: 'an extra field', expect: 'unknown_field', make: (r, g) => { const f = pick(['salary', 'Age', 'hours_per_week', 'zip'], g); r[f] = 1; return [f]; } },
];

interface CaseResult { kind: string; name: string; rows: number; detected: number; alsoOod: number }
const rand = mulberry32(SEED);
const caseResults: CaseResult[] = [];
const t1 = performance.now();
for (const c of cases) {
  const records: Record<string, unknown>[] = [];
  const expected: string[][] = [];
  for (let i = 0; i < CASES; i++) {
    const r = { ...(pick(clean, rand) as Record<string, unknown>) };
    expected.push(c.make(r, rand));
    records.push(r);
  }
  const flags = flagRecords(records);
  let detected = 0;
  let alsoOod = 0;
  flags.forEach((f, i) => {
    if (expected[i]!.every((field) => f.some((x) => x.kind === c.expect && x.field === field))) detected++;
    if (f.some((x) => x.kind === 'ood')) alsoOod++;
  });
  caseResults.push({ kind: c.kind, name: c.name, rows: CASES, detected, alsoOod });
}
const casesMs = performance.now() - t1;

// ---- (c) every value seen in training, the combination not ----
interface OodSet { name: string; make: (r: Record<string, unknown>, g: () => number) => void }
const oodSets: OodSet[] = [
  {
    // 1 Husband/Female and 2 Wife/Male among the 32,561 training rows.
    name: 'relationship contradicts sex (Husband & Female, Wife & Male)',
    make: (r, g) => {
      if (g() < 0.5) Object.assign(r, { relationship: 'Husband', sex: 'Female', 'marital-status': 'Married-civ-spouse' });
      else Object.assign(r, { relationship: 'Wife', sex: 'Male', 'marital-status': 'Married-civ-spouse' });
    },
  },
  {
    name: 'a 17-19 year old husband, doctorate, executive, capital-gain 99,999, 99 h/week',
    make: (r, g) => Object.assign(r, { age: between(17, 19, g), relationship: 'Husband', sex: 'Male', 'marital-status': 'Married-civ-spouse', 'education-num': 16, occupation: 'Exec-managerial', 'capital-gain': 99999, 'hours-per-week': 99 }),
  },
  {
    name: 'Never-worked or Without-pay, yet capital-gain 20,000…99,999 and 60-99 h/week',
    make: (r, g) => Object.assign(r, { workclass: pick(['Never-worked', 'Without-pay'], g), 'capital-gain': between(20000, 99999, g), 'hours-per-week': between(60, 99, g) }),
  },
  {
    // Each field from a different random clean row: the marginals stay, the dependence goes.
    name: 'each field from a different row (marginals kept, dependence broken)',
    make: (r, g) => {
      for (const f of USED) r[f] = (pick(clean, g) as Record<string, unknown>)[f];
    },
  },
];
interface OodResult { name: string; rows: number; ood: number; fieldFlags: number }
const oodResults: OodResult[] = oodSets.map((s) => {
  const records = Array.from({ length: CASES }, () => {
    const r = { ...(pick(clean, rand) as Record<string, unknown>) };
    s.make(r, rand);
    return r;
  });
  const flags = flagRecords(records);
  return { name: s.name, rows: CASES, ood: flags.filter((f) => f.some((x) => x.kind === 'ood')).length, fieldFlags: flags.filter((f) => f.some((x) => x.kind !== 'ood')).length };
});

// ---- report ----
const pct = (n: number, d: number): string => `${((100 * n) / d).toFixed(2)}%`;
const out: string[] = [];
out.push(`income v1, policy flag, rangeMargin ${config.rangeMargin}, oodQuantile ${config.oodQuantile}; profile from ${profile.rows} adult.data rows (OOD threshold ${'method' in profile.ood ? profile.ood.threshold : 'none'})`);
out.push('');
out.push(`(a) Adult test split (${test.length} rows): rows flagged ${testFlagged} = ${pct(testFlagged, test.length)} (aim ≤ 2%)`);
out.push('');
out.push('| kind | test rows flagged | share |');
out.push('| --- | --- | --- |');
for (const k of ANOMALY_KINDS) out.push(`| ${k} | ${testByKind[k]} | ${pct(testByKind[k]!, test.length)} |`);
out.push(`| any | ${testFlagged} | ${pct(testFlagged, test.length)} |`);
out.push('');
out.push(`ood-flagged test rows holding a category seen in < 1% of training rows: ${oodWithRare} of ${testOod.length}; of the ${rareRows} test rows holding one, ${pct(oodWithRare, rareRows)} are flagged`);
out.push('');
out.push(`(b) edge cases, ${CASES} per case, each one defect on a clean test row (seed ${SEED}); detected = the expected kind on every altered field`);
out.push('');
out.push('| kind | case | detected | rate | also ood |');
out.push('| --- | --- | --- | --- | --- |');
for (const c of caseResults) out.push(`| ${c.kind} | ${c.name} | ${c.detected} / ${c.rows} | ${pct(c.detected, c.rows)} | ${pct(c.alsoOod, c.rows)} |`);
const byKind = new Map<string, { rows: number; detected: number }>();
for (const c of caseResults) {
  const k = byKind.get(c.kind) ?? { rows: 0, detected: 0 };
  k.rows += c.rows;
  k.detected += c.detected;
  byKind.set(c.kind, k);
}
out.push('');
out.push('| kind | detected | rate (aim 100%) |');
out.push('| --- | --- | --- |');
for (const [k, v] of byKind) out.push(`| ${k} | ${v.detected} / ${v.rows} | ${pct(v.detected, v.rows)} |`);
out.push('');
out.push(`(c) every value seen in training, the combination not (${CASES} rows each; no aim)`);
out.push('');
out.push('| set | ood flagged | rate | rows with a field flag |');
out.push('| --- | --- | --- | --- |');
for (const o of oodResults) out.push(`| ${o.name} | ${o.ood} / ${o.rows} | ${pct(o.ood, o.rows)} | ${o.fieldFlags} |`);
out.push('');
out.push(`in process, transformer + detector: test split ${((1000 * testMs) / test.length).toFixed(1)} µs/row, edge cases ${((1000 * casesMs) / (CASES * cases.length)).toFixed(1)} µs/row (noisy; the serving bench measures the layer on the request path)`);
process.stdout.write(`${out.join('\n')}\n`);

mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
const file = join(ROOT, 'bench/results/anomaly.json');
writeFileSync(file, `${JSON.stringify({
  benchmark: 'anomaly layer: false flags on the Adult test split, detection of edge cases (income v1)',
  node: process.version, seed: SEED, casesPerKind: CASES, config, profile: { rows: profile.rows, threshold: 'method' in profile.ood ? profile.ood.threshold : null },
  testSplit: { rows: test.length, flagged: testFlagged, byKind: testByKind, oodWithRareCategory: oodWithRare, rowsWithRareCategory: rareRows, microsecondsPerRow: (1000 * testMs) / test.length },
  edgeCases: caseResults, edgeCasesByKind: Object.fromEntries(byKind), multivariate: oodResults,
}, null, 2)}\n`);
process.stdout.write(`(${file})\n`);
