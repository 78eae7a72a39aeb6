/**
 * CBPE (confidence-based performance estimation): with calibrated scores s_i = P(y_i = 1), the expected confusion
 * matrix needs no labels. Estimated ROC AUC is the weighted Mann-Whitney statistic with every row counted as a
 * positive of weight s_i and a negative of weight 1 - s_i (ties, including a row with itself, count 1/2).
 * Standard errors come from simulating labels y_i ~ Bernoulli(s_i) (seeded), so the +-3 SE band is where the
 * realized metric falls when the scores stay calibrated; realized AUC or positive rate outside the band flags concept
 * drift (the positive rate catches a relation that changed in one segment long before the AUC moves).
 */
import { InvalidInputError, Rng } from '../core/index.js';

export interface PerformanceEstimateOptions {
  /** Decision threshold for precision and recall (predicted positive when score >= threshold). */
  readonly threshold: number;
  /** Simulated label draws for the standard errors. */
  readonly replicates: number;
  readonly seed: number;
}

export function defaultPerformanceEstimateOptions(): PerformanceEstimateOptions {
  return { threshold: 0.5, replicates: 200, seed: 1 };
}

export interface MetricEstimate {
  readonly estimated: number;
  readonly standardError: number;
  readonly lower: number;
  readonly upper: number;
  /** Present when labels were given. */
  readonly realized?: number;
  /** Realized outside estimated +-3 SE. */
  readonly alert?: boolean;
}

export interface PerformanceEstimate {
  readonly rows: number;
  /** Rows whose label had matured (when labels were given). */
  readonly labeledRows?: number;
  readonly threshold: number;
  readonly rocAuc: MetricEstimate;
  readonly precision: MetricEstimate;
  readonly recall: MetricEstimate;
  /** Share of positives: estimated as the mean score (calibration-in-the-large). */
  readonly positiveRate: MetricEstimate;
  /** Realized ROC AUC or positive rate outside its band. */
  readonly conceptDrift?: boolean;
  /** The metrics whose realized value fell outside the band and so raised `conceptDrift` (empty when none). */
  readonly conceptDriftMetrics?: readonly ConceptDriftMetric[];
}

/** The metrics that decide concept drift (precision and recall bands are reported but depend on the threshold). */
export const CONCEPT_DRIFT_METRICS = ['rocAuc', 'positiveRate'] as const;
export type ConceptDriftMetric = (typeof CONCEPT_DRIFT_METRICS)[number];

interface Ranked {
  readonly scores: Float64Array;
  /** Mid-ranks (1-based) of the sorted scores. */
  readonly midRanks: Float64Array;
  /** Index of the first element of each element's tie group, and the group's end (exclusive). */
  readonly groupStart: Uint32Array;
  readonly groupEnd: Uint32Array;
}

function rank(scores: Float64Array): Ranked {
  const s = scores.slice().sort();
  const n = s.length;
  const midRanks = new Float64Array(n);
  const groupStart = new Uint32Array(n);
  const groupEnd = new Uint32Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j < n && s[j] === s[i]) j++;
    const mr = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) {
      midRanks[k] = mr;
      groupStart[k] = i;
      groupEnd[k] = j;
    }
    i = j;
  }
  return { scores: s, midRanks, groupStart, groupEnd };
}

/** Expected ROC AUC of calibrated scores (sorted ascending in `r`). */
function expectedAuc(r: Ranked): number {
  const s = r.scores;
  const n = s.length;
  let negBelow = 0;
  let num = 0;
  let pos = 0;
  let neg = 0;
  let i = 0;
  while (i < n) {
    const end = r.groupEnd[i] as number;
    let groupPos = 0;
    let groupNeg = 0;
    for (let k = i; k < end; k++) {
      groupPos += s[k] as number;
      groupNeg += 1 - (s[k] as number);
    }
    num += groupPos * (negBelow + 0.5 * groupNeg);
    negBelow += groupNeg;
    pos += groupPos;
    neg += groupNeg;
    i = end;
  }
  return pos > 0 && neg > 0 ? num / (pos * neg) : Number.NaN;
}

/** Realized AUC (Mann-Whitney with mid-ranks) of labels aligned with the sorted scores. */
function realizedAuc(r: Ranked, labels: Uint8Array): number {
  let p = 0;
  let rankSum = 0;
  for (let k = 0; k < labels.length; k++) {
    if (labels[k]) {
      p++;
      rankSum += r.midRanks[k] as number;
    }
  }
  const nNeg = labels.length - p;
  return p > 0 && nNeg > 0 ? (rankSum - (p * (p + 1)) / 2) / (p * nNeg) : Number.NaN;
}

function realizedPrecisionRecall(scores: Float64Array, labels: Uint8Array, t: number): [number, number] {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let k = 0; k < scores.length; k++) {
    const pred = (scores[k] as number) >= t;
    if (labels[k]) pred ? tp++ : fn++;
    else if (pred) fp++;
  }
  return [tp + fp > 0 ? tp / (tp + fp) : Number.NaN, tp + fn > 0 ? tp / (tp + fn) : Number.NaN];
}

