import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  benjaminiHochberg,
  binCountsSorted,
  chi2FromCounts,
  compareCategoricalCounts,
  compareNumericSorted,
  ksTwoSample,
  meanAndVariance,
  quantileEdges,
  sortedFinite,
  wassersteinSorted,
} from './drift-stats.js';
import { studentTCdf, studentTPpf } from './special-functions.js';

interface NumericSpec {
  seed: number;
  n: number;
  kind: 'normal' | 'int' | 'const' | 'heavy' | 'arange';
  loc?: number;
  scale?: number;
  lo?: number;
  k?: number;
  value?: number;
  start?: number;
  step?: number;
  null_share?: number;
}
interface CategoricalSpec {
  seed: number;
  n: number;
  prefix: string;
  weights: number[];
  null_share?: number;
}
type Expected = Record<string, unknown>;
const num = (e: Expected, key: string): number => e[key] as number;

interface Fixtures {
  numeric: { name: string; reference: NumericSpec; current: NumericSpec; expected: Expected }[];
  categorical: {
    name: string;
    reference: CategoricalSpec;
    current: CategoricalSpec;
    expected: Expected;
  }[];
  benjamini_hochberg: { p: (number | null)[]; adjusted: (number | null)[] }[];
  student_t: { dof: number; t: number; cdf: number }[];
  student_t_ppf: { dof: number; p: number; ppf: number }[];
}

const fixtures = JSON.parse(readFileSync(new URL('./fixtures/drift-stats.json', import.meta.url), 'utf8')) as Fixtures;

/** The fixture script's xorshift32: integer ops and IEEE +,-,*,/ only, so samples are bit-identical. */
class XorShift32 {
  private x: number;
  constructor(seed: number) {
    this.x = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.x;
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    this.x = x;
    return x / 4294967296;
  }
}

function numericSample(spec: NumericSpec): Float64Array {
  const rng = new XorShift32(spec.seed);
  const out = new Float64Array(spec.n);
  for (let i = 0; i < spec.n; i++) {
    const isNull = rng.next() < (spec.null_share ?? 0);
    let v: number;
    if (spec.kind === 'normal') {
      const s = rng.next() + rng.next() + rng.next() + rng.next() - 2.0;
      v = (spec.loc ?? 0) + (spec.scale ?? 1) * s * Math.sqrt(3);
    } else if (spec.kind === 'int') v = (spec.lo ?? 0) + Math.floor(rng.next() * (spec.k ?? 1));
    else if (spec.kind === 'const') v = spec.value ?? 0;
    else if (spec.kind === 'arange') v = (spec.start ?? 0) + (spec.step ?? 1) * i;
    else v = (spec.loc ?? 0) + 1.0 / (rng.next() + 0.01);
    out[i] = isNull ? Number.NaN : v;
  }
  return out;
}

function categoricalSample(spec: CategoricalSpec): (string | null)[] {
  const rng = new XorShift32(spec.seed);
  let total = 0;
  const cum: number[] = [];
  for (const w of spec.weights) {
    total += w;
    cum.push(total);
  }
  const out: (string | null)[] = [];
  for (let i = 0; i < spec.n; i++) {
    const isNull = rng.next() < (spec.null_share ?? 0);
    const u = rng.next() * total;
    let k = 0;
    while (k < cum.length - 1 && u >= (cum[k] as number)) k++;
    out.push(isNull ? null : `${spec.prefix}${k}`);
  }
  return out;
}

const closeStat = (actual: number, expected: number): void =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)));
const closeP = (actual: number, expected: number): void =>
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(1e-6);

