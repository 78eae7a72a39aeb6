import { describe, expect, it } from 'vitest';
import { backoffMs, sleep } from './retry.js';

describe('backoffMs', () => {
  it('starts at 50 ms, doubles per attempt, stops at the cap, always within +-20%', () => {
    for (let trial = 0; trial < 200; trial++) {
      for (const [attempt, base] of [
        [0, 50],
        [1, 100],
        [3, 400],
        [5, 1600],
        [6, 2000],
        [40, 2000],
      ] as const) {
        const ms = backoffMs(attempt);
        expect(ms).toBeGreaterThanOrEqual(base * 0.8);
        expect(ms).toBeLessThanOrEqual(base * 1.2);
      }
      expect(backoffMs(10, 300)).toBeLessThanOrEqual(360);
    }
  });

  it('jitters: attempts of one number do not all wait the same', () => {
    expect(new Set(Array.from({ length: 50 }, () => backoffMs(4))).size).toBeGreaterThan(5);
  });

  it('sleep waits at least its time', async () => {
    const t = performance.now();
    await sleep(20);
    expect(performance.now() - t).toBeGreaterThanOrEqual(19);
  });
});
