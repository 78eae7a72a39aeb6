/**
 * Feature and dataset drift decisions. Method by kind and sample size: with at most `smallSampleMax` values on
 * either side, p-value tests (KS, chi-square) with Benjamini-Hochberg across those features; otherwise effect sizes
 * (normalized Wasserstein, JS distance) against thresholds that never fall below the statistic's own no-drift noise
 * level, so large samples without drift do not fire. Thresholds learned from reference chunks override defaults.
 */
import { InvalidInputError } from '../core/index.js';
import type { ColumnTable } from './column-table.js';
import { type DataQualityOptions, type QualityVerdict, qualityVerdict } from './data-quality.js';
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
import { chi2Isf, normalCdf, studentTPpf } from './special-functions.js';

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
  /** Data-quality alarm floors (null share, out of range, unseen categories). */
  readonly quality?: Partial<DataQualityOptions>;
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
  /** How far past its threshold (>1 means drifted). */
  readonly severity: number;
  readonly thresholdSource: 'default' | 'learned' | 'fdr';
  /** Data-quality alarms (null share, out of range, unseen categories), separate from distribution drift. */
  readonly quality: QualityVerdict;
  /** Drifted or a data-quality alarm: the feature needs a look. */
  readonly alarm: boolean;
  /** max(severity, quality.severity): features are ranked by it. */
  readonly rank: number;
  /**
   * The feature's own (unadjusted) test p-value, whatever the method: KS for numeric, chi-square for categorical
   * and binned features; approximate when the comparison is not exact. null when not computed.
   */
  readonly pvalue: number | null;
}

