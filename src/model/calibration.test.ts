import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CALIBRATION_AUC_TOLERANCE,
  calibrate,
  chooseCalibration,
  distinctValues,
  fitCalibration,
  fitGuardedCalibration,
  fitPlatt,
  ISOTONIC_MIN_RANKING_Z,
} from './calibration.js';
import { logLoss, rocAuc } from './metrics.js';

interface PlattCase {
  name: string;
  probs: number[];
  labels: number[];
  a: number;
  b: number;
  objective: number;
}
const fixtures = JSON.parse(readFileSync(new URL('./fixtures/sklearn-platt.json', import.meta.url), 'utf8')) as {
  cases: PlattCase[];
};

const logit = (p: number) => {
  const q = Math.min(Math.max(p, 1e-15), 1 - 1e-15);
  return Math.log(q / (1 - q));
};

/** Platt's objective with his smoothed targets, computed independently of calibration.ts. */
function objective(c: PlattCase, a: number, b: number): number {
  const pos = c.labels.filter((y) => y === 1).length;
  const neg = c.labels.length - pos;
  let f = 0;
  c.probs.forEach((p, i) => {
    const t = c.labels[i] === 1 ? (pos + 1) / (pos + 2) : 1 / (neg + 2);
    const s = a * logit(p) + b;
    f += Math.max(s, 0) + Math.log1p(Math.exp(-Math.abs(s))) - t * s;
  });
  return f;
}

function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  };
}

describe('Platt scaling against scikit-learn', () => {
  for (const c of fixtures.cases) {
    it(`${c.name}: same fit as sklearn.calibration._sigmoid_calibration`, () => {
      const cal = fitPlatt(c.probs, c.labels);
      if (cal.method !== 'platt') throw new Error('expected platt');
      // at least as low an objective as scikit-learn's BFGS (to 1e-7 relative), and the same map
      expect(objective(c, cal.a, cal.b)).toBeLessThanOrEqual(c.objective * (1 + 1e-7));
      expect(objective(c, cal.a, cal.b)).toBeCloseTo(c.objective, 3);
      expect(cal.a).toBeCloseTo(c.a, 3);
      expect(cal.b).toBeCloseTo(c.b, 3);
      for (let i = 0; i < c.probs.length; i += 7) {
        const ref = 1 / (1 + Math.exp(-(c.a * logit(c.probs[i] as number) + c.b)));
        expect(Math.abs(calibrate(cal, c.probs[i] as number) - ref)).toBeLessThan(1e-4);
      }
    });
  }

  it('the over-confident drifted case that diverged stays finite and improves log loss', () => {
    const c = fixtures.cases.find((x) => x.name === 'overconfident-drifted') as PlattCase;
    const cal = fitPlatt(c.probs, c.labels);
    if (cal.method !== 'platt') throw new Error('expected platt');
    expect(cal.a).toBeGreaterThan(0);
    expect(Math.abs(cal.a)).toBeLessThan(1);
    const after = c.probs.map((p) => calibrate(cal, p));
    expect(logLoss(c.labels, after)).toBeLessThan(0.6);
    expect(logLoss(c.labels, c.probs)).toBeGreaterThan(5);
    // monotone: only the saturated scores' rounding ties move AUC
    expect(Math.abs(rocAuc(c.labels, after) - rocAuc(c.labels, c.probs))).toBeLessThan(1e-3);
  });

  it('constant scores move to the smoothed positive rate; a single row works', () => {
    const probs = new Float64Array(100).fill(0.3);
    const labels = Uint8Array.from({ length: 100 }, (_, i) => (i % 5 === 0 ? 1 : 0));
    const cal = fitPlatt(probs, labels);
    // mean smoothed target: (20 * 21/22 + 80 * 1/82) / 100
    expect(calibrate(cal, 0.3)).toBeCloseTo((20 * (21 / 22) + 80 / 82) / 100, 12);
    const one = fitPlatt([0.9], [1]);
    expect(calibrate(one, 0.9)).toBeCloseTo(2 / 3, 12);
    const zero = fitPlatt([0.9], [0]);
    expect(calibrate(zero, 0.9)).toBeCloseTo(1 / 3, 12);
  });

  it('saturated scores of 0 and 1 with noisy labels give a finite, positive slope', () => {
    const rand = lcg(3);
    const probs = Float64Array.from({ length: 4000 }, () => (rand() < 0.5 ? 0 : 1));
    const labels = Uint8Array.from(probs, (p) => (rand() < (p === 1 ? 0.7 : 0.2) ? 1 : 0));
    const cal = fitPlatt(probs, labels);
    if (cal.method !== 'platt') throw new Error('expected platt');
    expect(Number.isFinite(cal.a) && Number.isFinite(cal.b)).toBe(true);
    expect(cal.a).toBeGreaterThan(0);
    expect(calibrate(cal, 1)).toBeGreaterThan(0.6);
    expect(calibrate(cal, 0)).toBeLessThan(0.3);
  });
});

