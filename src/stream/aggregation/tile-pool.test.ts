import { describe, expect, it } from 'vitest';
import { defineEntity, defineFeatures, defineFeatureView } from '../../features/index.js';
import { compileAggregationPlan, SLOT_INIT } from '../aggregation-plan.js';
import { TilePool } from './tile-pool.js';

const plan = compileAggregationPlan(
  defineFeatures({
    entities: [defineEntity({ name: 'user' })],
    views: [
      defineFeatureView({
        name: 'activity',
        entity: 'user',
        ttlSeconds: 7 * 86_400,
        source: { kind: 'stream' },
        features: [
          { name: 'events_1h', aggregation: { op: 'count', window: '1h' } },
          { name: 'spend_1h', aggregation: { op: 'sum', column: 'amount', window: '1h' } },
          { name: 'min_1h', aggregation: { op: 'min', column: 'amount', window: '1h' } },
          { name: 'last_1h', aggregation: { op: 'last', column: 'amount', window: '1h' } },
          { name: 'cats_1h', aggregation: { op: 'approx_distinct', column: 'category', window: '1h' } },
        ],
      }),
    ],
  }),
);
const group = plan.groups[0]!;

/** The slot words of a tile, mask excluded. */
const slotsOf = (pool: TilePool, h: number) =>
  Array.from(pool.slabOf(h).subarray(pool.baseOf(h) + pool.slotsAt, pool.baseOf(h) + pool.width));
const maskOf = (pool: TilePool, h: number) =>
  Array.from(pool.slabOf(h).subarray(pool.baseOf(h), pool.baseOf(h) + pool.maskWords));

function initialSlots(): number[] {
  const words = new Array<number>(group.width).fill(0);
  for (const slot of group.slots) {
    const init = SLOT_INIT[slot.kind];
    for (let k = 0; k < init.length; k++) words[slot.offset + k] = init[k] as number;
  }
  return words;
}

describe('TilePool', () => {
  it('hands out tiles at their initial words with a clear mask, and reuses a given-back tile initialised again', () => {
    const pool = new TilePool(group);
    expect(pool.width).toBe(pool.maskWords + group.width);
    const a = pool.take();
    expect(slotsOf(pool, a)).toEqual(initialSlots());
    expect(maskOf(pool, a).every((w) => w === 0)).toBe(true);
    pool.slabOf(a).fill(42, pool.baseOf(a), pool.baseOf(a) + pool.width); // dirtied by events
    pool.give(a);
    const b = pool.take();
    expect(b).toBe(a);
    expect(slotsOf(pool, b)).toEqual(initialSlots());
    expect(maskOf(pool, b).every((w) => w === 0)).toBe(true);
  });

  it('grows past one slab without tiles sharing words', () => {
    const pool = new TilePool(group);
    const handles = Array.from({ length: 10_000 }, () => pool.take());
    expect(new Set(handles).size).toBe(10_000);
    handles.forEach((h) => {
      pool.slabOf(h)[pool.baseOf(h) + pool.slotsAt] = h; // the first slot's first word
    });
    for (const h of handles) expect(pool.slabOf(h)[pool.baseOf(h) + pool.slotsAt]).toBe(h);
  });

  it('takeCopy restores slot words and marks exactly the slots that differ from their initial words', () => {
    const pool = new TilePool(group);
    const words = Float64Array.from(initialSlots());
    const changed = [0, 2, group.slots.length - 1];
    for (const s of changed) words[group.slots[s]!.offset] = 7;
    const h = pool.takeCopy(words);
    expect(slotsOf(pool, h)).toEqual(Array.from(words));
    const mask = maskOf(pool, h);
    for (let s = 0; s < group.slots.length; s++)
      expect(((mask[s >>> 5]! >>> (s & 31)) & 1) === 1).toBe(changed.includes(s));
    // -0 is not the initial 0 of a count: Object.is tells them apart, as the codec must
    const negZero = Float64Array.from(initialSlots());
    negZero[group.slots[0]!.offset] = -0;
    expect(maskOf(pool, pool.takeCopy(negZero))[0]! & 1).toBe(1);
  });
});
