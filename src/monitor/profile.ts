/**
 * Mergeable per-window feature profiles. A profile is built by sorting each column once (column at a time); the
 * reference profile fixes the numeric bin edges (its 10%..90% quantiles) and every later profile counts on those
 * edges, so PSI and JS distance from profiles equal the ones from raw data. Merge is associative: counts,
 * histograms, category counts (below the category cap) and HLL registers exactly; moments up to rounding; the
 * KLL sketch within its rank-error guarantee.
 */
import { InvalidInputError } from '../core/index.js';
import type { CategoricalColumn, Column, ColumnTable, NumericColumn } from './column-table.js';
import { binCountsSorted, quantileEdges, sortedFinite } from './drift-stats.js';
import { emptyHll, hashNumber, hashString, hllAdd, hllEstimate, hllMerge } from './hyperloglog.js';
import { DEFAULT_KLL_K, type KllSketch, kllFromSorted, mergeKll } from './kll-sketch.js';

export const PROFILE_FORMAT = 'adnova.monitor.profile/1';
/** Categories beyond this many (the least frequent) are folded into `otherCount`. */
export const DEFAULT_MAX_CATEGORIES = 1000;
/** Numeric profiles keep their values exactly up to this many (the small-sample p-value regime). */
export const EXACT_SAMPLE_MAX = 1000;

export interface NumericProfile {
  readonly kind: 'numeric';
  readonly name: string;
  /** Non-null values. */
  readonly count: number;
  readonly nulls: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
  /** Sum of squared deviations from the mean (population variance = m2 / count). */
  readonly m2: number;
  /** Interior bin edges from the reference (shared by every profile compared with it). */
  readonly edges: Float64Array;
  /** Counts in the edges.length + 1 bins (a value equal to an edge falls in the lower bin). */
  readonly binCounts: Float64Array;
  readonly sketch: KllSketch;
  readonly hll: Uint8Array;
  /** All non-null values, sorted, while there are at most EXACT_SAMPLE_MAX (small-sample tests stay exact). */
  readonly exactValues?: Float64Array;
}

export interface CategoricalProfile {
  readonly kind: 'categorical';
  readonly name: string;
  readonly count: number;
  readonly nulls: number;
  /** Categories by count descending, then name. */
  readonly categories: readonly string[];
  readonly counts: Float64Array;
  /** Values of categories beyond the cap. */
  readonly otherCount: number;
  readonly hll: Uint8Array;
}

export type FeatureProfile = NumericProfile | CategoricalProfile;

export interface LearnedThreshold {
  readonly method: 'wasserstein' | 'jensenshannon';
  readonly threshold: number;
  readonly chunkRows: number;
  readonly chunks: number;
}

export interface DatasetProfile {
  readonly format: typeof PROFILE_FORMAT;
  readonly rows: number;
  readonly features: readonly FeatureProfile[];
  /** Per-feature thresholds learned from reference chunks (see learnThresholds). */
  readonly thresholds?: Readonly<Record<string, LearnedThreshold>>;
  /** The column whose values made the chunks (not profiled, and not compared in current files). */
  readonly chunkColumn?: string;
}

export interface ProfileOptions {
  /** Use this (reference) profile's bin edges; without it the profile is a reference and makes its own. */
  readonly binsFrom?: DatasetProfile;
  readonly kllK?: number;
  readonly maxCategories?: number;
}

export function nullShare(p: FeatureProfile): number {
  const total = p.count + p.nulls;
  return total === 0 ? 0 : p.nulls / total;
}

export function distinctEstimate(p: FeatureProfile): number {
  return hllEstimate(p.hll);
}

export function variance(p: NumericProfile): number {
  return p.count === 0 ? Number.NaN : p.m2 / p.count;
}

