import { InvalidInputError } from '../core/index.js';
import { CALIBRATION_METHODS } from './choices.js';

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

/** Platt scaling by Newton's method on the log loss of sigmoid(a * logit(p) + b), with Platt's target smoothing. */
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
  let a = 1;
  let b = 0;
  for (let iter = 0; iter < 100; iter++) {
    let g0 = 0;
    let g1 = 0;
    let h00 = 1e-12;
    let h01 = 0;
    let h11 = 1e-12;
    for (let i = 0; i < n; i++) {
      const t = labels[i] === 1 ? hi : lo;
      const zi = z[i] as number;
      const p = 1 / (1 + Math.exp(-(a * zi + b)));
      const d = p - t;
      const w = p * (1 - p);
      g0 += d * zi;
      g1 += d;
      h00 += w * zi * zi;
      h01 += w * zi;
      h11 += w;
    }
    const det = h00 * h11 - h01 * h01;
    if (!(Math.abs(det) > 0)) break;
    const da = (h11 * g0 - h01 * g1) / det;
    const db = (h00 * g1 - h01 * g0) / det;
    a -= da;
    b -= db;
    if (Math.abs(da) < 1e-10 && Math.abs(db) < 1e-10) break;
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
  if (method === 'auto') return fitCalibration(chooseCalibration(probs, labels).method, probs, labels);
  return { method: 'none' };
}

function logLoss(c: Calibration, probs: ArrayLike<number>, labels: ArrayLike<number>, rows: readonly number[]): number {
  let s = 0;
  for (const i of rows) {
    const q = Math.min(Math.max(calibrate(c, probs[i] as number), 1e-15), 1 - 1e-15);
    s -= (labels[i] as number) === 1 ? Math.log(q) : Math.log(1 - q);
  }
  return s / rows.length;
}

/**
 * Isotonic or Platt, by 2-fold cross-fitted log loss (rows alternate between the folds, so both span the same
 * time): each method is fitted on one fold and scored on the other, both ways. Isotonic's steps follow any monotone
 * shape but over-fit a few thousand rows (and then overstate how well the scores separate); Platt's two parameters
 * do not. Ties and folds without both classes keep isotonic.
 */
export function chooseCalibration(
  probs: ArrayLike<number>,
  labels: ArrayLike<number>,
): { method: 'isotonic' | 'platt'; crossFittedLogLoss: { isotonic: number; platt: number } } {
  const folds: [number[], number[]] = [[], []];
  for (let i = 0; i < probs.length; i++) folds[i % 2]?.push(i);
  const bothClasses = (rows: readonly number[]) => {
    let pos = 0;
    for (const i of rows) pos += labels[i] as number;
    return pos > 0 && pos < rows.length;
  };
  if (!folds.every(bothClasses)) return { method: 'isotonic', crossFittedLogLoss: { isotonic: NaN, platt: NaN } };
  const pick = (xs: ArrayLike<number>, rows: readonly number[]) => Float64Array.from(rows, (i) => xs[i] as number);
  const score = (method: 'isotonic' | 'platt'): number => {
    let total = 0;
    for (const [fit, held] of [folds, [folds[1], folds[0]]] as [number[], number[]][]) {
      const c = fitCalibration(method, pick(probs, fit), pick(labels, fit));
      total += logLoss(c, probs, labels, held) * held.length;
    }
    return total / probs.length;
  };
  const isotonic = score('isotonic');
  const platt = score('platt');
  return { method: platt < isotonic ? 'platt' : 'isotonic', crossFittedLogLoss: { isotonic, platt } };
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
