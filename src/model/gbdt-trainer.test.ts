import { describe, expect, it } from 'vitest';
import { InvalidInputError, Rng } from '../core/index.js';
import { type GbdtParams, trainGbdt } from './gbdt-trainer.js';
import { rocAuc } from './metrics.js';
import type { FeatureKind, ModelMatrix } from './model-matrix.js';
import { CompiledScorer } from './scoring/compiled-scorer.js';
import { inCategorySet } from './tree-ensemble.js';

/** n rows of `nf` uniform [0, 1) features, label drawn from sigmoid(f(row)). */
function synth(
  n: number,
  nf: number,
  f: (x: (c: number) => number) => number,
  seed = 1,
  noisy = true,
): { m: ModelMatrix; y: Uint8Array } {
  const rng = new Rng(seed);
  const values = new Float32Array(n * nf);
  // noise-free cases use 40 levels so that every threshold the target needs is a bin edge
  for (let i = 0; i < values.length; i++) values[i] = noisy ? rng.next() : Math.floor(rng.next() * 40) / 40;
  const y = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    const z = f((c) => values[c * n + r] as number);
    y[r] = noisy ? (rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0) : z > 0 ? 1 : 0;
  }
  return { m: { rows: n, columns: Array.from({ length: nf }, (_, i) => `x${i}`), values }, y };
}

function accuracy(margins: Float64Array, y: Uint8Array): number {
  let ok = 0;
  for (let r = 0; r < y.length; r++) if ((margins[r] as number) > 0 === (y[r] === 1)) ok++;
  return ok / y.length;
}

const small: Partial<GbdtParams> = { trees: 30, learningRate: 0.3, maxDepth: 3 };