/** Profile of a numeric column given its sorted non-null values. */
export function numericProfileFromSorted(
  name: string,
  sorted: Float64Array,
  nulls: number,
  edges: Float64Array | undefined,
  kllK = DEFAULT_KLL_K,
): NumericProfile {
  const n = sorted.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i] as number;
  const mean = n === 0 ? Number.NaN : sum / n;
  let m2 = 0;
  for (let i = 0; i < n; i++) {
    const d = (sorted[i] as number) - mean;
    m2 += d * d;
  }
  const hll = emptyHll();
  for (let i = 0; i < n; i++) {
    const v = sorted[i] as number;
    if (i === 0 || v !== sorted[i - 1]) hllAdd(hll, hashNumber(v));
  }
  const e = edges ?? quantileEdges(sorted);
  return {
    kind: 'numeric',
    name,
    count: n,
    nulls,
    min: n === 0 ? Number.NaN : (sorted[0] as number),
    max: n === 0 ? Number.NaN : (sorted[n - 1] as number),
    mean,
    m2,
    edges: e,
    binCounts: binCountsSorted(sorted, e),
    sketch: kllFromSorted(sorted, kllK),
    hll,
    ...(n <= EXACT_SAMPLE_MAX ? { exactValues: sorted.slice() } : {}),
  };
}

function mergeSorted(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length)
    out[k++] = (a[i] as number) <= (b[j] as number) ? (a[i++] as number) : (b[j++] as number);
  while (i < a.length) out[k++] = a[i++] as number;
  while (j < b.length) out[k++] = b[j++] as number;
  return out;
}

export function profileNumericColumn(
  col: NumericColumn,
  edges?: Float64Array,
  kllK = DEFAULT_KLL_K,
): { profile: NumericProfile; sorted: Float64Array } {
  const sorted = sortedFinite(col.values);
  const profile = numericProfileFromSorted(col.name, sorted, col.values.length - sorted.length, edges, kllK);
  return { profile, sorted };
}

/** Category counts of a coded column (dictionary order), and its null count. */
export function categoryCounts(col: CategoricalColumn): { counts: Float64Array; nulls: number } {
  const counts = new Float64Array(col.dictionary.length);
  let nulls = 0;
  const codes = col.codes;
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i] as number;
    if (c < 0) nulls++;
    else counts[c] = (counts[c] as number) + 1;
  }
  return { counts, nulls };
}

function categoricalFromMap(
  name: string,
  byName: Map<string, number>,
  other: number,
  nulls: number,
  hll: Uint8Array,
  maxCategories: number,
): CategoricalProfile {
  const entries = [...byName.entries()].filter(([, c]) => c > 0);
  entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  let otherCount = other;
  for (let i = maxCategories; i < entries.length; i++) otherCount += (entries[i] as [string, number])[1];
  const kept = entries.slice(0, maxCategories);
  let count = otherCount;
  for (const [, c] of kept) count += c;
  return {
    kind: 'categorical',
    name,
    count,
    nulls,
    categories: kept.map(([k]) => k),
    counts: Float64Array.from(kept.map(([, c]) => c)),
    otherCount,
    hll,
  };
}

export function profileCategoricalColumn(
  col: CategoricalColumn,
  maxCategories = DEFAULT_MAX_CATEGORIES,
): CategoricalProfile {
  const { counts, nulls } = categoryCounts(col);
  const byName = new Map<string, number>();
  const hll = emptyHll();
  col.dictionary.forEach((k, code) => {
    const c = counts[code] as number;
    if (c > 0) {
      byName.set(k, (byName.get(k) ?? 0) + c);
      hllAdd(hll, hashString(k));
    }
  });
  return categoricalFromMap(col.name, byName, 0, nulls, hll, maxCategories);
}

export function profileColumn(
  col: Column,
  ref: FeatureProfile | undefined,
  options: ProfileOptions = {},
): FeatureProfile {
  if (col.kind === 'numeric') {
    const edges = ref?.kind === 'numeric' ? ref.edges : undefined;
    return profileNumericColumn(col, edges, options.kllK).profile;
  }
  return profileCategoricalColumn(col, options.maxCategories);
}

/** Profile of a whole table, one column at a time. */
export function profileTable(table: ColumnTable, options: ProfileOptions = {}): DatasetProfile {
  const refByName = new Map((options.binsFrom?.features ?? []).map((f) => [f.name, f]));
  const features = table.columns.map((c) => profileColumn(c, refByName.get(c.name), options));
  return { format: PROFILE_FORMAT, rows: table.rows, features };
}

