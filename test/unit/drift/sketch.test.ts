/**
 * The mergeable sketches: KLL rank error within its stated bound, determinism, exact mode,
 * merge and JSON round trip; Welford/Chan moments; capped category counts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kllRankErrorBound, QuantileSketch } from '../../../src/drift/sketch/kll.js';
import { Moments } from '../../../src/drift/sketch/moments.js';
import { CategoryCounts } from '../../../src/drift/sketch/categories.js';
import { cdfAt } from '../../../src/drift/stats/ecdf.js';
import { close, normals, rng } from './helpers.js';

function maxRankError(s: QuantileSketch, data: Float64Array): number {
  const sorted = data.slice().sort();
  const sample = s.toSample();
  let worst = 0;
  for (let q = 0; q <= 200; q++) {
    const x = sorted[Math.min(sorted.length - 1, Math.floor((q / 200) * sorted.length))]!;
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const m = (lo + hi) >> 1;
      if (sorted[m]! <= x) lo = m + 1;
      else hi = m;
    }
    worst = Math.max(worst, Math.abs(cdfAt(sample, x) - lo / sorted.length));
  }
  return worst;
}

test('KLL rank error stays within kllRankErrorBound(k) on random, sorted and reversed input', () => {
  const n = 100000;
  const r = rng(7);
  const inputs = { random: normals(n, r), sorted: Float64Array.from({ length: n }, (_, i) => i), reversed: Float64Array.from({ length: n }, (_, i) => n - i) };
  for (const [name, data] of Object.entries(inputs)) {
    const s = new QuantileSketch({ k: 200, exactLimit: 0, seed: 3 });
    for (const x of data) s.add(x);
    assert.equal(s.n, n);
    assert.equal(s.toSample().total, n);
    const err = maxRankError(s, data);
    assert.ok(err <= kllRankErrorBound(200), `${name}: rank error ${err} > bound ${kllRankErrorBound(200)}`);
    assert.ok(s.toSample().values.length < 1000, `${name}: retained ${s.toSample().values.length}`);
  }
});

test('KLL with the default k = 2048 (used past the exact limit) stays within its bound of 0.14 %', () => {
  const n = 600_000;
  const data = normals(n, rng(17));
  const s = new QuantileSketch({ exactLimit: 0, seed: 9 });
  assert.equal(s.k, 2048);
  for (const x of data) s.add(x);
  const bound = kllRankErrorBound(2048);
  assert.ok(bound < 0.0015, `bound ${bound}`);
  const err = maxRankError(s, data);
  assert.ok(err <= bound, `rank error ${err} > bound ${bound}`);
});

test('the sketch is deterministic: same values, order and seed give the same JSON', () => {
  const data = normals(20000, rng(11));
  const a = new QuantileSketch({ exactLimit: 0, seed: 5 });
  const b = new QuantileSketch({ exactLimit: 0, seed: 5 });
  for (const x of data) {
    a.add(x);
    b.add(x);
  }
  assert.deepEqual(a.toJSON(), b.toJSON());
});

test('exact mode keeps every value up to exactLimit, then switches to KLL', () => {
  const s = new QuantileSketch({ exactLimit: 100 });
  for (let i = 0; i < 100; i++) s.add(i);
  assert.ok(s.isExact);
  assert.equal(s.rankError, 0);
  assert.deepEqual(Array.from(s.toSample().values), Array.from({ length: 100 }, (_, i) => i));
  s.add(100);
  assert.ok(!s.isExact);
  assert.equal(s.toSample().total, 101);
});

test('merged sketches stand for all values and stay within the bound; JSON round-trips', () => {
  const data = normals(60000, rng(2));
  const parts = [new QuantileSketch({ exactLimit: 0 }), new QuantileSketch({ exactLimit: 1000 }), new QuantileSketch({ exactLimit: 0 })];
  data.forEach((x, i) => parts[i % 3]!.add(x));
  const small = new QuantileSketch({ exactLimit: 1000 });
  for (let i = 0; i < 500; i++) small.add(data[i]!);
  const merged = parts[0]!.merge(parts[1]!).merge(parts[2]!);
  assert.equal(merged.n, 60000);
  assert.ok(maxRankError(merged, data) <= kllRankErrorBound(200));
  const round = QuantileSketch.fromJSON(JSON.parse(JSON.stringify(merged.toJSON())));
  assert.deepEqual(round.toJSON(), merged.toJSON());
  // exact + exact within the limit stays exact
  const e1 = new QuantileSketch({ exactLimit: 1000 });
  e1.merge(small);
  assert.ok(e1.isExact);
  assert.equal(e1.n, 500);
});

test('Moments: Welford + Chan merge equal a direct computation', () => {
  const data = normals(1001, rng(4), 1e6, 3);
  const all = new Moments();
  const a = new Moments();
  const b = new Moments();
  data.forEach((x, i) => {
    all.add(x);
    (i < 400 ? a : b).add(x);
  });
  a.merge(b);
  let mean = 0;
  for (const x of data) mean += x / data.length;
  let v = 0;
  for (const x of data) v += (x - mean) ** 2 / data.length;
  close(a.mean, mean, 1e-12);
  close(a.std, Math.sqrt(v), 1e-9);
  close(all.std, Math.sqrt(v), 1e-9);
  assert.equal(a.count, 1001);
  assert.equal(new Moments().std, 0);
});

test('CategoryCounts: exact up to the cap, then an "other" bucket', () => {
  const c = new CategoryCounts(2);
  for (const v of ['a', 'b', 'a', 'c', 'd', 'a']) c.add(v);
  assert.deepEqual(c.sorted(), [['a', 3], ['b', 1]]);
  assert.equal(c.other, 2);
  assert.equal(c.total, 6);
  assert.ok(c.overflowed);
  const d = CategoryCounts.fromJSON(c.toJSON());
  d.merge(c);
  assert.equal(d.total, 12);
});
