import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../core/index.js';
import { type CrossFeatureSpec, CrossFeatures } from './cross-features.js';

const SPEC: CrossFeatureSpec = {
  taxonomy: {
    apparel: { categories: ['fashion'], orderValueUsd: 60 },
    beauty: { categories: ['beauty', 'health'], orderValueUsd: 35 },
    books: { categories: ['books'] },
    pets: { categories: ['pets'], orderValueUsd: 45 },
  },
  categoryCountColumn: 'interests.views_{category}_28d',
  orderValueColumn: 'batch.aov',
  priorEvents: 4,
};

// three users: all fashion; spread evenly; no events (and a missing order value)
const COLUMNS: Record<string, Float64Array> = {
  'interests.views_fashion_28d': Float64Array.of(10, 2, 0),
  'interests.views_beauty_28d': Float64Array.of(0, 2, 0),
  'interests.views_health_28d': Float64Array.of(0, 2, Number.NaN),
  'interests.views_books_28d': Float64Array.of(0, 2, 0),
  'interests.views_pets_28d': Float64Array.of(0, 2, 0),
  'batch.aov': Float64Array.of(30, 120, Number.NaN),
};
const column = (name: string) => {
  const c = COLUMNS[name];
  if (!c) throw new Error(`no column ${name}`);
  return c;
};

function values(cross: CrossFeatures, name: Parameters<CrossFeatures['fill']>[0], vertical: string) {
  const out = new Float64Array(3);
  cross.fill(name, vertical, column, null, out);
  return [...out];
}

describe('cross features of a user and a campaign vertical', () => {
  const cross = new CrossFeatures(SPEC);

  it('takes the share over every category of the taxonomy, smoothed by the prior', () => {
    expect(cross.categories).toEqual(['beauty', 'books', 'fashion', 'health', 'pets']);
    // share0 = 1/5: user 0 has 10 of 10 events in fashion -> (10 + 0.8) / 14 / 0.2
    const [a0, a1, a2] = values(cross, 'vertical_affinity', 'apparel');
    expect(a0).toBeCloseTo(Math.log(10.8 / 14 / 0.2), 12);
    expect(a1).toBeCloseTo(0, 12); // an even spread is no preference
    expect(a2).toBeCloseTo(0, 12); // no events: the prior alone
    // a two-category vertical: share0 = 2/5
    const [b0, b1] = values(cross, 'vertical_affinity', 'beauty');
    expect(b0).toBeCloseTo(Math.log(1.6 / 14 / 0.4), 12);
    expect(b1).toBeCloseTo(0, 12);
  });

  it('counts the events in the vertical; missing counts are none', () => {
    expect(values(cross, 'vertical_events', 'beauty')).toEqual([0, 4, 0]);
    expect(values(cross, 'vertical_events', 'apparel')).toEqual([10, 2, 0]);
  });

  it('compares the vertical order value with the user mean order value', () => {
    const [p0, p1, p2] = values(cross, 'vertical_price_ratio', 'apparel');
    expect(p0).toBeCloseTo(Math.log(60 / 30), 6);
    expect(p1).toBeCloseTo(Math.log(60 / 120), 6);
    expect(p2).toBeNaN();
    expect(values(cross, 'vertical_price_ratio', 'books').every(Number.isNaN)).toBe(true); // no order value
    expect(values(cross, 'vertical_order_value', 'pets')).toEqual([Math.log(45), Math.log(45), Math.log(45)]);
  });

  it('gives NaN (missing) for a vertical the taxonomy does not know, not a guess', () => {
    for (const name of cross.names) expect(values(cross, name, 'toString').every(Number.isNaN)).toBe(true);
  });

  it('reads rows through a row map', () => {
    const out = new Float32Array(2);
    cross.fill('vertical_events', 'apparel', column, Uint32Array.of(2, 0), out);
    expect([...out]).toEqual([0, 10]);
  });

  it('names its inputs and computes only the features its spec allows', () => {
    expect(cross.inputsOf('vertical_affinity')).toEqual([
      'interests.views_beauty_28d',
      'interests.views_books_28d',
      'interests.views_fashion_28d',
      'interests.views_health_28d',
      'interests.views_pets_28d',
    ]);
    expect(cross.inputsOf('vertical_price_ratio')).toEqual(['batch.aov']);
    const noValues = new CrossFeatures({
      taxonomy: { books: { categories: ['books'] } },
      categoryCountColumn: 'x_{category}',
    });
    expect(noValues.names).toEqual(['vertical_affinity', 'vertical_events']);
    expect(noValues.has('vertical_price_ratio')).toBe(false);
  });

  it('rejects a spec it cannot compute, naming what was expected', () => {
    expect(() => new CrossFeatures({ ...SPEC, categoryCountColumn: 'views_28d' })).toThrow(/\{category\}/);
    expect(() => new CrossFeatures({ ...SPEC, taxonomy: { a: { categories: [] } } })).toThrow(InvalidInputError);
    expect(() => new CrossFeatures({ ...SPEC, taxonomy: {} })).toThrow(/no vertical/);
    expect(() => new CrossFeatures({ ...SPEC, priorEvents: 0 })).toThrow(/priorEvents/);
    expect(() => new CrossFeatures({ ...SPEC, taxonomy: { a: { categories: ['x'], orderValueUsd: -1 } } })).toThrow(
      /orderValueUsd/,
    );
  });
});
