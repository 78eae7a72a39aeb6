import { InvalidInputError } from '../core/errors.js';
import { CALIBRATION_METHODS } from './choices.js';
import { logLoss, rocAuc } from './metrics.js';

export { CALIBRATION_METHODS };
export type CalibrationMethod = (typeof CALIBRATION_METHODS)[number];

/**
 * A fitted calibration map from raw probability to calibrated probability, stored in the artifact.
 * platt: p' = sigmoid(a * logit(p) + b). isotonic: step-wise linear interpolation through (x[i], y[i]),
 * constant outside the range (scikit-learn's IsotonicRegression with out_of_bounds='clip').
 */
export type Calibration =
  | { readonly method: 'none' }
  | { readonly method: 'platt'; readonly a: number; readonly b: number }
  | { readonly method: 'isotonic'; readonly x: readonly number[]; readonly y: readonly number[] };

function logit(p: number): number {
  const q = Math.min(Math.max(p, 1e-15), 1 - 1e-15);
  return Math.log(q / (1 - q));
}

/** Per-row loss of Platt's objective, log(1 + e^s) - t s, without overflow for any margin s. */
function plattLoss(s: number, t: number): number {
  return (s >= 0 ? s + Math.log1p(Math.exp(-s)) : Math.log1p(Math.exp(s))) - t * s;
}

function plattObjective(z: Float64Array, t: Float64Array, a: number, b: number): number {
  let f = 0;
  for (let i = 0; i < z.length; i++) f += plattLoss(a * (z[i] as number) + b, t[i] as number);
  return f;
}

/**
 * Platt scaling: minimises the log loss of sigmoid(a * logit(p) + b) against Platt's smoothed targets
 * ((N+ + 1) / (N+ + 2) for positives, 1 / (N- + 2) for negatives), so separable data has a finite optimum. Newton's
 * method with a tiny ridge on the Hessian and a backtracking (Armijo) line search, from a = 0 and b = the smoothed
 * prior, as Lin, Lin and Weng's "A note on Platt's probabilistic outputs" (2007): every step lowers the objective,
 * so it cannot diverge the way a plain Newton step from a = 1 did on saturated scores (slope -3.2e14). Scores
 * that are all equal have no slope to fit: a = 1 and b moves them to the smoothed positive rate.
 */
export function fitPlatt(probs: ArrayLike<number>, labels: ArrayLike<number>): Calibration {
  const n = probs.length;
  if (n === 0 || labels.length !== n)
    throw new InvalidInputError(
      `calibration needs matching, non-empty probs and labels (got ${n} and ${labels.length})`,
    );
  let pos = 0;
  for (let i = 0; i < n; i++) if (labels[i] === 1) pos++;
  const neg = n - pos;
  const hi = (pos + 1) / (pos + 2);
  const lo = 1 / (neg + 2);
  const z = Float64Array.from({ length: n }, (_, i) => logit(probs[i] as number));
  const t = Float64Array.from({ length: n }, (_, i) => (labels[i] === 1 ? hi : lo));
  let zMin = Number.POSITIVE_INFINITY;
  let zMax = Number.NEGATIVE_INFINITY;
  let tMean = 0;
  for (let i = 0; i < n; i++) {
    zMin = Math.min(zMin, z[i] as number);
    zMax = Math.max(zMax, z[i] as number);
    tMean += t[i] as number;
  }
  tMean /= n;
  if (zMax === zMin) return { method: 'platt', a: 1, b: logit(tMean) - zMin };
  let a = 0;
  let b = Math.log((pos + 1) / (neg + 1));
  let f = plattObjective(z, t, a, b);
  const ridge = 1e-12;
  for (let iter = 0; iter < 100; iter++) {
    let g0 = 0;
    let g1 = 0;
    let h00 = ridge;
    let h01 = 0;
    let h11 = ridge;
    for (let i = 0; i < n; i++) {
      const zi = z[i] as number;
      const s = a * zi + b;
      // p and 1 - p each from the side where exp cannot overflow
      const e = Math.exp(-Math.abs(s));
      const p = s >= 0 ? 1 / (1 + e) : e / (1 + e);
      const q = s >= 0 ? e / (1 + e) : 1 / (1 + e);
      const d = p - (t[i] as number);
      const w = p * q;
      g0 += d * zi;
      g1 += d;
      h00 += w * zi * zi;
      h01 += w * zi;
      h11 += w;
    }
    // converged: the gradient is negligible against the number of rows
    if (Math.abs(g0) < 1e-10 * n && Math.abs(g1) < 1e-10 * n) break;
    const det = h00 * h11 - h01 * h01;
    if (!(det > 0)) break;
    const da = -(h11 * g0 - h01 * g1) / det;
    const db = -(h00 * g1 - h01 * g0) / det;
    const slope = g0 * da + g1 * db;
    let step = 1;
    let accepted = false;
    while (step >= 1e-10) {
      const na = a + step * da;
      const nb = b + step * db;
      const nf = plattObjective(z, t, na, nb);
      if (nf <= f + 1e-4 * step * slope) {
        a = na;
        b = nb;
        accepted = nf < f || step * Math.max(Math.abs(da), Math.abs(db)) < 1e-12;
        f = nf;
        break;
      }
      step /= 2;
    }
    if (!accepted) break;
  }
  return { method: 'platt', a, b };
}

