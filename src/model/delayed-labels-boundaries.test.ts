import { describe, expect, it } from 'vitest';
import { InvalidInputError, MS_PER_DAY, MS_PER_HOUR } from '../core/index.js';
import { buildDelayedLabels, DEFAULT_ATTRIBUTION_WINDOWS_MS, temporalSplit } from './delayed-labels.js';

/**
 * The edges of the delayed-label rule (module comment of delayed-labels.ts): a send is mature once its whole window
 * has passed (a send exactly one window old is mature), outcomes count when they are visible at `asOfMs` (an outcome
 * at `asOfMs` is visible) and happen within the window after the send (an outcome at exactly one window is
 * attributed), and an immature send's weight is the empirical CDF of the mature positives' first-outcome delays.
 */
const T0 = Date.UTC(2026, 2, 2);
const H = MS_PER_HOUR;
const W = 24 * H;

function labels(
  sendTs: readonly number[],
  outcomes: readonly (readonly [send: number, atMs: number, kind?: string])[],
  asOfMs: number,
  immature: 'exclude' | 'weight' = 'weight',
) {
  return buildDelayedLabels(
    { sendId: sendTs.map((_, i) => `s${i}`), sendTs },
    {
      sendId: outcomes.map(([s]) => `s${s}`),
      kind: outcomes.map(([, , kind]) => kind ?? 'click'),
      outcomeTs: outcomes.map(([, t]) => t),
    },
    { goal: 'click', asOfMs, windowMs: W, immature },
  );
}

