/**
 * Prediction drift (the score distribution) and label drift (the base rate of matured labels only).
 */
import { numericColumn } from './column-table.js';
import { type DatasetDriftResult, type DriftOptions, detectDrift } from './drift-detector.js';
import { chi2FromCounts } from './drift-stats.js';
import { compareColumns } from './feature-comparison.js';

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

function rate(labels: ArrayLike<number>): [number, number] {
  let n = 0;
  let pos = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i] as number;
    if (Number.isNaN(y)) continue; // not matured yet: neither positive nor negative
    n++;
    if (y > 0) pos++;
  }
  return [n, pos];
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
  const alpha = options.alpha ?? 0.05;
  const minDifference = options.minDifference ?? 0.005;
  const [nr, pr] = rate(reference);
  const [nc, pc] = rate(current);
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
