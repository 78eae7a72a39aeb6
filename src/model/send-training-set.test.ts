import { describe, expect, it } from 'vitest';
import { MS_PER_HOUR } from '../core/index.js';
import { CrossFeatures } from './cross-features.js';
import type { Table } from './duckdb-table-io.js';
import { buildSendTrainingSet } from './send-training-set.js';

const T0 = Date.UTC(2026, 2, 2);
const H = MS_PER_HOUR;

const sends: Table = {
  rows: 4,
  columns: [
    { name: 'send_id', type: 'text', texts: ['s1', 's2', 's3', 's4'] },
    { name: 'send_ts', type: 'number', numbers: Float64Array.from([0, 1, 2, 40].map((h) => T0 + h * H)) },
    { name: 'channel', type: 'text', texts: ['email', 'push', 'email', 'push'] },
    { name: 'vertical', type: 'text', texts: ['retail', 'travel', 'retail', 'retail'] },
  ],
};
const outcomes: Table = {
  rows: 2,
  columns: [
    { name: 'send_id', type: 'text', texts: ['s2', 's4'] },
    { name: 'kind', type: 'text', texts: ['open', 'open'] },
    { name: 'outcome_ts', type: 'number', numbers: Float64Array.from([T0 + 2 * H, T0 + 41 * H]) },
  ],
};
// a point-in-time training set: rows in its own order, a bookkeeping column, one row without a send in `sends`
const trainingSet: Table = {
  rows: 5,
  columns: [
    { name: 'label_row', type: 'number', numbers: Float64Array.from([0, 1, 2, 3, 4]) },
    { name: 'user_id', type: 'text', texts: ['u1', 'u2', 'u3', 'u4', 'u5'] },
    { name: 'send_id', type: 'text', texts: ['s3', 's1', 's2', 's4', 's9'] },
    { name: 'user_batch.orders_30d', type: 'number', numbers: Float64Array.from([3, 1, 2, 5, 0]) },
    { name: 'user_batch.__status', type: 'number', numbers: Float64Array.from([0, 0, 0, 0, 0]) },
  ],
};

describe('buildSendTrainingSet', () => {
  it('joins point-in-time features, campaign features and mature delayed labels by send id', () => {
    const set = buildSendTrainingSet(trainingSet, sends, outcomes, {
      goal: 'open',
      asOfMs: T0 + 48 * H,
      windowMs: 24 * H,
    });
    // s4 is immature (sent 8 h before asOf with a 24 h window), s9 is unknown: both dropped
    expect(set.matrix.rows).toBe(3);
    expect(set.columns.map((c) => c.name)).toEqual(['user_batch.orders_30d', 'channel', 'vertical']);
    expect(Array.from(set.labels)).toEqual([0, 0, 1]); // s3, s1, s2 in training-set order
    expect(Array.from(set.matrix.values.subarray(0, 3))).toEqual([3, 1, 2]);
    expect(Array.from(set.time)).toEqual([T0 + 2 * H, T0, T0 + H]);
    expect(set.segments['channel']).toEqual(['email', 'email', 'push']);
    expect(set.labelStats.immatureExcluded).toBe(1);
    const weighted = buildSendTrainingSet(trainingSet, sends, outcomes, {
      goal: 'open',
      asOfMs: T0 + 48 * H,
      windowMs: 24 * H,
      immature: 'weight',
    });
    expect(weighted.matrix.rows).toBe(4);
    expect(weighted.labels[3]).toBe(1); // s4's open at 41 h is already seen: a final positive
  });

  it('appends cross features by the vertical of each send and leaves excluded columns out of the model', () => {
    const cross = new CrossFeatures({
      taxonomy: { retail: { categories: ['shop'] }, travel: { categories: ['trips'] } },
      categoryCountColumn: 'user_batch.{category}_views',
    });
    const withViews: Table = {
      ...trainingSet,
      columns: [
        ...trainingSet.columns,
        { name: 'user_batch.shop_views', type: 'number', numbers: Float64Array.from([6, 0, 1, 2, 0]) },
        { name: 'user_batch.trips_views', type: 'number', numbers: Float64Array.from([0, 3, 1, 2, 0]) },
      ],
    };
    const set = buildSendTrainingSet(withViews, sends, outcomes, {
      goal: 'open',
      asOfMs: T0 + 48 * H,
      windowMs: 24 * H,
      crossFeatures: cross,
      exclude: [...cross.inputsOf('vertical_affinity'), 'vertical'],
    });
    expect(set.columns.map((c) => c.name)).toEqual([
      'user_batch.orders_30d',
      'channel',
      'vertical_affinity',
      'vertical_events',
    ]);
    // rows s3 (retail, u1), s1 (retail, u2), s2 (travel, u3): events in the send's own vertical
    const n = set.matrix.rows;
    expect(Array.from(set.matrix.values.subarray(3 * n, 4 * n))).toEqual([6, 0, 1]);
    const affinity = Array.from(set.matrix.values.subarray(2 * n, 3 * n));
    expect(affinity[0]).toBeCloseTo(Math.log((6 + 2) / 10 / 0.5), 6);
    expect(affinity[1]).toBeCloseTo(Math.log(2 / 7 / 0.5), 6);
    expect(affinity[2]).toBeCloseTo(0, 6);
    expect(set.segments['vertical']).toEqual(['retail', 'retail', 'travel']);
  });
});