/** Isotonic (non-decreasing) regression of labels on probabilities by pool-adjacent-violators. */
export function fitIsotonic(
  probs: ArrayLike<number>,
  labels: ArrayLike<number>,
  weights?: ArrayLike<number>,
): Calibration {
  const n = probs.length;
  if (n === 0 || labels.length !== n)
    throw new InvalidInputError(
      `calibration needs matching, non-empty probs and labels (got ${n} and ${labels.length})`,
    );
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (i, j) => (probs[i] as number) - (probs[j] as number) || i - j,
  );
  // tied x values are pooled first (as scikit-learn does), then PAVA over the unique x values
  const xs: number[] = [];
  const ys: number[] = [];
  const ws: number[] = [];
  for (const i of order) {
    const x = probs[i] as number;
    const w = weights ? (weights[i] as number) : 1;
    const y = labels[i] as number;
    if (xs.length > 0 && xs[xs.length - 1] === x) {
      const k = xs.length - 1;
      ys[k] = ((ys[k] as number) * (ws[k] as number) + y * w) / ((ws[k] as number) + w);
      ws[k] = (ws[k] as number) + w;
    } else {
      xs.push(x);
      ys.push(y);
      ws.push(w);
    }
  }
  const blockY: number[] = [];
  const blockW: number[] = [];
  const blockEnd: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    blockY.push(ys[i] as number);
    blockW.push(ws[i] as number);
    blockEnd.push(i);
    while (blockY.length > 1 && (blockY[blockY.length - 2] as number) > (blockY[blockY.length - 1] as number)) {
      const y2 = blockY.pop() as number;
      const w2 = blockW.pop() as number;
      const e2 = blockEnd.pop() as number;
      const k = blockY.length - 1;
      blockY[k] = ((blockY[k] as number) * (blockW[k] as number) + y2 * w2) / ((blockW[k] as number) + w2);
      blockW[k] = (blockW[k] as number) + w2;
      blockEnd[k] = e2;
    }
  }
  const fitted = new Array<number>(xs.length);
  let start = 0;
  blockY.forEach((y, k) => {
    for (let i = start; i <= (blockEnd[k] as number); i++) fitted[i] = y;
    start = (blockEnd[k] as number) + 1;
  });
  // keep only the points where the step function changes (first and last of each block)
  const x: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    const prev = i > 0 ? fitted[i - 1] : undefined;
    const next = i + 1 < xs.length ? fitted[i + 1] : undefined;
    if (prev !== fitted[i] || next !== fitted[i]) {
      x.push(xs[i] as number);
      y.push(fitted[i] as number);
    }
  }
  return { method: 'isotonic', x, y };
}

