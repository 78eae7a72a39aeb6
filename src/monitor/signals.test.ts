import { describe, expect, it } from 'vitest';
import { Rng } from '../core/index.js';
import { categoricalFromStrings, numericColumn } from './column-table.js';
import { dataQuality } from './data-quality.js';
import { profileTable } from './profile.js';
import { computeSkew } from './skew.js';
import { labelDrift, predictionDrift } from './target-drift.js';

describe('data quality', () => {
  it('reports null-share increases, out-of-range values, unseen categories and type changes', () => {
    const ref = profileTable({
      rows: 4,
      columns: [
        numericColumn('x', Float64Array.of(1, 2, 3, 4)),
        categoricalFromStrings('c', ['a', 'b', 'a', 'b']),
        numericColumn('t', Float64Array.of(1, 2, 3, 4)),
      ],
    });
    const q = dataQuality(ref, {
      rows: 4,
      columns: [
        numericColumn('x', Float64Array.of(0, 2, Number.NaN, 9)),
        categoricalFromStrings('c', ['a', 'z', 'z', null]),
        categoricalFromStrings('t', ['1', '2', 'x', '4']),
      ],
    });
    const [x, c, t] = q;
    expect(x?.nullShareCurrent).toBe(0.25);
    expect(x?.outOfRangeShare).toBeCloseTo(2 / 3, 12);
    expect(x?.issues.length).toBe(2);
    expect(c?.unseenCategories).toEqual(['z']);
    expect(c?.unseenCategoryShare).toBeCloseTo(2 / 3, 12);
    expect(t?.typeChange).toEqual({ reference: 'numeric', current: 'categorical' });
  });
});

describe('label and prediction drift', () => {
  it('uses matured labels only and needs both significance and a real difference', () => {
    const rng = new Rng(1);
    const ref = Float64Array.from({ length: 20_000 }, () => (rng.next() < 0.1 ? 1 : 0));
    const same = Float64Array.from({ length: 20_000 }, (_, i) => (i % 3 === 0 ? Number.NaN : rng.next() < 0.1 ? 1 : 0));
    const up = Float64Array.from({ length: 20_000 }, () => (rng.next() < 0.14 ? 1 : 0));
    const a = labelDrift(ref, same);
    expect(a.maturedCurrent).toBe(20_000 - Math.ceil(20_000 / 3));
    expect(a.drifted).toBe(false);
    const b = labelDrift(ref, up);
    expect(b.drifted).toBe(true);
    expect(b.difference).toBeGreaterThan(0.03);
  });

  it('flags a shifted score distribution', () => {
    const rng = new Rng(2);
    const a = Float32Array.from({ length: 10_000 }, () => rng.next() * 0.5);
    const b = Float32Array.from({ length: 10_000 }, () => rng.next() * 0.5);
    const c = Float32Array.from({ length: 10_000 }, () => 0.2 + rng.next() * 0.5);
    expect(predictionDrift(a, b).features[0]?.drifted).toBe(false);
    expect(predictionDrift(a, c).features[0]?.drifted).toBe(true);
  });
});

describe('training-serving skew', () => {
  it('joins on the key and counts mismatches after rounding to 6 decimals', () => {
    const left = {
      rows: 4,
      columns: [
        categoricalFromStrings('id', ['a', 'b', 'c', 'd']),
        numericColumn('x', Float64Array.of(1.0000001, 2, Number.NaN, 5)),
        categoricalFromStrings('k', ['p', 'q', 'p', 'q']),
      ],
    };
    const right = {
      rows: 4,
      columns: [
        categoricalFromStrings('id', ['c', 'b', 'a', 'a']),
        numericColumn('x', Float64Array.of(Number.NaN, 2.1, 1, 7)),
        categoricalFromStrings('k', ['p', 'q', 'q', 'q']),
      ],
    };
    const s = computeSkew(left, right, 'id');
    expect(s.joined).toBe(3);
    expect(s.duplicateKeysRight).toBe(1);
    const x = s.features.find((f) => f.name === 'x');
    const k = s.features.find((f) => f.name === 'k');
    expect(x?.mismatches).toBe(1);
    expect(k?.mismatches).toBe(1);
    expect(() => computeSkew(left, right, 'nope')).toThrow(/key column "nope"/);
  });
});
