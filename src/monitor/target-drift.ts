/**
 * Prediction drift (the score distribution) and label drift (the base rate of matured labels only).
 */
import { InvalidInputError } from '../core/index.js';
import { type Column, numericColumn } from './column-table.js';
import { type DatasetDriftResult, type DriftOptions, detectDrift } from './drift-detector.js';
import { chi2FromCounts } from './drift-stats.js';
import { compareColumns } from './feature-comparison.js';
import type { FeatureProfile } from './profile.js';

/** Drift of the score distribution, with the same methods and thresholds as a numeric feature. */
export function predictionDrift(
  referenceScores: Float64Array | Float32Array,
  currentScores: Float64Array | Float32Array,
  options: Partial<DriftOptions> = {},
): DatasetDriftResult {
  const c = compareColumns(numericColumn('prediction', referenceScores), numericColumn('prediction', currentScores));
  return detectDrift([c], { reference: referenceScores.length, current: currentScores.length }, options);
}

export interface LabelDriftResult {
  readonly maturedReference: number;
  readonly maturedCurrent: number;
  readonly baseRateReference: number;
  readonly baseRateCurrent: number;
  readonly difference: number;
  /** Chi-square test of the 2 x 2 table (no continuity correction). */
  readonly pvalue: number;
  readonly drifted: boolean;
}

/** Matured labels and how many of them are positive. */
export interface LabelCounts {
  readonly matured: number;
  readonly positives: number;
}

export function labelCounts(labels: ArrayLike<number>): LabelCounts {
  let matured = 0;
  let positives = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i] as number;
    if (Number.isNaN(y)) continue; // not matured yet: neither positive nor negative
    matured++;
    if (y > 0) positives++;
  }
  return { matured, positives };
}

// the words model training accepts for a label (src/model's parseLabels), any case
const TRUE_WORDS = new Set(['1', 'true', 'yes', 'y', 't']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'n', 'f']);

/** 1 or 0 for one label text: `positive` when given (anything else is 0), else 1/0, true/false, yes/no. */
export function labelValue(text: string, column: string, positive: string | undefined): number {
  if (positive !== undefined) return text === positive ? 1 : 0;
  const t = text.toLowerCase();
  if (TRUE_WORDS.has(t)) return 1;
  if (FALSE_WORDS.has(t)) return 0;
  throw new InvalidInputError(
    `label column "${column}" has the value ${JSON.stringify(text)}; expected 1/0, true/false or yes/no (empty while not matured)`,
  );
}

/** A label column as 1/0, NaN where empty (not matured). */
export function labelsFromColumn(col: Column, positive?: string): Float64Array {
  if (col.kind === 'numeric') {
    return Float64Array.from(col.values, (v) =>
      Number.isNaN(v) ? Number.NaN : labelValue(String(v), col.name, positive),
    );
  }
  const byCode = col.dictionary.map((t) => labelValue(t, col.name, positive));
  return Float64Array.from(col.codes, (c) => (c < 0 ? Number.NaN : (byCode[c] as number)));
}

/** Label counts of a profiled label column (numeric 0/1: positives = mean x count; text: the positive categories). */
export function labelCountsFromProfile(p: FeatureProfile, positive?: string): LabelCounts {
  if (p.kind === 'numeric') {
    if (p.count > 0 && (p.min < 0 || p.max > 1 || (positive !== undefined && positive !== '1')))
      throw new InvalidInputError(
        `label column "${p.name}" in the reference profile has values in [${p.min}, ${p.max}]; expected 1/0`,
      );
    return { matured: p.count, positives: p.count > 0 ? Math.round(p.mean * p.count) : 0 };
  }
  if (p.otherCount > 0)
    throw new InvalidInputError(`label column "${p.name}" in the reference profile has too many distinct values`);
  let positives = 0;
  p.categories.forEach((t, i) => {
    positives += labelValue(t, p.name, positive) * (p.counts[i] as number);
  });
  return { matured: p.count, positives };
}

/**
 * Base-rate drift of matured labels (NaN = not matured, excluded). Drifted when the p-value is below `alpha` and
 * the rates differ by more than `minDifference` (so tiny but significant changes on huge samples do not fire).
 */
export function labelDrift(
  reference: ArrayLike<number>,
  current: ArrayLike<number>,
  options: { alpha?: number; minDifference?: number } = {},
): LabelDriftResult {
  return labelDriftFromCounts(labelCounts(reference), labelCounts(current), options);
}

/** `labelDrift` from counts (a profile or a model artifact keeps counts, not the labels). */
export function labelDriftFromCounts(
  reference: LabelCounts,
  current: LabelCounts,
  options: { alpha?: number; minDifference?: number } = {},
): LabelDriftResult {
  const alpha = options.alpha ?? 0.05;
  const minDifference = options.minDifference ?? 0.005;
  const [nr, pr] = [reference.matured, reference.positives];
  const [nc, pc] = [current.matured, current.positives];
  const rr = nr > 0 ? pr / nr : Number.NaN;
  const rc = nc > 0 ? pc / nc : Number.NaN;
  const cells = [pr + pc > 0, nr - pr + (nc - pc) > 0];
  const ref = [pr, nr - pr].filter((_, i) => cells[i]);
  const cur = [pc, nc - pc].filter((_, i) => cells[i]);
  const p = nr > 0 && nc > 0 ? chi2FromCounts(ref, cur).pvalue : Number.NaN;
  return {
    maturedReference: nr,
    maturedCurrent: nc,
    baseRateReference: rr,
    baseRateCurrent: rc,
    difference: rc - rr,
    pvalue: p,
    drifted: p < alpha && Math.abs(rc - rr) > minDifference,
  };
}
