import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../core/index.js';
import { type Calibration, calibrate, calibrateAll, fitIsotonic } from './calibration.js';

interface IsotonicCase {
  name: string;
  probs: number[];
  labels: number[];
  weights: number[] | null;
  x: number[];
  y: number[];
  grid: number[];
  atGrid: number[];
}
// made by fixtures/make_isotonic_fixtures.py (scikit-learn's IsotonicRegression, out_of_bounds='clip')
const fixtures = JSON.parse(readFileSync(new URL('./fixtures/sklearn-isotonic.json', import.meta.url), 'utf8')) as {
  sklearn: string;
  cases: IsotonicCase[];
};

const isotonic = (c: Calibration): { x: readonly number[]; y: readonly number[] } => {
  if (c.method !== 'isotonic') throw new Error(`expected isotonic, got ${c.method}`);
  return c;
};

describe(`isotonic calibration against scikit-learn ${fixtures.sklearn}`, () => {
  for (const c of fixtures.cases) {
    it(`${c.name}: the same knots (first and last of each block) and the same predictions`, () => {
      const cal = isotonic(fitIsotonic(c.probs, c.labels, c.weights ?? undefined));
      expect(cal.x).toEqual(c.x);
      expect(cal.y.length).toBe(c.y.length);
      cal.y.forEach((v, i) => {
        expect(v).toBeCloseTo(c.y[i] as number, 12);
      });
      const got = calibrateAll(cal as Calibration, Float64Array.from(c.grid));
      c.grid.forEach((p, i) => {
        expect(got[i], `at ${p}`).toBeCloseTo(c.atGrid[i] as number, 12);
      });
    });
  }

  it('the weights are what pools a violator (unweighted, the same rows give other values)', () => {
    const c = fixtures.cases.find((x) => x.name === 'weight-decides') as IsotonicCase;
    expect(isotonic(fitIsotonic(c.probs, c.labels, c.weights ?? undefined)).y).toEqual([0, 0.25, 0.25, 1]);
    expect(isotonic(fitIsotonic(c.probs, c.labels)).y).toEqual([0, 0.5, 0.5, 1]);
  });
});

describe('isotonic map: interpolation between knots, exact at the knots, clipped outside', () => {
  // y values for which y0 + (y1 - y0) is not y1 in floating point: only the knot's own value is exact
  const map: Calibration = { method: 'isotonic', x: [0.2, 0.4, 0.6], y: [0.1, 0.45, 0.975] };

  it('returns the knot value exactly at every knot, the first and the last too', () => {
    expect(calibrate(map, 0.2)).toBe(0.1);
    expect(calibrate(map, 0.4)).toBe(0.45);
    expect(calibrate(map, 0.6)).toBe(0.975);
  });

  it('interpolates linearly inside and is constant outside', () => {
    expect(calibrate(map, 0.3)).toBeCloseTo(0.275, 15);
    expect(calibrate(map, 0.5)).toBeCloseTo(0.7125, 15);
    expect(calibrate(map, 0.25)).toBeCloseTo(0.1875, 15);
    expect(calibrate(map, 0.55)).toBeCloseTo(0.84375, 15);
    expect(calibrate(map, 0)).toBe(0.1);
    expect(calibrate(map, 0.19)).toBe(0.1);
    expect(calibrate(map, 0.61)).toBe(0.975);
    expect(calibrate(map, 1)).toBe(0.975);
  });

  it('a binary search over many knots lands in the right interval', () => {
    const x = Array.from({ length: 101 }, (_, i) => i / 100);
    const y = x.map((v) => v * v);
    const big: Calibration = { method: 'isotonic', x, y };
    for (let k = 0; k < 100; k++) {
      const p = (k + 0.5) / 100;
      const want = (y[k] as number) + ((y[k + 1] as number) - (y[k] as number)) * 0.5;
      expect(calibrate(big, p)).toBeCloseTo(want, 14);
      expect(calibrate(big, x[k] as number)).toBe(y[k]);
    }
  });

  it('a single knot is constant; a map without knots leaves the probability as it is', () => {
    const one: Calibration = { method: 'isotonic', x: [0.4], y: [0.3] };
    for (const p of [0, 0.4, 0.9]) expect(calibrate(one, p)).toBe(0.3);
    const empty: Calibration = { method: 'isotonic', x: [], y: [] };
    expect(calibrate(empty, 0.37)).toBe(0.37);
  });

  it('a fit on one row is that row; tied rows are pooled into one knot', () => {
    expect(isotonic(fitIsotonic([0.3], [1]))).toEqual({ method: 'isotonic', x: [0.3], y: [1] });
    expect(isotonic(fitIsotonic([0.5, 0.5, 0.5, 0.5], [1, 0, 0, 1]))).toEqual({
      method: 'isotonic',
      x: [0.5],
      y: [0.5],
    });
    // already monotone: every point stays a knot with its own label
    expect(isotonic(fitIsotonic([0.3, 0.1, 0.2], [1, 0, 0.5]))).toEqual({
      method: 'isotonic',
      x: [0.1, 0.2, 0.3],
      y: [0, 0.5, 1],
    });
  });

  it('calibrateAll maps every row and writes into the given buffer', () => {
    const probs = Float64Array.from([0.3, 0.6, 0.1]);
    const out = new Float64Array(3);
    expect(calibrateAll(map, probs, out)).toBe(out);
    expect(Array.from(out)).toEqual([calibrate(map, 0.3), 0.975, 0.1]);
    expect(Array.from(calibrateAll({ method: 'none' }, probs))).toEqual([0.3, 0.6, 0.1]);
    // a longer buffer: only the first probs.length entries are written
    const longer = new Float64Array(5).fill(-1);
    calibrateAll(map, probs, longer);
    expect(Array.from(longer.subarray(3))).toEqual([-1, -1]);
  });

  it('empty or misaligned rows are refused, naming both lengths', () => {
    expect(() => fitIsotonic([], [])).toThrow(InvalidInputError);
    expect(() => fitIsotonic([], [])).toThrow('calibration needs matching, non-empty probs and labels (got 0 and 0)');
    expect(() => fitIsotonic([0.1, 0.2], [1])).toThrow('(got 2 and 1)');
  });
});
