/**
 * Per-feature comparison of a reference and a current sample, from raw columns (exact statistics) or from
 * profiles (exact PSI/JS on the reference bins and exact categorical statistics; KS and Wasserstein from the KLL
 * sketches unless both sides are small enough to be kept exactly).
 */
import { InvalidInputError } from '../core/index.js';
import type { Column, ColumnKind } from './column-table.js';
import {
  compareCategoricalCounts,
  compareNumericSorted,
  jsDistanceFromCounts,
  psiFromCounts,
  WASSERSTEIN_MIN_STD,
} from './drift-stats.js';
import { kllSortedView } from './kll-sketch.js';
import { kolmogorovLimitSf } from './kolmogorov.js';
import {
  type CategoricalProfile,
  type FeatureProfile,
  type NumericProfile,
  nullShare,
  profileCategoricalColumn,
  profileNumericColumn,
  variance,
} from './profile.js';

/** The statistics of the report; those that do not apply to the feature's kind are null. */
export interface FeatureDriftStats {
  readonly ksStatistic: number | null;
  readonly ksPvalue: number | null;
  readonly wassersteinNorm: number | null;
  readonly psi: number | null;
  readonly jsDistance: number | null;
  readonly chi2Statistic: number | null;
  readonly chi2Pvalue: number | null;
  readonly linf: number | null;
}

export interface FeatureComparison {
  readonly name: string;
  readonly kind: ColumnKind;
  readonly countReference: number;
  readonly countCurrent: number;
  readonly nullShareReference: number;
  readonly nullShareCurrent: number;
  /** Number of categories in the union (categorical), bins (numeric). */
  readonly cells: number;
  readonly stats: FeatureDriftStats;
  /** False when KS/Wasserstein came from sketches. */
  readonly exact: boolean;
  readonly reference: FeatureProfile;
  readonly current: FeatureProfile;
  /** Data-quality measurements against the reference (see data-quality.ts for the alarm rules). */
  readonly quality: QualityMeasures;
  /**
   * Set when the statistics were computed on a model's training bins (the bins as categories, so `kind` is
   * categorical): the feature's own kind in the model.
   */
  readonly binned?: { readonly featureKind: ColumnKind };
}

/** The feature's own kind (a binned comparison's statistics are categorical whatever the feature is). */
export function featureKindOf(c: FeatureComparison): ColumnKind {
  return c.binned?.featureKind ?? c.kind;
}

export interface QualityMeasures {
  /** Numeric: share of non-null current values below the reference min or above its max (from the sketch when not exact). */
  readonly outOfRangeShare: number | null;
  /** The reference's [min, max] that `outOfRangeShare` is measured against (null when not measured). */
  readonly referenceRange: { readonly min: number; readonly max: number } | null;
  /** Categorical: share of non-null current values in categories the reference never had; null when the reference
   * folded categories into "other" (unknown then). */
  readonly unseenCategoryShare: number | null;
  /** The unseen categories, most frequent first (at most 20). */
  readonly unseenCategories: readonly string[];
  /** Categorical: share of reference values in categories seen once (the Good-Turing estimate of the probability
   * mass the reference never saw: how often a new category appears without any drift). */
  readonly referenceSingletonShare: number | null;
}

const NO_QUALITY: QualityMeasures = {
  outOfRangeShare: null,
  referenceRange: null,
  unseenCategoryShare: null,
  unseenCategories: [],
  referenceSingletonShare: null,
};

/** Share of sorted values outside [min, max]. */
function outsideSorted(sorted: Float64Array, min: number, max: number): number {
  if (sorted.length === 0) return 0;
  let below = 0;
  while (below < sorted.length && (sorted[below] as number) < min) below++;
  let above = 0;
  while (above < sorted.length - below && (sorted[sorted.length - 1 - above] as number) > max) above++;
  return (below + above) / sorted.length;
}

/** Share of a weighted step CDF's weight outside [min, max]. */
function outsideWeighted(values: Float64Array, cumWeights: Float64Array, min: number, max: number): number {
  const total = cumWeights[cumWeights.length - 1] as number;
  if (!(total > 0)) return 0;
  let below = 0;
  let atOrBelowMax = 0;
  for (let j = 0; j < values.length; j++) {
    if ((values[j] as number) < min) below = cumWeights[j] as number;
    if ((values[j] as number) <= max) atOrBelowMax = cumWeights[j] as number;
  }
  return (below + (total - atOrBelowMax)) / total;
}

