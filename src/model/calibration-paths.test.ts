import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../core/index.js';
import {
  CALIBRATION_METHODS,
  type Calibration,
  type CalibrationMethod,
  calibrate,
  chooseCalibration,
  fitCalibration,
  fitGuardedCalibration,
  fitIsotonic,
  fitPlatt,
  probabilitiesFromMargins,
} from './calibration.js';
import { logLoss, rocAuc } from './metrics.js';

function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  };
}

const sigmoid = (s: number) => 1 / (1 + Math.exp(-s));
const logit = (p: number) => Math.log(p / (1 - p));

/** Rows whose true probability is `truth(p)` for a raw score p uniform on [lo, hi]. */
function sample(seed: number, n: number, truth: (p: number) => number, lo = 0.02, hi = 0.98) {
  const rand = lcg(seed);
  const probs = new Float64Array(n);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    probs[i] = lo + (hi - lo) * rand();
    labels[i] = rand() < truth(probs[i] as number) ? 1 : 0;
  }
  return { probs, labels };
}

/** The gradient of Platt's objective sum(log(1 + e^s) - t s), s = a logit(p) + b, with his smoothed targets. */
function plattGradient(probs: ArrayLike<number>, labels: ArrayLike<number>, a: number, b: number, smooth = true) {
  let pos = 0;
  for (let i = 0; i < labels.length; i++) pos += labels[i] as number;
  const neg = labels.length - pos;
  let ga = 0;
  let gb = 0;
  for (let i = 0; i < probs.length; i++) {
    const z = logit(probs[i] as number);
    const t = smooth ? (labels[i] === 1 ? (pos + 1) / (pos + 2) : 1 / (neg + 2)) : (labels[i] as number);
    const d = sigmoid(a * z + b) - t;
    ga += d * z;
    gb += d;
  }
  return { ga, gb };
}

describe('fitCalibration dispatches each method', () => {
  const { probs, labels } = sample(1, 400, (p) => sigmoid(2 * logit(p) - 0.5));

  it('none is the identity map; platt and isotonic are their fitters; auto is the chosen method fitted on all rows', () => {
    expect(CALIBRATION_METHODS).toEqual(['none', 'isotonic', 'platt', 'auto']);
    expect(fitCalibration('none', probs, labels)).toEqual({ method: 'none' });
    expect(fitCalibration('platt', probs, labels)).toEqual(fitPlatt(probs, labels));
    expect(fitCalibration('isotonic', probs, labels)).toEqual(fitIsotonic(probs, labels));
    const chosen = chooseCalibration(probs, labels).method;
    expect(chosen).toBe('platt');
    expect(fitCalibration('auto', probs, labels)).toEqual(fitPlatt(probs, labels));
  });
});

