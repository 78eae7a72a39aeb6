import { describe, expect, it } from 'vitest';
import { InvalidInputError, Rng } from '../core/index.js';
import { binColumnMajor } from './binning.js';
import { type GbdtParams, trainGbdt } from './gbdt-trainer.js';
import type { FeatureKind, ModelMatrix } from './model-matrix.js';
import { CompiledScorer } from './scoring/compiled-scorer.js';
import { treeDepth } from './tree-ensemble.js';

/** Mixed data: numeric with missing values, a categorical column, a heavy-tailed column. */
function data(n: number, seed: number): { m: ModelMatrix; y: Uint8Array; kinds: FeatureKind[] } {
  const rng = new Rng(seed);
  const nf = 6;
  const values = new Float32Array(n * nf);
  const y = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    const a = rng.normal();
    const b = rng.normal();
    const c = rng.int(12);
    values[r] = rng.next() < 0.1 ? Number.NaN : a;
    values[n + r] = b;
    values[2 * n + r] = c;
    values[3 * n + r] = Math.exp(2 * rng.normal());
    values[4 * n + r] = rng.next() < 0.5 ? Number.NaN : rng.int(5);
    values[5 * n + r] = rng.normal();
    const z = a - 0.5 * b + (c % 3 === 0 ? 1 : -0.5) + 0.3 * Math.log((values[3 * n + r] as number) + 1e-3);
    y[r] = rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return {
    m: { rows: n, columns: ['a', 'b', 'c', 'd', 'e', 'f'], values },
    y,
    kinds: ['numeric', 'numeric', 'categorical', 'numeric', 'numeric', 'numeric'],
  };
}

function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
  return d;
}

const cases: Array<[string, Partial<GbdtParams>, boolean]> = [
  ['depth-wise numeric (heap layout)', { trees: 40, maxDepth: 6 }, false],
  ['depth-wise with a categorical column (heap layout with category bitsets)', { trees: 40, maxDepth: 5 }, true],
  [
    'deep leaf-wise trees (pointer layout past depth 10)',
    { trees: 15, growth: 'leafwise', maxLeaves: 64, maxDepth: 0, minChildWeight: 0.1 },
    false,
  ],
  ['row and column subsampling', { trees: 30, maxDepth: 4, subsample: 0.6, colsampleByTree: 0.5, seed: 3 }, true],
];

describe('CompiledScorer', () => {
  for (const [name, params, withCat] of cases) {
    it(`equals the trainer's own predictions: ${name}`, () => {
      const { m, y, kinds } = data(3000, 1);
      const model = trainGbdt(m, y, params, { featureKinds: withCat ? kinds : kinds.map(() => 'numeric') });
      if (params.growth === 'leafwise')
        expect(Math.max(...model.ensemble.trees.map((t) => treeDepth(t)))).toBeGreaterThan(10);
      const scorer = new CompiledScorer(model.ensemble, { bins: model.bins });
      expect(maxAbsDiff(scorer.predictMargin(m), model.trainMargins)).toBeLessThan(1e-6);
      const binned = binColumnMajor(model.bins, m);
      expect(maxAbsDiff(scorer.predictBinnedMargin(binned, m.rows), model.trainMargins)).toBeLessThan(1e-6);
      // the JavaScript kernels give the same margins as the WebAssembly kernel
      expect(scorer.usesWebAssembly).toBe(true);
      const js = new CompiledScorer(model.ensemble, { bins: model.bins, webAssembly: false });
      expect(js.usesWebAssembly).toBe(false);
      expect(maxAbsDiff(js.predictMargin(m), scorer.predictMargin(m))).toBe(0);
      expect(maxAbsDiff(js.predictBinnedMargin(binned, m.rows), scorer.predictBinnedMargin(binned, m.rows))).toBe(0);
      const row = new Float32Array(m.columns.length);
      for (let r = 0; r < 300; r++) {
        for (let c = 0; c < row.length; c++) row[c] = m.values[c * m.rows + r] as number;
        expect(Math.abs(scorer.predictRowMargin(row) - (model.trainMargins[r] as number))).toBeLessThan(1e-6);
      }
    });
  }

  it('scores unseen data the same on raw values and on training bins', () => {
    const train = data(3000, 2);
    const fresh = data(1001, 3); // odd row count exercises the tail of the 8-row loop
    const model = trainGbdt(train.m, train.y, { trees: 30, maxDepth: 6 });
    const scorer = new CompiledScorer(model.ensemble, { bins: model.bins });
    const raw = scorer.predictMargin(fresh.m);
    const binned = scorer.predictBinnedMargin(binColumnMajor(model.bins, fresh.m), fresh.m.rows);
    expect(maxAbsDiff(raw, binned)).toBe(0);
    const probs = scorer.predict(fresh.m);
    for (let r = 0; r < 10; r++) expect(probs[r]).toBeCloseTo(1 / (1 + Math.exp(-(raw[r] as number))), 12);
  });

  it('scores unseen categorical codes and missing values the same on raw values and on training bins', () => {
    const train = data(3000, 5);
    const fresh = data(1003, 6);
    // codes never seen in training (other bin), non-integer, negative, and missing codes
    const odd = [40, 2.5, -1, Number.NaN, 12, 1e9];
    for (let r = 0; r < fresh.m.rows; r += 5) fresh.m.values[2 * fresh.m.rows + r] = odd[r % odd.length] as number;
    const model = trainGbdt(train.m, train.y, { trees: 30, maxDepth: 5 }, { featureKinds: train.kinds });
    const bins = binColumnMajor(model.bins, fresh.m);
    for (const webAssembly of [true, false]) {
      const scorer = new CompiledScorer(model.ensemble, { bins: model.bins, webAssembly });
      const raw = scorer.predictMargin(fresh.m);
      expect(maxAbsDiff(raw, scorer.predictBinnedMargin(bins, fresh.m.rows))).toBe(0);
      const row = new Float32Array(fresh.m.columns.length);
      for (let r = 0; r < 200; r++) {
        for (let c = 0; c < row.length; c++) row[c] = fresh.m.values[c * fresh.m.rows + r] as number;
        expect(scorer.predictRowMargin(row)).toBe(raw[r]);
      }
    }
  });

  it('rejects inputs of the wrong shape', () => {
    const { m, y } = data(200, 4);
    const model = trainGbdt(m, y, { trees: 2 });
    const scorer = new CompiledScorer(model.ensemble);
    expect(() => scorer.predictMargin({ rows: 10, values: new Float32Array(59) })).toThrow(InvalidInputError);
    expect(() => scorer.predictRow([1, 2])).toThrow(/expects 6/);
    expect(() => scorer.predictBinnedMargin(new Uint8Array(60), 10)).toThrow(/without training bins/);
  });
});
