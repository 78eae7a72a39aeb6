import { describe, expect, it } from 'vitest';
import { Rng } from '../core/index.js';
import { categoricalFromStrings, numericColumn } from './column-table.js';
import { dataQuality } from './data-quality.js';
import { profileTable } from './profile.js';
import { computeSkew } from './skew.js';
import { labelDrift, predictionDrift } from './target-drift.js';

describe('data quality', () => {
  const rng = new Rng(7);
  const n = 5000;
  // reference: uniform 0..1, a 2% null share, 20 common categories plus a long tail of rare ones
  const refX = Float64Array.from({ length: n }, () => (rng.next() < 0.02 ? Number.NaN : rng.next()));
  const cat = (): string => (rng.next() < 0.03 ? `rare${rng.int(100_000)}` : `c${rng.int(20)}`);
  const refC = Array.from({ length: n }, cat);
  const ref = profileTable({
    rows: n,
    columns: [
      numericColumn('x', refX),
      categoricalFromStrings('c', refC),
      numericColumn(
        't',
        Float64Array.from({ length: n }, () => rng.next()),
      ),
    ],
  });

  it('stays quiet on a same-distribution window, new rare categories and extremes included', () => {
    const q = dataQuality(ref, {
      rows: n,
      columns: [
        numericColumn(
          'x',
          Float64Array.from({ length: n }, () => (rng.next() < 0.02 ? Number.NaN : rng.next())),
        ),
        categoricalFromStrings('c', Array.from({ length: n }, cat)),
        numericColumn(
          't',
          Float64Array.from({ length: n }, () => rng.next()),
        ),
      ],
    });
    // the rare tail makes ~3% of current values unseen, and the reference's singletons predict it (Good-Turing)
    expect(q[1]?.unseenCategoryShare).toBeGreaterThan(0.02);
    expect(q.flatMap((f) => f.issues)).toEqual([]);
  });

  it('reports null-share increases, out-of-range values, unseen categories and type changes', () => {
    // 20% nulls, and 10% of the rest above the reference's max
    const x = Float64Array.from({ length: n }, (_, i) =>
      i % 5 === 0 ? Number.NaN : i % 10 === 1 ? 2 + rng.next() : rng.next(),
    );
    const finiteRef = refX.filter((v) => !Number.isNaN(v));
    const [lo, hi] = [Math.min(...finiteRef), Math.max(...finiteRef)];
    const nonNull = x.filter((v) => !Number.isNaN(v));
    const outside = nonNull.filter((v) => v < lo || v > hi).length / nonNull.length;
    const q = dataQuality(ref, {
      rows: n,
      columns: [
        numericColumn('x', x),
        // 8% of values in a brand-new category
        categoricalFromStrings(
          'c',
          Array.from({ length: n }, (_, i) => (i % 25 < 2 ? 'crypto' : `c${rng.int(20)}`)),
        ),
        categoricalFromStrings(
          't',
          Array.from({ length: n }, (_, i) => String(i)),
        ),
      ],
    });
    const [qx, c, t] = q;
    expect(qx?.nullShareCurrent).toBe(0.2);
    expect(outside).toBeGreaterThanOrEqual(0.125);
    expect(qx?.outOfRangeShare).toBeCloseTo(outside, 12);
    expect(qx?.issues).toHaveLength(2);
    expect(qx?.issues[0]).toMatch(/null share rose from 0\.0\d\d to 0\.200/);
    expect(c?.unseenCategories).toEqual(['crypto']);
    expect(c?.unseenCategoryShare).toBeCloseTo(0.08, 12);
    expect(c?.issues[0]).toMatch(/8\.0% of values in categories the reference never had \(crypto\)/);
    expect(t?.typeChange).toEqual({ reference: 'numeric', current: 'categorical' });
  });

  it('needs more than sampling noise on small windows', () => {
    const small = dataQuality(ref, {
      rows: 20,
      columns: [
        numericColumn(
          'x',
          Float64Array.from({ length: 20 }, (_, i) => (i < 2 ? Number.NaN : rng.next())),
        ),
      ],
    });
    // 10% nulls in 20 rows against 2%: within 4 sd of the pooled share
    expect(small[0]?.issues).toEqual([]);
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
