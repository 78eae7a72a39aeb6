import { InvalidInputError } from '../core/errors.js';

/** Top fractions for lift and capture. */
export const LIFT_FRACTIONS = [0.01, 0.05, 0.1, 0.2] as const;
/** Equal-width probability bins for the expected calibration error. */
export const ECE_BINS = 10;

export interface LiftAt {
  readonly fraction: number;
  /** Positive rate among the top fraction divided by the overall positive rate. */
  readonly lift: number;
  /** Share of all positives found in the top fraction. */
  readonly capture: number;
}

export interface BinaryMetrics {
  readonly rows: number;
  readonly positives: number;
  readonly positiveRate: number;
  readonly rocAuc: number;
  /** Average precision (step-wise area under the precision-recall curve, as scikit-learn computes it). */
  readonly prAuc: number;
  readonly logLoss: number;
  readonly brier: number;
  readonly ece: number;
  readonly lift: readonly LiftAt[];
}

function check(labels: ArrayLike<number>, scores: ArrayLike<number>, weights?: ArrayLike<number>): void {
  if (labels.length !== scores.length) {
    throw new InvalidInputError(`labels has ${labels.length} values, scores has ${scores.length}`);
  }
  if (weights && weights.length !== labels.length) {
    throw new InvalidInputError(`weights has ${weights.length} values, labels has ${labels.length}`);
  }
}

/** Row order by descending score (ties by index, for determinism). */
function orderByScoreDesc(scores: ArrayLike<number>): Uint32Array {
  const idx = new Uint32Array(scores.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  return idx.sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
}

/** ROC AUC with ties counted half (Mann-Whitney); NaN when only one class is present. */
export function rocAuc(labels: ArrayLike<number>, scores: ArrayLike<number>, weights?: ArrayLike<number>): number {
  check(labels, scores, weights);
  const order = orderByScoreDesc(scores);
  let tp = 0;
  let fp = 0;
  let area = 0;
  let i = 0;
  const n = order.length;
  while (i < n) {
    const s = scores[order[i] as number] as number;
    let dtp = 0;
    let dfp = 0;
    while (i < n && scores[order[i] as number] === s) {
      const r = order[i] as number;
      const w = weights ? (weights[r] as number) : 1;
      if (labels[r] === 1) dtp += w;
      else dfp += w;
      i++;
    }
    area += dfp * (tp + dtp / 2);
    tp += dtp;
    fp += dfp;
  }
  return tp === 0 || fp === 0 ? Number.NaN : area / (tp * fp);
}

/** Average precision: sum over thresholds of (recall step) x precision, ties grouped (scikit-learn's definition). */
export function averagePrecision(
  labels: ArrayLike<number>,
  scores: ArrayLike<number>,
  weights?: ArrayLike<number>,
): number {
  check(labels, scores, weights);
  const order = orderByScoreDesc(scores);
  let totalPos = 0;
  for (let r = 0; r < labels.length; r++) if (labels[r] === 1) totalPos += weights ? (weights[r] as number) : 1;
  if (totalPos === 0) return Number.NaN;
  let tp = 0;
  let all = 0;
  let ap = 0;
  let i = 0;
  const n = order.length;
  while (i < n) {
    const s = scores[order[i] as number] as number;
    let dtp = 0;
    while (i < n && scores[order[i] as number] === s) {
      const r = order[i] as number;
      const w = weights ? (weights[r] as number) : 1;
      if (labels[r] === 1) dtp += w;
      all += w;
      i++;
    }
    tp += dtp;
    if (dtp > 0) ap += (dtp / totalPos) * (tp / all);
  }
  return ap;
}

/** Mean negative log-likelihood, probabilities clipped to [1e-15, 1 - 1e-15] as scikit-learn does. */
export function logLoss(labels: ArrayLike<number>, probs: ArrayLike<number>, weights?: ArrayLike<number>): number {
  check(labels, probs, weights);
  let s = 0;
  let ws = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(Math.max(probs[i] as number, 1e-15), 1 - 1e-15);
    const w = weights ? (weights[i] as number) : 1;
    s -= w * (labels[i] === 1 ? Math.log(p) : Math.log(1 - p));
    ws += w;
  }
  return s / ws;
}