describe('Platt scaling: smoothed targets, the stationary point, the map', () => {
  it('returns a stationary point of the objective with smoothed targets, not with the raw labels', () => {
    for (const seed of [2, 3]) {
      const { probs, labels } = sample(seed, 800, (p) => sigmoid(1.5 * logit(p) + 0.3));
      const cal = fitPlatt(probs, labels);
      if (cal.method !== 'platt') throw new Error('expected platt');
      const g = plattGradient(probs, labels, cal.a, cal.b);
      expect(Math.abs(g.ga)).toBeLessThan(1e-8);
      expect(Math.abs(g.gb)).toBeLessThan(1e-8);
      // with 0/1 targets the optimum is elsewhere: the smoothing is what is fitted
      const raw = plattGradient(probs, labels, cal.a, cal.b, false);
      expect(Math.abs(raw.ga) + Math.abs(raw.gb)).toBeGreaterThan(1e-4);
    }
  });

  it('one positive (or one negative) among many: still a finite stationary point', () => {
    const probs = [0.05, 0.1, 0.15, 0.2, 0.3, 0.35, 0.5, 0.6];
    for (const labels of [
      [0, 0, 0, 0, 0, 1, 0, 0],
      [1, 1, 0, 1, 1, 1, 1, 1],
    ]) {
      const cal = fitPlatt(probs, labels);
      if (cal.method !== 'platt') throw new Error('expected platt');
      expect(Number.isFinite(cal.a) && Number.isFinite(cal.b)).toBe(true);
      const g = plattGradient(probs, labels, cal.a, cal.b);
      expect(Math.abs(g.ga) + Math.abs(g.gb)).toBeLessThan(1e-8);
    }
  });

  it('separable rows get a finite slope (the smoothing bounds it); a single class gets b from its smoothed rate', () => {
    const probs = [0.1, 0.2, 0.3, 0.7, 0.8, 0.9];
    const labels = [0, 0, 0, 1, 1, 1];
    const cal = fitPlatt(probs, labels);
    if (cal.method !== 'platt') throw new Error('expected platt');
    expect(Number.isFinite(cal.a) && cal.a > 0).toBe(true);
    const g = plattGradient(probs, labels, cal.a, cal.b);
    expect(Math.abs(g.ga) + Math.abs(g.gb)).toBeLessThan(1e-8);
    // targets (3 + 1) / (3 + 2) = 0.8 and 1 / (3 + 2) = 0.2 (unsmoothed, the slope would grow without bound)
    expect(calibrate(cal, 0.9)).toBeGreaterThan(0.8);
    expect(calibrate(cal, 0.9)).toBeLessThan(0.9);
    expect(calibrate(cal, 0.1)).toBeCloseTo(1 - calibrate(cal, 0.9), 9);
    expect(calibrate(cal, 0.5)).toBeCloseTo(0.5, 9);
    // all negatives: b alone matters, the smoothed target of 1 / (N- + 2) = 1 / 6 on constant scores
    expect(calibrate(fitPlatt([0.4, 0.4, 0.4, 0.4], [0, 0, 0, 0]), 0.4)).toBeCloseTo(1 / 6, 12);
    expect(calibrate(fitPlatt([0.4, 0.4, 0.4, 0.4], [1, 1, 1, 1]), 0.4)).toBeCloseTo(5 / 6, 12);
    // constant scores: a = 1, b = logit(mean target) - logit(score)
    const flat = fitPlatt([0.25, 0.25, 0.25], [1, 0, 0]);
    const tMean = (2 / 3 + 2 * (1 / 4)) / 3;
    expect(flat).toEqual({ method: 'platt', a: 1, b: expect.closeTo(logit(tMean) - logit(0.25), 12) });
  });

  it('the map is sigmoid(a logit(p) + b), with p clipped to [1e-15, 1 - 1e-15]', () => {
    const c: Calibration = { method: 'platt', a: 2, b: -0.5 };
    for (const p of [0.01, 0.3, 0.5, 0.77, 0.999]) expect(calibrate(c, p)).toBeCloseTo(sigmoid(2 * logit(p) - 0.5), 14);
    const id: Calibration = { method: 'platt', a: 1, b: 0 };
    expect(calibrate(id, 0.3)).toBeCloseTo(0.3, 15);
    expect(calibrate(id, 0) / 1e-15).toBeCloseTo(1, 6);
    expect(calibrate(id, -1) / 1e-15).toBeCloseTo(1, 6);
    // about 1 - 1e-15 (to the doubles' spacing near 1, 1.1e-16), not 1
    for (const p of [1, 2]) {
      expect(1 - calibrate(id, p)).toBeGreaterThan(0.8e-15);
      expect(1 - calibrate(id, p)).toBeLessThan(1.2e-15);
    }
  });

  it('empty or misaligned rows are refused, naming both lengths', () => {
    expect(() => fitPlatt([], [])).toThrow(InvalidInputError);
    expect(() => fitPlatt([], [])).toThrow('calibration needs matching, non-empty probs and labels (got 0 and 0)');
    expect(() => fitPlatt([0.2, 0.4], [1])).toThrow('(got 2 and 1)');
  });
});

