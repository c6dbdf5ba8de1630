/**
 * @module test/unit/quantize/paired
 * The accuracy guard's statistics (issue 10 item 6) against reference values: McNemar exact
 * and mid-p and the Wilson interval from scipy 1.10.1 (Debian's /usr/bin/python3), Newcombe's
 * method 10 from the R package contingencytables' own test of its square-and-add interval.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { limitVerdict, mcnemar, newcombePairedInterval, pairedCounts, wilsonInterval } from '../../../src/quantize/paired.js';

const close = (actual: number, expected: number, tol: number, what: string): void => {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs reference ${expected}`);
};

test('McNemar exact and mid-p match scipy.stats.binomtest on the discordant pairs', () => {
  // scipy 1.10.1: binomtest(min(b, c), b + c, 0.5).pvalue and
  // min(1, 2 * (binom.cdf(m, b + c, 0.5) - 0.5 * binom.pmf(m, b + c, 0.5))).
  // (6, 16) is Fagerland, Lydersen & Laake's (BMC Med Res Methodol 2013) bone-marrow example:
  // they report exact 0.052 and mid-p 0.035.
  const cases: [number, number, number, number][] = [
    [6, 16, 0.052478790283203125, 0.03468966484069824],
    [1, 7, 0.0703125, 0.039062500000000014],
    [3, 2, 1.0, 0.6875000000000002],
    [12, 2, 0.012939453125, 0.007385253906249991],
    [40, 28, 0.1818100545355934, 0.14803218069275828],
    [5, 5, 1.0, 1.0],
    [0, 4, 0.125, 0.0625],
  ];
  for (const [b, c, exact, mid] of cases) {
    const r = mcnemar(b, c);
    close(r.exactP, exact, 1e-12, `exact p (${b}, ${c})`);
    close(r.midP, mid, 1e-12, `mid-p (${b}, ${c})`);
    assert.equal(r.discordant, b + c);
  }
  assert.deepEqual(mcnemar(0, 0), { discordant: 0, exactP: 1, midP: 1 });
});

test('Wilson interval matches scipy binomtest(...).proportion_ci(method="wilson")', () => {
  const cases: [number, number, number, number][] = [
    [65, 161, 0.33103675483709327, 0.4809037592679162],
    [75, 161, 0.39048063197041805, 0.5427885827120047],
    [0, 50, 0.0, 0.07134759913335872],
    [3, 360, 0.0028380524355806937, 0.02421070350496792],
    [355, 360, 0.9679041504124477, 0.9940532942791003],
  ];
  for (const [x, n, lo, hi] of cases) {
    const [l, u] = wilsonInterval(x, n);
    close(l, lo, 1e-12, `lower ${x}/${n}`);
    close(u, hi, 1e-12, `upper ${x}/${n}`);
  }
});

test('Newcombe method 10 matches the reference interval for the Cavo et al. (2012) paired table', () => {
  // contingencytables (R, ocbe-uio), tests/testthat/test-ch8.R: for the table
  // [[59, 6], [16, 80]] Newcombe_square_and_add_CI_paired_2x2 prints
  // "estimate = -0.0621 (95% CI -0.1186 to -0.0046)" (Fagerland, Lydersen & Laake,
  // Statistical Analysis of Contingency Tables, ch. 8). Printed to 4 decimals, hence 5e-5.
  const r = newcombePairedInterval({ bothCorrect: 59, fp32Only: 6, quantizedOnly: 16, bothWrong: 80 });
  close(r.estimate, -0.0621, 5e-5, 'estimate');
  close(r.lower, -0.1186, 5e-5, 'lower');
  close(r.upper, -0.0046, 5e-5, 'upper');
});

test('Newcombe interval: contains the estimate, degenerate tables stay inside [-1, 1]', () => {
  for (const t of [
    { bothCorrect: 340, fp32Only: 3, quantizedOnly: 2, bothWrong: 15 },
    { bothCorrect: 360, fp32Only: 0, quantizedOnly: 0, bothWrong: 0 },
    { bothCorrect: 0, fp32Only: 10, quantizedOnly: 0, bothWrong: 0 },
    { bothCorrect: 100, fp32Only: 0, quantizedOnly: 0, bothWrong: 100 },
  ]) {
    const r = newcombePairedInterval(t);
    assert.ok(r.lower <= r.estimate && r.estimate <= r.upper, JSON.stringify({ t, r }));
    assert.ok(r.lower >= -1 && r.upper <= 1, JSON.stringify({ t, r }));
  }
  // No discordant pairs among 360: the drop is 0, but the interval is not a point (it is
  // about ±1 pt here), which is the whole reason the report must show it.
  const none = newcombePairedInterval({ bothCorrect: 340, fp32Only: 0, quantizedOnly: 0, bothWrong: 20 });
  assert.equal(none.estimate, 0);
  assert.ok(none.lower < -0.001 && none.upper > 0.001, JSON.stringify(none));
});

test('pairedCounts splits samples by which model got them right', () => {
  const labels = [0, 1, 2, 0, 1];
  assert.deepEqual(pairedCounts([0, 1, 0, 1, 1], [0, 0, 2, 1, 1], labels), { bothCorrect: 2, fp32Only: 1, quantizedOnly: 1, bothWrong: 1 });
});

test('limit verdict needs the interval: a drop within the limit whose interval reaches past it is not shown to be within', () => {
  assert.equal(limitVerdict(0.2, 0.4, -0.1, 0.5), 'within');
  assert.equal(limitVerdict(0.2, 1.1, -0.8, 0.5), 'not-shown-within');
  assert.equal(limitVerdict(0.8, 1.6, 0.1, 0.5), 'exceeded');
  assert.equal(limitVerdict(2.0, 3.0, 0.9, 0.5), 'shown-exceeded');
});
