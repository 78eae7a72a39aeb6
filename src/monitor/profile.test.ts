import { describe, expect, it } from 'vitest';
import { Rng } from '../core/index.js';
import { type ColumnTable, categoricalFromStrings, numericColumn } from './column-table.js';
import { sortedFinite } from './drift-stats.js';
import { kllCdf, kllFromSorted, kllQuantile, mergeKll } from './kll-sketch.js';
import {
  type CategoricalProfile,
  type DatasetProfile,
  distinctEstimate,
  mergeProfiles,
  type NumericProfile,
  ProfileAccumulator,
  profileTable,
  variance,
} from './profile.js';
import { parseProfile, serializeProfile } from './profile-codec.js';

function randomTable(rng: Rng, rows: number): ColumnTable {
  const x = new Float64Array(rows);
  const ties = new Float32Array(rows);
  const cats: (string | null)[] = [];
  for (let i = 0; i < rows; i++) {
    x[i] = rng.next() < 0.1 ? Number.NaN : rng.normal() * 3 + 10;
    ties[i] = rng.int(7);
    cats.push(rng.next() < 0.05 ? null : `c${Math.floor(rng.next() ** 2 * 12)}`);
  }
  return { rows, columns: [numericColumn('x', x), numericColumn('ties', ties), categoricalFromStrings('cat', cats)] };
}

function concat(tables: ColumnTable[]): ColumnTable {
  const rows = tables.reduce((s, t) => s + t.rows, 0);
  const x = new Float64Array(rows);
  const ties = new Float32Array(rows);
  const cats: (string | null)[] = [];
  let o = 0;
  for (const t of tables) {
    const [a, b, c] = t.columns;
    if (a?.kind !== 'numeric' || b?.kind !== 'numeric' || c?.kind !== 'categorical') throw new Error('shape');
    x.set(a.values, o);
    ties.set(b.values, o);
    for (const code of c.codes) cats.push(code < 0 ? null : (c.dictionary[code] as string));
    o += t.rows;
  }
  return { rows, columns: [numericColumn('x', x), numericColumn('ties', ties), categoricalFromStrings('cat', cats)] };
}

function expectSameExactParts(a: DatasetProfile, b: DatasetProfile): void {
  expect(a.rows).toBe(b.rows);
  a.features.forEach((fa, i) => {
    const fb = b.features[i];
    if (!fb) throw new Error('missing feature');
    expect(fa.count).toBe(fb.count);
    expect(fa.nulls).toBe(fb.nulls);
    expect(Array.from(fa.hll)).toEqual(Array.from(fb.hll));
    if (fa.kind === 'numeric' && fb.kind === 'numeric') {
      expect(fa.min).toBe(fb.min);
      expect(fa.max).toBe(fb.max);
      expect(Array.from(fa.binCounts)).toEqual(Array.from(fb.binCounts));
      expect(Math.abs(fa.mean - fb.mean)).toBeLessThan(1e-9 * Math.max(1, Math.abs(fb.mean)));
      expect(Math.abs(variance(fa) - variance(fb))).toBeLessThan(1e-9 * Math.max(1, variance(fb)));
      expect(fa.sketch.n).toBe(fb.sketch.n);
    } else {
      const ca = fa as CategoricalProfile;
      const cb = fb as CategoricalProfile;
      expect(ca.categories).toEqual(cb.categories);
      expect(Array.from(ca.counts)).toEqual(Array.from(cb.counts));
    }
  });
}