describe('probabilitiesFromMargins', () => {
  const margins = () => Float64Array.from([0, 2, -3, 99]);
  const sig = [0.5, sigmoid(2), sigmoid(-3)];

  it('turns the first `rows` margins into probabilities, in place, and leaves the rest', () => {
    const out = margins();
    expect(probabilitiesFromMargins(out, 3)).toBe(out);
    expect(Array.from(out)).toEqual([...sig, 99]);
    expect(Array.from(probabilitiesFromMargins(margins(), 3, { method: 'none' }))).toEqual([...sig, 99]);
  });

  it('then applies the calibration, the same as calibrate row by row', () => {
    const iso: Calibration = { method: 'isotonic', x: [0.1, 0.6], y: [0.2, 0.4] };
    const platt: Calibration = { method: 'platt', a: 0.5, b: 1 };
    for (const c of [iso, platt]) {
      const out = probabilitiesFromMargins(margins(), 3, c);
      expect(Array.from(out)).toEqual([...sig.map((p) => calibrate(c, p)), 99]);
    }
    expect(probabilitiesFromMargins(margins(), 3, iso)[0]).toBeCloseTo(0.36, 15);
  });
});

/** Cross-fitting as chooseCalibration documents it: alternate rows, fit on one fold, score the other, both ways. */
function crossFitted(method: 'none' | 'platt' | 'isotonic', probs: Float64Array, labels: Uint8Array) {
  const folds = [0, 1].map((f) => Array.from({ length: probs.length }, (_, i) => i).filter((i) => i % 2 === f));
  let loss = 0;
  let auc = 0;
  for (const [fit, held] of [
    [folds[0], folds[1]],
    [folds[1], folds[0]],
  ] as [number[], number[]][]) {
    const c = fitCalibration(
      method,
      fit.map((i) => probs[i] as number),
      fit.map((i) => labels[i] as number),
    );
    const p = held.map((i) => calibrate(c, probs[i] as number));
    const y = held.map((i) => labels[i] as number);
    loss += logLoss(y, p) * held.length;
    auc += rocAuc(y, p) * held.length;
  }
  return { logLoss: loss / probs.length, rocAuc: auc / probs.length };
}

