import { describe, expect, it } from 'vitest';
import { binCountsSorted, binOf, ksTwoSample, quantileEdges, upperBound } from './drift-stats.js';

describe('binOf: the bin of one value, as numpy.searchsorted(edges, x, side="left")', () => {
  const edges = Float64Array.from([1, 2.5, 4]);

  it('counts the edges strictly below the value: a value on an edge falls in the lower bin', () => {
    expect(binOf(edges, -10)).toBe(0);
    expect(binOf(edges, 1)).toBe(0);
    expect(binOf(edges, 1.0000000000000002)).toBe(1);
    expect(binOf(edges, 2.5)).toBe(1);
    expect(binOf(edges, 3)).toBe(2);
    expect(binOf(edges, 4)).toBe(2);
    expect(binOf(edges, 4.5)).toBe(3);
    expect(binOf(new Float64Array(0), 7)).toBe(0);
  });

  it('agrees with binCountsSorted on a sample with values on the edges', () => {
    // numpy: np.bincount(np.searchsorted([1, 2.5, 4], xs, side='left'), minlength=4) = [3, 2, 3, 2]
    const xs = Float64Array.from([0, 0.5, 1, 2, 2.5, 2.6, 3, 4, 4.1, 9]);
    const counts = [0, 0, 0, 0];
    for (const x of xs) counts[binOf(edges, x)] = (counts[binOf(edges, x)] as number) + 1;
    expect(counts).toEqual([3, 2, 3, 2]);
    expect(Array.from(binCountsSorted(xs, edges))).toEqual([3, 2, 3, 2]);
  });

  it('on reference quantile edges (ties at the edges), as the drift profile bins a value', () => {
    const ref = Float64Array.from([1, 1, 1, 2, 2, 3, 3, 3, 3, 5]);
    const edges = quantileEdges(ref);
    // numpy 1.24: np.unique(np.quantile(ref, np.arange(1, 10) / 10)), and searchsorted / bincount below
    expect(Array.from(edges)).toEqual([1, 1.6999999999999997, 2, 2.5, 3, 3.1999999999999993]);
    expect(Array.from(ref, (x) => binOf(edges, x))).toEqual([0, 0, 0, 2, 2, 4, 4, 4, 4, 6]);
    expect(Array.from(binCountsSorted(ref, edges))).toEqual([3, 0, 2, 0, 4, 0, 1]);
  });
});

describe('upperBound: the number of elements <= x in a sorted array', () => {
  it('below, on, between and above the values, ties included', () => {
    const xs = [1, 2, 2, 2, 3, 5];
    expect(upperBound(xs, 0)).toBe(0);
    expect(upperBound(xs, 1)).toBe(1);
    expect(upperBound(xs, 1.5)).toBe(1);
    expect(upperBound(xs, 2)).toBe(4);
    expect(upperBound(xs, 3)).toBe(5);
    expect(upperBound(xs, 4)).toBe(5);
    expect(upperBound(xs, 5)).toBe(6);
    expect(upperBound(xs, 6)).toBe(6);
    expect(upperBound([], 1)).toBe(0);
    expect(upperBound([7], 7)).toBe(1);
  });
});

describe('ksTwoSample at the ends', () => {
  it('refuses an empty sample, either side', () => {
    expect(() => ksTwoSample([], [1, 2])).toThrow(RangeError);
    expect(() => ksTwoSample([1, 2], [])).toThrow('ksTwoSample needs two non-empty samples');
  });

  it('identical samples of one size: statistic 0 and p-value 1 (scipy 1.10 ks_2samp gives the same)', () => {
    expect(ksTwoSample([1, 2, 3], [1, 2, 3])).toEqual({ statistic: 0, pvalue: 1, mode: 'exact' });
    expect(ksTwoSample([1, 1, 2], [1, 1, 2])).toEqual({ statistic: 0, pvalue: 1, mode: 'exact' });
  });
});
