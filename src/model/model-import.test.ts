import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../core/index.js';
import { importLightgbmText } from './lightgbm-import.js';
import { CompiledScorer } from './scoring/compiled-scorer.js';
import { leafOf, sigmoid } from './tree-ensemble.js';
import { importXgboostJson } from './xgboost-import.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');

interface XgbCase {
  model: string;
  rows: number;
  features: number;
  valuesRowMajor: (number | null)[];
  predictions: number[];
  margins?: number[];
}

function columnMajor(c: XgbCase): Float32Array {
  const out = new Float32Array(c.rows * c.features);
  for (let r = 0; r < c.rows; r++) {
    for (let f = 0; f < c.features; f++) out[f * c.rows + r] = c.valuesRowMajor[r * c.features + f] ?? Number.NaN;
  }
  return out;
}

const fixtures = JSON.parse(readFileSync(join(FIXTURES, 'xgboost-fixtures.json'), 'utf8')) as {
  xgboost: string;
  numeric: XgbCase;
  categorical: XgbCase;
};

describe('XGBoost JSON import', () => {
  for (const name of ['numeric', 'categorical'] as const) {
    it(`scores the ${name} fixture like XGBoost ${fixtures.xgboost} to 1e-5`, () => {
      const c = fixtures[name];
      const model = importXgboostJson(readFileSync(join(FIXTURES, c.model), 'utf8'));
      expect(model.columns.length).toBe(c.features);
      const values = columnMajor(c);
      const scorer = new CompiledScorer(model.ensemble);
      const probs = scorer.predict({ rows: c.rows, values });
      let maxDiff = 0;
      for (let r = 0; r < c.rows; r++)
        maxDiff = Math.max(maxDiff, Math.abs((probs[r] as number) - (c.predictions[r] as number)));
      expect(maxDiff).toBeLessThan(1e-5);
      // the single-row path and the obvious reference traversal agree too
      const row = new Float32Array(c.features);
      for (let r = 0; r < c.rows; r++) {
        for (let f = 0; f < c.features; f++) row[f] = values[f * c.rows + r] as number;
        let m = model.ensemble.baseMargin;
        for (const t of model.ensemble.trees) m += t.value[leafOf(t, (f) => row[f] as number)] as number;
        expect(Math.abs(sigmoid(m) - (c.predictions[r] as number))).toBeLessThan(1e-5);
        expect(Math.abs(scorer.predictRow(row) - (c.predictions[r] as number))).toBeLessThan(1e-5);
      }
    });
  }

  it('marks categorical features and keeps base_score as a margin', () => {
    const cat = importXgboostJson(readFileSync(join(FIXTURES, fixtures.categorical.model), 'utf8'));
    expect(cat.categorical).toEqual([false, true]);
    const num = importXgboostJson(readFileSync(join(FIXTURES, fixtures.numeric.model), 'utf8'));
    expect(num.ensemble.baseMargin).toBeCloseTo(Math.log(0.3 / 0.7), 6);
  });

  it('rejects other objectives and broken files with InvalidInputError', () => {
    const text = readFileSync(join(FIXTURES, fixtures.numeric.model), 'utf8');
    expect(() => importXgboostJson(text.replace('binary:logistic', 'reg:squarederror'))).toThrow(
      /objective is "reg:squarederror"/,
    );
    expect(() => importXgboostJson('{not json')).toThrow(InvalidInputError);
    expect(() => importXgboostJson('{"learner":{}}')).toThrow(InvalidInputError);
  });
});

describe('LightGBM text import (hand-written fixture from the documented format; LightGBM is not installable here)', () => {
  const text = readFileSync(join(FIXTURES, 'lightgbm-small.model.txt'), 'utf8');
  const expected = JSON.parse(readFileSync(join(FIXTURES, 'lightgbm-small.expected.json'), 'utf8')) as {
    rows: (number | null)[][];
    margins: number[];
  };

  it('scores hand-computed margins: <= thresholds, NaN default directions, categorical bitsets, sigmoid', () => {
    const model = importLightgbmText(text);
    expect(model.columns).toEqual(['age', 'spend', 'channel']);
    expect(model.categorical).toEqual([false, false, true]);
    const scorer = new CompiledScorer(model.ensemble);
    expected.rows.forEach((row, i) => {
      const x = Float32Array.from(row, (v) => v ?? Number.NaN);
      expect(scorer.predictRowMargin(x)).toBeCloseTo(expected.margins[i] as number, 9);
      expect(scorer.predictRow(x)).toBeCloseTo(sigmoid(expected.margins[i] as number), 9);
    });
  });

  it('rejects non-binary objectives', () => {
    expect(() => importLightgbmText(text.replace('objective=binary sigmoid:1', 'objective=regression'))).toThrow(
      /expected "binary"/,
    );
  });
});
