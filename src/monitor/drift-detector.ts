/**
 * Feature and dataset drift decisions. Method by kind and sample size: with at most `smallSampleMax` values on
 * either side, p-value tests (KS, chi-square) with Benjamini-Hochberg across those features; otherwise effect sizes
 * (normalized Wasserstein, JS distance) against thresholds that never fall below the statistic's own no-drift noise
 * level, so large samples without drift do not fire. Thresholds learned from reference chunks override defaults.
 */
import { InvalidInputError } from '../core/index.js';
import type { ColumnTable } from './column-table.js';
import {
  benjaminiHochberg,
  jsDistanceFromCounts,
  meanAndVariance,
  WASSERSTEIN_MIN_STD,
  wassersteinSorted,
} from './drift-stats.js';
import type { FeatureComparison } from './feature-comparison.js';
import type { LearnedThreshold } from './profile.js';
import { categoryCounts } from './profile.js';
import { chi2Isf } from './special-functions.js';

export const DRIFT_METHODS = ['ks', 'chi2', 'wasserstein', 'jensenshannon', 'none'] as const;
export type DriftMethod = (typeof DRIFT_METHODS)[number];

export interface DriftOptions {
  /** p-value tests when min(reference, current) non-null count is at most this. */
  readonly smallSampleMax: number;
  /** FDR level for Benjamini-Hochberg-adjusted p-values. */
  readonly alpha: number;
  /** Base thresholds of the effect sizes. */
  readonly wassersteinThreshold: number;
  readonly jsThreshold: number;
  /** Per-feature no-drift exceedance probability used to raise the JS threshold for small samples / many categories. */
  readonly noiseTailProbability: number;
  /** Dataset drifts when the (importance-weighted, if importance is given) share of drifted features reaches this. */
  readonly datasetDriftShare: number;
  readonly thresholds?: Readonly<Record<string, LearnedThreshold>>;
  readonly importance?: Readonly<Record<string, number>>;
}

export function defaultDriftOptions(): DriftOptions {
  return {
    smallSampleMax: 1000,
    alpha: 0.05,
    wassersteinThreshold: 0.1,
    jsThreshold: 0.1,
    noiseTailProbability: 1e-4,
    datasetDriftShare: 0.5,
  };
}

export interface FeatureDriftResult {
  readonly comparison: FeatureComparison;
  readonly method: DriftMethod;
  /** Adjusted p-value for ks/chi2, the effect size otherwise. */
  readonly score: number | null;
  readonly threshold: number | null;
  readonly drifted: boolean;
  /** How far past its threshold (>1 means drifted); used to rank features. */
  readonly severity: number;
  readonly thresholdSource: 'default' | 'learned' | 'fdr';
}

export interface DatasetDriftResult {
  readonly rowsReference: number;
  readonly rowsCurrent: number;
  readonly driftedShare: number;
  readonly weightedDriftedShare: number;
  readonly drifted: boolean;
  readonly features: readonly FeatureDriftResult[];
}

/** No-drift noise floor of the normalized Wasserstein distance: 3 x sqrt(1/n1 + 1/n2). */
export function wassersteinNoiseFloor(n1: number, n2: number): number {
  return 3 * Math.sqrt(1 / n1 + 1 / n2);
}

/** JS distance (base 2) exceeded with probability `tail` under no drift: 8 ln2 JS^2 / (1/n1+1/n2) ~ chi2(k-1). */
export function jsNoiseFloor(n1: number, n2: number, cells: number, tail: number): number {
  if (cells < 2) return 0;
  return Math.sqrt((chi2Isf(tail, cells - 1) * (1 / n1 + 1 / n2)) / (8 * Math.LN2));
}