export function fitCalibration(
  method: CalibrationMethod,
  probs: ArrayLike<number>,
  labels: ArrayLike<number>,
): Calibration {
  if (method === 'platt') return fitPlatt(probs, labels);
  if (method === 'isotonic') return fitIsotonic(probs, labels);
  if (method === 'auto') {
    const chosen = chooseCalibration(probs, labels).method;
    return chosen === 'none' ? { method: 'none' } : fitCalibration(chosen, probs, labels);
  }
  return { method: 'none' };
}

/**
 * How much ROC AUC a calibration may lose against the raw score before it counts as destroying the ranking
 * (isotonic's ties cost a little AUC even on a good model; Platt with a > 0 costs none).
 */
export const CALIBRATION_AUC_TOLERANCE = 0.005;

/**
 * Auto leaves isotonic out unless the raw score's held-out ROC AUC exceeds 0.5 by this many standard errors of the
 * AUC of a score with no ranking ((n + 1) / (12 n+ n-), Mann-Whitney under the null): about 2.3% one-sided.
 */
export const ISOTONIC_MIN_RANKING_Z = 2;

type FittedMethod = 'none' | 'isotonic' | 'platt';
const CANDIDATES: readonly FittedMethod[] = ['none', 'platt', 'isotonic'];

export interface CalibrationChoice {
  readonly method: FittedMethod;
  /** Log loss of each candidate on held-out folds (none: the raw probabilities); NaN when folds lack a class. */
  readonly crossFittedLogLoss: Readonly<Record<FittedMethod, number>>;
  /** ROC AUC of each candidate on held-out folds, the folds' AUCs weighted by their rows. */
  readonly crossFittedRocAuc: Readonly<Record<FittedMethod, number>>;
  /**
   * Candidates left out: they lost more than CALIBRATION_AUC_TOLERANCE of the raw AUC, or (Platt) a fold's slope
   * came out <= 0, which reverses the ranking instead of calibrating it, or (isotonic) the raw score's held-out ROC
   * AUC is not ISOTONIC_MIN_RANKING_Z null standard errors above 0.5 (no ranking to keep: it would pool the rows
   * into a few ties).
   */
  readonly rankingLosers: readonly FittedMethod[];
}

/**
 * None, Platt or isotonic, by 2-fold cross-fitting on the calibration rows (rows alternate between the folds, so
 * both span the same time): each method is fitted on one fold and scored on the other, both ways. A candidate
 * whose held-out ROC AUC is more than CALIBRATION_AUC_TOLERANCE below the raw score's is out (a calibration must
 * not turn a ranking into ties), and so is Platt when a fold's slope is <= 0 (a calibration must not reverse a
 * ranking: on a drifted model it was how test AUC went from 0.84 to 0.42), and so is isotonic when the raw score's
 * held-out AUC is not clearly above chance (ISOTONIC_MIN_RANKING_Z: its fit would be a few ties). Of the
 * rest, the lowest held-out log loss wins, ties going to the simpler (none, then Platt, then isotonic). Isotonic's
 * steps follow any monotone shape but over-fit a few thousand rows (and then overstate how well the scores
 * separate); Platt's two parameters do not. Folds without both classes cannot be cross-fitted: none.
 */
