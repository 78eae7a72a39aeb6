import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../core/index.js';
import {
  averagePrecision,
  binaryMetrics,
  brierScore,
  ECE_BINS,
  expectedCalibrationError,
  LIFT_FRACTIONS,
  liftAt,
  logLoss,
  metricsBySegment,
  rocAuc,
} from './metrics.js';

interface Scores {
  rocAuc: number;
  prAuc: number;
  logLoss: number;
  brier: number;
  ece: number;
}
interface Case {
  name: string;
  labels: number[];
  probs: number[];
  weights: number[];
  positiveRate: number;
  weighted: Scores;
  unweighted: Scores;
  lift: { fraction: number; lift: number; capture: number }[];
}
// made by fixtures/make_metrics_reference.py (scikit-learn with sample_weight; ECE and lift by definition in numpy)
const fixture = JSON.parse(
  readFileSync(join(import.meta.dirname, 'fixtures', 'sklearn-weighted-metrics.json'), 'utf8'),
) as { sklearn: string; cases: Case[] };

describe(`weighted metrics against scikit-learn ${fixture.sklearn}`, () => {
  for (const c of fixture.cases) {
    it(c.name, () => {
      const w = c.weighted;
      expect(rocAuc(c.labels, c.probs, c.weights)).toBeCloseTo(w.rocAuc, 12);
      expect(averagePrecision(c.labels, c.probs, c.weights)).toBeCloseTo(w.prAuc, 12);
      expect(logLoss(c.labels, c.probs, c.weights)).toBeCloseTo(w.logLoss, 12);
      expect(brierScore(c.labels, c.probs, c.weights)).toBeCloseTo(w.brier, 12);
      expect(expectedCalibrationError(c.labels, c.probs, ECE_BINS, c.weights)).toBeCloseTo(w.ece, 12);
    });
  }
});

describe('binaryMetrics against the reference', () => {
  for (const c of fixture.cases) {
    it(`${c.name}: every field, lift and capture at each top fraction, weighted and not`, () => {
      const m = binaryMetrics(c.labels, c.probs);
      expect(m.rows).toBe(c.labels.length);
      expect(m.positives).toBe(c.labels.filter((y) => y === 1).length);
      expect(m.positiveRate).toBeCloseTo(c.positiveRate, 15);
      const u = c.unweighted;
      expect([m.rocAuc, m.prAuc, m.logLoss, m.brier, m.ece].map((v) => v.toFixed(12))).toEqual(
        [u.rocAuc, u.prAuc, u.logLoss, u.brier, u.ece].map((v) => v.toFixed(12)),
      );
      expect(m.lift.map((l) => l.fraction)).toEqual([...LIFT_FRACTIONS]);
      m.lift.forEach((l, k) => {
        const want = c.lift[k] as Case['lift'][number];
        expect(l.fraction).toBe(want.fraction);
        expect(l.lift).toBeCloseTo(want.lift, 12);
        expect(l.capture).toBeCloseTo(want.capture, 12);
      });
      const mw = binaryMetrics(c.labels, c.probs, c.weights);
      const w = c.weighted;
      expect([mw.rocAuc, mw.prAuc, mw.logLoss, mw.brier, mw.ece].map((v) => v.toFixed(12))).toEqual(
        [w.rocAuc, w.prAuc, w.logLoss, w.brier, w.ece].map((v) => v.toFixed(12)),
      );
    });
  }
});

