import { describe, expect, it } from 'vitest';
import { CompiledScorer } from './scoring/compiled-scorer.js';
import { leafOf, type Tree, TreeBuilder, type TreeEnsemble } from './tree-ensemble.js';

/** Depth 2: numeric root on f0 (NaN left), categorical on f1 (codes 1, 3, 29 and NaN left, other codes right), numeric on f2. */
function mixedTree(): Tree {
  const b = new TreeBuilder();
  for (let i = 0; i < 7; i++) b.addLeaf(0, 1);
  b.setNumericSplit(0, 0, 0, 0, true, 1);
  b.setChildren(0, 1, 2);
  b.setCategoricalSplit(1, 1, [1, 3, 29], true, true, 1);
  b.setChildren(1, 3, 4);
  b.setNumericSplit(2, 2, 1.5, 0, false, 1);
  b.setChildren(2, 5, 6);
  [0.5, -0.25, 0.125, -1].forEach((v, k) => {
    b.value[3 + k] = v;
  });
  return b.finish();
}

/** One split on f1 whose listed codes go right (XGBoost style) and include a code >= 30. */
function wideCategoryTree(): Tree {
  const b = new TreeBuilder();
  for (let i = 0; i < 3; i++) b.addLeaf(0, 1);
  b.setCategoricalSplit(0, 1, [3, 40], false, true, 1);
  b.setChildren(0, 1, 2);
  b.value[1] = 0.01;
  b.value[2] = 0.02;
  return b.finish();
}

/** One categorical split on f1: the listed codes go left, missing goes the given way. */
function categoricalStump(codes: number[], missingLeft: boolean): Tree {
  const b = new TreeBuilder();
  for (let i = 0; i < 3; i++) b.addLeaf(0, 1);
  b.setCategoricalSplit(0, 1, codes, true, missingLeft, 1);
  b.setChildren(0, 1, 2);
  b.value[1] = 0.0625;
  b.value[2] = -0.03125;
  return b.finish();
}

/** One numeric split on f2 with the given threshold, missing right. */
function thresholdTree(threshold: number): Tree {
  const b = new TreeBuilder();
  for (let i = 0; i < 3; i++) b.addLeaf(0, 1);
  b.setNumericSplit(0, 2, threshold, 0, false, 1);
  b.setChildren(0, 1, 2);
  b.value[1] = 0.003;
  b.value[2] = 0.004;
  return b.finish();
}

const NUMERIC_EDGES = [
  Number.NaN,
  -0,
  0,
  -1,
  0.5,
  1.5,
  Math.fround(1.5 - 1e-7),
  2,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -3e38,
];
const CODE_EDGES = [0, 1, 3, 29, 30, 31, 40, 2.5, -1, Number.NaN, 1e9, -0];

/** 301 rows (several scratch blocks and a tail shorter than eight rows) cycling through the edge values. */
function edgeMatrix(rows = 301): { rows: number; values: Float32Array } {
  const values = new Float32Array(rows * 3);
  for (let r = 0; r < rows; r++) {
    values[r] = NUMERIC_EDGES[r % NUMERIC_EDGES.length] as number;
    values[rows + r] = CODE_EDGES[Math.floor(r / 3) % CODE_EDGES.length] as number;
    values[2 * rows + r] = NUMERIC_EDGES[Math.floor(r / 7) % NUMERIC_EDGES.length] as number;
  }
  return { rows, values };
}

function referenceMargins(e: TreeEnsemble, m: { rows: number; values: Float32Array }): Float64Array {
  const out = new Float64Array(m.rows);
  for (let r = 0; r < m.rows; r++) {
    let s = e.baseMargin;
    for (const t of e.trees) s += t.value[leafOf(t, (f) => m.values[f * m.rows + r] as number)] as number;
    out[r] = s;
  }
  return out;
}

/** Four mixed trees (walked together by the one-row path), the tree under test, one more mixed tree. */
const around = (t: Tree): Tree[] => [mixedTree(), mixedTree(), mixedTree(), mixedTree(), t, mixedTree()];