function numericQuality(ref: NumericProfile, outOfRangeShare: number): QualityMeasures {
  return ref.count === 0
    ? NO_QUALITY
    : { ...NO_QUALITY, outOfRangeShare, referenceRange: { min: ref.min, max: ref.max } };
}

function categoricalQuality(ref: CategoricalProfile, cur: CategoricalProfile): QualityMeasures {
  let singletons = 0;
  for (const c of ref.counts) if (c === 1) singletons++;
  const referenceSingletonShare = ref.count > 0 && ref.otherCount === 0 ? singletons / ref.count : null;
  if (ref.count === 0 || ref.otherCount > 0 || cur.count === 0) {
    return { ...NO_QUALITY, referenceSingletonShare };
  }
  const known = new Set(ref.categories);
  const unseen: string[] = [];
  let unseenCount = 0;
  cur.categories.forEach((k, i) => {
    if (known.has(k)) return;
    unseen.push(k);
    unseenCount += cur.counts[i] as number;
  });
  // categories the current side folded into "other" are not known individually: the share is then a lower bound
  return {
    ...NO_QUALITY,
    unseenCategoryShare: unseenCount / cur.count,
    unseenCategories: unseen.slice(0, 20),
    referenceSingletonShare,
  };
}

const NO_STATS: FeatureDriftStats = {
  ksStatistic: null,
  ksPvalue: null,
  wassersteinNorm: null,
  psi: null,
  jsDistance: null,
  chi2Statistic: null,
  chi2Pvalue: null,
  linf: null,
};

function base(ref: FeatureProfile, cur: FeatureProfile) {
  return {
    name: ref.name,
    kind: ref.kind,
    countReference: ref.count,
    countCurrent: cur.count,
    nullShareReference: nullShare(ref),
    nullShareCurrent: nullShare(cur),
    reference: ref,
    current: cur,
  };
}

function numericFromSorted(
  ref: NumericProfile,
  cur: NumericProfile,
  refSorted: Float64Array,
  curSorted: Float64Array,
): FeatureComparison {
  const quality = numericQuality(ref, outsideSorted(curSorted, ref.min, ref.max));
  if (refSorted.length === 0 || curSorted.length === 0) {
    return { ...base(ref, cur), cells: ref.binCounts.length, stats: NO_STATS, exact: true, quality };
  }
  const s = compareNumericSorted(refSorted, curSorted);
  return {
    ...base(ref, cur),
    cells: ref.binCounts.length,
    stats: { ...NO_STATS, ...s },
    exact: true,
    quality,
  };
}

/** Exact comparison of two raw columns of the same kind; also returns both profiles (current on reference bins). */
export function compareColumns(refCol: Column, curCol: Column): FeatureComparison {
  if (refCol.kind !== curCol.kind) {
    throw new InvalidInputError(
      `column "${refCol.name}" is ${refCol.kind} in the reference but ${curCol.kind} in the current data`,
    );
  }
  if (refCol.kind === 'numeric' && curCol.kind === 'numeric') {
    const r = profileNumericColumn(refCol);
    const c = profileNumericColumn(curCol, r.profile.edges);
    return numericFromSorted(r.profile, c.profile, r.sorted, c.sorted);
  }
  if (refCol.kind === 'categorical' && curCol.kind === 'categorical') {
    return compareProfiles(profileCategoricalColumn(refCol), profileCategoricalColumn(curCol));
  }
  throw new Error('unreachable');
}

const OTHER = '\u0000other';

/** Aligned counts over the union of categories (categories folded into "other" on either side form one cell). */
export function alignCategories(
  ref: CategoricalProfile,
  cur: CategoricalProfile,
): { categories: string[]; ref: Float64Array; cur: Float64Array } {
  const index = new Map<string, number>();
  const cats: string[] = [];
  for (const p of [ref, cur])
    for (const k of p.categories) {
      if (!index.has(k)) {
        index.set(k, index.size);
        cats.push(k);
      }
    }
  if (ref.otherCount > 0 || cur.otherCount > 0) {
    index.set(OTHER, cats.length);
    cats.push(OTHER);
  }
  const r = new Float64Array(cats.length);
  const c = new Float64Array(cats.length);
  ref.categories.forEach((k, i) => {
    r[index.get(k) as number] = ref.counts[i] as number;
  });
  cur.categories.forEach((k, i) => {
    c[index.get(k) as number] = cur.counts[i] as number;
  });
  if (ref.otherCount > 0 || cur.otherCount > 0) {
    r[cats.length - 1] = ref.otherCount;
    c[cats.length - 1] = cur.otherCount;
  }
  return { categories: cats.map((k) => (k === OTHER ? '(other)' : k)), ref: r, cur: c };
}

