import { describe, expect, it } from 'vitest';
import { Rng } from '../core/index.js';
import { type Column, type ColumnTable, categoricalFromStrings, numericColumn } from './column-table.js';
import { qualityVerdict } from './data-quality.js';
import { detectDrift, jsNoiseFloor, learnedStdMultiplier, learnThresholds } from './drift-detector.js';
import { compareTables } from './drift-report.js';
import { compareProfiles } from './feature-comparison.js';
import { profileTable } from './profile.js';
import { normalCdf, studentTPpf } from './special-functions.js';

interface Shift {
  mean?: number;
  scale?: number;
  catSkew?: number;
}

function table(rng: Rng, rows: number, features: number, shifts: Record<number, Shift> = {}): ColumnTable {
  const columns: Column[] = [];
  for (let f = 0; f < features; f++) {
    const s = shifts[f] ?? {};
    if (f % 4 === 3) {
      const k = 3 + (f % 20);
      const cats: string[] = [];
      for (let i = 0; i < rows; i++) {
        const u = rng.next() ** (1 + (s.catSkew ?? 0));
        cats.push(`v${Math.floor(u * k)}`);
      }
      columns.push(categoricalFromStrings(`f${f}`, cats));
    } else {
      const x = new Float64Array(rows);
      for (let i = 0; i < rows; i++) {
        const base = f % 4 === 1 ? Math.exp(rng.normal()) : f % 4 === 2 ? rng.int(5) : rng.normal();
        x[i] = (base + (s.mean ?? 0)) * (s.scale ?? 1);
      }
      columns.push(numericColumn(`f${f}`, x));
    }
  }
  return { rows, columns };
}

