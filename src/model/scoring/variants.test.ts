import { describe, expect, it } from 'vitest';
import { Rng } from '../../core/index.js';
import { binColumnMajor } from '../binning.js';
import { type GbdtParams, trainGbdt } from '../gbdt-trainer.js';
import type { FeatureKind, ModelMatrix } from '../model-matrix.js';
import { CompiledScorer } from './compiled-scorer.js';

/**
 * Every kernel variant must give the same bits: raw and binned, numeric and categorical (codes below the mask
 * width, and codes past it, which take the direct kernel), with and without missing values, heap and pointer
 * trees, WebAssembly and JavaScript, batch and one row.
 */
function randomData(
  n: number,
  seed: number,
  opts: { categories: number; missing: boolean },
): { m: ModelMatrix; y: Uint8Array; kinds: FeatureKind[] } {
  const rng = new Rng(seed);
  const nf = 5;
  const values = new Float32Array(n * nf);
  const y = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    for (let f = 0; f < nf; f++) {
      const cat = f === 1 && opts.categories > 0;
      let x = cat ? rng.int(opts.categories) : rng.normal();
      if (opts.missing && rng.next() < 0.15) x = Number.NaN;
      values[f * n + r] = x;
    }
    const a = values[r] as number;
    const c = values[n + r] as number;
    const z = (Number.isNaN(a) ? 0.3 : a) + (c % 3 === 0 ? 0.8 : -0.4) + 0.5 * rng.normal();
    y[r] = z > 0 ? 1 : 0;
  }
  const kinds: FeatureKind[] = [
    'numeric',
    opts.categories > 0 ? 'categorical' : 'numeric',
    'numeric',
    'numeric',
    'numeric',
  ];
  return { m: { rows: n, columns: ['a', 'b', 'c', 'd', 'e'], values }, y, kinds };
}

function bits(a: Float64Array): bigint[] {
  return Array.from(new BigUint64Array(a.buffer, a.byteOffset, a.length));
}

const shapes: Array<[string, Partial<GbdtParams>]> = [
  ['heap trees', { trees: 12, maxDepth: 5 }],
  ['heap and pointer trees', { trees: 6, growth: 'leafwise', maxLeaves: 48, maxDepth: 0, minChildWeight: 0.05 }],
];

describe('scorer kernel variants', () => {
  for (const categories of [0, 12, 40])
    for (const missing of [false, true])
      for (const [shape, params] of shapes) {
        it(`give the same bits: ${categories} categories, ${missing ? 'with' : 'no'} missing values, ${shape}`, () => {
          const seed = 11 + categories + (missing ? 1 : 0);
          const { m, y, kinds } = randomData(1203, seed, { categories, missing });
          const model = trainGbdt(m, y, { ...params, seed }, { featureKinds: kinds });
          const wasm = new CompiledScorer(model.ensemble, { bins: model.bins });
          const js = new CompiledScorer(model.ensemble, { bins: model.bins, webAssembly: false });
          const binned = binColumnMajor(model.bins, m);
          const reference = bits(js.predictMargin(m));
          expect(bits(wasm.predictMargin(m))).toEqual(reference);
          expect(bits(wasm.predictBinnedMargin(binned, m.rows))).toEqual(reference);
          expect(bits(js.predictBinnedMargin(binned, m.rows))).toEqual(reference);
          const row = new Float64Array(m.columns.length);
          const one = new Float64Array(m.rows);
          for (let r = 0; r < m.rows; r++) {
            for (let f = 0; f < row.length; f++) row[f] = m.values[f * m.rows + r] as number;
            one[r] = wasm.predictRowMargin(row);
          }
          expect(bits(one)).toEqual(reference);
          // and the margins are the trainer's (the same sums in the same order)
          expect(Array.from(js.predictMargin(m))).toEqual(Array.from(model.trainMargins));
        });
      }
});
