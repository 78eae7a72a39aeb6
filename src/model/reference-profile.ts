import { type BinMapper, binColumnMajor, binCount, type FeatureBins, MISSING_BIN } from './binning.js';
import type { FeatureKind, ModelMatrix } from './model-matrix.js';

/** Equal-width bins over [0, 1] for the score distribution. */
export const SCORE_PROFILE_BINS = 20;
const SCORE_QUANTILES = [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99] as const;

export interface ReferenceFeatureProfile {
  readonly name: string;
  readonly kind: FeatureKind;
  /** Share of rows with a missing value. */
  readonly nullShare: number;
  /** Share of present rows per training bin (numeric: between cuts; categorical: per category, last = other). */
  readonly binShares: readonly number[];
  /** numeric: the bin cuts, so a serving window can be binned the same way. */
  readonly cuts?: readonly number[];
  /** numeric: smallest and largest present training value (the monitor's out-of-range check; absent in old artifacts). */
  readonly min?: number;
  readonly max?: number;
  /** categorical: category code per bin, with its share of present rows. */
  readonly categories?: ReadonlyArray<{ readonly code: number; readonly label?: string; readonly share: number }>;
}

/** The distributions serving traffic is compared against (the monitor reads this). */
export interface ReferenceProfile {
  readonly rows: number;
  readonly features: readonly ReferenceFeatureProfile[];
  readonly score: {
    readonly bins: number;
    /** Share of rows per equal-width score bin over [0, 1]. */
    readonly shares: readonly number[];
    readonly mean: number;
    readonly quantiles: ReadonlyArray<{ readonly q: number; readonly value: number }>;
  };
}

/** Profiles a matrix on the model's training bins plus the scores the model gives it. */
export function buildReferenceProfile(
  bins: BinMapper,
  m: ModelMatrix,
  scores: ArrayLike<number>,
  vocabularies: readonly (readonly string[] | null)[] = [],
): ReferenceProfile {
  const binned = binColumnMajor(bins, m);
  const n = m.rows;
  const features = bins.features.map((fb: FeatureBins, c): ReferenceFeatureProfile => {
    const nb = binCount(fb);
    const counts = new Float64Array(nb);
    let missing = 0;
    for (let r = 0; r < n; r++) {
      const b = binned[c * n + r] as number;
      if (b === MISSING_BIN) missing++;
      else counts[b] = (counts[b] as number) + 1;
    }
    const present = n - missing;
    const shares = Array.from(counts, (v) => (present > 0 ? v / present : 0));
    const base = { name: fb.name, kind: fb.kind, nullShare: n > 0 ? missing / n : 0, binShares: shares };
    if (fb.kind === 'numeric') {
      let min = Number.POSITIVE_INFINITY;
      let max = Number.NEGATIVE_INFINITY;
      for (let r = 0; r < n; r++) {
        const v = m.values[c * n + r] as number;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      // JSON has no infinities: a range is stored only when it is finite
      const range = present > 0 && Number.isFinite(min) && Number.isFinite(max) ? { min, max } : {};
      return { ...base, cuts: Array.from(fb.cuts), ...range };
    }
    const vocab = vocabularies[c];
    return {
      ...base,
      categories: Array.from(fb.categories, (code, b) => ({
        code,
        ...(vocab?.[code] !== undefined ? { label: vocab[code] } : {}),
        share: shares[b] as number,
      })),
    };
  });
  const sc = Float64Array.from(scores).sort();
  const hist = new Float64Array(SCORE_PROFILE_BINS);
  let sum = 0;
  for (const s of sc) {
    const b = Math.min(SCORE_PROFILE_BINS - 1, Math.max(0, Math.floor(s * SCORE_PROFILE_BINS)));
    hist[b] = (hist[b] as number) + 1;
    sum += s;
  }
  return {
    rows: n,
    features,
    score: {
      bins: SCORE_PROFILE_BINS,
      shares: Array.from(hist, (v) => (sc.length > 0 ? v / sc.length : 0)),
      mean: sc.length > 0 ? sum / sc.length : Number.NaN,
      quantiles: SCORE_QUANTILES.map((q) => ({
        q,
        value: sc.length > 0 ? (sc[Math.min(sc.length - 1, Math.floor(q * sc.length))] as number) : Number.NaN,
      })),
    },
  };
}