describe('trainGbdt', () => {
  it('learns AND and XOR of two features exactly (noise-free labels)', () => {
    const and = synth(2000, 3, (x) => (x(0) > 0.5 && x(1) > 0.5 ? 1 : -1), 1, false);
    expect(accuracy(trainGbdt(and.m, and.y, small).trainMargins, and.y)).toBe(1);
    const xor = synth(2000, 3, (x) => (x(0) > 0.5 !== x(1) > 0.5 ? 1 : -1), 2, false);
    const model = trainGbdt(xor.m, xor.y, small);
    expect(accuracy(model.trainMargins, xor.y)).toBe(1);
    // the irrelevant third feature gets (almost) no gain
    expect(model.importance.gain[2] as number).toBeLessThan(0.01 * (model.importance.gain[0] as number));
  });

  it('learns a monotone trend: predictions rise with the feature', () => {
    const { m, y } = synth(5000, 2, (x) => 6 * x(0) - 3, 3);
    const model = trainGbdt(m, y, { trees: 50, learningRate: 0.1, maxDepth: 2 });
    const scorer = new CompiledScorer(model.ensemble);
    const grid = [0.05, 0.25, 0.5, 0.75, 0.95].map((v) => scorer.predictRow(new Float32Array([v, 0.5])));
    for (let i = 1; i < grid.length; i++) expect(grid[i] as number).toBeGreaterThan(grid[i - 1] as number);
    expect(grid[0] as number).toBeLessThan(0.15);
    expect(grid[4] as number).toBeGreaterThan(0.85);
  });

  it('learns a categorical effect with partition splits', () => {
    const n = 6000;
    const rng = new Rng(4);
    const effect = [-2, 2, -2, 2, 0, -2, 2, -2]; // not monotone in the code: needs a set split
    const values = new Float32Array(n * 2);
    const y = new Uint8Array(n);
    for (let r = 0; r < n; r++) {
      const c = rng.int(8);
      values[r] = c;
      values[n + r] = rng.next();
      y[r] = rng.next() < 1 / (1 + Math.exp(-(effect[c] as number))) ? 1 : 0;
    }
    const m = { rows: n, columns: ['cat', 'noise'], values };
    const kinds: FeatureKind[] = ['categorical', 'numeric'];
    const model = trainGbdt(m, y, { trees: 20, maxDepth: 2, learningRate: 0.3 }, { featureKinds: kinds });
    const scorer = new CompiledScorer(model.ensemble);
    for (let c = 0; c < 8; c++) {
      const p = scorer.predictRow(new Float32Array([c, 0.5]));
      const want = 1 / (1 + Math.exp(-(effect[c] as number)));
      expect(Math.abs(p - want)).toBeLessThan(0.08);
    }
    // a root split on the category separates {1,3,6} (+2) from the rest
    expect(model.ensemble.trees[0]?.catOffset[0]).toBeGreaterThanOrEqual(0);
    // unseen and negative codes go to the "other" side without failing
    expect(Number.isFinite(scorer.predictRow(new Float32Array([99, 0.5])))).toBe(true);
    expect(Number.isFinite(scorer.predictRow(new Float32Array([-1, 0.5])))).toBe(true);
  });

  it('learns a default direction for missing values', () => {
    // missing x0 means "positive": the model must send NaN towards the positive side
    const n = 4000;
    const rng = new Rng(5);
    const values = new Float32Array(n * 2);
    const y = new Uint8Array(n);
    for (let r = 0; r < n; r++) {
      const missing = rng.next() < 0.3;
      const v = Math.floor(rng.next() * 40) / 40;
      values[r] = missing ? Number.NaN : v;
      values[n + r] = rng.next();
      y[r] = missing || v >= 0.8 ? 1 : 0;
    }
    const model = trainGbdt({ rows: n, columns: ['x0', 'x1'], values }, y, small);
    const scorer = new CompiledScorer(model.ensemble);
    expect(scorer.predictRow(new Float32Array([Number.NaN, 0.5]))).toBeGreaterThan(0.9);
    expect(scorer.predictRow(new Float32Array([0.2, 0.5]))).toBeLessThan(0.1);
    expect(accuracy(model.trainMargins, y)).toBe(1);
  });

  it('handles constant and all-missing columns (never splits on them)', () => {
    const { m, y } = synth(2000, 3, (x) => 4 * x(0) - 2, 6);
    m.values.fill(7, 2000, 4000);
    m.values.fill(Number.NaN, 4000, 6000);
    const model = trainGbdt(m, y, small);
    expect(model.importance.split[1]).toBe(0);
    expect(model.importance.split[2]).toBe(0);
    expect(model.importance.split[0]).toBeGreaterThan(0);
  });

  it('is deterministic per seed, including row and column subsampling', () => {
    const { m, y } = synth(3000, 6, (x) => 3 * x(0) - 2 * x(1) + x(2) - 1, 7);
    const p: Partial<GbdtParams> = { trees: 20, subsample: 0.7, colsampleByTree: 0.5, seed: 11 };
    const a = trainGbdt(m, y, p);
    const b = trainGbdt(m, y, p);
    expect(Array.from(a.trainMargins)).toEqual(Array.from(b.trainMargins));
    const c = trainGbdt(m, y, { ...p, seed: 12 });
    expect(Array.from(c.trainMargins)).not.toEqual(Array.from(a.trainMargins));
  });

  it('trains on two threads deterministically, equal to one thread up to summation order', () => {
    // large enough for the helper thread: rows x features >= 1M, nodes >= 16K rows
    const { m, y } = synth(60_000, 20, (x) => 3 * x(0) - 2 * x(1) + (x(2) > 0.5 ? 1 : -1), 15);
    const p: Partial<GbdtParams> = { trees: 4, maxDepth: 4, subsample: 0.9, seed: 2 };
    const one = trainGbdt(m, y, { ...p, threads: 1 });
    const twoA = trainGbdt(m, y, { ...p, threads: 2 });
    const twoB = trainGbdt(m, y, { ...p, threads: 2 });
    expect(Array.from(twoA.trainMargins)).toEqual(Array.from(twoB.trainMargins));
    let maxDiff = 0;
    for (let r = 0; r < y.length; r++)
      maxDiff = Math.max(maxDiff, Math.abs((one.trainMargins[r] as number) - (twoA.trainMargins[r] as number)));
    expect(maxDiff).toBeLessThan(1e-9);
  });

  it('trains on two threads with missing values, categories and column sampling like one thread', () => {
    // the helper's histogram layout (value bins, then the missing slot, per feature) must match the trainer's
    const n = 60_000;
    const nf = 20;
    const rng = new Rng(16);
    const values = new Float32Array(n * nf);
    const kinds: FeatureKind[] = [];
    for (let c = 0; c < nf; c++) {
      kinds.push(c % 4 === 1 ? 'categorical' : 'numeric');
      for (let r = 0; r < n; r++)
        values[c * n + r] =
          rng.next() < 0.1 ? Number.NaN : c % 4 === 1 ? rng.int(3 + c) : c % 4 === 2 ? rng.int(7) : rng.next();
    }
    const y = new Uint8Array(n);
    for (let r = 0; r < n; r++) {
      const v = (c: number): number =>
        Number.isNaN(values[c * n + r] as number) ? 0.5 : (values[c * n + r] as number);
      y[r] = rng.next() < 1 / (1 + Math.exp(-(2 * v(0) + (v(1) % 3 === 0 ? 1 : -1) + 0.3 * v(2) - 1))) ? 1 : 0;
    }
    const m = { rows: n, columns: Array.from({ length: nf }, (_, i) => `x${i}`), values };
    for (const colsampleByTree of [1, 0.5]) {
      const p: Partial<GbdtParams> = { trees: 4, maxDepth: 4, colsampleByTree, seed: 3 };
      const one = trainGbdt(m, y, { ...p, threads: 1 }, { featureKinds: kinds });
      const two = trainGbdt(m, y, { ...p, threads: 2 }, { featureKinds: kinds });
      let maxDiff = 0;
      for (let r = 0; r < n; r++)
        maxDiff = Math.max(maxDiff, Math.abs((one.trainMargins[r] as number) - (two.trainMargins[r] as number)));
      expect(maxDiff).toBeLessThan(1e-9);
      expect(two.ensemble.trees.map((t) => Array.from(t.feature))).toEqual(
        one.ensemble.trees.map((t) => Array.from(t.feature)),
      );
    }
  });

  it('trains the same trees with the WebAssembly row loops as with the JavaScript ones', () => {
    // missing values, categories, depth-limited and leaf-wise growth, row and column sampling, weights, validation
    const n = 3000;
    const nf = 8;
    const rng = new Rng(31);
    const values = new Float32Array(n * nf);
    const kinds: FeatureKind[] = [];
    for (let c = 0; c < nf; c++) {
      kinds.push(c % 3 === 1 ? 'categorical' : 'numeric');
      for (let r = 0; r < n; r++)
        values[c * n + r] = rng.next() < 0.08 ? Number.NaN : c % 3 === 1 ? rng.int(4 + 3 * c) : rng.next();
    }
    const y = Uint8Array.from({ length: n }, (_, r) => {
      const v = (c: number): number =>
        Number.isNaN(values[c * n + r] as number) ? 0.3 : (values[c * n + r] as number);
      return rng.next() < 1 / (1 + Math.exp(-(3 * v(0) - 1.5 + (v(1) % 2 === 0 ? 0.8 : -0.6) + v(2) * v(3)))) ? 1 : 0;
    });
    const m: ModelMatrix = { rows: n, columns: Array.from({ length: nf }, (_, i) => `x${i}`), values };
    const valid = { matrix: m, labels: y };
    const cases: Array<Partial<GbdtParams>> = [
      { trees: 12, maxDepth: 5 },
      { trees: 8, growth: 'leafwise', maxDepth: 0, maxLeaves: 24 },
      { trees: 8, maxDepth: 4, subsample: 0.7, colsampleByTree: 0.6, seed: 5 },
    ];
    const wasm = (globalThis as { WebAssembly?: unknown }).WebAssembly;
    expect(wasm).toBeDefined();
    const weights = Float64Array.from({ length: n }, (_, r) => 0.5 + (r % 7) / 3);
    for (const [i, p] of cases.entries()) {
      // the last case weighted
      const options = { featureKinds: kinds, validation: valid, ...(i === cases.length - 1 ? { weights } : {}) };
      const fast = trainGbdt(m, y, p, options);
      let plain: ReturnType<typeof trainGbdt>;
      // the trainer's fallback where WebAssembly is unavailable
      (globalThis as { WebAssembly?: unknown }).WebAssembly = undefined;
      try {
        plain = trainGbdt(m, y, p, options);
      } finally {
        (globalThis as { WebAssembly?: unknown }).WebAssembly = wasm;
      }
      expect(fast.ensemble.trees.length).toBeGreaterThan(0);
      expect(JSON.stringify(fast.ensemble)).toBe(JSON.stringify(plain.ensemble));
      expect(Array.from(fast.trainMargins)).toEqual(Array.from(plain.trainMargins));
      expect(fast.history.validLogLoss).toEqual(plain.history.validLogLoss);
    }
  });

  it('splits a categorical feature at the best prefix of its categories ordered by g / (h + catSmooth)', () => {
    // 12 categories (insertion-sorted) and 80 (the sort above INSERTION_SORT_MAX), with tied ratios: the root split
    // must be the reference's (all categories' sums, sorted, every prefix tried, the first best kept)
    for (const k of [12, 80]) {
      const rng = new Rng(k);
      const codes: number[] = [];
      const labels: number[] = [];
      for (let c = 0; c < k; c++) {
        const count = 30 + 10 * (c % 3);
        const positives = Math.round(count * [0.1, 0.5, 0.3, 0.7, 0.2][(c * 7) % 5]!);
        // blocks with the same count and positives give bit-equal sums: tied ratios
        for (let i = 0; i < count; i++) {
          codes.push(c);
          labels.push(i < positives ? 1 : 0);
        }
      }
      for (let i = 0; i < 200; i++) {
        codes.push(Number.NaN);
        labels.push(rng.next() < 0.4 ? 1 : 0);
      }
      const n = codes.length;
      const m = { rows: n, columns: ['cat'], values: Float32Array.from(codes) };
      const y = Uint8Array.from(labels);
      const p = { trees: 1, maxDepth: 1, catSmooth: 10, lambda: 1, minChildWeight: 1 };
      const model = trainGbdt(m, y, p, { featureKinds: ['categorical'] });
      // reference: the trainer's first gradients, summed per bin in row order
      const categories = model.bins.features[0]?.categories as Int32Array;
      const prior = labels.reduce((a, b) => a + b, 0) / n;
      const pr = 1 / (1 + Math.exp(-Math.log(prior / (1 - prior))));
      const hess = Math.max(pr * (1 - pr), 1e-16);
      const G = new Float64Array(k);
      const H = new Float64Array(k);
      let gm = 0;
      let hm = 0;
      let gAll = 0;
      let hAll = 0;
      for (let r = 0; r < n; r++) {
        const g = pr - (y[r] as number);
        gAll += g;
        hAll += hess;
        if (Number.isNaN(codes[r] as number)) {
          gm += g;
          hm += hess;
          continue;
        }
        const b = categories.indexOf(codes[r] as number);
        G[b] = (G[b] as number) + g;
        H[b] = (H[b] as number) + hess;
      }
      const ratio = (b: number): number => (G[b] as number) / ((H[b] as number) + p.catSmooth);
      const order = Array.from({ length: k }, (_, b) => b).sort((a, b) => ratio(a) - ratio(b) || a - b);
      let best = Number.NEGATIVE_INFINITY;
      let bestCount = 0;
      let gl = 0;
      let hl = 0;
      const score = (g: number, h: number): number => (g * g) / (h + p.lambda);
      for (let i = 0; i < k; i++) {
        gl += G[order[i] as number] as number;
        hl += H[order[i] as number] as number;
        for (const [gL, hL] of [
          [gl, hl],
          [gl + gm, hl + hm],
        ] as const) {
          const gain = score(gL, hL) + score(gAll - gL, hAll - hL) - score(gAll, hAll);
          if (hL >= 1 && hAll - hL >= 1 && gain > best) {
            best = gain;
            bestCount = i + 1;
          }
        }
      }
      const expected = new Set(order.slice(0, bestCount).map((b) => categories[b] as number));
      const tree = model.ensemble.trees[0];
      if (!tree) throw new Error('no tree');
      expect(tree.catOffset[0]).toBeGreaterThanOrEqual(0);
      expect(tree.catSetLeft[0]).toBe(1);
      const got = new Set(Array.from({ length: k }, (_, c) => c).filter((c) => inCategorySet(tree, 0, c)));
      expect([...got].sort((a, b) => a - b)).toEqual([...expected].sort((a, b) => a - b));
      expect(tree.gain[0]).toBe(Math.fround(best));
    }
  });

  it('stops early on a validation set and keeps the best round', () => {
    // pure noise labels: validation loss stops improving almost at once
    const train = synth(2000, 5, () => 0, 8);
    const valid = synth(1000, 5, () => 0, 9);
    const model = trainGbdt(
      train.m,
      train.y,
      { trees: 200, learningRate: 0.3, maxDepth: 6, earlyStoppingRounds: 5 },
      { validation: { matrix: valid.m, labels: valid.y } },
    );
    expect(model.bestIteration).toBeLessThan(50);
    expect(model.ensemble.trees.length).toBe(model.bestIteration);
    const losses = model.history.validLogLoss;
    expect(losses.length).toBe(model.bestIteration + 5);
    expect(Math.min(...losses)).toBe(losses[model.bestIteration - 1]);
    // trainMargins match the kept trees
    const scorer = new CompiledScorer(model.ensemble);
    const margins = scorer.predictMargin(train.m);
    for (let r = 0; r < 50; r++) expect(margins[r]).toBeCloseTo(model.trainMargins[r] as number, 9);
  });

  it('grows leaf-wise up to maxLeaves and generalises like depth-wise', () => {
    const { m, y } = synth(4000, 4, (x) => 4 * x(0) * x(1) - 1 + Math.sin(6 * x(2)), 10);
    const test = synth(4000, 4, (x) => 4 * x(0) * x(1) - 1 + Math.sin(6 * x(2)), 11);
    const lw = trainGbdt(m, y, { trees: 40, growth: 'leafwise', maxLeaves: 8, maxDepth: 0, learningRate: 0.1 });
    for (const t of lw.ensemble.trees) {
      let leaves = 0;
      for (let i = 0; i < t.left.length; i++) if ((t.left[i] as number) < 0) leaves++;
      expect(leaves).toBeLessThanOrEqual(8);
    }
    const dw = trainGbdt(m, y, { trees: 40, maxDepth: 3, learningRate: 0.1 });
    const aucLw = rocAuc(test.y, new CompiledScorer(lw.ensemble).predict(test.m));
    const aucDw = rocAuc(test.y, new CompiledScorer(dw.ensemble).predict(test.m));
    expect(aucLw).toBeGreaterThan(0.7);
    expect(Math.abs(aucLw - aucDw)).toBeLessThan(0.03);
  });

  it('uses sample weights: up-weighting positives raises predictions', () => {
    const { m, y } = synth(3000, 2, (x) => 2 * x(0) - 1, 12);
    const plain = trainGbdt(m, y, small);
    const w = Float64Array.from(y, (v) => (v === 1 ? 5 : 1));
    const weighted = trainGbdt(m, y, small, { weights: w });
    let up = 0;
    for (let r = 0; r < y.length; r++)
      if ((weighted.trainMargins[r] as number) > (plain.trainMargins[r] as number)) up++;
    expect(up / y.length).toBeGreaterThan(0.95);
  });

  it('respects min child weight, lambda and min split gain', () => {
    const { m, y } = synth(500, 2, (x) => 2 * x(0) - 1, 13);
    const stumps = trainGbdt(m, y, { trees: 5, maxDepth: 4, minSplitGain: 1e9 });
    for (const t of stumps.ensemble.trees) expect(t.left.length).toBe(1);
    const heavy = trainGbdt(m, y, { trees: 3, maxDepth: 6, minChildWeight: 40 });
    for (const t of heavy.ensemble.trees)
      for (let i = 0; i < t.cover.length; i++) expect(t.cover[i] as number).toBeGreaterThanOrEqual(40 - 1e-6);
    const shrunk = trainGbdt(m, y, { trees: 1, maxDepth: 1, lambda: 1e6 });
    const t0 = shrunk.ensemble.trees[0];
    for (let i = 0; i < (t0?.value.length ?? 0); i++) expect(Math.abs(t0?.value[i] as number)).toBeLessThan(1e-3);
  });

  it('rejects bad input with InvalidInputError', () => {
    const { m, y } = synth(100, 2, () => 0, 14);
    expect(() =>
      trainGbdt(
        m,
        Uint8Array.from(y, () => 2),
        small,
      ),
    ).toThrow(/labels must be 0 or 1/);
    expect(() => trainGbdt(m, y.subarray(0, 10), small)).toThrow(InvalidInputError);
    expect(() => trainGbdt(m, y, { maxBins: 300 })).toThrow(/maxBins/);
    expect(() => trainGbdt(m, y, { earlyStoppingRounds: 3 })).toThrow(/validation/);
  });
});
