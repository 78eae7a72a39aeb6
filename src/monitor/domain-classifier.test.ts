import { describe, expect, it } from 'vitest';
import { Rng } from '../core/index.js';
import { categoricalFromStrings, numericColumn } from './column-table.js';
import { domainClassifierDrift } from './domain-classifier.js';

function table(rng: Rng, rows: number, joint: boolean) {
  const a = new Float64Array(rows);
  const b = new Float64Array(rows);
  const c: string[] = [];
  for (let i = 0; i < rows; i++) {
    const x = rng.normal();
    a[i] = x;
    // joint change: same marginals, the correlation of a and b flips sign
    b[i] = (joint ? -x : x) * 0.9 + rng.normal() * Math.sqrt(1 - 0.81);
    c.push(rng.next() < 0.5 ? 'p' : 'q');
  }
  return { rows, columns: [numericColumn('a', a), numericColumn('b', b), categoricalFromStrings('c', c)] };
}

describe('domain classifier (multivariate drift)', () => {
  it('stays near AUC 0.5 without drift and separates a correlation flip, naming the features used', () => {
    const rng = new Rng(1);
    const ref = table(rng, 4000, false);
    const same = domainClassifierDrift(ref, table(rng, 4000, false), { maxRowsPerSide: 4000 });
    expect(same.drifted).toBe(false);
    expect(Math.abs(same.auc - 0.5)).toBeLessThan(0.05);
    const flipped = domainClassifierDrift(ref, table(rng, 4000, true), { maxRowsPerSide: 4000 });
    expect(flipped.drifted).toBe(true);
    expect(flipped.auc).toBeGreaterThan(0.8);
    expect(
      flipped.features
        .slice(0, 2)
        .map((f) => f.name)
        .sort(),
    ).toEqual(['a', 'b']);
  });
});
