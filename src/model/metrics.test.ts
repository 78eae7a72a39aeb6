import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { calibrate, chooseCalibration, fitCalibration, fitIsotonic, fitPlatt } from './calibration.js';
import {
  averagePrecision,
  binaryMetrics,
  brierScore,
  expectedCalibrationError,
  liftAt,
  logLoss,
  metricsBySegment,
  rocAuc,
} from './metrics.js';

interface Case {
  labels: number[];
  probs: number[];
  rocAuc: number;
  prAuc: number;
  logLoss: number;
  brier: number;
  isotonicGrid: number[];
  isotonicAtGrid: number[];
}
const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'sklearn-metrics.json'), 'utf8')) as {
  sklearn: string;
  cases: Case[];
};

describe('metrics against scikit-learn fixtures', () => {
  fixture.cases.forEach((c, i) => {
    it(`case ${i} (${c.labels.length} rows${i === 1 ? ', many ties' : ''}) matches scikit-learn ${fixture.sklearn}`, () => {
      expect(rocAuc(c.labels, c.probs)).toBeCloseTo(c.rocAuc, 12);
      expect(averagePrecision(c.labels, c.probs)).toBeCloseTo(c.prAuc, 12);
      expect(logLoss(c.labels, c.probs)).toBeCloseTo(c.logLoss, 12);
      expect(brierScore(c.labels, c.probs)).toBeCloseTo(c.brier, 12);
      const iso = fitIsotonic(c.probs, c.labels);
      c.isotonicGrid.forEach((x, k) => {
        expect(calibrate(iso, x)).toBeCloseTo(c.isotonicAtGrid[k] as number, 10);
      });
    });
  });
});

describe('metrics by definition', () => {
  it('ECE, lift and capture on a hand-checked example', () => {
    const labels = [1, 0, 1, 0, 0, 0, 0, 0, 0, 1];
    const probs = [0.95, 0.9, 0.85, 0.4, 0.35, 0.3, 0.2, 0.15, 0.1, 0.05];
    // top 10% = 1 row (a positive): lift = 1 / 0.3
    const top = liftAt(labels, probs, 0.1);
    expect(top.lift).toBeCloseTo(1 / 0.3, 12);
    expect(top.capture).toBeCloseTo(1 / 3, 12);
    const top20 = liftAt(labels, probs, 0.2);
    expect(top20.capture).toBeCloseTo(1 / 3, 12);
    // bins: [0.9,1): {0.95:1, 0.9:0} -> |0.5-0.925|*0.2; [0.8,0.9): {0.85:1} -> 0.15*0.1; [0.4,0.5): 0.4*0.1;
    // [0.3,0.4): {0.35,0.3} -> 0.325*0.2; [0.2,0.3): 0.2*0.1; [0.1,0.2): {0.15,0.1} -> 0.125*0.2; [0,0.1): |1-0.05|*0.1
    const want = 0.425 * 0.2 + 0.15 * 0.1 + 0.4 * 0.1 + 0.325 * 0.2 + 0.2 * 0.1 + 0.125 * 0.2 + 0.95 * 0.1;
    expect(expectedCalibrationError(labels, probs)).toBeCloseTo(want, 12);
  });

  it('binaryMetrics reports every metric and segments split rows', () => {
    const labels = [1, 0, 1, 0, 1, 0];
    const probs = [0.9, 0.1, 0.8, 0.3, 0.4, 0.6];
    const m = binaryMetrics(labels, probs);
    expect(m.rows).toBe(6);
    expect(m.positives).toBe(3);
    expect(m.lift.map((l) => l.fraction)).toEqual([0.01, 0.05, 0.1, 0.2]);
    const seg = metricsBySegment(labels, probs, ['a', 'a', 'a', 'b', 'b', 'b']);
    expect(Object.keys(seg)).toEqual(['a', 'b']);
    expect(seg['a']?.rocAuc).toBe(1);
    expect(seg['b']?.rocAuc).toBe(0.5);
  });

  it('AUC is NaN with a single class; labels outside 0/1 are rejected', () => {
    expect(rocAuc([1, 1], [0.2, 0.3])).toBeNaN();
    expect(() => binaryMetrics([2, 0], [0.1, 0.2])).toThrow(/0 or 1/);
  });
});

describe('calibration', () => {
  it('Platt scaling recovers a known miscalibration', () => {
    // true p = sigmoid(2z + 0.5); the model reports sigmoid(z)
    const n = 20000;
    const probs = new Float64Array(n);
    const labels = new Uint8Array(n);
    let s = 12345;
    const rand = (): number => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s / 4294967296;
    };
    for (let i = 0; i < n; i++) {
      const z = rand() * 4 - 2;
      probs[i] = 1 / (1 + Math.exp(-z));
      labels[i] = rand() < 1 / (1 + Math.exp(-(2 * z + 0.5))) ? 1 : 0;
    }
    const cal = fitPlatt(probs, labels);
    if (cal.method !== 'platt') throw new Error('expected platt');
    expect(cal.a).toBeCloseTo(2, 0);
    expect(cal.b).toBeCloseTo(0.5, 0);
    const after = Float64Array.from(probs, (p) => calibrate(cal, p));
    expect(logLoss(labels, after)).toBeLessThan(logLoss(labels, probs));
  });

  it('auto picks Platt for a sigmoid distortion on few rows and isotonic for a step the sigmoid cannot follow', () => {
    let s = 777;
    const rand = (): number => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s / 4294967296;
    };
    const sample = (n: number, truth: (p: number) => number): [Float64Array, Uint8Array] => {
      const probs = new Float64Array(n);
      const labels = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        probs[i] = 1 / (1 + Math.exp(-(rand() * 4 - 2)));
        labels[i] = rand() < truth(probs[i] as number) ? 1 : 0;
      }
      return [probs, labels];
    };
    const logit = (p: number) => Math.log(p / (1 - p));
    const [p1, y1] = sample(1500, (p) => 1 / (1 + Math.exp(-(2 * logit(p) - 1))));
    const a = chooseCalibration(p1, y1);
    expect(a.method).toBe('platt');
    expect(a.crossFittedLogLoss.platt).toBeLessThan(a.crossFittedLogLoss.isotonic);
    expect(fitCalibration('auto', p1, y1).method).toBe('platt');
    const [p2, y2] = sample(20_000, (p) => (p < 0.4 ? 0.05 : p < 0.6 ? 0.5 : 0.55));
    const b = chooseCalibration(p2, y2);
    expect(b.method).toBe('isotonic');
    expect(b.crossFittedLogLoss.isotonic).toBeLessThan(b.crossFittedLogLoss.platt);
    // a fold with one class only cannot be cross-fitted: keep none
    expect(chooseCalibration([0.1, 0.2, 0.3, 0.4], [0, 0, 0, 1]).method).toBe('none');
  });

  it('isotonic calibration is non-decreasing and clips outside the fitted range', () => {
    const cal = fitIsotonic([0.1, 0.2, 0.3, 0.4, 0.5], [0, 1, 0, 1, 1]);
    const ys = [0, 0.1, 0.15, 0.25, 0.35, 0.45, 0.5, 1].map((p) => calibrate(cal, p));
    for (let i = 1; i < ys.length; i++) expect(ys[i] as number).toBeGreaterThanOrEqual(ys[i - 1] as number);
    expect(calibrate(cal, 0)).toBe(0);
    expect(calibrate(cal, 1)).toBe(1);
  });
});
