import { describe, expect, it } from 'vitest';
import { Rng } from '../core/index.js';
import { cusum, pageHinkley } from './change-detectors.js';
import { estimatePerformance } from './performance-estimation.js';

function bruteExpectedAuc(s: Float64Array): number {
  let num = 0;
  let pos = 0;
  let neg = 0;
  for (const a of s) {
    pos += a;
    neg += 1 - a;
  }
  for (const a of s) for (const b of s) num += a * (1 - b) * (a > b ? 1 : a === b ? 0.5 : 0);
  return num / (pos * neg);
}

describe('CBPE performance estimation', () => {
  it('expected AUC equals the weighted Mann-Whitney sum (brute force, with ties)', () => {
    const rng = new Rng(1);
    const s = Float64Array.from({ length: 300 }, () => Math.round(rng.next() * 20) / 20);
    const e = estimatePerformance(s, undefined, { replicates: 10 });
    expect(e.rocAuc.estimated).toBeCloseTo(bruteExpectedAuc(s), 12);
  });

  it('with calibrated scores the realized metrics fall inside the 3 SE band', () => {
    const rng = new Rng(2);
    let outside = 0;
    for (let rep = 0; rep < 10; rep++) {
      const n = 5000;
      const s = new Float64Array(n);
      const y = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        s[i] = 1 / (1 + Math.exp(-(rng.normal() * 1.5 - 1)));
        y[i] = rng.next() < (s[i] as number) ? 1 : 0;
      }
      const e = estimatePerformance(s, y, { threshold: 0.4 });
      expect(Math.abs((e.rocAuc.realized as number) - e.rocAuc.estimated)).toBeLessThan(0.03);
      outside += Number(e.rocAuc.alert) + Number(e.precision.alert) + Number(e.recall.alert);
    }
    expect(outside).toBeLessThanOrEqual(1);
  });

  it('flags concept drift when labels stop following the scores, ignoring unmatured labels', () => {
    const rng = new Rng(3);
    const n = 5000;
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      s[i] = 1 / (1 + Math.exp(-(rng.normal() * 1.5 - 1)));
      // the relation weakened: half the labels are now noise
      const p = rng.next() < 0.5 ? (s[i] as number) : 0.3;
      y[i] = i % 10 === 0 ? Number.NaN : rng.next() < p ? 1 : 0;
    }
    const e = estimatePerformance(s, y);
    expect(e.labeledRows).toBe(4500);
    expect(e.conceptDrift).toBe(true);
    expect(e.rocAuc.realized as number).toBeLessThan(e.rocAuc.lower);
  });

  it('rejects scores outside [0, 1] and non-binary labels', () => {
    expect(() => estimatePerformance(Float64Array.of(0.2, 1.5))).toThrow(/calibrated probabilities/);
    expect(() => estimatePerformance(Float64Array.of(0.2, 0.5), Float64Array.of(0, 2))).toThrow(/0 or 1/);
  });
});

describe('change detectors', () => {
  const series = Array.from({ length: 60 }, (_, t) => (t < 40 ? 0.05 + 0.01 * Math.sin(t) : 0.2 + 0.01 * Math.sin(t)));
  it('Page-Hinkley reports the detection time of an upward shift', () => {
    const t = pageHinkley(series, { delta: 0.005, lambda: 0.2, direction: 'up' });
    expect(t).toBeGreaterThanOrEqual(40);
    expect(t).toBeLessThanOrEqual(42);
    expect(pageHinkley(series.slice(0, 40), { delta: 0.005, lambda: 0.2, direction: 'up' })).toBe(-1);
  });
  it('CUSUM detects the same shift after its warm-up', () => {
    const t = cusum(series, { warmup: 20, k: 0.5, h: 5 });
    expect(t).toBe(40);
    expect(cusum(series.slice(0, 40), { warmup: 20, k: 0.5, h: 5 })).toBe(-1);
  });
});