export function brierScore(labels: ArrayLike<number>, probs: ArrayLike<number>, weights?: ArrayLike<number>): number {
  check(labels, probs, weights);
  let s = 0;
  let ws = 0;
  for (let i = 0; i < labels.length; i++) {
    const d = (probs[i] as number) - (labels[i] as number);
    const w = weights ? (weights[i] as number) : 1;
    s += w * d * d;
    ws += w;
  }
  return s / ws;
}

/**
 * Expected calibration error over `bins` equal-width probability bins: sum over bins of
 * (bin weight / total) x |mean label - mean probability|. A probability of exactly 1 falls in the last bin.
 */
export function expectedCalibrationError(
  labels: ArrayLike<number>,
  probs: ArrayLike<number>,
  bins = ECE_BINS,
  weights?: ArrayLike<number>,
): number {
  check(labels, probs, weights);
  const sw = new Float64Array(bins);
  const sy = new Float64Array(bins);
  const sp = new Float64Array(bins);
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = probs[i] as number;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p * bins)));
    const w = weights ? (weights[i] as number) : 1;
    sw[b] = (sw[b] as number) + w;
    sy[b] = (sy[b] as number) + w * (labels[i] as number);
    sp[b] = (sp[b] as number) + w * p;
    total += w;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    const w = sw[b] as number;
    if (w > 0) ece += (w / total) * Math.abs((sy[b] as number) / w - (sp[b] as number) / w);
  }
  return ece;
}

/** Lift and capture in the top `fraction` of rows by score (ceil(fraction x n) rows, ties by row order). */
export function liftAt(labels: ArrayLike<number>, scores: ArrayLike<number>, fraction: number): LiftAt {
  check(labels, scores);
  const n = labels.length;
  const order = orderByScoreDesc(scores);
  let totalPos = 0;
  for (let i = 0; i < n; i++) if (labels[i] === 1) totalPos++;
  const k = Math.max(1, Math.ceil(fraction * n));
  let pos = 0;
  for (let i = 0; i < k && i < n; i++) if (labels[order[i] as number] === 1) pos++;
  const base = totalPos / n;
  return {
    fraction,
    lift: base > 0 ? pos / k / base : Number.NaN,
    capture: totalPos > 0 ? pos / totalPos : Number.NaN,
  };
}

/** All metrics for one set of labels and probabilities. */
export function binaryMetrics(
  labels: ArrayLike<number>,
  probs: ArrayLike<number>,
  weights?: ArrayLike<number>,
): BinaryMetrics {
  check(labels, probs, weights);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y !== 0 && y !== 1) throw new InvalidInputError(`labels must be 0 or 1, got ${String(y)} at row ${i}`);
    if (y === 1) positives++;
  }
  const rows = labels.length;
  return {
    rows,
    positives,
    positiveRate: rows > 0 ? positives / rows : Number.NaN,
    rocAuc: rocAuc(labels, probs, weights),
    prAuc: averagePrecision(labels, probs, weights),
    logLoss: logLoss(labels, probs, weights),
    brier: brierScore(labels, probs, weights),
    ece: expectedCalibrationError(labels, probs, ECE_BINS, weights),
    lift: LIFT_FRACTIONS.map((f) => liftAt(labels, probs, f)),
  };
}

/** Metrics per segment value (e.g. channel), segments in first-seen order; segments under `minRows` skipped. */
export function metricsBySegment(
  labels: ArrayLike<number>,
  probs: ArrayLike<number>,
  segments: readonly string[],
  minRows = 1,
): Record<string, BinaryMetrics> {
  check(labels, probs);
  if (segments.length !== labels.length) {
    throw new InvalidInputError(`segments has ${segments.length} values, labels has ${labels.length}`);
  }
  const groups = new Map<string, number[]>();
  segments.forEach((s, i) => {
    let g = groups.get(s);
    if (!g) groups.set(s, (g = []));
    g.push(i);
  });
  const out: Record<string, BinaryMetrics> = {};
  for (const [seg, rows] of groups) {
    if (rows.length < minRows) continue;
    out[seg] = binaryMetrics(
      Float64Array.from(rows, (r) => labels[r] as number),
      Float64Array.from(rows, (r) => probs[r] as number),
    );
  }
  return out;
}
