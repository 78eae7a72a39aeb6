import { describe, expect, it } from 'vitest';
import { Rng } from '../core/index.js';
import { binRowMajor, fitBins } from './binning.js';

describe('fitBins (categorical)', () => {
  it('ranks codes by frequency then code, small and large codes alike, ignoring missing, negative and fractional', () => {
    const rng = new Rng(9);
    const pool = [0, 3, 3.5, -1, Number.NaN, 7, 65_535, 65_536, 70_000, 2 ** 24, 12];
    const values = Float32Array.from({ length: 4000 }, () => pool[Math.floor(rng.next() ** 2 * pool.length)] as number);
    // the reference: a count per valid code, sorted by count descending, ties by code ascending
    const counts = new Map<number, number>();
    for (const v of values) if (Number.isInteger(v) && v >= 0) counts.set(v, (counts.get(v) ?? 0) + 1);
    const want = [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([code]) => code);
    expect(want.length).toBeGreaterThan(6);
    const m = { rows: values.length, columns: ['c'], values };
    for (const maxBins of [255, 4]) {
      const fb = fitBins(m, { categorical: [true], maxBins }).features[0];
      expect(Array.from(fb?.categories ?? [])).toEqual(want.slice(0, maxBins - 1));
    }
    // large codes get their own bins too
    const bins = binRowMajor(fitBins(m, { categorical: [true] }), m);
    const at = values.findIndex((v) => v === 70_000);
    expect(bins[at]).toBe(want.indexOf(70_000));
  });
});
