import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { quantileEdges, quantileSorted } from './drift-stats.js';

// numpy.quantile (default 'linear') on small samples: src/monitor/fixtures/make_quantile_fixtures.py.
interface QuantileCase {
  name: string;
  sorted: number[];
  q: number[];
  expected: number[];
}
const fixtures = JSON.parse(readFileSync(new URL('./fixtures/quantile.json', import.meta.url), 'utf8')) as {
  numpy: string;
  cases: QuantileCase[];
};

describe('quantileSorted matches numpy.quantile (linear) bit for bit', () => {
  it('the fixture has the cases the guards need', () => {
    expect(fixtures.cases.map((c) => c.name)).toEqual(['one', 'two', 'ties', 'negatives', 'awkward', 'half', 'ints']);
  });
  for (const c of fixtures.cases) {
    it(`${c.name} (n = ${c.sorted.length}) at every q`, () => {
      const got = c.q.map((q) => quantileSorted(c.sorted, q));
      // toEqual on numbers uses Object.is: exact bits, and -0 differs from 0.
      expect(got).toEqual(c.expected);
      // Same through a typed array (what the drift code passes).
      expect(c.q.map((q) => quantileSorted(Float64Array.from(c.sorted), q))).toEqual(c.expected);
    });
  }
});

describe('quantileSorted guards (exact hand values)', () => {
  it('empty input is NaN for every q (numpy raises; a drift profile of no rows has no quantiles)', () => {
    for (const q of [0, 0.1, 0.5, 1]) {
      expect(quantileSorted([], q)).toBeNaN();
      expect(quantileSorted(new Float64Array(0), q)).toBeNaN();
    }
  });

  it('one element is that element for every q', () => {
    for (const q of [0, 1e-9, 0.5, 0.999, 1]) expect(quantileSorted([-4.5], q)).toBe(-4.5);
  });

  it('q = 0 is the minimum and q = 1 the maximum exactly, with no interpolation rounding', () => {
    const xs = [0.1, 0.7, 1.3000000000000003, 2.9, 1e16, 3.141592653589793e16];
    expect(quantileSorted(xs, 0)).toBe(0.1);
    expect(quantileSorted(xs, 1)).toBe(3.141592653589793e16);
    expect(quantileSorted([2, 9], 1)).toBe(9);
    expect(quantileSorted([2, 9], 0)).toBe(2);
  });

  it('interpolates linearly between neighbours: (n - 1) * q', () => {
    expect(quantileSorted([0, 10], 0.25)).toBe(2.5);
    expect(quantileSorted([0, 10], 0.5)).toBe(5);
    expect(quantileSorted([0, 10], 0.75)).toBe(7.5);
    expect(quantileSorted([1, 2, 4], 0.75)).toBe(3);
    expect(quantileSorted([1, 1, 1, 5], 2 / 3)).toBe(1);
  });

  it('quantileEdges of a one-value reference is that single edge (duplicates removed)', () => {
    expect(Array.from(quantileEdges([7]))).toEqual([7]);
    expect(Array.from(quantileEdges([3, 3, 3, 3]))).toEqual([3]);
  });
});