describe('metrics by definition at the edges', () => {
  it('lift takes ceil(fraction x n) rows, at least one, ties in row order', () => {
    const labels = [0, 1, 1, 0, 0, 1, 0, 0, 0, 0];
    const probs = [0.9, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1];
    // top 20% = 2 rows: rows 0 and 1 (tied, row order) hold 1 positive of 3; base rate 0.3 -> lift 0.5 / 0.3
    const at20 = liftAt(labels, probs, 0.2);
    expect(at20.lift).toBeCloseTo(0.5 / 0.3, 12);
    expect(at20.capture).toBeCloseTo(1 / 3, 12);
    // top 21% = ceil(2.1) = 3 rows
    expect(liftAt(labels, probs, 0.21).lift).toBeCloseTo(2 / 3 / 0.3, 12);
    // a fraction under one row still takes one row (row 0, a negative)
    expect(liftAt(labels, probs, 0.01)).toEqual({ fraction: 0.01, lift: 0, capture: 0 });
    expect(liftAt(labels, probs, 1).lift).toBeCloseTo(1, 12);
    expect(liftAt(labels, probs, 1).capture).toBe(1);
  });

  it('lift and capture are NaN without positives; positive rate is NaN without rows', () => {
    expect(liftAt([0, 0], [0.2, 0.1], 0.5).lift).toBeNaN();
    expect(liftAt([0, 0], [0.2, 0.1], 0.5).capture).toBeNaN();
    expect(binaryMetrics([], []).positiveRate).toBeNaN();
    expect(binaryMetrics([0, 1, 1, 1], [0.1, 0.2, 0.3, 0.4]).positiveRate).toBe(0.75);
  });

  it('AUC is NaN with one class either way; average precision is NaN without positives', () => {
    expect(rocAuc([1, 1], [0.2, 0.3])).toBeNaN();
    expect(rocAuc([0, 0], [0.2, 0.3])).toBeNaN();
    expect(averagePrecision([0, 0], [0.2, 0.3])).toBeNaN();
    expect(averagePrecision([1, 1], [0.2, 0.3])).toBe(1);
    // a weight of zero removes its row
    expect(rocAuc([1, 0, 0], [0.2, 0.3, 0.1], [1, 0, 1])).toBe(1);
  });

  it('log loss clips probabilities to [1e-15, 1 - 1e-15]; ECE puts p = 1 in the last bin and p = 0 in the first', () => {
    expect(logLoss([1], [0])).toBeCloseTo(-Math.log(1e-15), 10);
    expect(logLoss([0], [1])).toBeCloseTo(-Math.log(1 - (1 - 1e-15)), 6);
    expect(logLoss([1, 0], [1, 0])).toBeCloseTo(-Math.log(1 - 1e-15), 20);
    // p = 1 and p = 0.95 share the last bin: |0.5 - 0.975| (a 10th bin would give 0.5 * 0 + 0.5 * 0.95)
    expect(expectedCalibrationError([1, 0], [1, 0.95])).toBeCloseTo(0.475, 12);
    expect(expectedCalibrationError([1, 0], [0, 0.05])).toBeCloseTo(0.475, 12);
    // two bins: [0, 0.5) and [0.5, 1]
    expect(expectedCalibrationError([1, 0, 0], [0.6, 0.4, 0.2], 2)).toBeCloseTo((1 / 3) * 0.4 + (2 / 3) * 0.3, 12);
  });

  it('misaligned inputs are rejected, naming both lengths; labels must be 0 or 1', () => {
    expect(() => rocAuc([1, 0], [0.5])).toThrow(InvalidInputError);
    expect(() => rocAuc([1, 0], [0.5])).toThrow('labels has 2 values, scores has 1');
    expect(() => logLoss([1, 0], [0.5, 0.2], [1])).toThrow('weights has 1 values, labels has 2');
    expect(() => binaryMetrics([0, 0.5], [0.1, 0.2])).toThrow('labels must be 0 or 1, got 0.5 at row 1');
    expect(() => metricsBySegment([1, 0], [0.5, 0.2], ['a'])).toThrow('segments has 1 values, labels has 2');
  });

  it('segments under minRows are skipped; each segment gets its own rows', () => {
    const seg = metricsBySegment([1, 0, 1, 0, 1], [0.9, 0.1, 0.2, 0.8, 0.5], ['a', 'a', 'b', 'b', 'c'], 2);
    expect(Object.keys(seg)).toEqual(['a', 'b']);
    expect(seg['a']?.rocAuc).toBe(1);
    expect(seg['b']?.rocAuc).toBe(0);
    expect(seg['b']?.rows).toBe(2);
    expect(Object.keys(metricsBySegment([1, 0], [0.5, 0.2], ['x', 'y']))).toEqual(['x', 'y']);
  });
});