export function detectDrift(
  comparisons: readonly FeatureComparison[],
  rows: { reference: number; current: number },
  options: Partial<DriftOptions> = {},
): DatasetDriftResult {
  const o = { ...defaultDriftOptions(), ...options };
  const methods: DriftMethod[] = comparisons.map((c) => {
    const hasStats = c.kind === 'numeric' ? c.stats.ksStatistic !== null : c.stats.jsDistance !== null;
    if (!hasStats) return 'none';
    const learned = o.thresholds?.[c.name];
    const small = Math.min(c.countReference, c.countCurrent) <= o.smallSampleMax;
    if (small && !learned) return c.kind === 'numeric' ? 'ks' : 'chi2';
    return c.kind === 'numeric' ? 'wasserstein' : 'jensenshannon';
  });
  const raw = comparisons.map((c, i) =>
    methods[i] === 'ks'
      ? (c.stats.ksPvalue as number)
      : methods[i] === 'chi2'
        ? (c.stats.chi2Pvalue as number)
        : Number.NaN,
  );
  const adjusted = benjaminiHochberg(raw);
  const features = comparisons.map((c, i): FeatureDriftResult => {
    const method = methods[i] as DriftMethod;
    if (method === 'none') {
      return {
        comparison: c,
        method,
        score: null,
        threshold: null,
        drifted: false,
        severity: 0,
        thresholdSource: 'default',
      };
    }
    if (method === 'ks' || method === 'chi2') {
      const p = adjusted[i] as number;
      const severity = Math.log10(Math.max(p, 1e-300)) / Math.log10(o.alpha);
      return {
        comparison: c,
        method,
        score: p,
        threshold: o.alpha,
        drifted: p < o.alpha,
        severity,
        thresholdSource: 'fdr',
      };
    }
    const learned = o.thresholds?.[c.name];
    const score = (method === 'wasserstein' ? c.stats.wassersteinNorm : c.stats.jsDistance) as number;
    const threshold = learned
      ? learned.threshold
      : method === 'wasserstein'
        ? Math.max(o.wassersteinThreshold, wassersteinNoiseFloor(c.countReference, c.countCurrent))
        : Math.max(o.jsThreshold, jsNoiseFloor(c.countReference, c.countCurrent, c.cells, o.noiseTailProbability));
    return {
      comparison: c,
      method,
      score,
      threshold,
      drifted: score > threshold,
      severity: threshold > 0 ? score / threshold : score > 0 ? Number.POSITIVE_INFINITY : 0,
      thresholdSource: learned ? 'learned' : 'default',
    };
  });
  const compared = features.filter((f) => f.method !== 'none');
  const driftedShare = compared.length === 0 ? 0 : compared.filter((f) => f.drifted).length / compared.length;
  let weightedDriftedShare = driftedShare;
  if (o.importance) {
    let total = 0;
    let drifted = 0;
    for (const f of compared) {
      const w = Math.max(0, o.importance[f.comparison.name] ?? 0);
      total += w;
      if (f.drifted) drifted += w;
    }
    weightedDriftedShare = total > 0 ? drifted / total : driftedShare;
  }
  const ranked = [...features].sort(
    (a, b) => b.severity - a.severity || a.comparison.name.localeCompare(b.comparison.name),
  );
  return {
    rowsReference: rows.reference,
    rowsCurrent: rows.current,
    driftedShare,
    weightedDriftedShare,
    drifted: weightedDriftedShare >= o.datasetDriftShare && compared.length > 0,
    features: ranked,
  };
}

export interface LearnThresholdOptions {
  /** Rows per chunk; match the size of the windows that will be compared. */
  readonly chunkRows: number;
  /** Standard deviations above the mean of the chunk scores (NannyML uses 3). */
  readonly stdMultiplier?: number;
}

/**
 * NannyML-style thresholds: split the reference into consecutive chunks of `chunkRows`, score each chunk against
 * the rest of the reference (leaving the chunk out of its own baseline) and set threshold = mean + 3 std
 * (population std) of those scores. Exact statistics; needs at least 3 chunks.
 */