function std(xs: number[]): number {
  const ok = xs.filter((x) => Number.isFinite(x));
  if (ok.length < 2) return Number.NaN;
  const m = ok.reduce((a, b) => a + b, 0) / ok.length;
  return Math.sqrt(ok.reduce((a, b) => a + (b - m) ** 2, 0) / (ok.length - 1));
}

function metric(estimated: number, se: number, realized?: number): MetricEstimate {
  const base = { estimated, standardError: se, lower: estimated - 3 * se, upper: estimated + 3 * se };
  if (realized === undefined) return base;
  return { ...base, realized, alert: Number.isFinite(realized) && (realized < base.lower || realized > base.upper) };
}

function conceptDriftOf(m: Record<ConceptDriftMetric, MetricEstimate>): {
  conceptDrift: boolean;
  conceptDriftMetrics: ConceptDriftMetric[];
} {
  const fired = CONCEPT_DRIFT_METRICS.filter((k) => m[k].alert === true);
  return { conceptDrift: fired.length > 0, conceptDriftMetrics: fired };
}

/**
 * CBPE estimates for `scores`; with `labels` (1/0, NaN for not matured yet) also the realized metrics on the
 * matured rows, compared with the estimate on those same rows.
 */
export function estimatePerformance(
  scores: Float64Array | Float32Array,
  labels?: Float64Array | Float32Array,
  options: Partial<PerformanceEstimateOptions> = {},
): PerformanceEstimate {
  const o = { ...defaultPerformanceEstimateOptions(), ...options };
  let keep: number[] = [];
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    if (Number.isNaN(s)) continue;
    if (s < 0 || s > 1)
      throw new InvalidInputError(`scores must be calibrated probabilities in [0, 1]; row ${i} has ${s}`);
    if (labels && Number.isNaN(labels[i] as number)) continue;
    keep.push(i);
  }
  if (keep.length === 0)
    throw new InvalidInputError('no rows with a score (and a matured label) to estimate performance on');
  const s = Float64Array.from(keep, (i) => scores[i] as number);
  let y: Float64Array | undefined;
  if (labels) {
    y = Float64Array.from(keep, (i) => labels[i] as number);
    for (const v of y)
      if (v !== 0 && v !== 1) throw new InvalidInputError(`labels must be 0 or 1 (empty when not matured); got ${v}`);
  }
  keep = [];
  const r = rank(s);
  const t = o.threshold;
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const v of s) {
    if (v >= t) {
      tp += v;
      fp += 1 - v;
    } else fn += v;
  }
  const estAuc = expectedAuc(r);
  const estPrecision = tp + fp > 0 ? tp / (tp + fp) : Number.NaN;
  const estRecall = tp + fn > 0 ? tp / (tp + fn) : Number.NaN;
  // Simulated label draws, in sorted-score order so the ranks are reused.
  const rng = new Rng(o.seed);
  const aucs: number[] = [];
  const precs: number[] = [];
  const recs: number[] = [];
  const rates: number[] = [];
  const sim = new Uint8Array(s.length);
  for (let b = 0; b < o.replicates; b++) {
    let positives = 0;
    for (let k = 0; k < sim.length; k++) {
      const y = rng.next() < (r.scores[k] as number) ? 1 : 0;
      sim[k] = y;
      positives += y;
    }
    rates.push(positives / sim.length);
    aucs.push(realizedAuc(r, sim));
    const [p, rc] = realizedPrecisionRecall(r.scores, sim, t);
    precs.push(p);
    recs.push(rc);
  }
  let scoreSum = 0;
  for (const v of s) scoreSum += v;
  let realized: [number, number, number, number] | undefined;
  if (y) {
    // Labels aligned with the sorted scores: sort indices by score.
    const order = Uint32Array.from(s.keys()).sort((a, b) => (s[a] as number) - (s[b] as number));
    const ySorted = Uint8Array.from(order, (i) => y[i] as number);
    const [p, rc] = realizedPrecisionRecall(r.scores, ySorted, t);
    let positives = 0;
    for (const v of ySorted) positives += v;
    realized = [realizedAuc(r, ySorted), p, rc, positives / ySorted.length];
  }
  const rocAuc = metric(estAuc, std(aucs), realized?.[0]);
  const precision = metric(estPrecision, std(precs), realized?.[1]);
  const recall = metric(estRecall, std(recs), realized?.[2]);
  const positiveRate = metric(scoreSum / s.length, std(rates), realized?.[3]);
  return {
    rows: scores.length,
    ...(y ? { labeledRows: s.length } : {}),
    threshold: t,
    rocAuc,
    precision,
    recall,
    positiveRate,
    ...(y ? conceptDriftOf({ rocAuc, positiveRate }) : {}),
  };
}