describe('numeric drift statistics match scipy', () => {
  for (const c of fixtures.numeric) {
    it(c.name, () => {
      const e = c.expected;
      const ref = sortedFinite(numericSample(c.reference));
      const cur = sortedFinite(numericSample(c.current));
      expect(ref.length).toBe(e['n_reference']);
      expect(cur.length).toBe(e['n_current']);
      const ks = ksTwoSample(ref, cur);
      expect(ks.mode).toBe(e['ks_mode']);
      // the statistic bit for bit (the same ECDF differences as scipy; exact mode rounds it to h / lcm as scipy
      // does), and the exact p-value too (the same recursions); the asymptotic one to 1e-6
      expect(ks.statistic).toBe(num(e, 'ks_statistic'));
      if (ks.mode === 'exact') expect(ks.pvalue).toBe(num(e, 'ks_pvalue'));
      else closeP(ks.pvalue, num(e, 'ks_pvalue'));
      closeStat(wassersteinSorted(ref, cur), num(e, 'wasserstein'));
      closeStat(Math.sqrt(meanAndVariance(ref).variance), num(e, 'reference_std'));
      const edges = quantileEdges(ref);
      expect(Array.from(edges)).toEqual(e['edges']);
      expect(Array.from(binCountsSorted(ref, edges))).toEqual(e['reference_bin_counts']);
      expect(Array.from(binCountsSorted(cur, edges))).toEqual(e['current_bin_counts']);
      const all = compareNumericSorted(ref, cur);
      closeStat(all.wassersteinNorm, num(e, 'wasserstein_norm'));
      closeStat(all.psi, num(e, 'psi'));
      closeStat(all.jsDistance, num(e, 'js_distance'));
    });
  }
});

describe('categorical drift statistics match scipy', () => {
  for (const c of fixtures.categorical) {
    it(c.name, () => {
      const e = c.expected;
      const ref = categoricalSample(c.reference);
      const cur = categoricalSample(c.current);
      const cats = [...new Set([...ref, ...cur].filter((x): x is string => x !== null))].sort();
      expect(cats).toEqual(e['categories']);
      const count = (xs: (string | null)[]): Float64Array =>
        Float64Array.from(cats.map((k) => xs.filter((x) => x === k).length));
      const rc = count(ref);
      const cc = count(cur);
      expect(Array.from(rc)).toEqual(e['reference_counts']);
      expect(Array.from(cc)).toEqual(e['current_counts']);
      const s = compareCategoricalCounts(rc, cc);
      closeStat(s.chi2Statistic, num(e, 'chi2_statistic'));
      closeP(s.chi2Pvalue, num(e, 'chi2_pvalue'));
      closeStat(s.jsDistance, num(e, 'js_distance'));
      closeStat(s.linf, num(e, 'linf'));
      closeStat(s.psi, num(e, 'psi'));
    });
  }
});

describe('Benjamini-Hochberg matches the reference implementation', () => {
  fixtures.benjamini_hochberg.forEach((set, i) => {
    it(`set ${i}`, () => {
      const adj = benjaminiHochberg(set.p.map((x) => (x === null ? Number.NaN : x)));
      set.adjusted.forEach((e, k) => {
        if (e === null) expect(adj[k]).toBeNaN();
        else closeP(adj[k] as number, e);
      });
    });
  });
});

describe("Student's t matches scipy.stats.t", () => {
  it('cdf', () => {
    for (const c of fixtures.student_t)
      expect(Math.abs(studentTCdf(c.t, c.dof) - c.cdf), `${c.t} ${c.dof}`).toBeLessThan(1e-12);
  });
  it('ppf (scipy.stats.t.ppf is itself accurate to about 1e-9; the round trip through the cdf to 1e-12)', () => {
    for (const c of fixtures.student_t_ppf) {
      const x = studentTPpf(c.p, c.dof);
      expect(Math.abs(x - c.ppf), `${c.p} ${c.dof}`).toBeLessThan(1e-8 * Math.max(1, Math.abs(c.ppf)));
      expect(Math.abs(studentTCdf(x, c.dof) - c.p)).toBeLessThan(1e-12);
    }
  });
});

describe('chi-square with categories empty on both sides', () => {
  it('leaves them out, as the table without them (scipy refuses zero expected counts)', () => {
    const withEmpty = chi2FromCounts([500, 0, 500, 0], [50, 0, 450, 0]);
    const without = chi2FromCounts([500, 500], [50, 450]);
    expect(withEmpty).toEqual(without);
    expect(without.dof).toBe(1);
    expect(Number.isFinite(without.statistic)).toBe(true);
  });
});