function sameEdges(a: Float64Array, b: Float64Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function mergeFeatureProfiles(
  a: FeatureProfile,
  b: FeatureProfile,
  maxCategories = DEFAULT_MAX_CATEGORIES,
): FeatureProfile {
  if (a.name !== b.name || a.kind !== b.kind) {
    throw new InvalidInputError(`cannot merge profile of ${a.kind} "${a.name}" with ${b.kind} "${b.name}"`);
  }
  if (a.kind === 'numeric' && b.kind === 'numeric') {
    if (!sameEdges(a.edges, b.edges)) {
      throw new InvalidInputError(`cannot merge profiles of "${a.name}" built on different bin edges`);
    }
    const n = a.count + b.count;
    let mean = Number.NaN;
    let m2 = 0;
    if (a.count === 0) [mean, m2] = [b.mean, b.m2];
    else if (b.count === 0) [mean, m2] = [a.mean, a.m2];
    else {
      const delta = b.mean - a.mean;
      mean = a.mean + (delta * b.count) / n;
      m2 = a.m2 + b.m2 + (delta * delta * a.count * b.count) / n;
    }
    const binCounts = new Float64Array(a.binCounts.length);
    for (let i = 0; i < binCounts.length; i++) binCounts[i] = (a.binCounts[i] as number) + (b.binCounts[i] as number);
    return {
      kind: 'numeric',
      name: a.name,
      count: n,
      nulls: a.nulls + b.nulls,
      min: a.count === 0 ? b.min : b.count === 0 ? a.min : Math.min(a.min, b.min),
      max: a.count === 0 ? b.max : b.count === 0 ? a.max : Math.max(a.max, b.max),
      mean,
      m2,
      edges: a.edges,
      binCounts,
      sketch: mergeKll(a.sketch, b.sketch),
      hll: hllMerge(a.hll, b.hll),
      ...(a.exactValues && b.exactValues && n <= EXACT_SAMPLE_MAX
        ? { exactValues: mergeSorted(a.exactValues, b.exactValues) }
        : {}),
    };
  }
  const ca = a as CategoricalProfile;
  const cb = b as CategoricalProfile;
  const byName = new Map<string, number>();
  for (const p of [ca, cb])
    p.categories.forEach((k, i) => {
      byName.set(k, (byName.get(k) ?? 0) + (p.counts[i] as number));
    });
  return categoricalFromMap(
    a.name,
    byName,
    ca.otherCount + cb.otherCount,
    ca.nulls + cb.nulls,
    hllMerge(ca.hll, cb.hll),
    maxCategories,
  );
}

/** Merge two profiles of the same columns (e.g. two windows, or two shards of one window). */
export function mergeProfiles(a: DatasetProfile, b: DatasetProfile): DatasetProfile {
  if (a.features.length !== b.features.length || a.features.some((f, i) => f.name !== b.features[i]?.name)) {
    throw new InvalidInputError(
      `cannot merge profiles with different columns: [${a.features.map((f) => f.name).join(', ')}] vs [${b.features
        .map((f) => f.name)
        .join(', ')}]`,
    );
  }
  return {
    format: PROFILE_FORMAT,
    rows: a.rows + b.rows,
    features: a.features.map((f, i) => mergeFeatureProfiles(f, b.features[i] as FeatureProfile)),
    ...(a.thresholds ? { thresholds: a.thresholds } : {}),
  };
}

/** Incremental profiling: add batches (tables or FeatureMatrix views converted by the caller), read the merge. */
export class ProfileAccumulator {
  #profile: DatasetProfile | undefined;
  constructor(private readonly options: ProfileOptions = {}) {}
  add(batch: ColumnTable): void {
    // Without a reference, the first batch fixes the bin edges so later batches can be merged with it.
    const binsFrom = this.options.binsFrom ?? this.#profile;
    const p = profileTable(batch, binsFrom ? { ...this.options, binsFrom } : this.options);
    this.#profile = this.#profile ? mergeProfiles(this.#profile, p) : p;
  }
  result(): DatasetProfile {
    if (!this.#profile) throw new InvalidInputError('no rows were added to the profile');
    return this.#profile;
  }
}
