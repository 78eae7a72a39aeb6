import { describe, expect, it } from 'vitest';
import { createFeatureMatrix, Rng } from '../core/index.js';
import { importedModelArtifact } from '../model/index.js';
import { TreeBuilder } from '../model/tree-ensemble.js';
import { parseCampaignSpec } from './campaign.js';
import { gatherInput, planColumns, scoringModelOf } from './scoring.js';

const COLUMNS = ['v.a', 'v.b', 'v.c'];
const MODEL_COLUMNS = ['v.c', 'hour_of_day', 'v.a', 'v.c'];

function model() {
  const b = new TreeBuilder();
  const root = b.addLeaf(0, 1);
  b.setNumericSplit(root, 0, 0.5, 1, false, 1);
  b.setChildren(root, b.addLeaf(-1, 1), b.addLeaf(1, 1));
  const artifact = importedModelArtifact({
    source: 'xgboost-json',
    columns: MODEL_COLUMNS,
    categorical: MODEL_COLUMNS.map(() => false),
    ensemble: { numFeatures: MODEL_COLUMNS.length, baseMargin: 0, trees: [b.finish()] },
  });
  return scoringModelOf('m', 'open', artifact);
}

describe('model input gathering', () => {
  const rows = 300;
  const m = createFeatureMatrix(
    Array.from({ length: rows }, (_, i) => `u${i}`),
    COLUMNS,
  );
  const rng = new Rng(4);
  for (let i = 0; i < m.values.length; i++) m.values[i] = rng.next() < 0.1 ? Number.NaN : rng.next();
  const c = parseCampaignSpec({
    id: 'c',
    advertiserId: 'a',
    channel: 'email',
    goal: 'open',
    vertical: 'apparel',
    desiredAudienceSize: 10,
    schedule: { launch: 0 },
  });
  const plan = planColumns(model(), m.columns, c, 7);

  /** The definition: model column k of input row r is the named matrix column at the row, or the hour. */
  function reference(pick: readonly number[]): number[] {
    const out: number[] = [];
    for (const name of MODEL_COLUMNS)
      for (const row of pick)
        out.push(name === 'hour_of_day' ? 7 : (m.values[COLUMNS.indexOf(name) * rows + row] as number));
    return out;
  }

  const cases: Record<string, number[]> = {
    'one row': [17],
    'a few scattered rows': [3, 1, 250, 9],
    'consecutive rows': Array.from({ length: 120 }, (_, i) => 40 + i),
    'consecutive rows to the last one': Array.from({ length: 60 }, (_, i) => rows - 60 + i),
    'ascending rows with a gap': [...Array.from({ length: 50 }, (_, i) => i), 51],
    'descending rows': Array.from({ length: 40 }, (_, i) => 100 - i),
  };
  for (const [name, pick] of Object.entries(cases))
    it(`fills ${name} as the plan says`, () => {
      const got = gatherInput(m, plan, Uint32Array.from(pick));
      expect(Array.from(got)).toEqual(reference(pick).map((v) => Math.fround(v)));
      // into a reused, larger buffer: only its first rows x columns values are the input
      const buffer = new Float32Array(pick.length * MODEL_COLUMNS.length + 13).fill(-5);
      const into = gatherInput(m, plan, Uint32Array.from(pick), buffer);
      expect(into.buffer).toBe(buffer.buffer);
      expect(Array.from(into)).toEqual(Array.from(got));
    });

  it('fills every row when no rows are given', () => {
    const all = Array.from({ length: rows }, (_, i) => i);
    expect(Array.from(gatherInput(m, plan, null))).toEqual(reference(all).map((v) => Math.fround(v)));
  });
});