describe('chooseCalibration', () => {
  it('reports each candidate cross-fitted over two alternating folds, weighted by their rows (odd row count)', () => {
    const { probs, labels } = sample(4, 601, (p) => sigmoid(2.5 * logit(p) + 1));
    const c = chooseCalibration(probs, labels);
    for (const m of ['none', 'platt', 'isotonic'] as const) {
      const want = crossFitted(m, probs, labels);
      expect(c.crossFittedLogLoss[m], m).toBeCloseTo(want.logLoss, 12);
      expect(c.crossFittedRocAuc[m], m).toBeCloseTo(want.rocAuc, 12);
    }
    expect(c.rankingLosers).toEqual([]);
    expect(c.method).toBe('platt');
  });

  it('a fold with one class only: none, every figure NaN, no losers', () => {
    // rows 1 and 3 (the second fold) are both negatives
    const c = chooseCalibration([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [1, 0, 0, 0, 1, 0]);
    expect(c).toEqual({
      method: 'none',
      crossFittedLogLoss: { none: Number.NaN, platt: Number.NaN, isotonic: Number.NaN },
      crossFittedRocAuc: { none: Number.NaN, platt: Number.NaN, isotonic: Number.NaN },
      rankingLosers: [],
    });
    // a fold of only positives is one class too
    expect(chooseCalibration([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0, 1, 1, 1, 0, 1]).crossFittedLogLoss).toEqual({
      none: Number.NaN,
      platt: Number.NaN,
      isotonic: Number.NaN,
    });
    // both folds with both classes can be cross-fitted
    expect(chooseCalibration([0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [0, 0, 1, 1, 1, 0]).crossFittedLogLoss.none).not.toBeNaN();
  });

  it('a tie in log loss goes to the simpler candidate', () => {
    // both folds are copies of [0, 0.5, 0.5, 1] with labels [0, 0, 1, 1]: isotonic fits exactly the raw scores, so
    // it ties with none (and Platt's smoothed targets do worse). 8 copies: on 8 rows alone a raw AUC of 0.875 is not
    // 2 null standard errors above chance, which leaves isotonic out before any tie
    const p = Array.from({ length: 8 }, () => [0, 0, 0.5, 0.5, 0.5, 0.5, 1, 1]).flat();
    const y = Array.from({ length: 8 }, () => [0, 0, 0, 0, 1, 1, 1, 1]).flat();
    expect(chooseCalibration(p.slice(0, 8), y.slice(0, 8)).rankingLosers).toEqual(['isotonic']);
    const c = chooseCalibration(p, y);
    expect(c.crossFittedLogLoss.isotonic).toBe(c.crossFittedLogLoss.none);
    expect(c.crossFittedLogLoss.platt).toBeGreaterThan(c.crossFittedLogLoss.none);
    expect(c.rankingLosers).toEqual([]);
    expect(c.method).toBe('none');
  });

  it('isotonic wins a step the sigmoid cannot follow, on a few thousand rows', () => {
    const { probs, labels } = sample(6, 4000, (p) => (p < 0.5 ? 0.1 : 0.8));
    const c = chooseCalibration(probs, labels);
    expect(c.crossFittedLogLoss.isotonic).toBeLessThan(c.crossFittedLogLoss.platt);
    expect(c.crossFittedLogLoss.isotonic).toBeLessThan(c.crossFittedLogLoss.none);
    expect(c.rankingLosers).toEqual([]);
    expect(c.method).toBe('isotonic');
    const g = fitGuardedCalibration('auto', probs, labels);
    expect(g.choice).toEqual(c);
    expect(g.fitted.method).toBe('isotonic');
    expect(g.calibration).toEqual(fitIsotonic(probs, labels));
    expect(g.fittedCalibration).toEqual(g.calibration);
    expect(g.warnings).toEqual([]);
  });
});

describe('fitGuardedCalibration', () => {
  const { probs, labels } = sample(7, 500, (p) => sigmoid(2 * logit(p) - 0.3));
  const before = { logLoss: logLoss(labels, probs), rocAuc: rocAuc(labels, probs) };

  it('none: nothing fitted, nothing to warn about, the raw figures reported as fitted', () => {
    expect(fitGuardedCalibration('none', probs, labels)).toEqual({
      requested: 'none',
      calibration: { method: 'none' },
      choice: null,
      before,
      fitted: { method: 'none', ...before },
      fittedCalibration: { method: 'none' },
      warnings: [],
    });
  });

  it('rows of one label value: none, saying why, whichever method was asked for', () => {
    for (const [method, y] of [
      ['platt', [0, 0, 0]],
      ['isotonic', [1, 1, 1]],
      ['auto', [0, 0, 0]],
    ] as [CalibrationMethod, number[]][]) {
      const g = fitGuardedCalibration(method, [0.2, 0.4, 0.5], y);
      expect(g.requested).toBe(method);
      expect(g.calibration).toEqual({ method: 'none' });
      expect(g.fittedCalibration).toEqual({ method: 'none' });
      expect(g.choice).toBeNull();
      expect(g.fitted.method).toBe('none');
      expect(g.fitted.logLoss).toBe(g.before.logLoss);
      expect(g.warnings).toEqual([`calibration ${method} skipped: its 3 rows have only one label value; kept none`]);
    }
  });

  it('platt and isotonic asked for explicitly are fitted and kept when they help', () => {
    for (const method of ['platt', 'isotonic'] as const) {
      const g = fitGuardedCalibration(method, probs, labels);
      const cal = fitCalibration(method, probs, labels);
      expect(g.requested).toBe(method);
      expect(g.choice).toBeNull();
      expect(g.calibration).toEqual(cal);
      expect(g.fittedCalibration).toEqual(cal);
      const after = Array.from(probs, (p) => calibrate(cal, p));
      expect(g.before).toEqual(before);
      expect(g.fitted).toEqual({ method, logLoss: logLoss(labels, after), rocAuc: rocAuc(labels, after) });
      expect(g.fitted.logLoss).toBeLessThan(before.logLoss);
      expect(g.warnings).toEqual([]);
    }
  });

  it('a map no worse than none is kept: equal log loss is enough', () => {
    // isotonic on scores that are already its own fit: the same probabilities, the same log loss and AUC
    const g = fitGuardedCalibration('isotonic', [0, 0.5, 0.5, 1], [0, 0, 1, 1]);
    expect(g.fitted.logLoss).toBe(g.before.logLoss);
    expect(g.fitted.rocAuc).toBe(g.before.rocAuc);
    expect(g.calibration).toEqual({ method: 'isotonic', x: [0, 0.5, 1], y: [0, 0.5, 1] });
    expect(g.warnings).toEqual([]);
  });

  it('a map that ties up the ranking is dropped with the ROC AUC warning, even when it lowers log loss', () => {
    // half the rows score below the logit clip of 1e-15 (a model whose margins underflow) yet still rank: Platt
    // maps them all to one value
    const rand = lcg(21);
    const n = 1000;
    const p = new Float64Array(n);
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      if (rand() < 0.5) {
        p[i] = 0.05 + 0.9 * rand();
        y[i] = rand() < (p[i] as number) ? 1 : 0;
      } else {
        const u = rand();
        p[i] = 10 ** (-16 - 14 * u);
        y[i] = u < 0.05 ? 1 : 0;
      }
    }
    const g = fitGuardedCalibration('platt', p, y);
    const cal = fitPlatt(p, y);
    if (cal.method !== 'platt') throw new Error('expected platt');
    expect(cal.a).toBeGreaterThan(0);
    expect(g.fittedCalibration).toEqual(cal);
    expect(g.calibration).toEqual({ method: 'none' });
    expect(g.fitted.logLoss).toBeLessThan(g.before.logLoss);
    expect(g.fitted.rocAuc).toBeLessThan(g.before.rocAuc - 0.005);
    const f = (v: number) => v.toFixed(4);
    expect(g.warnings).toEqual([
      `platt calibration lowered ROC AUC on its ${n} rows from ${f(g.before.rocAuc)} to ${f(g.fitted.rocAuc)}; kept none`,
    ]);
  });

  it('a slope of exactly 0 (scores that carry no ranking) is refused like a negative one, explicit or auto', () => {
    // in each fold and overall, the same two scores with one positive and one negative each: the fit stays at its
    // start, a = 0 and b = log(1) = 0, a flat 0.5 that lowers log loss (0.916 -> 0.693) but is no calibration
    const p = [0.2, 0.2, 0.8, 0.8, 0.2, 0.2, 0.8, 0.8];
    const y = [1, 1, 1, 1, 0, 0, 0, 0];
    expect(fitPlatt(p, y)).toEqual({ method: 'platt', a: 0, b: 0 });
    const g = fitGuardedCalibration('platt', p, y);
    expect(g.fitted.logLoss).toBeLessThan(g.before.logLoss);
    expect(g.calibration).toEqual({ method: 'none' });
    expect(g.warnings).toEqual([
      'platt calibration came out with slope 0.0000 on its 8 rows (the model ranks them backwards: drift or leakage?); kept none',
    ]);
    const c = chooseCalibration(p, y);
    // and isotonic is out too: the raw scores rank nothing (AUC 0.5), there is no ranking for it to keep
    expect(c.rankingLosers).toEqual(['platt', 'isotonic']);
    expect(c.crossFittedLogLoss.platt).toBeLessThan(c.crossFittedLogLoss.none);
  });

  it('a reversed ranking is named by its slope, before log loss is looked at', () => {
    const { probs: p, labels: y } = sample(8, 600, (q) => 0.9 - 0.8 * q);
    const g = fitGuardedCalibration('platt', p, y);
    const cal = fitPlatt(p, y);
    if (cal.method !== 'platt') throw new Error('expected platt');
    expect(cal.a).toBeLessThan(0);
    // the flipped map does lower log loss here: only the slope rule drops it
    expect(g.fitted.logLoss).toBeLessThan(g.before.logLoss);
    expect(g.calibration).toEqual({ method: 'none' });
    expect(g.warnings).toEqual([
      `platt calibration came out with slope ${cal.a.toFixed(4)} on its 600 rows (the model ranks them backwards: drift or leakage?); kept none`,
    ]);
  });
});
