import { describe, expect, it } from 'vitest';
import { InvalidInputError, MS_PER_HOUR } from '../core/index.js';
import { buildDelayedLabels } from './delayed-labels.js';

/** Attribution details of buildDelayedLabels that its boundary tests leave open. */
const T0 = Date.UTC(2026, 2, 2);
const H = MS_PER_HOUR;
const W = 24 * H;
const AS_OF = T0 + 100 * H;

describe('delayed-label attribution', () => {
  it('an outcome at the very instant of its send is attributed (delay 0 is within the window)', () => {
    const r = buildDelayedLabels(
      { sendId: ['a', 'b'], sendTs: [T0, T0] },
      { sendId: ['a', 'b'], kind: ['click', 'click'], outcomeTs: [T0, T0 - 1] },
      { goal: 'click', asOfMs: AS_OF, windowMs: W },
    );
    expect(Array.from(r.labels)).toEqual([1, 0]);
    expect(r.lateOutcomes).toBe(1);
  });

  it('the first outcome sets the delay when the outcomes come earliest first', () => {
    // mature send clicked after 1 h, then again after 8 h: its delay is 1 h, so a send 2 h old gets weight 1
    // (keeping the 8 h click instead would give 0)
    const base = AS_OF - 2 * W;
    const r = buildDelayedLabels(
      { sendId: ['m', 'young'], sendTs: [base, AS_OF - 2 * H] },
      { sendId: ['m', 'm'], kind: ['click', 'click'], outcomeTs: [base + H, base + 8 * H] },
      { goal: 'click', asOfMs: AS_OF, windowMs: W, immature: 'weight' },
    );
    expect(Array.from(r.labels)).toEqual([1, 0]);
    expect(Array.from(r.weights)).toEqual([1, 1]);
  });

  it('an unknown goal is refused with the goals it may be', () => {
    const call = () =>
      buildDelayedLabels(
        { sendId: [], sendTs: [] },
        { sendId: [], kind: [], outcomeTs: [] },
        // @ts-expect-error: a goal from untyped input
        { goal: 'purchase', asOfMs: AS_OF },
      );
    expect(call).toThrow(InvalidInputError);
    expect(call).toThrow('goal must be one of open, click, convert, got "purchase"');
  });

  it('refuses outcome columns of different lengths instead of dropping the unmatched outcomes', () => {
    const sends = { sendId: ['a'], sendTs: [T0] };
    const opts = { goal: 'click', asOfMs: AS_OF, windowMs: W } as const;
    const ragged = [
      { sendId: ['a', 'a'], kind: ['click'], outcomeTs: [T0 + H, T0 + 2 * H] },
      { sendId: ['a', 'a'], kind: ['click', 'click'], outcomeTs: [T0 + H] },
    ];
    expect(() => buildDelayedLabels(sends, ragged[0] as (typeof ragged)[0], opts)).toThrow(
      'outcomes has 2 send ids, 1 kinds and 2 times',
    );
    expect(() => buildDelayedLabels(sends, ragged[1] as (typeof ragged)[0], opts)).toThrow(InvalidInputError);
    expect(() => buildDelayedLabels(sends, ragged[1] as (typeof ragged)[0], opts)).toThrow(
      'outcomes has 2 send ids, 2 kinds and 1 times',
    );
  });
});
