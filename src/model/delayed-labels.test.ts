import { describe, expect, it } from 'vitest';
import { MS_PER_DAY, MS_PER_HOUR } from '../core/index.js';
import { buildDelayedLabels, temporalSplit, truncatedDelayCdf } from './delayed-labels.js';

const T0 = Date.UTC(2026, 2, 2);
const H = MS_PER_HOUR;

// six sends at T0 + 0, 10, 20, 30, 40, 50 h; window 24 h; as of T0 + 48 h
const sends = { sendId: ['s0', 's1', 's2', 's3', 's4', 's5'], sendTs: [0, 10, 20, 30, 40, 50].map((h) => T0 + h * H) };
const outcomes = {
  sendId: ['s0', 's1', 's1', 's3', 's4', 's2', 's0'],
  kind: ['click', 'click', 'open', 'click', 'click', 'click', 'open'],
  // s0 clicks after 2 h; s1 after 30 h (outside the window); s3 after 4 h (immature but seen);
  // s4 after 10 h (not yet visible at 48 h); s2 after 6 h
  outcomeTs: [T0 + 2 * H, T0 + 40 * H, T0 + 11 * H, T0 + 34 * H, T0 + 50 * H, T0 + 26 * H, T0 + 1 * H],
};

describe('buildDelayedLabels', () => {
  it('excludes immature sends by default and attributes only outcomes within the window', () => {
    const r = buildDelayedLabels(sends, outcomes, { goal: 'click', asOfMs: T0 + 48 * H, windowMs: 24 * H });
    // mature: sent at or before 24 h ago -> s0, s1, s2
    expect(Array.from(r.rows)).toEqual([0, 1, 2]);
    expect(Array.from(r.labels)).toEqual([1, 0, 1]);
    expect(r.lateOutcomes).toBe(1);
    expect(r.immatureExcluded).toBe(2); // s3, s4; s5 was sent after the cut-off
    expect(Array.from(r.weights)).toEqual([1, 1, 1]);
  });

  it('weights immature sends by the probability that their label is final, never as plain negatives', () => {
    const r = buildDelayedLabels(sends, outcomes, {
      goal: 'click',
      asOfMs: T0 + 48 * H,
      windowMs: 24 * H,
      immature: 'weight',
    });
    expect(Array.from(r.rows)).toEqual([0, 1, 2, 3, 4]);
    // s3 positive already seen: final, weight 1; s4 (age 8 h) no outcome yet: share of mature positive delays
    // (2 h, 6 h) within 8 h = 1
    expect(Array.from(r.labels)).toEqual([1, 0, 1, 1, 0]);
    expect(r.weights[3]).toBe(1);
    expect(r.weights[4]).toBe(1);
    const early = buildDelayedLabels(sends, outcomes, {
      goal: 'click',
      asOfMs: T0 + 44 * H,
      windowMs: 24 * H,
      immature: 'weight',
    });
    // as of 44 h: s4 is 4 h old; mature positives' delays are 2 h and 6 h -> weight 0.5
    const s4 = Array.from(early.rows).indexOf(4);
    expect(early.labels[s4]).toBe(0);
    expect(early.weights[s4]).toBe(0.5);
  });

  it('ignores outcomes of other goals and outcomes not yet visible', () => {
    const r = buildDelayedLabels(sends, outcomes, { goal: 'open', asOfMs: T0 + 48 * H, windowMs: 24 * H });
    expect(Array.from(r.labels)).toEqual([1, 1, 0]);
    expect(() => buildDelayedLabels(sends, outcomes, { goal: 'purchase' as 'open', asOfMs: T0 })).toThrow(
      /goal must be one of/,
    );
  });

  it('splits by send time', () => {
    const s = temporalSplit([0, 5, 10, 15, 20], 10, 20);
    expect([Array.from(s.train), Array.from(s.valid), Array.from(s.test)]).toEqual([[0, 1], [2, 3], [4]]);
    expect(() => temporalSplit([1], 5 * MS_PER_DAY, 1)).toThrow(/must not be after/);
  });
});

describe('delay weights without any mature positive', () => {
  it('estimate the delay CDF from the young positives, corrected for truncation, instead of weighting negatives 0', () => {
    // 40 sends an hour apart, none mature (window 100 h, as of 40 h after the first); every other send converts
    // after 3 h, the rest never: visible positives are the ones older than 3 h
    const n = 40;
    const sendId = Array.from({ length: n }, (_, i) => `s${i}`);
    const sendTs = Float64Array.from({ length: n }, (_, i) => T0 + i * H);
    const o = sendId.filter((_, i) => i % 2 === 0);
    const r = buildDelayedLabels(
      { sendId, sendTs },
      { sendId: o, kind: o.map(() => 'convert'), outcomeTs: o.map((id) => T0 + Number(id.slice(1)) * H + 3 * H) },
      { goal: 'convert', asOfMs: T0 + 40 * H, windowMs: 100 * H, immature: 'weight' },
    );
    expect(r.mature).toBe(0);
    const w = (i: number) => r.weights[Array.from(r.rows).indexOf(i)] as number;
    // every delay is 3 h: a negative older than 3 h is final (weight 1), a younger one may still convert (0)
    expect(w(1)).toBe(1);
    expect(w(39)).toBe(0);
    let negatives = 0;
    for (let k = 0; k < r.rows.length; k++) if (r.labels[k] === 0 && (r.weights[k] as number) > 0) negatives++;
    expect(negatives).toBeGreaterThan(15);
  });

  it('truncatedDelayCdf recovers a delay distribution that young sends truncate', () => {
    // delays uniform on 1..10 h, ages uniform on 1..20 h: a delay is seen only when <= the age
    const obs: { delay: number; age: number }[] = [];
    for (let d = 1; d <= 10; d++) for (let a = 1; a <= 20; a++) if (d <= a) obs.push({ delay: d * H, age: a * H });
    const F = truncatedDelayCdf(obs);
    expect(F(0)).toBe(0);
    expect(F(5 * H)).toBeCloseTo(0.5, 6);
    expect(F(10 * H)).toBe(1);
    // the naive share of seen delays within 5 h is biased up (short delays are seen more often)
    expect(obs.filter((o) => o.delay <= 5 * H).length / obs.length).toBeGreaterThan(0.55);
  });
});