describe('auto and the guard', () => {
  it('auto keeps Platt over isotonic when isotonic wins log loss but ties up the ranking', () => {
    // weak signal below 0.9, a jump above: isotonic fits the jump (lower log loss) but pools the weak part
    const rand = lcg(3);
    const n = 2000;
    const probs = new Float64Array(n);
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      probs[i] = rand();
      labels[i] = rand() < ((probs[i] as number) < 0.9 ? 0.02 + 0.1 * (probs[i] as number) : 0.95) ? 1 : 0;
    }
    const c = chooseCalibration(probs, labels);
    expect(c.crossFittedLogLoss.isotonic).toBeLessThan(c.crossFittedLogLoss.platt);
    expect(c.crossFittedRocAuc.isotonic).toBeLessThan(c.crossFittedRocAuc.none - CALIBRATION_AUC_TOLERANCE);
    expect(c.rankingLosers).toEqual(['isotonic']);
    expect(c.method).toBe('platt');
    const g = fitGuardedCalibration('auto', probs, labels);
    expect(g.calibration.method).toBe('platt');
    expect(g.warnings).toEqual([]);
  });

  it('auto keeps none when raw scores are already calibrated (600 rows: either map only over-fits)', () => {
    const rand = lcg(11);
    const n = 600;
    const probs = Float64Array.from({ length: n }, () => 0.05 + 0.9 * rand());
    const labels = Uint8Array.from(probs, (p) => (rand() < p ? 1 : 0));
    const c = chooseCalibration(probs, labels);
    expect(c.crossFittedLogLoss.none).toBeLessThan(c.crossFittedLogLoss.platt);
    expect(c.crossFittedLogLoss.none).toBeLessThan(c.crossFittedLogLoss.isotonic);
    expect(c.method).toBe('none');
    expect(fitCalibration('auto', probs, labels).method).toBe('none');
  });

  it('Platt that would reverse the ranking is never kept, explicit or auto', () => {
    const rand = lcg(5);
    const n = 2000;
    const probs = Float64Array.from({ length: n }, () => rand());
    const labels = Uint8Array.from(probs, (p) => (rand() < 0.9 - 0.8 * p ? 1 : 0));
    expect(chooseCalibration(probs, labels).rankingLosers).toContain('platt');
    const g = fitGuardedCalibration('platt', probs, labels);
    expect(g.fitted.method).toBe('platt');
    expect(g.calibration.method).toBe('none');
    expect(g.warnings[0]).toMatch(/slope -\d.*ranks them backwards.*kept none/);
  });

  it('auto keeps none when the raw score ranks no better than chance: isotonic would flatten it into ties', () => {
    // a weak backwards ranking (a drifted model): Platt's slope goes negative, isotonic pools nearly every row
    const rand = lcg(21);
    const n = 4000;
    const probs = Float64Array.from({ length: n }, () => rand());
    const labels = Uint8Array.from(probs, (p) => (rand() < 0.25 - 0.1 * p ? 1 : 0));
    const iso = fitCalibration('isotonic', probs, labels);
    expect(distinctValues(Float64Array.from(probs, (p) => calibrate(iso, p)))).toBeLessThan(20);
    const c = chooseCalibration(probs, labels);
    expect(c.crossFittedRocAuc.none).toBeLessThanOrEqual(0.5);
    // isotonic alone would pass the AUC rule (its ties score about 0.5) and win on log loss
    expect(c.crossFittedRocAuc.isotonic).toBeGreaterThanOrEqual(c.crossFittedRocAuc.none - CALIBRATION_AUC_TOLERANCE);
    expect(c.crossFittedLogLoss.isotonic).toBeLessThan(c.crossFittedLogLoss.none);
    expect(c.rankingLosers).toEqual(['platt', 'isotonic']);
    expect(c.method).toBe('none');
    expect(fitGuardedCalibration('auto', probs, labels).calibration).toEqual({ method: 'none' });
  });

  it('auto leaves isotonic out for a ranking within two null standard errors of chance, Platt stays eligible', () => {
    const rand = lcg(9);
    const n = 4000;
    const probs = Float64Array.from({ length: n }, () => rand());
    const labels = Uint8Array.from(probs, (p) => (rand() < 0.2 + 0.02 * p ? 1 : 0));
    let pos = 0;
    for (const y of labels) pos += y;
    const nullSe = Math.sqrt((n + 1) / (12 * pos * (n - pos)));
    const c = chooseCalibration(probs, labels);
    expect(c.crossFittedRocAuc.none).toBeGreaterThan(0.5);
    expect(c.crossFittedRocAuc.none).toBeLessThan(0.5 + ISOTONIC_MIN_RANKING_Z * nullSe);
    expect(c.rankingLosers).toEqual(['isotonic']);
    expect(c.method).toBe('platt');
  });

  it('a calibration worse than none on its own rows falls back to none with a warning', () => {
    // perfectly separated, saturated scores: raw log loss ~0, Platt's smoothed targets cost about 0.01
    const probs = Float64Array.from({ length: 200 }, (_, i) => (i % 2 === 1 ? 1 - 1e-17 : 1e-17));
    const labels = Uint8Array.from({ length: 200 }, (_, i) => i % 2);
    const g = fitGuardedCalibration('platt', probs, labels);
    expect(g.fitted.logLoss).toBeGreaterThan(g.before.logLoss);
    expect(g.calibration).toEqual({ method: 'none' });
    expect(g.warnings).toHaveLength(1);
    expect(g.warnings[0]).toMatch(
      /^platt calibration raised log loss on its 200 rows from 0\.0000 to 0\.0\d+; kept none$/,
    );
    // a good fit is kept, with no warning
    const rand = lcg(9);
    const p2 = Float64Array.from({ length: 1000 }, () => 0.2 + 0.2 * rand());
    const y2 = Uint8Array.from(p2, (p) => (rand() < 2 * p - 0.3 ? 1 : 0));
    const kept = fitGuardedCalibration('platt', p2, y2);
    expect(kept.calibration.method).toBe('platt');
    expect(kept.warnings).toEqual([]);
    expect(kept.fitted.logLoss).toBeLessThan(kept.before.logLoss);
  });

  it('none and one-class rows: no calibration, and one class says why', () => {
    const g = fitGuardedCalibration('none', [0.2, 0.4], [0, 1]);
    expect(g.calibration).toEqual({ method: 'none' });
    expect(g.warnings).toEqual([]);
    const one = fitGuardedCalibration('isotonic', [0.2, 0.4, 0.5], [0, 0, 0]);
    expect(one.calibration).toEqual({ method: 'none' });
    expect(one.warnings[0]).toMatch(/only one label value/);
    expect(calibrate({ method: 'none' }, 0.37)).toBe(0.37);
  });

  it('distinctValues counts ties', () => {
    expect(distinctValues([0.1, 0.2, 0.1, 0.3, 0.2])).toBe(3);
    expect(distinctValues(new Float64Array(0))).toBe(0);
  });
});