const ensembles: Array<[string, Tree[]]> = [
  ['numeric and small-code categorical splits (scratch kernels, a column per categorical split)', around(mixedTree())],
  [
    // nested go-right sets share a column: {all but 3} contains {all but 2, 3 and missing}
    'nested small-code categorical splits (scratch kernels, a column per chain of nested splits)',
    [
      mixedTree(),
      categoricalStump([0], true),
      categoricalStump([1, 29], false),
      categoricalStump([3], false),
      categoricalStump([2, 3], true),
    ],
  ],
  [
    // go-right sets that do not nest, more of them than half the steps a row takes: the per-step select kernel
    'many unrelated small-code categorical splits (mixed scratch kernel)',
    [
      mixedTree(),
      categoricalStump([0], false),
      categoricalStump([4], false),
      categoricalStump([5], false),
      categoricalStump([6], false),
      categoricalStump([7], false),
    ],
  ],
  ['a category code >= 30 (fallback kernel)', around(wideCategoryTree())],
  ['a -Infinity threshold (fallback kernel)', around(thresholdTree(Number.NEGATIVE_INFINITY))],
  ['a +Infinity threshold', around(thresholdTree(Number.POSITIVE_INFINITY))],
  ['numeric splits only', [thresholdTree(1.5), thresholdTree(-0)]],
];

describe('CompiledScorer on edge values', () => {
  for (const [name, trees] of ensembles) {
    it(`matches the reference traversal: ${name}`, () => {
      const e: TreeEnsemble = { numFeatures: 3, baseMargin: 0.1, trees };
      const m = edgeMatrix();
      const want = referenceMargins(e, m);
      const scorer = new CompiledScorer(e);
      expect(Array.from(scorer.predictMargin(m))).toEqual(Array.from(want));
      // the JavaScript kernels (without WebAssembly), and short inputs: one tail block, fewer rows than eight
      const js = new CompiledScorer(e, { webAssembly: false });
      expect(js.usesWebAssembly).toBe(false);
      expect(Array.from(js.predictMargin(m))).toEqual(Array.from(want));
      for (const rows of [1, 7, 9]) {
        const short = edgeMatrix(rows);
        expect(Array.from(scorer.predictMargin(short))).toEqual(Array.from(referenceMargins(e, short)));
      }
      const row = new Float32Array(3);
      for (let r = 0; r < m.rows; r++) {
        for (let c = 0; c < 3; c++) row[c] = m.values[c * m.rows + r] as number;
        expect(scorer.predictRowMargin(row)).toBe(want[r]);
      }
    });
  }

  it('runs the WebAssembly kernel unless a split needs the fallback or the mixed kernel', () => {
    const uses = (trees: Tree[]): boolean =>
      new CompiledScorer({ numFeatures: 3, baseMargin: 0, trees }).usesWebAssembly;
    expect(uses([thresholdTree(1.5), thresholdTree(-0)])).toBe(true);
    expect(uses(around(mixedTree()))).toBe(true);
    expect(uses(around(wideCategoryTree()))).toBe(false);
    expect(uses(around(thresholdTree(Number.NEGATIVE_INFINITY)))).toBe(false);
  });

  it('a categorical split sends missing values its default way and unknown codes to the not-listed side', () => {
    const e: TreeEnsemble = { numFeatures: 3, baseMargin: 0, trees: [mixedTree()] };
    const scorer = new CompiledScorer(e);
    // f0 < 0 reaches the categorical node: listed codes and missing go left (0.5), others right (-0.25)
    expect(scorer.predictRowMargin([-1, 3, 0])).toBe(0.5);
    expect(scorer.predictRowMargin([-1, Number.NaN, 0])).toBe(0.5);
    expect(scorer.predictRowMargin([-1, 2.5, 0])).toBe(-0.25);
    expect(scorer.predictRowMargin([-1, 1e9, 0])).toBe(-0.25);
  });
});