describe('drift detection', () => {
  it('does not fire on large samples without drift (80 features x 20,000 rows)', () => {
    const rng = new Rng(1);
    const ref = table(rng, 20_000, 80);
    const cur = table(rng, 20_000, 80);
    const r = detectDrift(compareTables(ref, cur), { reference: ref.rows, current: cur.rows });
    expect(r.features.filter((f) => f.drifted).map((f) => f.comparison.name)).toEqual([]);
    expect(r.drifted).toBe(false);
    expect(r.features.every((f) => f.method === 'wasserstein' || f.method === 'jensenshannon')).toBe(true);
  });

  it('does not fire on small samples without drift, using BH-adjusted p-values', () => {
    const rng = new Rng(2);
    let alarms = 0;
    for (let rep = 0; rep < 5; rep++) {
      const ref = table(rng, 400, 40);
      const cur = table(rng, 300, 40);
      const r = detectDrift(compareTables(ref, cur), { reference: ref.rows, current: cur.rows });
      expect(r.features.every((f) => f.method === 'ks' || f.method === 'chi2')).toBe(true);
      alarms += r.features.filter((f) => f.drifted).length;
    }
    expect(alarms).toBeLessThanOrEqual(2);
  });

  it('flags a unit change, a mean shift and a category-mix shift, and ranks them first', () => {
    const rng = new Rng(3);
    const ref = table(rng, 10_000, 40);
    const cur = table(rng, 10_000, 40, { 1: { scale: 100 }, 4: { mean: 0.5 }, 7: { catSkew: 1 } });
    const r = detectDrift(compareTables(ref, cur), { reference: ref.rows, current: cur.rows });
    const drifted = r.features.filter((f) => f.drifted).map((f) => f.comparison.name);
    expect(drifted.sort()).toEqual(['f1', 'f4', 'f7']);
    expect(
      r.features
        .slice(0, 3)
        .map((f) => f.comparison.name)
        .sort(),
    ).toEqual(['f1', 'f4', 'f7']);
    expect(r.driftedShare).toBeCloseTo(3 / 40, 12);
  });

  it('weights the dataset verdict by importance', () => {
    const rng = new Rng(4);
    const ref = table(rng, 5000, 8);
    const cur = table(rng, 5000, 8, { 0: { mean: 2 } });
    const importance = { f0: 6, f1: 1, f2: 1, f3: 1, f4: 0.5, f5: 0.5, f6: 0.5, f7: 0.5 };
    const r = detectDrift(compareTables(ref, cur), { reference: 5000, current: 5000 }, { importance });
    expect(r.driftedShare).toBeCloseTo(1 / 8, 12);
    expect(r.weightedDriftedShare).toBeCloseTo(6 / 11, 12);
    expect(r.drifted).toBe(true);
  });

  it('learns thresholds from reference chunks (leave-one-out) that hold on new no-drift windows', () => {
    const rng = new Rng(5);
    const ref = table(rng, 20_000, 12);
    const learned = learnThresholds(ref, { chunkRows: 2000 });
    expect(Object.keys(learned).length).toBe(12);
    for (const t of Object.values(learned)) {
      expect(t.chunks).toBe(10);
      expect(t.threshold).toBeGreaterThan(0);
      expect(t.threshold).toBeLessThan(0.2);
    }
    let alarms = 0;
    for (let w = 0; w < 5; w++) {
      const cur = table(rng, 2000, 12);
      const r = detectDrift(
        compareTables(ref, cur),
        { reference: ref.rows, current: cur.rows },
        { thresholds: learned },
      );
      alarms += r.features.filter((f) => f.drifted).length;
      expect(r.features.every((f) => f.thresholdSource === 'learned')).toBe(true);
    }
    expect(alarms).toBeLessThanOrEqual(2);
    const shifted = table(rng, 2000, 12, { 0: { mean: 0.3 } });
    const r = detectDrift(compareTables(ref, shifted), { reference: ref.rows, current: 2000 }, { thresholds: learned });
    expect(r.features[0]?.comparison.name).toBe('f0');
    expect(r.features[0]?.drifted).toBe(true);
  });

  it('widens the learned bound for few chunks (Student t prediction interval) and tends to 3 std for many', () => {
    // 7 daily chunks: t(6) at the one-sided coverage of 3 normal sds, sqrt(1 + 1/7), sample vs population std
    expect(learnedStdMultiplier(7, 3, true)).toBeCloseTo(
      studentTPpf(normalCdf(3), 6) * Math.sqrt(8 / 7) * Math.sqrt(7 / 6),
      12,
    );
    expect(learnedStdMultiplier(7, 3, true)).toBeGreaterThan(5);
    expect(learnedStdMultiplier(2000, 3, true)).toBeGreaterThan(3);
    expect(learnedStdMultiplier(2000, 3, true)).toBeLessThan(3.05);
    expect(learnedStdMultiplier(7, 3, false)).toBe(3);
    const ref = table(new Rng(9), 14_000, 3);
    const plain = learnThresholds(ref, { chunkRows: 2000, smallSampleCorrection: false });
    const wide = learnThresholds(ref, { chunkRows: 2000 });
    for (const name of Object.keys(plain))
      expect(wide[name]?.threshold).toBeGreaterThan(plain[name]?.threshold as number);
  });

  it('learns from chunks of given sizes (e.g. one per day), the same as equal chunks when the sizes are equal', () => {
    const ref = table(new Rng(10), 9000, 3);
    const equal = learnThresholds(ref, { chunkRows: 3000 });
    const sized = learnThresholds(ref, { chunkSizes: [3000, 3000, 3000] });
    expect(sized).toEqual(equal);
    const uneven = learnThresholds(ref, { chunkSizes: [4000, 1000, 2000, 2000] });
    expect(uneven['f0']?.chunks).toBe(4);
    expect(() => learnThresholds(ref, { chunkSizes: [5000, 5000] })).toThrow(
      /add up to 10000 rows but the reference has 9000/,
    );
    expect(() => learnThresholds(ref, { chunkSizes: [100, 0, 100] })).toThrow(/integers >= 1, got 0/);
    expect(() => learnThresholds(ref, { chunkRows: 4000 })).toThrow(/at least 3 reference chunks; got 2/);
    expect(() => learnThresholds(ref, {})).toThrow(/either chunkRows or chunkSizes/);
  });

  it('measures values outside the reference range from the sketch too, above the max as below the min', () => {
    const rng = new Rng(12);
    const ref = profileTable({
      rows: 5000,
      columns: [
        numericColumn(
          'x',
          Float64Array.from({ length: 5000 }, () => rng.next()),
        ),
      ],
    });
    for (const shift of [5, -5]) {
      const cur = profileTable(
        {
          rows: 4000,
          columns: [
            numericColumn(
              'x',
              Float64Array.from({ length: 4000 }, () => shift + rng.next()),
            ),
          ],
        },
        { binsFrom: ref },
      );
      const c = compareProfiles(ref.features[0]!, cur.features[0]!);
      expect(c.exact).toBe(false);
      expect(c.quality.outOfRangeShare).toBe(1);
      expect(qualityVerdict(c).issues[0]).toMatch(/100\.0% of values outside the reference range \[/);
    }
  });

  it('profile-based comparison agrees with the raw one (exact PSI/JS, sketch KS/Wasserstein close)', () => {
    const rng = new Rng(6);
    const ref = table(rng, 30_000, 4);
    const cur = table(rng, 20_000, 4, { 0: { mean: 0.2 } });
    const raw = compareTables(ref, cur);
    const rp = profileTable(ref);
    const cp = profileTable(cur, { binsFrom: rp });
    raw.forEach((c, i) => {
      const p = compareProfiles(rp.features[i]!, cp.features[i]!);
      expect(p.stats.psi).toBeCloseTo(c.stats.psi as number, 12);
      expect(p.stats.jsDistance).toBeCloseTo(c.stats.jsDistance as number, 12);
      if (c.kind === 'numeric') {
        expect(Math.abs((p.stats.ksStatistic as number) - (c.stats.ksStatistic as number))).toBeLessThan(0.02);
        expect(Math.abs((p.stats.wassersteinNorm as number) - (c.stats.wassersteinNorm as number))).toBeLessThan(0.02);
      }
    });
  });

  it('raises the JS threshold for many categories on moderate samples', () => {
    expect(jsNoiseFloor(1500, 1500, 50, 1e-4)).toBeGreaterThan(0.1);
    expect(jsNoiseFloor(100_000, 100_000, 50, 1e-4)).toBeLessThan(0.05);
  });
});