describe('delayed labels at their boundaries', () => {
  it('a send exactly one window old is mature; one ms younger is not', () => {
    const asOf = T0 + 100 * H;
    const r = labels([asOf - W, asOf - W + 1], [], asOf, 'exclude');
    expect(Array.from(r.rows)).toEqual([0]);
    expect([r.mature, r.immatureExcluded, r.immatureKept]).toEqual([1, 1, 0]);
  });

  it('a send at the cut-off itself is kept as immature (age 0); one ms later it is unknown', () => {
    const asOf = T0 + 100 * H;
    const r = labels([asOf, asOf + 1], [], asOf);
    expect(Array.from(r.rows)).toEqual([0]);
    expect([r.mature, r.immatureKept, r.immatureExcluded]).toEqual([0, 1, 0]);
    // no mature positive, so nothing is known about delays: weight 0, not NaN
    expect(Array.from(r.weights)).toEqual([0]);
  });

  it('an outcome exactly one window after its send is attributed; one ms later it is late', () => {
    const asOf = T0 + 100 * H;
    const r = labels(
      [T0, T0 + H],
      [
        [0, T0 + W],
        [1, T0 + H + W + 1],
      ],
      asOf,
    );
    expect(Array.from(r.labels)).toEqual([1, 0]);
    expect(r.lateOutcomes).toBe(1);
  });

  it('an outcome at the cut-off is visible; one ms after it is not (and not counted as late)', () => {
    const asOf = T0 + 100 * H;
    const r = labels(
      [asOf - 2 * W, asOf - 2 * W],
      [
        [0, asOf - 2 * W + 3 * H],
        [1, asOf - 2 * W + 3 * H],
      ],
      asOf,
    );
    expect(Array.from(r.labels)).toEqual([1, 1]);
    const at = labels([asOf - W], [[0, asOf]], asOf);
    expect(Array.from(at.labels)).toEqual([1]);
    const after = labels([asOf - W], [[0, asOf + 1]], asOf);
    expect(Array.from(after.labels)).toEqual([0]);
    expect(after.lateOutcomes).toBe(0);
  });

  it('an outcome before its send is not attributed; outcomes of unknown sends are ignored', () => {
    const asOf = T0 + 100 * H;
    const r = buildDelayedLabels(
      { sendId: ['a'], sendTs: [T0] },
      { sendId: ['a', 'ghost'], kind: ['click', 'click'], outcomeTs: [T0 - 1, T0 + H] },
      { goal: 'click', asOfMs: asOf, windowMs: W },
    );
    expect(Array.from(r.labels)).toEqual([0]);
    expect(r.lateOutcomes).toBe(1);
  });

  it('the immature weight is the CDF of mature positive delays, whatever the order sends come in', () => {
    const asOf = T0 + 100 * H;
    const base = asOf - 2 * W;
    // mature positives with delays 6 h, 2 h, 10 h (not in send order), then an immature send 4 h old: 1 of 3 delays
    // (2 h) is <= 4 h
    const sends = [base, base + H, base + 2 * H, asOf - 4 * H];
    const r = labels(
      sends,
      [
        [0, base + 6 * H],
        [1, base + H + 2 * H],
        [2, base + 2 * H + 10 * H],
      ],
      asOf,
    );
    expect(Array.from(r.labels)).toEqual([1, 1, 1, 0]);
    expect(r.weights[3]).toBeCloseTo(1 / 3, 15);
    // a delay equal to the age counts as seen: the send 6 h old has 2 of 3 (2 h, 6 h)
    const r6 = labels(
      sends.with(3, asOf - 6 * H),
      [
        [0, base + 6 * H],
        [1, base + 3 * H],
        [2, base + 12 * H],
      ],
      asOf,
    );
    expect(r6.weights[3]).toBeCloseTo(2 / 3, 15);
  });

  it("a send's delay is to its first outcome, whatever order the outcomes come in", () => {
    const asOf = T0 + 100 * H;
    const base = asOf - 2 * W;
    // mature send with clicks at 8 h and 1 h: its delay is 1 h, so a send 2 h old gets weight 1 (not 0)
    const r = labels(
      [base, asOf - 2 * H],
      [
        [0, base + 8 * H],
        [0, base + H],
      ],
      asOf,
    );
    expect(Array.from(r.labels)).toEqual([1, 0]);
    expect(r.weights[1]).toBe(1);
  });

  it('defaults: the goal window and the exclude policy', () => {
    const asOf = T0 + 30 * MS_PER_DAY;
    const open = DEFAULT_ATTRIBUTION_WINDOWS_MS.open;
    expect(open).toBe(48 * H);
    expect(DEFAULT_ATTRIBUTION_WINDOWS_MS.click).toBe(3 * MS_PER_DAY);
    expect(DEFAULT_ATTRIBUTION_WINDOWS_MS.convert).toBe(17 * MS_PER_DAY);
    const r = buildDelayedLabels(
      { sendId: ['m', 'i'], sendTs: [asOf - open, asOf - open + 1] },
      { sendId: ['m', 'i'], kind: ['open', 'open'], outcomeTs: [asOf - open + open, asOf] },
      { goal: 'open', asOfMs: asOf },
    );
    expect(Array.from(r.rows)).toEqual([0]);
    expect(Array.from(r.labels)).toEqual([1]);
    expect([r.mature, r.immatureExcluded, r.immatureKept]).toEqual([1, 1, 0]);
  });

  it('rejects a non-positive window, a non-finite cut-off and misaligned send columns', () => {
    const sends = { sendId: ['a'], sendTs: [T0] };
    const none = { sendId: [], kind: [], outcomeTs: [] };
    const bad = [
      () => buildDelayedLabels(sends, none, { goal: 'click', asOfMs: T0, windowMs: 0 }),
      () => buildDelayedLabels(sends, none, { goal: 'click', asOfMs: T0, windowMs: Number.NaN }),
      () => buildDelayedLabels(sends, none, { goal: 'click', asOfMs: Number.POSITIVE_INFINITY }),
      () => buildDelayedLabels(sends, none, { goal: 'click', asOfMs: Number.NaN }),
      () => buildDelayedLabels({ sendId: ['a', 'b'], sendTs: [T0] }, none, { goal: 'click', asOfMs: T0 }),
    ];
    for (const f of bad) expect(f).toThrow(InvalidInputError);
    expect(bad[0]).toThrow('attribution window must be > 0 ms, got 0');
    expect(bad[2]).toThrow('asOfMs must be a finite epoch-ms time, got Infinity');
    expect(bad[4]).toThrow('sends has 2 ids and 1 times');
    expect(() => buildDelayedLabels(sends, none, { goal: 'click', asOfMs: T0, windowMs: 1 })).not.toThrow();
  });

  it('temporal split: the boundaries belong to the later part; equal starts leave validation empty', () => {
    const s = temporalSplit([9, 10, 19, 20], 10, 20);
    expect([Array.from(s.train), Array.from(s.valid), Array.from(s.test)]).toEqual([[0], [1, 2], [3]]);
    const e = temporalSplit([9, 10, 11], 10, 10);
    expect([Array.from(e.train), Array.from(e.valid), Array.from(e.test)]).toEqual([[0], [], [1, 2]]);
    expect(() => temporalSplit([1], 11, 10)).toThrow(InvalidInputError);
    expect(() => temporalSplit([1], 11, 10)).toThrow('validation start 11 must not be after test start 10');
  });
});