/** Comparison from profiles (the current profile must be built on the reference's bins). */
export function compareProfiles(ref: FeatureProfile, cur: FeatureProfile): FeatureComparison {
  if (ref.kind !== cur.kind) {
    throw new InvalidInputError(
      `column "${ref.name}" is ${ref.kind} in the reference but ${cur.kind} in the current data`,
    );
  }
  if (ref.kind === 'categorical' && cur.kind === 'categorical') {
    const { categories, ref: r, cur: c } = alignCategories(ref, cur);
    const quality = categoricalQuality(ref, cur);
    if (ref.count === 0 || cur.count === 0) {
      return { ...base(ref, cur), cells: categories.length, stats: NO_STATS, exact: true, quality };
    }
    const s = compareCategoricalCounts(r, c);
    return {
      ...base(ref, cur),
      cells: categories.length,
      stats: { ...NO_STATS, ...s },
      exact: ref.otherCount === 0 && cur.otherCount === 0,
      quality,
    };
  }
  const r = ref as NumericProfile;
  const c = cur as NumericProfile;
  if (r.exactValues && c.exactValues) return numericFromSorted(r, c, r.exactValues, c.exactValues);
  if (r.count === 0 || c.count === 0)
    return { ...base(r, c), cells: r.binCounts.length, stats: NO_STATS, exact: false, quality: NO_QUALITY };
  if (r.binCounts.length !== c.binCounts.length) {
    throw new InvalidInputError(`profile of "${r.name}" was not built on the reference's bins`);
  }
  const a = kllSortedView(r.sketch);
  const b = kllSortedView(c.sketch);
  // the sketch keeps the extremes only approximately, so the exact min/max decide when nothing is outside
  const outOfRange =
    c.min >= r.min && c.max <= r.max ? 0 : Math.max(outsideWeighted(b.values, b.cumWeights, r.min, r.max), 1 / c.count);
  const { ks, w1 } = stepCdfDistances(a.values, a.cumWeights, b.values, b.cumWeights);
  const m = Math.max(r.count, c.count);
  const n = Math.min(r.count, c.count);
  return {
    ...base(r, c),
    cells: r.binCounts.length,
    stats: {
      ...NO_STATS,
      ksStatistic: ks,
      // approximate statistic, so the cheap limiting distribution (the exact one costs O(n) per call at 1M rows)
      ksPvalue: kolmogorovLimitSf(Math.sqrt((m * n) / (m + n)) * ks),
      wassersteinNorm: w1 / Math.max(Math.sqrt(variance(r)), WASSERSTEIN_MIN_STD),
      psi: psiFromCounts(r.binCounts, c.binCounts),
      jsDistance: jsDistanceFromCounts(r.binCounts, c.binCounts),
    },
    exact: false,
    quality: numericQuality(r, outOfRange),
  };
}

/** KS and Wasserstein-1 between two weighted step CDFs (sorted values with cumulative weights). */
function stepCdfDistances(
  av: Float64Array,
  aw: Float64Array,
  bv: Float64Array,
  bw: Float64Array,
): { ks: number; w1: number } {
  const ta = aw[aw.length - 1] as number;
  const tb = bw[bw.length - 1] as number;
  let i = 0;
  let j = 0;
  let fa = 0;
  let fb = 0;
  let ks = 0;
  let w1 = 0;
  let prev = Number.NaN;
  while (i < av.length || j < bv.length) {
    const va = i < av.length ? (av[i] as number) : Number.POSITIVE_INFINITY;
    const vb = j < bv.length ? (bv[j] as number) : Number.POSITIVE_INFINITY;
    const v = Math.min(va, vb);
    if (!Number.isNaN(prev)) w1 += Math.abs(fa - fb) * (v - prev);
    while (i < av.length && (av[i] as number) === v) fa = (aw[i++] as number) / ta;
    while (j < bv.length && (bv[j] as number) === v) fb = (bw[j++] as number) / tb;
    ks = Math.max(ks, Math.abs(fa - fb));
    prev = v;
  }
  return { ks, w1 };
}