export function chooseCalibration(probs: ArrayLike<number>, labels: ArrayLike<number>): CalibrationChoice {
  const folds: [number[], number[]] = [[], []];
  for (let i = 0; i < probs.length; i++) folds[i % 2]?.push(i);
  const bothClasses = (rows: readonly number[]) => {
    let pos = 0;
    for (const i of rows) pos += labels[i] as number;
    return pos > 0 && pos < rows.length;
  };
  const nan = { none: Number.NaN, platt: Number.NaN, isotonic: Number.NaN };
  if (!folds.every(bothClasses))
    return { method: 'none', crossFittedLogLoss: nan, crossFittedRocAuc: nan, rankingLosers: [] };
  const pick = (xs: ArrayLike<number>, rows: readonly number[]) => Float64Array.from(rows, (i) => xs[i] as number);
  let reversed = false;
  const score = (method: FittedMethod): { logLoss: number; rocAuc: number } => {
    let loss = 0;
    let auc = 0;
    for (const [fit, held] of [folds, [folds[1], folds[0]]] as [number[], number[]][]) {
      const c = fitCalibration(method, pick(probs, fit), pick(labels, fit));
      if (c.method === 'platt' && !(c.a > 0)) reversed = true;
      const p = Float64Array.from(held, (i) => calibrate(c, probs[i] as number));
      const y = pick(labels, held);
      loss += logLoss(y, p) * held.length;
      auc += rocAuc(y, p) * held.length;
    }
    return { logLoss: loss / probs.length, rocAuc: auc / probs.length };
  };
  const scores = Object.fromEntries(CANDIDATES.map((m) => [m, score(m)])) as Record<
    FittedMethod,
    { logLoss: number; rocAuc: number }
  >;
  // isotonic needs a ranking to keep: when the raw score's held-out AUC is within ISOTONIC_MIN_RANKING_Z null
  // standard errors of 0.5, pool-adjacent-violators pools nearly every row into a few ties (Hillstrom conversions,
  // a model trained on one e-mail's customers: 5 distinct validation scores, 10 of 12,808 on test). Platt keeps any
  // ranking it is given (a positive slope is strictly increasing), so only its sign matters.
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i] as number;
  const negatives = labels.length - positives;
  const nullSe = Math.sqrt((positives + negatives + 1) / (12 * positives * negatives));
  const noRanking = !(scores.none.rocAuc > 0.5 + ISOTONIC_MIN_RANKING_Z * nullSe);
  const rankingLosers = CANDIDATES.filter(
    (m) =>
      !(scores[m].rocAuc >= scores.none.rocAuc - CALIBRATION_AUC_TOLERANCE) ||
      (m === 'platt' && reversed) ||
      (m === 'isotonic' && noRanking),
  );
  let method: FittedMethod = 'none';
  for (const m of CANDIDATES) if (!rankingLosers.includes(m) && scores[m].logLoss < scores[method].logLoss) method = m;
  return {
    method,
    crossFittedLogLoss: { none: scores.none.logLoss, platt: scores.platt.logLoss, isotonic: scores.isotonic.logLoss },
    crossFittedRocAuc: { none: scores.none.rocAuc, platt: scores.platt.rocAuc, isotonic: scores.isotonic.rocAuc },
    rankingLosers,
  };
}

export interface GuardedCalibration {
  /** What was asked for. */
  readonly requested: CalibrationMethod;
  /** What is kept: `none` when the fitted map was worse than none on the rows it was fitted on. */
  readonly calibration: Calibration;
  /** `auto`'s cross-fitted comparison, when `auto` was asked for. */
  readonly choice: CalibrationChoice | null;
  /** Log loss and ROC AUC on the fitting rows: raw, and with the fitted map (before any fallback). */
  readonly before: { readonly logLoss: number; readonly rocAuc: number };
  readonly fitted: { readonly method: FittedMethod; readonly logLoss: number; readonly rocAuc: number };
  /** The fitted map, kept or not. */
  readonly fittedCalibration: Calibration;
  /** Why the fitted map was dropped, for the training summary and the artifact. */
  readonly warnings: readonly string[];
}

/**
 * Fits `method` (auto: `chooseCalibration`) and keeps it only if it is not worse than none on the rows it was
 * fitted on: a Platt slope <= 0, a non-finite or higher log loss, or a ROC AUC more than CALIBRATION_AUC_TOLERANCE
 * lower, falls back to `none` with a warning. Rows without both classes cannot be calibrated: none, with a warning.
 */