export interface DatasetDriftResult {
  readonly rowsReference: number;
  readonly rowsCurrent: number;
  readonly driftedShare: number;
  readonly weightedDriftedShare: number;
  readonly drifted: boolean;
  /** Features with a data-quality alarm. */
  readonly qualityAlarms: number;
  /** Ranked by `rank`, most alarming first. */
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
  const distribution = comparisons.map((c, i): Omit<FeatureDriftResult, 'quality' | 'alarm' | 'rank' | 'pvalue'> => {
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
  const features = distribution.map((d): FeatureDriftResult => {
    const quality = qualityVerdict(d.comparison, o.quality);
    const s = d.comparison.stats;
    const p = d.comparison.kind === 'numeric' ? s.ksPvalue : s.chi2Pvalue;
    return {
      ...d,
      quality,
      alarm: d.drifted || quality.issues.length > 0,
      rank: Math.max(d.severity, quality.severity),
      pvalue: p !== null && Number.isFinite(p) ? p : null,
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
  const ranked = [...features].sort((a, b) => b.rank - a.rank || a.comparison.name.localeCompare(b.comparison.name));
  return {
    rowsReference: rows.reference,
    rowsCurrent: rows.current,
    driftedShare,
    weightedDriftedShare,
    drifted: weightedDriftedShare >= o.datasetDriftShare && compared.length > 0,
    qualityAlarms: features.filter((f) => f.quality.issues.length > 0).length,
    features: ranked,
  };
}

export interface LearnThresholdOptions {
  /** Rows per chunk; match the size of the windows that will be compared. */
  readonly chunkRows?: number;
  /**
   * Or the lengths of consecutive chunks, e.g. the rows of each day when the reference is sorted by time and the
   * monitor compares daily windows (NannyML's chunking by period): days differ in volume, and a quiet day's
   * statistics are noisier, which equal-row chunks would smooth away.
   */
  readonly chunkSizes?: readonly number[];
  /** Standard deviations above the mean of the chunk scores (NannyML uses 3). */
  readonly stdMultiplier?: number;
  /**
   * Widen the bound for few chunks (default true): the mean and std come from k chunk scores, so a new window's
   * score is bounded by mean + t(k-1) * s * sqrt(1 + 1/k) (Student's t prediction interval, s the sample std) with
   * t at the same one-sided coverage as `stdMultiplier` normal sds. Tends to mean + 3 std for many chunks; false
   * uses NannyML's plain mean + 3 (population) std.
   */
  readonly smallSampleCorrection?: boolean;
}

/** The multiplier of the population std of k chunk scores that bounds a new window's score. */
export function learnedStdMultiplier(k: number, stdMultiplier: number, correct: boolean): number {
  const coverage = normalCdf(stdMultiplier);
  if (!correct || k < 2 || !(coverage < 1)) return stdMultiplier;
  const t = studentTPpf(coverage, k - 1);
  // sample std = population std * sqrt(k / (k - 1))
  return t * Math.sqrt(1 + 1 / k) * Math.sqrt(k / (k - 1));
}

/**
 * NannyML-style thresholds: split the reference into consecutive chunks of `chunkRows`, score each chunk against
 * the rest of the reference (leaving the chunk out of its own baseline) and set threshold = mean + m std of those
 * scores, m = 3 widened for few chunks (see `smallSampleCorrection`). Exact statistics; needs at least 3 chunks.
 */
export function learnThresholds(
  reference: ColumnTable,
  options: LearnThresholdOptions,
): Record<string, LearnedThreshold> {
  const starts = chunkStarts(reference.rows, options);
  const k = starts.length - 1;
  const chunkRows = Math.round((starts[k] as number) / k);
  const m = options.stdMultiplier ?? 3;
  const correct = options.smallSampleCorrection ?? true;
  const bound = (scores: readonly number[]): number =>
    meanPlusStd(scores, learnedStdMultiplier(scores.length, m, correct));
  const out: Record<string, LearnedThreshold> = {};
  const used = starts[k] as number;
  for (const col of reference.columns) {
    const scores: number[] = [];
    if (col.kind === 'numeric') {
      const chunks: Float64Array[] = [];
      for (let i = 0; i < k; i++) chunks.push(sortedNonNull(col.values.subarray(starts[i], starts[i + 1])));
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
      if (scores.length >= 3) out[col.name] = { method: 'wasserstein', threshold: bound(scores), chunkRows, chunks: k };
    } else {
      const total = categoryCounts({ ...col, codes: col.codes.subarray(0, used) }).counts;
      for (let i = 0; i < k; i++) {
        const chunk = categoryCounts({ ...col, codes: col.codes.subarray(starts[i], starts[i + 1]) }).counts;
        const rest = total.map((t, j) => t - (chunk[j] as number));
        const keep = [...total.keys()].filter((j) => (total[j] as number) > 0);
        const c = Float64Array.from(keep.map((j) => chunk[j] as number));
        const rr = Float64Array.from(keep.map((j) => rest[j] as number));
        if (c.reduce((s, x) => s + x, 0) === 0 || rr.reduce((s, x) => s + x, 0) === 0) continue;
        scores.push(jsDistanceFromCounts(rr, c));
      }
      if (scores.length >= 3)
        out[col.name] = { method: 'jensenshannon', threshold: bound(scores), chunkRows, chunks: k };
    }
  }
  return out;
}

/** Start offsets of the chunks plus the end of the last one. */
function chunkStarts(rows: number, options: LearnThresholdOptions): number[] {
  if ((options.chunkRows === undefined) === (options.chunkSizes === undefined)) {
    throw new InvalidInputError('learning thresholds needs either chunkRows or chunkSizes (exactly one of them)');
  }
  let sizes: number[];
  if (options.chunkSizes) {
    sizes = [...options.chunkSizes];
    const bad = sizes.find((x) => !Number.isInteger(x) || x < 1);
    if (bad !== undefined) throw new InvalidInputError(`chunk sizes must be integers >= 1, got ${bad}`);
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total > rows)
      throw new InvalidInputError(`chunk sizes add up to ${total} rows but the reference has ${rows} rows`);
  } else {
    const chunkRows = Math.floor(options.chunkRows as number);
    sizes = chunkRows >= 1 ? Array.from({ length: Math.floor(rows / chunkRows) }, () => chunkRows) : [];
  }
  if (sizes.length < 3) {
    throw new InvalidInputError(
      `learning thresholds needs at least 3 reference chunks; got ${sizes.length} (${options.chunkSizes ? 'chunk sizes given' : `chunks of ${options.chunkRows} rows`}, the reference has ${rows} rows)`,
    );
  }
  const starts = [0];
  for (const x of sizes) starts.push((starts[starts.length - 1] as number) + x);
  return starts;
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