export function learnThresholds(
  reference: ColumnTable,
  options: LearnThresholdOptions,
): Record<string, LearnedThreshold> {
  const chunkRows = Math.floor(options.chunkRows);
  const k = Math.floor(reference.rows / Math.max(1, chunkRows));
  if (chunkRows < 1 || k < 3) {
    throw new InvalidInputError(
      `learning thresholds needs at least 3 reference chunks of ${chunkRows} rows; the reference has ${reference.rows} rows`,
    );
  }
  const mult = options.stdMultiplier ?? 3;
  const out: Record<string, LearnedThreshold> = {};
  const used = k * chunkRows;
  for (const col of reference.columns) {
    const scores: number[] = [];
    if (col.kind === 'numeric') {
      const chunks: Float64Array[] = [];
      for (let i = 0; i < k; i++) chunks.push(sortedNonNull(col.values.subarray(i * chunkRows, (i + 1) * chunkRows)));
      const { values: all, labels } = mergeLabeled(chunks);
      for (let i = 0; i < k; i++) {
        const chunk = chunks[i] as Float64Array;
        const rest = new Float64Array(all.length - chunk.length);
        let r = 0;
        for (let q = 0; q < all.length; q++) if (labels[q] !== i) rest[r++] = all[q] as number;
        if (chunk.length === 0 || rest.length === 0) continue;
        const std = Math.sqrt(meanAndVariance(rest).variance);
        scores.push(wassersteinSorted(rest, chunk) / Math.max(std, WASSERSTEIN_MIN_STD));
      }
      if (scores.length >= 3)
        out[col.name] = { method: 'wasserstein', threshold: meanPlusStd(scores, mult), chunkRows, chunks: k };
    } else {
      const total = categoryCounts({ ...col, codes: col.codes.subarray(0, used) }).counts;
      for (let i = 0; i < k; i++) {
        const chunk = categoryCounts({ ...col, codes: col.codes.subarray(i * chunkRows, (i + 1) * chunkRows) }).counts;
        const rest = total.map((t, j) => t - (chunk[j] as number));
        const keep = [...total.keys()].filter((j) => (total[j] as number) > 0);
        const c = Float64Array.from(keep.map((j) => chunk[j] as number));
        const rr = Float64Array.from(keep.map((j) => rest[j] as number));
        if (c.reduce((s, x) => s + x, 0) === 0 || rr.reduce((s, x) => s + x, 0) === 0) continue;
        scores.push(jsDistanceFromCounts(rr, c));
      }
      if (scores.length >= 3)
        out[col.name] = { method: 'jensenshannon', threshold: meanPlusStd(scores, mult), chunkRows, chunks: k };
    }
  }
  return out;
}

function meanPlusStd(xs: readonly number[], mult: number): number {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const v = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
  return mean + mult * Math.sqrt(v);
}

function sortedNonNull(x: ArrayLike<number>): Float64Array {
  const out: number[] = [];
  for (let i = 0; i < x.length; i++) if (!Number.isNaN(x[i] as number)) out.push(x[i] as number);
  return Float64Array.from(out).sort();
}

/** K-way merge of sorted chunks, remembering which chunk each value came from. */
function mergeLabeled(chunks: readonly Float64Array[]): { values: Float64Array; labels: Uint16Array } {
  let values = new Float64Array(0);
  let labels = new Uint16Array(0);
  chunks.forEach((c, label) => {
    const v = new Float64Array(values.length + c.length);
    const l = new Uint16Array(values.length + c.length);
    let i = 0;
    let j = 0;
    let k = 0;
    while (i < values.length || j < c.length) {
      if (j >= c.length || (i < values.length && (values[i] as number) <= (c[j] as number))) {
        v[k] = values[i] as number;
        l[k++] = labels[i++] as number;
      } else {
        v[k] = c[j++] as number;
        l[k++] = label;
      }
    }
    values = v;
    labels = l;
  });
  return { values, labels };
}
