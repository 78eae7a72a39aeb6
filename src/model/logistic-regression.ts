import { InvalidInputError } from '../core/errors.js';
import type { LinearModelParams } from './artifact.js';
import type { BinMapper } from './binning.js';
import type { ModelMatrix } from './model-matrix.js';

export interface LogisticParams {
  /** L2 penalty on the standardized weights (not on the intercept). */
  readonly l2: number;
  readonly maxIterations: number;
  /** Categorical columns get one indicator per code for at most this many most frequent codes. */
  readonly maxIndicators: number;
}

export function defaultLogisticParams(): LogisticParams {
  return { l2: 1, maxIterations: 50, maxIndicators: 20 };
}

/**
 * Logistic regression on standardized numeric columns (missing -> mean) and indicators for frequent categories,
 * L2-penalised, fitted by Newton's method (IRLS). `bins` supplies the category ranking (from `fitBins`).
 */
export function trainLogisticRegression(
  m: ModelMatrix,
  labels: ArrayLike<number>,
  bins: BinMapper,
  params: Partial<LogisticParams> = {},
  weights?: ArrayLike<number>,
): LinearModelParams {
  const p = { ...defaultLogisticParams(), ...params };
  const n = m.rows;
  if (labels.length !== n) throw new InvalidInputError(`labels has ${labels.length} values, matrix has ${n} rows`);
  const inputs: Array<LinearModelParams['inputs'][number]> = [];
  bins.features.forEach((fb, c) => {
    const col = m.values.subarray(c * n, (c + 1) * n);
    if (fb.kind === 'categorical') {
      for (const code of Array.from(fb.categories).slice(0, p.maxIndicators))
        inputs.push({ column: c, kind: 'indicator', code });
      return;
    }
    let s = 0;
    let k = 0;
    for (let i = 0; i < n; i++) {
      const v = col[i] as number;
      if (!Number.isNaN(v)) {
        s += v;
        k++;
      }
    }
    const mean = k > 0 ? s / k : 0;
    let ss = 0;
    for (let i = 0; i < n; i++) {
      const v = col[i] as number;
      if (!Number.isNaN(v)) ss += (v - mean) * (v - mean);
    }
    const std = k > 1 ? Math.sqrt(ss / (k - 1)) : 0;
    inputs.push({ column: c, kind: 'numeric', mean, std: std > 0 ? std : 1 });
  });
  const d = inputs.length + 1; // + intercept (last)
  const x = new Float64Array(d);
  const beta = new Float64Array(d);
  const grad = new Float64Array(d);
  const hess = new Float64Array(d * d);
  for (let iter = 0; iter < p.maxIterations; iter++) {
    grad.fill(0);
    hess.fill(0);
    for (let r = 0; r < n; r++) {
      expandRow(inputs, m.values, n, r, x);
      let z = 0;
      for (let j = 0; j < d; j++) z += (beta[j] as number) * (x[j] as number);
      const pr = 1 / (1 + Math.exp(-z));
      const w = weights ? (weights[r] as number) : 1;
      const g = w * (pr - (labels[r] as number));
      const h = w * pr * (1 - pr);
      for (let j = 0; j < d; j++) {
        const xj = x[j] as number;
        if (xj === 0) continue;
        grad[j] = (grad[j] as number) + g * xj;
        for (let k = 0; k <= j; k++) hess[j * d + k] = (hess[j * d + k] as number) + h * xj * (x[k] as number);
      }
    }
    for (let j = 0; j < d - 1; j++) {
      grad[j] = (grad[j] as number) + p.l2 * (beta[j] as number);
      hess[j * d + j] = (hess[j * d + j] as number) + p.l2;
    }
    hess[(d - 1) * d + (d - 1)] = (hess[(d - 1) * d + (d - 1)] as number) + 1e-9;
    for (let j = 0; j < d; j++) for (let k = 0; k < j; k++) hess[k * d + j] = hess[j * d + k] as number;
    const step = solveSymmetric(hess, grad, d);
    let maxStep = 0;
    for (let j = 0; j < d; j++) {
      beta[j] = (beta[j] as number) - (step[j] as number);
      maxStep = Math.max(maxStep, Math.abs(step[j] as number));
    }
    if (maxStep < 1e-8) break;
  }
  return { weights: Array.from(beta.subarray(0, d - 1)), intercept: beta[d - 1] as number, inputs };
}

/** Fills x (inputs then a trailing 1 for the intercept) for row r of a column-major matrix with `rows` rows. */
function expandRow(
  inputs: LinearModelParams['inputs'],
  values: ArrayLike<number>,
  rows: number,
  r: number,
  x: Float64Array,
): void {
  for (let j = 0; j < inputs.length; j++) {
    const inp = inputs[j] as LinearModelParams['inputs'][number];
    const v = values[inp.column * rows + r] as number;
    if (inp.kind === 'numeric') x[j] = !Number.isNaN(v) ? (v - inp.mean) / inp.std : 0;
    else x[j] = v === inp.code ? 1 : 0;
  }
  x[inputs.length] = 1;
}

/** Cholesky solve of A s = b (A symmetric positive definite, row-major d x d). */
function solveSymmetric(a: Float64Array, b: Float64Array, d: number): Float64Array {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j] as number;
      for (let k = 0; k < j; k++) s -= (l[i * d + k] as number) * (l[j * d + k] as number);
      if (i === j) l[i * d + i] = Math.sqrt(Math.max(s, 1e-12));
      else l[i * d + j] = s / (l[j * d + j] as number);
    }
  }
  const y = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = b[i] as number;
    for (let k = 0; k < i; k++) s -= (l[i * d + k] as number) * (y[k] as number);
    y[i] = s / (l[i * d + i] as number);
  }
  const out = new Float64Array(d);
  for (let i = d - 1; i >= 0; i--) {
    let s = y[i] as number;
    for (let k = i + 1; k < d; k++) s -= (l[k * d + i] as number) * (out[k] as number);
    out[i] = s / (l[i * d + i] as number);
  }
  return out;
}

/** Scores a linear model: margins for a column-major matrix, or one row (rows = 1, r = 0). */
export class LinearScorer {
  readonly numFeatures: number;
  readonly #params: LinearModelParams;

  constructor(params: LinearModelParams, numFeatures: number) {
    this.#params = params;
    this.numFeatures = numFeatures;
  }

  marginAt(values: ArrayLike<number>, rows: number, r: number): number {
    const { inputs, weights } = this.#params;
    let z = this.#params.intercept;
    for (let j = 0; j < inputs.length; j++) {
      const inp = inputs[j] as LinearModelParams['inputs'][number];
      const v = values[inp.column * rows + r] as number;
      if (inp.kind === 'numeric') {
        if (!Number.isNaN(v)) z += (weights[j] as number) * ((v - inp.mean) / inp.std);
      } else if (v === inp.code) z += weights[j] as number;
    }
    return z;
  }
}
