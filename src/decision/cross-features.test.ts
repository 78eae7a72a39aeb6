import { describe, expect, it } from 'vitest';
import { createFeatureMatrix, Rng } from '../core/index.js';
import { buildSendTrainingSet, CrossFeatures, type Table, trainModel } from '../model/index.js';
import { parseCampaignSpec } from './campaign.js';
import { UnknownTargetError } from './errors.js';
import { gatherInput, planColumns, scoringModelOf } from './scoring.js';

const CATEGORIES = ['fashion', 'beauty', 'health', 'books', 'pets'];
const CROSS = new CrossFeatures({
  taxonomy: {
    apparel: { categories: ['fashion'], orderValueUsd: 60 },
    beauty: { categories: ['beauty', 'health'], orderValueUsd: 35 },
    books_media: { categories: ['books'], orderValueUsd: 25 },
    pet_supplies: { categories: ['pets'], orderValueUsd: 45 },
  },
  categoryCountColumn: 'user_interests.views_{category}_28d',
  orderValueColumn: 'user_batch.avg_order_value',
});
const VERTICALS = ['apparel', 'beauty', 'books_media'];
const T0 = Date.UTC(2026, 2, 2);

/** Sends whose open depends on the user's views in the send's vertical, and their point-in-time features. */
function world(n: number) {
  const rng = new Rng(11);
  const counts = CATEGORIES.map(() => new Float64Array(n));
  const aov = new Float64Array(n);
  const vertical: string[] = [];
  const opened: string[] = [];
  for (let i = 0; i < n; i++) {
    const favourite = rng.int(CATEGORIES.length);
    CATEGORIES.forEach((_, k) => {
      (counts[k] as Float64Array)[i] = rng.int(4) + (k === favourite ? rng.int(20) : 0);
    });
    // fractional order values: float32 rounding must not make training and serving differ
    aov[i] = rng.next() < 0.2 ? Number.NaN : 10 + 200 * rng.next();
    const v = VERTICALS[rng.int(VERTICALS.length)] as string;
    vertical.push(v);
    const cats = CROSS.spec.taxonomy[v]?.categories ?? [];
    const own = cats.reduce((s, c) => s + ((counts[CATEGORIES.indexOf(c)] as Float64Array)[i] as number), 0);
    if (rng.next() < (own > 8 ? 0.7 : 0.15)) opened.push(`s${i}`);
  }
  const sendIds = Array.from({ length: n }, (_, i) => `s${i}`);
  const sends: Table = {
    rows: n,
    columns: [
      { name: 'send_id', type: 'text', texts: sendIds },
      { name: 'send_ts', type: 'number', numbers: Float64Array.from(sendIds, (_, i) => T0 + i * 60_000) },
      { name: 'channel', type: 'text', texts: sendIds.map(() => 'email') },
      { name: 'vertical', type: 'text', texts: vertical },
      { name: 'goal', type: 'text', texts: sendIds.map(() => 'open') },
    ],
  };
  const outcomes: Table = {
    rows: opened.length,
    columns: [
      { name: 'send_id', type: 'text', texts: opened },
      { name: 'kind', type: 'text', texts: opened.map(() => 'open') },
      {
        name: 'outcome_ts',
        type: 'number',
        numbers: Float64Array.from(opened, (s) => T0 + Number(s.slice(1)) * 60_000 + 1),
      },
    ],
  };
  const featureColumns = [
    ...CATEGORIES.map((c, k) => ({ name: `user_interests.views_${c}_28d`, numbers: counts[k] as Float64Array })),
    { name: 'user_batch.avg_order_value', numbers: aov },
  ];
  const trainingSet: Table = {
    rows: n,
    columns: [
      { name: 'user_id', type: 'text', texts: sendIds.map((_, i) => `u${i}`) },
      { name: 'send_id', type: 'text', texts: sendIds },
      ...featureColumns.map((c) => ({ name: c.name, type: 'number' as const, numbers: c.numbers })),
    ],
  };
  return { sends, outcomes, trainingSet, featureColumns, vertical };
}

describe('cross features: training and serving compute them identically', () => {
  const n = 600;
  const w = world(n);
  const set = buildSendTrainingSet(w.trainingSet, w.sends, w.outcomes, {
    goal: 'open',
    asOfMs: T0 + 30 * 86_400_000,
    crossFeatures: CROSS,
  });
  const trained = trainModel(set.matrix, set.labels, set.columns, { gbdt: { trees: 20, maxDepth: 3 }, name: 'x' });
  const model = scoringModelOf('m1', 'open', trained.artifact, CROSS);

  it('appends the cross features to the training set, and the model learns from them', () => {
    expect(set.columns.map((c) => c.name)).toEqual([
      ...w.featureColumns.map((c) => c.name),
      'channel',
      'vertical',
      'goal',
      ...CROSS.names,
    ]);
    const gain = (name: string) => trained.artifact.header.importance?.find((e) => e.feature === name)?.gain ?? 0;
    expect(gain('vertical_affinity') + gain('vertical_events')).toBeGreaterThan(0);
  });

  it('gives the scorer the same model input, bit for bit, as the training matrix for every vertical', () => {
    for (const v of VERTICALS) {
      const rows = Array.from({ length: n }, (_, i) => i).filter((i) => w.vertical[i] === v);
      // the serving matrix: the same users' features as the feature store serves them (float32, column-major)
      const names = w.featureColumns.map((c) => c.name);
      const m = createFeatureMatrix(
        rows.map((i) => `u${i}`),
        names,
      );
      w.featureColumns.forEach((c, k) => {
        rows.forEach((i, r) => {
          m.values[k * rows.length + r] = c.numbers[i] as number;
        });
      });
      const campaign = parseCampaignSpec(
        {
          id: `c-${v}`,
          advertiserId: 'a1',
          channel: 'email',
          goal: 'open',
          vertical: v,
          desiredAudienceSize: 10,
          schedule: { launch: T0 },
        },
        'campaign',
      );
      const plan = planColumns(model, m.columns, campaign, 12);
      // every other row, through the row map as a launch over part of the matrix reads it
      const pick = Uint32Array.from({ length: Math.ceil(rows.length / 2) }, (_, j) => 2 * j);
      const input = gatherInput(m, plan, pick);
      const width = set.columns.length;
      let mismatches = 0;
      for (let c = 0; c < width; c++)
        pick.forEach((r, j) => {
          const served = input[c * pick.length + j] as number;
          const trainedOn = set.matrix.values[c * n + (rows[r] as number)] as number;
          if (!Object.is(served, trainedOn)) mismatches++;
        });
      expect(mismatches).toBe(0);
      const servedScores = model.model.predict({ rows: pick.length, values: input });
      expect(servedScores.length).toBe(pick.length);
    }
  });

  it('names the input a cross feature needs when the feature service does not serve it', () => {
    const m = createFeatureMatrix(['u1'], ['user_batch.avg_order_value']);
    const campaign = parseCampaignSpec(
      {
        id: 'c1',
        advertiserId: 'a1',
        channel: 'email',
        goal: 'open',
        vertical: 'apparel',
        desiredAudienceSize: 10,
        schedule: { launch: T0 },
      },
      'campaign',
    );
    expect(() => planColumns(model, m.columns, campaign, 12)).toThrow(UnknownTargetError);
    expect(() => planColumns(model, m.columns, campaign, 12)).toThrow(/user_interests\.views_\w+_28d/);
  });
});
