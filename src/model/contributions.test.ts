import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TreeContributions } from './contributions.js';
import { leafOf } from './tree-ensemble.js';
import { importXgboostJson } from './xgboost-import.js';

const FIXTURES = join(import.meta.dirname, 'fixtures');
const rowsOf = JSON.parse(readFileSync(join(FIXTURES, 'xgboost-fixtures.json'), 'utf8')) as Record<
  'numeric' | 'categorical',
  { rows: number; features: number; valuesRowMajor: (number | null)[] }
>;
const contribs = JSON.parse(readFileSync(join(FIXTURES, 'xgboost-contribs.json'), 'utf8')) as {
  xgboost: string;
} & Record<'numeric' | 'categorical', { model: string; approxContribs: number[][] }>;

describe('TreeContributions (path attribution)', () => {
  for (const name of ['numeric', 'categorical'] as const) {
    it(`matches XGBoost ${contribs.xgboost} approx_contribs on the ${name} fixture`, () => {
      const model = importXgboostJson(readFileSync(join(FIXTURES, contribs[name].model), 'utf8'));
      const explain = new TreeContributions(model.ensemble);
      const { rows, features, valuesRowMajor } = rowsOf[name];
      const out = new Float64Array(features);
      let worst = 0;
      for (let r = 0; r < rows; r++) {
        const get = (f: number) => valuesRowMajor[r * features + f] ?? Number.NaN;
        out.fill(0);
        const margin = explain.explainInto(get, out);
        const want = contribs[name].approxContribs[r] as number[];
        for (let f = 0; f < features; f++) worst = Math.max(worst, Math.abs((out[f] as number) - (want[f] as number)));
        worst = Math.max(worst, Math.abs(explain.bias - (want[features] as number)));
        // contributions and bias add up to the margin the trees give
        let m = model.ensemble.baseMargin;
        for (const t of model.ensemble.trees) m += t.value[leafOf(t, get)] as number;
        expect(margin).toBeCloseTo(m, 9);
        expect(out.reduce((s, v) => s + v, explain.bias)).toBeCloseTo(m, 9);
      }
      expect(worst).toBeLessThan(1e-5);
    });
  }

  it('ranks the top features by absolute contribution', () => {
    const model = importXgboostJson(readFileSync(join(FIXTURES, contribs.numeric.model), 'utf8'));
    const explain = new TreeContributions(model.ensemble);
    const { features, valuesRowMajor } = rowsOf.numeric;
    const get = (f: number) => valuesRowMajor[f] ?? Number.NaN;
    const top = explain.top(get, 3);
    const want = (contribs.numeric.approxContribs[0] as number[]).slice(0, features);
    const order = want
      .map((v, f) => [f, v] as const)
      .filter(([, v]) => v !== 0)
      .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
      .slice(0, 3)
      .map(([f]) => f);
    expect(top.map((t) => t.feature)).toEqual(order);
  });
});
