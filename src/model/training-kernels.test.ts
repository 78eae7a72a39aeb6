import { describe, expect, it } from 'vitest';
import { Rng } from '../core/index.js';
import { fullHistogramKernel, histogramLayout } from './histogram-workers.js';
import { TrainingKernels } from './training-kernels.js';

/** Kernels over `n` random rows of features with `nBins` bins each (bin nBins[f] = missing), random gradients. */
function setup(nBins: number[], n: number, slots: number): TrainingKernels {
  const layout = histogramLayout(nBins);
  const k = TrainingKernels.create(layout, { n, nf: nBins.length, maxNodes: 64, weighted: false }, slots);
  if (!k) throw new Error('WebAssembly kernels unavailable');
  const rng = new Rng(7);
  const nf = nBins.length;
  for (let r = 0; r < n; r++)
    for (let f = 0; f < nf; f++) {
      const b = rng.int((nBins[f] as number) + 1);
      k.binned[r * nf + f] = b;
      k.binnedCols[f * n + r] = b;
    }
  for (let i = 0; i < 2 * n; i++) k.gh[i] = rng.next() - 0.5;
  return k;
}

describe('TrainingKernels', () => {
  const nBins = [12, 255, 2, 3, 7, 1];
  const n = 5000;
  const layout = histogramLayout(nBins);

  it('builds the JavaScript kernel histogram bit for bit, in a memory slot and into an ordinary array', () => {
    for (const slots of [1, 0]) {
      const k = setup(nBins, n, slots);
      expect(k.slots.length).toBe(slots);
      // every third row, in order (a node's rows)
      const rows = Uint32Array.from({ length: Math.floor(n / 3) }, (_, i) => 3 * i);
      k.rowIdx.set(rows);
      for (const [indexed, begin, end] of [
        [true, 0, rows.length],
        [true, 17, 900],
        [false, 0, n],
      ] as const) {
        const want = new Float64Array(layout[nBins.length] as number);
        fullHistogramKernel(layout, indexed)(want, k.binned, k.rowIdx, begin, end, k.gh);
        const got = k.slots[0]?.fill(0) ?? new Float64Array(want.length);
        k.histogram(got, begin, end, indexed);
        expect(Array.from(got)).toEqual(Array.from(want));
      }
    }
  });

  it('partitions rows stably on a bin mask and assigns split leaves', () => {
    const k = setup(nBins, n, 1);
    const rows = Uint32Array.from({ length: 3000 }, (_, i) => i + (i >> 2));
    k.rowIdx.set(rows);
    k.mask.fill(0);
    for (const b of [0, 3, 5, 7]) k.mask[b] = 1;
    const f = 4;
    const goesLeft = (r: number): boolean => k.mask[k.binnedCols[f * n + r] as number] === 1;
    const begin = 100;
    const end = 2500;
    const inRange = Array.from(rows.subarray(begin, end));
    const left = inRange.filter(goesLeft);
    const right = inRange.filter((r) => !goesLeft(r));
    expect(left.length).toBeGreaterThan(0);
    expect(right.length).toBeGreaterThan(0);
    k.leafNode.fill(-1);
    k.assign(begin, end, f, 11, 12);
    for (const r of inRange) expect(k.leafNode[r]).toBe(goesLeft(r) ? 11 : 12);
    expect(k.partition(begin, end, f)).toBe(left.length);
    expect(Array.from(k.rowIdx.subarray(0, rows.length))).toEqual([
      ...rows.subarray(0, begin),
      ...left,
      ...right,
      ...rows.subarray(end),
    ]);
  });

  it('adds leaf values to margins and computes log-loss gradients, recomputing exp(-margin) out of range', () => {
    const m = 40;
    const k = TrainingKernels.create(layout, { n: m, nf: nBins.length, maxNodes: 4, weighted: true }, 0);
    if (!k) throw new Error('WebAssembly kernels unavailable');
    const value = Float64Array.of(0, 0.3, -0.2, 5);
    const expValue = value.map((v) => Math.exp(-v));
    const rows = Array.from({ length: m }, (_, r) => ({
      // rows 0..3 near the range ends: their product leaves 1e-300..1e300
      margin: r < 2 ? 691 + r : r < 4 ? -691 - r : (r - 20) / 7,
      leaf: 1 + (r % 3),
      y: r % 2,
      w: 0.5 + r / 10,
    }));
    rows.forEach((row, r) => {
      k.margin[r] = row.margin;
      k.expNeg[r] = Math.exp(-row.margin);
      k.leafNode[r] = row.leaf;
      k.y[r] = row.y;
      (k.w as Float64Array)[r] = row.w;
    });
    const sums = new Float64Array(2);
    expect(k.gradients(value, expValue, sums)).toBe(true);
    let G = 0;
    let H = 0;
    rows.forEach((row, r) => {
      const margin = row.margin + (value[row.leaf] as number);
      const product = Math.exp(-row.margin) * (expValue[row.leaf] as number);
      const e = product > 1e-300 && product < 1e300 ? product : Math.exp(-margin);
      const pr = 1 / (1 + e);
      const g = row.w * (pr - row.y);
      const h = Math.max(row.w * pr * (1 - pr), 1e-16);
      expect(k.margin[r]).toBe(margin);
      expect(k.expNeg[r]).toBe(e);
      expect([k.gh[2 * r], k.gh[2 * r + 1]]).toEqual([g, h]);
      G += g;
      H += h;
    });
    // rows 0 and 3 took the recomputation (their product is out of range, and differs from exp(-margin))
    for (const r of [0, 3]) {
      const product = Math.exp(-(rows[r]?.margin as number)) * (expValue[rows[r]?.leaf as number] as number);
      expect(product > 1e-300 && product < 1e300).toBe(false);
      expect(k.expNeg[r]).toBe(Math.exp(-(k.margin[r] as number)));
    }
    expect(Array.from(sums)).toEqual([G, H]);
    // a tree larger than the memory's node slots is left to the caller
    expect(k.gradients(new Float64Array(5), new Float64Array(5), sums)).toBe(false);
  });

  it('is null where WebAssembly is unavailable or for more than 1024 features', () => {
    expect(
      TrainingKernels.create(
        histogramLayout(new Array(1025).fill(2)),
        { n: 10, nf: 1025, maxNodes: 4, weighted: false },
        1,
      ),
    ).toBeNull();
    const wasm = (globalThis as { WebAssembly?: unknown }).WebAssembly;
    (globalThis as { WebAssembly?: unknown }).WebAssembly = undefined;
    try {
      expect(TrainingKernels.create(layout, { n: 10, nf: nBins.length, maxNodes: 4, weighted: false }, 1)).toBeNull();
    } finally {
      (globalThis as { WebAssembly?: unknown }).WebAssembly = wasm;
    }
  });
});