export function fitGuardedCalibration(
  method: CalibrationMethod,
  probs: ArrayLike<number>,
  labels: ArrayLike<number>,
): GuardedCalibration {
  const y = Float64Array.from({ length: labels.length }, (_, i) => labels[i] as number);
  const p = Float64Array.from({ length: probs.length }, (_, i) => probs[i] as number);
  const before = { logLoss: logLoss(y, p), rocAuc: rocAuc(y, p) };
  const none: Calibration = { method: 'none' };
  const result = (
    calibration: Calibration,
    choice: CalibrationChoice | null,
    fitted: GuardedCalibration['fitted'],
    warnings: string[],
    fittedCalibration: Calibration = none,
  ): GuardedCalibration => ({ requested: method, calibration, choice, before, fitted, fittedCalibration, warnings });
  if (method === 'none') return result(none, null, { method: 'none', ...before }, []);
  let pos = 0;
  for (const v of y) pos += v;
  if (pos === 0 || pos === y.length)
    return result(none, null, { method: 'none', ...before }, [
      `calibration ${method} skipped: its ${y.length} rows have only one label value; kept none`,
    ]);
  const choice = method === 'auto' ? chooseCalibration(p, y) : null;
  const fittedMethod: FittedMethod = choice ? choice.method : method === 'platt' ? 'platt' : 'isotonic';
  const cal = fitCalibration(fittedMethod, p, y);
  const after = Float64Array.from(p, (v) => calibrate(cal, v));
  const fitted = { method: fittedMethod, logLoss: logLoss(y, after), rocAuc: rocAuc(y, after) };
  const f = (v: number) => v.toFixed(4);
  const warnings: string[] = [];
  if (cal.method === 'platt' && !(cal.a > 0))
    warnings.push(
      `platt calibration came out with slope ${f(cal.a)} on its ${y.length} rows (the model ranks them backwards: drift or leakage?); kept none`,
    );
  else if (!(fitted.logLoss <= before.logLoss))
    warnings.push(
      `${fittedMethod} calibration raised log loss on its ${y.length} rows from ${f(before.logLoss)} to ${f(fitted.logLoss)}; kept none`,
    );
  else if (!(fitted.rocAuc >= before.rocAuc - CALIBRATION_AUC_TOLERANCE))
    warnings.push(
      `${fittedMethod} calibration lowered ROC AUC on its ${y.length} rows from ${f(before.rocAuc)} to ${f(fitted.rocAuc)}; kept none`,
    );
  return result(warnings.length > 0 ? none : cal, choice, fitted, warnings, cal);
}

/** How many distinct values a score array holds (a calibration that flattens a ranking shows here). */
export function distinctValues(scores: ArrayLike<number>): number {
  return new Set(Array.from(scores)).size;
}

/** Applies a calibration to one probability. */
export function calibrate(c: Calibration, p: number): number {
  if (c.method === 'platt') return 1 / (1 + Math.exp(-(c.a * logit(p) + c.b)));
  if (c.method === 'none') return p;
  const { x, y } = c;
  const n = x.length;
  if (n === 0) return p;
  if (p <= (x[0] as number)) return y[0] as number;
  if (p >= (x[n - 1] as number)) return y[n - 1] as number;
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if ((x[mid] as number) <= p) lo = mid;
    else hi = mid;
  }
  const x0 = x[lo] as number;
  const x1 = x[hi] as number;
  const y0 = y[lo] as number;
  const y1 = y[hi] as number;
  return x1 === x0 ? y1 : y0 + ((y1 - y0) * (p - x0)) / (x1 - x0);
}

/**
 * In place: the first `rows` margins of `out` become sigmoid probabilities, then calibrated ones when `calibration`
 * is given (and not `none`). The one form every scorer applies (in-thread, compiled model, pool workers), so their
 * probabilities are bit-identical.
 */
export function probabilitiesFromMargins(out: Float64Array, rows: number, calibration?: Calibration): Float64Array {
  for (let r = 0; r < rows; r++) out[r] = 1 / (1 + Math.exp(-(out[r] as number)));
  if (calibration !== undefined && calibration.method !== 'none')
    for (let r = 0; r < rows; r++) out[r] = calibrate(calibration, out[r] as number);
  return out;
}

export function calibrateAll(c: Calibration, probs: Float64Array, out = new Float64Array(probs.length)): Float64Array {
  for (let i = 0; i < probs.length; i++) out[i] = calibrate(c, probs[i] as number);
  return out;
}