describe('profiles', () => {
  it('merge is associative and matches profiling the concatenation (property test, 25 random cases)', () => {
    const rng = new Rng(42);
    for (let trial = 0; trial < 25; trial++) {
      const parts = [0, 1, 2].map(() => randomTable(rng, 1 + rng.int(3000)));
      const ref = profileTable(concat(parts));
      const [a, b, c] = parts.map((t) => profileTable(t, { binsFrom: ref })) as [
        DatasetProfile,
        DatasetProfile,
        DatasetProfile,
      ];
      const left = mergeProfiles(mergeProfiles(a, b), c);
      const right = mergeProfiles(a, mergeProfiles(b, c));
      const whole = profileTable(concat(parts), { binsFrom: ref });
      expectSameExactParts(left, right);
      expectSameExactParts(left, whole);
      // Quantiles of both merge orders stay within the KLL rank error of the true ranks.
      const truth = sortedFinite((concat(parts).columns[0] as { values: Float64Array }).values);
      for (const merged of [left, right]) {
        const sk = (merged.features[0] as NumericProfile).sketch;
        for (const q of [0.05, 0.25, 0.5, 0.75, 0.95]) {
          const v = kllQuantile(sk, q);
          let rank = 0;
          while (rank < truth.length && (truth[rank] as number) <= v) rank++;
          expect(Math.abs(rank / truth.length - q)).toBeLessThan(0.02);
        }
      }
    }
  });

  it('KLL keeps small inputs exactly and large ones within 1% rank error', () => {
    const rng = new Rng(7);
    const small = Float64Array.from({ length: 150 }, () => rng.normal()).sort();
    const s = kllFromSorted(small);
    expect(s.levels[0]?.length).toBe(150);
    const big = Float64Array.from({ length: 200_000 }, () => rng.normal()).sort();
    let merged = kllFromSorted(big.subarray(0, 0));
    for (let i = 0; i < 20; i++) {
      const chunk = Float64Array.from({ length: 10_000 }, () => rng.normal()).sort();
      merged = mergeKll(merged, kllFromSorted(chunk));
    }
    for (const x of [-2, -1, 0, 0.5, 1.5]) {
      let rank = 0;
      for (const v of big) if (v <= x) rank++;
      expect(Math.abs(kllCdf(kllFromSorted(big), x) - rank / big.length)).toBeLessThan(0.01);
      expect(Math.abs(kllCdf(merged, x) - rank / big.length)).toBeLessThan(0.02);
    }
  });

  it('serializes compactly and round-trips', () => {
    const rng = new Rng(3);
    const t = randomTable(rng, 20_000);
    const p = profileTable(t);
    const text = serializeProfile(p);
    expect(text.length).toBeLessThan(20_000);
    const back = parseProfile(text);
    expectSameExactParts(back, p);
    expect(Array.from((back.features[0] as NumericProfile).sketch.levels[1] ?? [])).toEqual(
      Array.from((p.features[0] as NumericProfile).sketch.levels[1] ?? []),
    );
    expect(() => parseProfile('{"format":"x"}')).toThrow(/expected a profile/);
    expect(() => parseProfile('not json')).toThrow(/expected JSON/);
  });

  it('counts distinct values approximately and nulls exactly', () => {
    const x = Float64Array.from({ length: 50_000 }, (_, i) => (i % 5 === 0 ? Number.NaN : i % 7000));
    const p = profileTable({ rows: x.length, columns: [numericColumn('x', x)] });
    const f = p.features[0] as NumericProfile;
    expect(f.nulls).toBe(10_000);
    // values with v % 5 === 0 only occur at null rows, so 5,600 distinct remain
    expect(Math.abs(distinctEstimate(f) - 5600) / 5600).toBeLessThan(0.06);
  });

  it('incremental accumulation equals one profile of the concatenation', () => {
    const rng = new Rng(11);
    const parts = [randomTable(rng, 500), randomTable(rng, 700)];
    const acc = new ProfileAccumulator();
    for (const t of parts) acc.add(t);
    const ref = profileTable(parts[0] as ColumnTable);
    expectSameExactParts(acc.result(), profileTable(concat(parts), { binsFrom: ref }));
  });
});

describe('profiles from a FeatureMatrix stream', () => {
  it('profiles zero-copy column views with vocabulary codes, batch by batch', async () => {
    const { createFeatureMatrix } = await import('../core/index.js');
    const { tableFromFeatureMatrix } = await import('./column-table.js');
    const rng = new Rng(5);
    const acc = new ProfileAccumulator();
    let rows = 0;
    for (let b = 0; b < 3; b++) {
      const ids = Array.from({ length: 1000 }, (_, i) => `u${b}_${i}`);
      const m = createFeatureMatrix(ids, ['score', 'plan']);
      for (let i = 0; i < 1000; i++) {
        m.values[i] = rng.normal();
        m.values[1000 + i] = i % 10 === 0 ? Number.NaN : rng.int(3);
      }
      const t = tableFromFeatureMatrix(m, { plan: ['free', 'plus', 'premium'] });
      expect(t.columns[0]?.kind === 'numeric' && t.columns[0].values.buffer).toBe(m.values.buffer);
      acc.add(t);
      rows += 1000;
    }
    const p = acc.result();
    expect(p.rows).toBe(rows);
    const plan = p.features[1] as CategoricalProfile;
    expect(plan.nulls).toBe(300);
    expect([...plan.categories].sort()).toEqual(['free', 'plus', 'premium']);
    expect((p.features[0] as NumericProfile).count).toBe(3000);
  });
});
