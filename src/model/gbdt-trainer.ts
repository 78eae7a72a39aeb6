import { InvalidInputError, Rng } from '../core/index.js';
import {
  type BinMapper,
  binCount,
  binRowMajor,
  type FeatureBins,
  fitBins,
  MAX_VALUE_BINS,
  MISSING_BIN,
} from './binning.js';
import { GROWTH_POLICIES } from './choices.js';
import {
  type FullHistogramKernel,
  fullHistogramKernel,
  HistogramHelper,
  histogramLayout,
  toShared,
} from './histogram-workers.js';
import type { FeatureKind, ModelMatrix } from './model-matrix.js';
import { TrainingKernels } from './training-kernels.js';
import { inCategorySet, type Tree, TreeBuilder, type TreeEnsemble } from './tree-ensemble.js';

export { GROWTH_POLICIES };
export type GrowthPolicy = (typeof GROWTH_POLICIES)[number];

export interface GbdtParams {
  /** Boosting rounds (upper bound when early stopping). */
  readonly trees: number;
  readonly learningRate: number;
  /** Depth limit; 0 = none (leaf-wise only). */
  readonly maxDepth: number;
  /** Leaf limit for leaf-wise growth. */
  readonly maxLeaves: number;
  readonly growth: GrowthPolicy;
  readonly maxBins: number;
  /** L2 regularisation on leaf weights. */
  readonly lambda: number;
  /** Minimum sum of hessians in a child. */
  readonly minChildWeight: number;
  /** Minimum loss reduction to split (XGBoost's gamma). */
  readonly minSplitGain: number;
  /** Fraction of rows drawn per tree. */
  readonly subsample: number;
  /** Fraction of features drawn per tree. */
  readonly colsampleByTree: number;
  /** Smoothing added to the hessian when ordering categories for a partition split. */
  readonly catSmooth: number;
  /** Stop when validation log loss has not improved for this many rounds (0 = off; needs a validation set). */
  readonly earlyStoppingRounds: number;
  readonly seed: number;
  /** 1, or 2 to build large histograms on two threads (a helper worker; deterministic for a given count). */
  readonly threads: number;
}

export function defaultGbdtParams(): GbdtParams {
  return {
    trees: 100,
    learningRate: 0.1,
    maxDepth: 6,
    maxLeaves: 31,
    growth: 'depthwise',
    maxBins: MAX_VALUE_BINS,
    lambda: 1,
    minChildWeight: 1,
    minSplitGain: 0,
    subsample: 1,
    colsampleByTree: 1,
    catSmooth: 10,
    earlyStoppingRounds: 0,
    seed: 0,
    threads: 1,
  };
}

/** Validates and completes partial params; throws InvalidInputError naming the bad value. */
export function parseGbdtParams(input: Partial<GbdtParams> = {}): GbdtParams {
  const p = { ...defaultGbdtParams(), ...stripUndefined(input) };
  const check = (ok: boolean, name: string, want: string, got: unknown): void => {
    if (!ok) throw new InvalidInputError(`${name} must be ${want}, got ${String(got)}`);
  };
  check(Number.isInteger(p.trees) && p.trees >= 1, 'trees', 'an integer >= 1', p.trees);
  check(p.learningRate > 0 && p.learningRate <= 1, 'learningRate', 'in (0, 1]', p.learningRate);
  check(
    Number.isInteger(p.maxDepth) && p.maxDepth >= 0 && p.maxDepth <= 30,
    'maxDepth',
    'an integer 0..30',
    p.maxDepth,
  );
  check(Number.isInteger(p.maxLeaves) && p.maxLeaves >= 2, 'maxLeaves', 'an integer >= 2', p.maxLeaves);
  check((GROWTH_POLICIES as readonly string[]).includes(p.growth), 'growth', GROWTH_POLICIES.join(' or '), p.growth);
  check(p.growth === 'leafwise' || p.maxDepth >= 1, 'maxDepth', '>= 1 for depth-wise growth', p.maxDepth);
  check(
    Number.isInteger(p.maxBins) && p.maxBins >= 2 && p.maxBins <= MAX_VALUE_BINS,
    'maxBins',
    `an integer 2..${MAX_VALUE_BINS}`,
    p.maxBins,
  );
  check(p.lambda >= 0, 'lambda', '>= 0', p.lambda);
  check(p.minChildWeight >= 0, 'minChildWeight', '>= 0', p.minChildWeight);
  check(p.minSplitGain >= 0, 'minSplitGain', '>= 0', p.minSplitGain);
  check(p.subsample > 0 && p.subsample <= 1, 'subsample', 'in (0, 1]', p.subsample);
  check(p.colsampleByTree > 0 && p.colsampleByTree <= 1, 'colsampleByTree', 'in (0, 1]', p.colsampleByTree);
  check(p.catSmooth >= 0, 'catSmooth', '>= 0', p.catSmooth);
  check(
    Number.isInteger(p.earlyStoppingRounds) && p.earlyStoppingRounds >= 0,
    'earlyStoppingRounds',
    'an integer >= 0',
    p.earlyStoppingRounds,
  );
  check(Number.isInteger(p.seed), 'seed', 'an integer', p.seed);
  check(Number.isInteger(p.threads) && p.threads >= 1, 'threads', 'an integer >= 1', p.threads);
  return p;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export interface TrainOptions {
  /** Per-column kind; default all numeric. */
  readonly featureKinds?: readonly FeatureKind[];
  readonly weights?: ArrayLike<number>;
  readonly validation?: {
    readonly matrix: ModelMatrix;
    readonly labels: ArrayLike<number>;
    readonly weights?: ArrayLike<number>;
  };
  /** Reuse bins fitted elsewhere (same columns). */
  readonly bins?: BinMapper;
  /** Called after each tree with the trees built so far and the most there can be (early stopping ends sooner). */
  readonly onProgress?: (treesDone: number, treesTotal: number) => void;
}

export interface FeatureImportance {
  /** Total split gain per feature. */
  readonly gain: Float64Array;
  /** Number of splits per feature. */
  readonly split: Uint32Array;
}

export interface GbdtModel {
  readonly kind: 'gbdt';
  readonly columns: readonly string[];
  readonly featureKinds: readonly FeatureKind[];
  readonly bins: BinMapper;
  readonly ensemble: TreeEnsemble;
  readonly params: GbdtParams;
  readonly importance: FeatureImportance;
  /** Number of trees kept (the best round when early stopping). */
  readonly bestIteration: number;
  readonly history: { readonly validLogLoss: readonly number[] };
  /** The trainer's own margins for the training rows (base + kept trees), for parity checks. */
  readonly trainMargins: Float64Array;
}

interface SplitChoice {
  gain: number;
  feature: number;
  /** numeric: last bin going left */
  bin: number;
  defaultLeft: boolean;
  /** categorical: bins going left (null for numeric) */
  catBins: number[] | null;
  leftG: number;
  leftH: number;
}

interface Leaf {
  node: number;
  begin: number;
  end: number;
  depth: number;
  g: number;
  h: number;
  hist: Float64Array | null;
  split: SplitChoice | null;
  /** Its rows' leaf is already recorded in leafNode (children at the depth limit; see splitLeaf). */
  added: boolean;
}

/** Below this many matrix cells `threads > 1` trains on one thread (the helper would not pay off). */
export const GBDT_MIN_CELLS_FOR_THREADS = 1_000_000;
const MIN_ROWS_FOR_HELPER = 16_384;

/**
 * Trains a histogram gradient-boosted tree ensemble for binary log loss. Labels are 0/1; weights optional.
 * Deterministic given `params.seed`.
 */
export function trainGbdt(
  matrix: ModelMatrix,
  labels: ArrayLike<number>,
  params: Partial<GbdtParams> = {},
  options: TrainOptions = {},
): GbdtModel {
  const p = parseGbdtParams(params);
  const n = matrix.rows;
  const nf = matrix.columns.length;
  if (n === 0) throw new InvalidInputError('cannot train on 0 rows');
  if (nf === 0) throw new InvalidInputError('cannot train on 0 feature columns');
  if (labels.length !== n) throw new InvalidInputError(`labels has ${labels.length} values, matrix has ${n} rows`);
  // bytes, and no weights array when unweighted: the gradient pass streams every row's label and weight each tree
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = labels[i] as number;
    if (v !== 0 && v !== 1) throw new InvalidInputError(`labels must be 0 or 1, got ${v} at row ${i}`);
    y[i] = v;
  }
  const w = options.weights ? readWeights(options.weights, n, 'weights') : null;
  const kinds = options.featureKinds ?? matrix.columns.map((): FeatureKind => 'numeric');
  if (kinds.length !== nf)
    throw new InvalidInputError(`featureKinds has ${kinds.length} entries, matrix has ${nf} columns`);
  const bins =
    options.bins ??
    fitBins(matrix, { maxBins: p.maxBins, categorical: kinds.map((k) => k === 'categorical'), seed: p.seed });
  // two threads pay off only when a node's rows are many; the helper reads shared memory
  const useHelper = p.threads > 1 && n * nf >= GBDT_MIN_CELLS_FOR_THREADS;
  const nBins = Int32Array.from(bins.features, (f) => binCount(f));
  const layout = histogramLayout(nBins);
  // one thread: the row loops run in WebAssembly over arrays in its memory (null: the JavaScript loops below)
  const wasm = useHelper
    ? null
    : TrainingKernels.create(layout, { n, nf, maxNodes: maxTreeNodes(p), weighted: w !== null }, maxLiveHistograms(p));
  if (wasm) {
    wasm.y.set(y);
    if (w) wasm.w?.set(w);
  }
  let binned = binRowMajor(bins, matrix);
  if (useHelper) binned = toShared(binned, (b) => new Uint8Array(b));
  else if (wasm) {
    wasm.binned.set(binned);
    binned = wasm.binned;
  }
  // inside the trainer a missing value is bin nBins[f] (the slot after the feature's value bins): histograms take
  // only the slots their features use (histogramLayout)
  recodeMissing(binned, n, nBins);
  // column-major copy for partitioning: a node's rows read one feature, from a column that stays in cache
  const binnedCols = transposeBins(binned, n, nf, wasm?.binnedCols ?? new Uint8Array(n * nf));

  let sw = 0;
  let swy = 0;
  for (let i = 0; i < n; i++) {
    const wi = w ? (w[i] as number) : 1;
    sw += wi;
    swy += wi * (y[i] as number);
  }
  if (!(sw > 0)) throw new InvalidInputError('the sum of sample weights must be > 0');
  const prior = Math.min(Math.max(swy / sw, 1e-6), 1 - 1e-6);
  const baseMargin = Math.log(prior / (1 - prior));

  const valid = options.validation;
  let validBinned: Uint8Array | null = null;
  let validMargin: Float64Array | null = null;
  let validY: Float64Array | null = null;
  let validW: Float64Array | null = null;
  if (valid) {
    if (valid.matrix.columns.length !== nf)
      throw new InvalidInputError(`validation has ${valid.matrix.columns.length} columns, training has ${nf}`);
    if (valid.labels.length !== valid.matrix.rows)
      throw new InvalidInputError(
        `validation labels has ${valid.labels.length} values, its matrix has ${valid.matrix.rows} rows`,
      );
    validBinned = binRowMajor(bins, valid.matrix);
    validMargin = new Float64Array(valid.matrix.rows).fill(baseMargin);
    validY = Float64Array.from(valid.labels);
    validW = readWeights(valid.weights, valid.matrix.rows, 'validation weights');
  }
  if (p.earlyStoppingRounds > 0 && !valid) throw new InvalidInputError('earlyStoppingRounds needs a validation set');

  const margin = (wasm?.margin ?? new Float64Array(n)).fill(baseMargin);
  // exp(-margin) per row, updated by multiplying with exp(-leaf value) (one exp per leaf instead of one per row
  // and tree: Math.exp was 10 of the 12 ns per row of the gradient pass). Relative drift after T trees is at most
  // about T ulps, far below the histogram's rounding; out-of-range values are recomputed from the margin.
  const expNeg = (wasm?.expNeg ?? new Float64Array(n)).fill(Math.exp(-baseMargin));
  // the leaf (node id) of each row in the last tree: its value is added in the next gradient pass, which reads
  // rows in order, instead of row by row in each leaf's range (scattered loads and stores)
  const leafNode = wasm?.leafNode ?? new Int32Array(n);
  let pendingValue: Float64Array | null = null;
  let pendingExp: Float64Array | null = null;
  // gradient and hessian interleaved: one cache line per row in the histogram loop
  const gh = useHelper ? new Float64Array(new SharedArrayBuffer(16 * n)) : (wasm?.gh ?? new Float64Array(2 * n));
  const rng = new Rng(p.seed);
  const rowIdx = useHelper ? new Uint32Array(new SharedArrayBuffer(4 * n)) : (wasm?.rowIdx ?? new Uint32Array(n));
  const helper = useHelper ? new HistogramHelper(binned, gh, rowIdx, layout) : null;
  // the JavaScript kernels only without the WebAssembly ones (compiled per layout on first use)
  const kernel = wasm ? null : fullHistogramKernel(layout);
  const allRowsKernel = wasm ? null : fullHistogramKernel(layout, false);
  const build = (hist: Float64Array, begin: number, end: number, features: Int32Array, full: boolean): void => {
    if (full && wasm) {
      // a root on all rows: rowIdx is the identity
      wasm.histogram(hist, begin, end, !(begin === 0 && end === n));
    } else if (full && allRowsKernel && !helper && begin === 0 && end === n) {
      // a root on all rows: rowIdx is the identity
      allRowsKernel(hist, binned, rowIdx, 0, n, gh);
    } else if (helper && end - begin >= MIN_ROWS_FOR_HELPER) {
      const mid = begin + ((end - begin) >> 1);
      helper.start(mid, end, features, full);
      buildHistogram(hist, binned, layout, rowIdx, begin, mid, gh, features, full, kernel);
      helper.finish(hist, features, full);
    } else buildHistogram(hist, binned, layout, rowIdx, begin, end, gh, features, full, kernel);
  };
  const scratch = wasm?.scratch ?? new Uint32Array(n);
  // histograms in the WebAssembly memory first, then ordinary arrays (built in a scratch slot and copied)
  const pool: Float64Array[] = wasm ? [...wasm.slots] : [];
  const takeHist = (): Float64Array => pool.pop()?.fill(0) ?? new Float64Array(layout[nf] as number);
  const giveHist = (h: Float64Array | null): void => {
    if (h) pool.push(h);
  };
  const impGain = new Float64Array(nf);
  const impSplit = new Uint32Array(nf);
  const trees: Tree[] = [];
  const treeGains: Array<Array<[number, number]>> = [];
  const validLoss: number[] = [];
  let bestLoss = Number.POSITIVE_INFINITY;
  let bestIter = 0;
  const allFeatures = Int32Array.from({ length: nf }, (_, i) => i);
  const sampled = new Uint8Array(n);
  const identity = new Uint32Array(p.subsample < 1 ? 0 : n);
  for (let i = 0; i < identity.length; i++) identity[i] = i;
  const sums = new Float64Array(2);
  const splitMask = wasm?.mask ?? new Uint8Array(256);

  // the tree being grown; the closures below are made once per training, not per tree (closures made in the loop
  // cost an allocation each, and under tsx's keep-names a defineProperty each)
  let builder = new TreeBuilder();
  let gains: Array<[number, number]> = [];
  let features = allFeatures;
  let full = true;
  const canSplit = (leaf: Leaf): boolean =>
    (p.maxDepth === 0 || leaf.depth < p.maxDepth) && leaf.end - leaf.begin >= 2 && leaf.h >= 2 * p.minChildWeight;
  const splitLeaf = (leaf: Leaf): Leaf[] => {
    const s = leaf.split as SplitChoice;
    const mask = splitMask.fill(0);
    const fb = bins.features[s.feature] as FeatureBins;
    if (s.catBins) {
      for (const b of s.catBins) mask[b] = 1;
      const codes = s.catBins.map((b) => fb.categories[b] as number);
      builder.setCategoricalSplit(leaf.node, s.feature, codes, true, s.defaultLeft, s.gain);
    } else {
      for (let b = 0; b <= s.bin; b++) mask[b] = 1;
      builder.setNumericSplit(leaf.node, s.feature, fb.cuts[s.bin] as number, s.bin, s.defaultLeft, s.gain);
    }
    mask[nBins[s.feature] as number] = s.defaultLeft ? 1 : 0;
    impGain[s.feature] = (impGain[s.feature] as number) + s.gain;
    impSplit[s.feature] = (impSplit[s.feature] as number) + 1;
    gains.push([s.feature, s.gain]);
    const gl = s.leftG;
    const hl = s.leftH;
    const gr = leaf.g - gl;
    const hr = leaf.h - hl;
    const vl = leafValue(gl, hl, p);
    const vr = leafValue(gr, hr, p);
    const lNode = builder.addLeaf(vl, hl);
    const rNode = builder.addLeaf(vr, hr);
    builder.setChildren(leaf.node, lNode, rNode);
    const column = binnedCols.subarray(s.feature * n, (s.feature + 1) * n);
    if (p.maxDepth > 0 && leaf.depth + 1 >= p.maxDepth) {
      // children at the depth limit are leaves: record each row's leaf in place of a partition
      if (wasm) wasm.assign(leaf.begin, leaf.end, s.feature, lNode, rNode);
      else assignSplitLeaves(leafNode, rowIdx, leaf.begin, leaf.end, column, mask, lNode, rNode);
      giveHist(leaf.hist);
      leaf.hist = null;
      return [doneLeaf(lNode, leaf, gl, hl), doneLeaf(rNode, leaf, gr, hr)];
    }
    // stable partition of the leaf's rows: left rows first
    const nl = wasm
      ? wasm.partition(leaf.begin, leaf.end, s.feature)
      : partitionRows(rowIdx, scratch, leaf.begin, leaf.end, column, mask);
    const nr = leaf.end - leaf.begin - nl;
    const left: Leaf = {
      node: lNode,
      begin: leaf.begin,
      end: leaf.begin + nl,
      depth: leaf.depth + 1,
      g: gl,
      h: hl,
      hist: null,
      split: null,
      added: false,
    };
    const right: Leaf = {
      node: rNode,
      begin: leaf.begin + nl,
      end: leaf.end,
      depth: leaf.depth + 1,
      g: gr,
      h: hr,
      hist: null,
      split: null,
      added: false,
    };
    const splitL = canSplit(left);
    const splitR = canSplit(right);
    const parentHist = leaf.hist as Float64Array;
    leaf.hist = null;
    if (splitL || splitR) {
      // histogram subtraction: build the smaller child, the larger one is parent - smaller
      const [small, large] = nl <= nr ? [left, right] : [right, left];
      small.hist = takeHist();
      build(small.hist, small.begin, small.end, features, full);
      subtractInPlace(parentHist, small.hist, features, layout);
      large.hist = parentHist;
      for (const c of [left, right]) {
        if (canSplit(c)) c.split = findBestSplit(c, bins.features, nBins, layout, features, p);
        else {
          giveHist(c.hist);
          c.hist = null;
        }
      }
    } else giveHist(parentHist);
    return [left, right];
  };
  const worthSplitting = (leaf: Leaf): boolean => leaf.split !== null && leaf.split.gain > p.minSplitGain;

  try {
    for (let t = 0; t < p.trees; t++) {
      if (!wasm?.gradients(pendingValue, pendingExp, sums)) {
        if (pendingValue && pendingExp)
          updateAndComputeGradients(margin, expNeg, leafNode, pendingValue, pendingExp, y, w, gh, sums);
        else computeGradients(expNeg, y, w, gh, sums);
      }
      // rows of this tree
      let count = 0;
      if (p.subsample < 1) {
        for (let i = 0; i < n; i++) {
          const take = rng.next() < p.subsample;
          sampled[i] = take ? 1 : 0;
          if (take) rowIdx[count++] = i;
        }
      } else {
        rowIdx.set(identity);
        count = n;
      }
      features = allFeatures;
      if (p.colsampleByTree < 1) {
        const k = Math.max(1, Math.round(nf * p.colsampleByTree));
        const perm = Array.from(allFeatures);
        for (let i = nf - 1; i > 0; i--) {
          const j = rng.int(i + 1);
          [perm[i], perm[j]] = [perm[j] as number, perm[i] as number];
        }
        features = Int32Array.from(perm.slice(0, k).sort((a, b) => a - b));
      }
      full = features.length === nf;
      builder = new TreeBuilder();
      gains = [];
      // all rows: the gradient pass summed them in the same order
      let G = sums[0] as number;
      let H = sums[1] as number;
      if (count < n) {
        G = 0;
        H = 0;
        for (let i = 0; i < count; i++) {
          const r = rowIdx[i] as number;
          G += gh[2 * r] as number;
          H += gh[2 * r + 1] as number;
        }
      }
      const rootNode = builder.addLeaf(leafValue(G, H, p), H);
      const root: Leaf = {
        node: rootNode,
        begin: 0,
        end: count,
        depth: 0,
        g: G,
        h: H,
        hist: null,
        split: null,
        added: false,
      };
      const finalLeaves: Leaf[] = [];
      if (canSplit(root)) {
        root.hist = takeHist();
        build(root.hist, root.begin, root.end, features, full);
        root.split = findBestSplit(root, bins.features, nBins, layout, features, p);
      }
      let candidates: Leaf[] = [root];
      let leafCount = 1;

      if (p.growth === 'depthwise') {
        while (candidates.length > 0) {
          const next: Leaf[] = [];
          for (const leaf of candidates) {
            if (worthSplitting(leaf)) next.push(...splitLeaf(leaf));
            else {
              giveHist(leaf.hist);
              leaf.hist = null;
              finalLeaves.push(leaf);
            }
          }
          candidates = next;
        }
      } else {
        while (leafCount < p.maxLeaves) {
          let best = -1;
          for (let i = 0; i < candidates.length; i++) {
            const c = candidates[i] as Leaf;
            if (
              worthSplitting(c) &&
              (best < 0 || (c.split as SplitChoice).gain > ((candidates[best] as Leaf).split as SplitChoice).gain)
            )
              best = i;
          }
          if (best < 0) break;
          const leaf = candidates[best] as Leaf;
          candidates.splice(best, 1);
          candidates.push(...splitLeaf(leaf));
          leafCount++;
        }
        for (const c of candidates) {
          giveHist(c.hist);
          c.hist = null;
          finalLeaves.push(c);
        }
      }

      const tree = builder.finish();
      trees.push(tree);
      treeGains.push(gains);
      options.onProgress?.(trees.length, p.trees);
      // each row's leaf: sampled rows through their leaf ranges, others by traversal on bins; the next gradient
      // pass (or the one after the last tree) adds the leaf values to the margins
      for (const leaf of finalLeaves) if (!leaf.added) assignLeaf(leafNode, rowIdx, leaf.begin, leaf.end, leaf.node);
      // per-node bin tables, only when rows outside the sample or a validation set need a traversal
      const masks = count < n || validBinned ? binnedTreeMasks(tree, bins) : [];
      if (count < n) {
        for (let r = 0; r < n; r++) {
          if (sampled[r] === 1) continue;
          leafNode[r] = leafOfBinned(tree, masks, binned, r * nf);
        }
      }
      pendingValue = tree.value;
      pendingExp = new Float64Array(tree.value.length);
      for (let k = 0; k < pendingExp.length; k++) pendingExp[k] = Math.exp(-(tree.value[k] as number));
      if (validBinned && validMargin && validY && validW) {
        const vn = validMargin.length;
        let loss = 0;
        let wsum = 0;
        for (let r = 0; r < vn; r++) {
          const m = (validMargin[r] as number) + (tree.value[leafOfBinned(tree, masks, validBinned, r * nf)] as number);
          validMargin[r] = m;
          const wi = validW[r] as number;
          // log(1 + e^-m) for y = 1, log(1 + e^m) for y = 0, computed stably
          const z = validY[r] === 1 ? -m : m;
          loss += wi * (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));
          wsum += wi;
        }
        const l = loss / wsum;
        validLoss.push(l);
        if (l < bestLoss - 1e-12) {
          bestLoss = l;
          bestIter = t + 1;
        }
        if (p.earlyStoppingRounds > 0 && t + 1 - bestIter >= p.earlyStoppingRounds) break;
      }
    }
    if (pendingValue && pendingExp) applyLeaves(margin, leafNode, pendingValue);
  } finally {
    helper?.close();
  }

  let kept = trees.length;
  if (p.earlyStoppingRounds > 0 && bestIter > 0) kept = bestIter;
  const keptTrees = trees.slice(0, kept);
  let trainMargins = margin;
  if (kept < trees.length) {
    // importance and margins count only the kept trees
    impGain.fill(0);
    impSplit.fill(0);
    for (const gains of treeGains.slice(0, kept)) {
      for (const [f, g] of gains) {
        impGain[f] = (impGain[f] as number) + g;
        impSplit[f] = (impSplit[f] as number) + 1;
      }
    }
    trainMargins = new Float64Array(n).fill(baseMargin);
    for (const tree of keptTrees) {
      const masks = binnedTreeMasks(tree, bins);
      for (let r = 0; r < n; r++)
        trainMargins[r] =
          (trainMargins[r] as number) + (tree.value[leafOfBinned(tree, masks, binned, r * nf)] as number);
    }
  }
  return {
    kind: 'gbdt',
    columns: [...matrix.columns],
    featureKinds: [...kinds],
    bins,
    ensemble: { numFeatures: nf, baseMargin, trees: keptTrees },
    params: p,
    importance: { gain: impGain, split: impSplit },
    bestIteration: kept,
    history: { validLogLoss: validLoss },
    trainMargins,
  };
}

/** A child at the depth limit: a leaf whose rows' leaf is already recorded. */
function doneLeaf(node: number, parent: Leaf, g: number, h: number): Leaf {
  return {
    node,
    begin: parent.begin,
    end: parent.begin,
    depth: parent.depth + 1,
    g,
    h,
    hist: null,
    split: null,
    added: true,
  };
}

function readWeights(weights: ArrayLike<number> | undefined, n: number, what: string): Float64Array {
  const w = new Float64Array(n);
  if (!weights) return w.fill(1);
  if (weights.length !== n) throw new InvalidInputError(`${what} has ${weights.length} values, expected ${n}`);
  for (let i = 0; i < n; i++) {
    const v = weights[i] as number;
    if (!(v >= 0) || !Number.isFinite(v))
      throw new InvalidInputError(`${what} must be finite and >= 0, got ${v} at row ${i}`);
    w[i] = v;
  }
  return w;
}

// Hot loops live in top-level functions: inside trainGbdt, whose closures capture its locals, V8 would reach
// the arrays through context slots.
/** Gradients and hessians of every row, and their sums into `sums`. */
function computeGradients(
  expNeg: Float64Array,
  y: Uint8Array,
  w: Float64Array | null,
  gh: Float64Array,
  sums: Float64Array,
): void {
  let G = 0;
  let H = 0;
  for (let i = 0; i < expNeg.length; i++) {
    const pr = 1 / (1 + (expNeg[i] as number));
    const wi = w ? (w[i] as number) : 1;
    const g = wi * (pr - (y[i] as number));
    const h = Math.max(wi * pr * (1 - pr), 1e-16);
    gh[2 * i] = g;
    gh[2 * i + 1] = h;
    G += g;
    H += h;
  }
  sums[0] = G;
  sums[1] = H;
}

/** An updated exp(-margin), or exp(-margin) itself when the product left the range where it stays accurate. */
function nextExpNeg(product: number, margin: number): number {
  return product > 1e-300 && product < 1e300 ? product : Math.exp(-margin);
}

/** Adds each row's pending leaf value to its margin and exp(-margin), then computes the gradients (in row order). */
function updateAndComputeGradients(
  margin: Float64Array,
  expNeg: Float64Array,
  leafNode: Int32Array,
  value: Float64Array,
  expValue: Float64Array,
  y: Uint8Array,
  w: Float64Array | null,
  gh: Float64Array,
  sums: Float64Array,
): void {
  let G = 0;
  let H = 0;
  for (let i = 0; i < margin.length; i++) {
    const leaf = leafNode[i] as number;
    const m = (margin[i] as number) + (value[leaf] as number);
    margin[i] = m;
    const e = nextExpNeg((expNeg[i] as number) * (expValue[leaf] as number), m);
    expNeg[i] = e;
    const pr = 1 / (1 + e);
    const wi = w ? (w[i] as number) : 1;
    const g = wi * (pr - (y[i] as number));
    const h = Math.max(wi * pr * (1 - pr), 1e-16);
    gh[2 * i] = g;
    gh[2 * i + 1] = h;
    G += g;
    H += h;
  }
  sums[0] = G;
  sums[1] = H;
}

/** Adds each row's pending leaf value to its margin (after the last tree). */
function applyLeaves(margin: Float64Array, leafNode: Int32Array, value: Float64Array): void {
  for (let i = 0; i < margin.length; i++) margin[i] = (margin[i] as number) + (value[leafNode[i] as number] as number);
}

const NODE_PAIR = new Int32Array(2);

/** Sets the leaf of the rows of `rowIdx[begin, end)`: `left` where the bin goes left, `right` for the others. */
function assignSplitLeaves(
  leafNode: Int32Array,
  rowIdx: Uint32Array,
  begin: number,
  end: number,
  column: Uint8Array,
  mask: Uint8Array,
  left: number,
  right: number,
): void {
  // a table instead of a conditional: V8 compiles the select to a branch that mispredicts
  const pair = NODE_PAIR;
  pair[0] = right;
  pair[1] = left;
  for (let i = begin; i < end; i++) {
    const r = rowIdx[i] as number;
    leafNode[r] = pair[mask[column[r] as number] as number] as number;
  }
}

function assignLeaf(leafNode: Int32Array, rowIdx: Uint32Array, begin: number, end: number, node: number): void {
  for (let i = begin; i < end; i++) leafNode[rowIdx[i] as number] = node;
}

/** Stable in-place partition of `rowIdx[begin, end)`: rows whose bin goes left first. Returns the left count. */
function partitionRows(
  rowIdx: Uint32Array,
  scratch: Uint32Array,
  begin: number,
  end: number,
  column: Uint8Array,
  mask: Uint8Array,
): number {
  let nl = 0;
  let nr = 0;
  // branch-free: both stores happen, the counters pick which one counts (a branch on the bin mispredicts about
  // half the time: 6.4 against 3.5 ns per row in a micro-benchmark). rowIdx[begin + nl] is at or behind i.
  for (let i = begin; i < end; i++) {
    const r = rowIdx[i] as number;
    const l = mask[column[r] as number] as number;
    rowIdx[begin + nl] = r;
    scratch[nr] = r;
    nl += l;
    nr += 1 - l;
  }
  rowIdx.set(scratch.subarray(0, nr), begin + nl);
  return nl;
}

/** Row-major bins with MISSING_BIN replaced by each feature's bin count, in place. */
function recodeMissing(binned: Uint8Array, n: number, nBins: Int32Array): void {
  const nf = nBins.length;
  for (let f = 0; f < nf; f++) {
    const nb = nBins[f] as number;
    if (nb === MISSING_BIN) continue;
    for (let k = f; k < n * nf; k += nf) if (binned[k] === MISSING_BIN) binned[k] = nb;
  }
}

/** Column-major copy (`[f * n + r]`) of row-major bins, into `out`. */
function transposeBins(binned: Uint8Array, n: number, nf: number, out: Uint8Array): Uint8Array {
  for (let f = 0; f < nf; f++) {
    const dst = f * n;
    for (let r = 0, k = f; r < n; r++, k += nf) out[dst + r] = binned[k] as number;
  }
  return out;
}

/** The most nodes a tree can have: a full tree of the depth limit, or twice the leaf limit (leaf-wise). */
function maxTreeNodes(p: GbdtParams): number {
  const byDepth = p.maxDepth > 0 ? 2 ** (Math.min(p.maxDepth, 20) + 1) : Number.POSITIVE_INFINITY;
  return Math.min(byDepth, p.growth === 'leafwise' ? 2 * p.maxLeaves : byDepth, 1 << 16);
}

/** Histograms alive at once: the leaves of the widest level (depth-wise) or of the tree (leaf-wise), and two. */
function maxLiveHistograms(p: GbdtParams): number {
  const byDepth = p.maxDepth > 0 ? 2 ** Math.min(p.maxDepth, 20) : Number.POSITIVE_INFINITY;
  return Math.min(byDepth, p.growth === 'leafwise' ? p.maxLeaves : byDepth) + 2;
}

function leafValue(g: number, h: number, p: GbdtParams): number {
  return (-g / (h + p.lambda)) * p.learningRate;
}

function buildHistogram(
  hist: Float64Array,
  binned: Uint8Array,
  layout: Int32Array,
  rowIdx: Uint32Array,
  begin: number,
  end: number,
  gh: Float64Array,
  features: Int32Array,
  full: boolean,
  kernel: FullHistogramKernel | null,
): void {
  if (full && kernel) {
    kernel(hist, binned, rowIdx, begin, end, gh);
    return;
  }
  const nsel = features.length;
  const nf = layout.length - 1;
  for (let i = begin; i < end; i++) {
    const r = rowIdx[i] as number;
    const g = gh[2 * r] as number;
    const h = gh[2 * r + 1] as number;
    const base = r * nf;
    for (let j = 0; j < nsel; j++) {
      const f = features[j] as number;
      const k = (layout[f] as number) + ((binned[base + f] as number) << 1);
      hist[k] = (hist[k] as number) + g;
      hist[k + 1] = (hist[k + 1] as number) + h;
    }
  }
}

/** parent -= child over the features' histogram slots. */
function subtractInPlace(parent: Float64Array, child: Float64Array, features: Int32Array, layout: Int32Array): void {
  for (let j = 0; j < features.length; j++) {
    const f = features[j] as number;
    const end = layout[f + 1] as number;
    for (let k = layout[f] as number; k < end; k++) parent[k] = (parent[k] as number) - (child[k] as number);
  }
}

// scratch of findBestSplit (synchronous, never re-entered): the categories of one feature in split order, their
// ratios, and the best split's prefix
const CAT_ORDER = new Int32Array(256);
const CAT_RATIO = new Float64Array(256);
const BEST_CAT_ORDER = new Int32Array(256);
/** Above this many present categories the order comes from Array.prototype.sort instead of an insertion sort. */
const INSERTION_SORT_MAX = 48;

/**
 * The present categories (hessian > 0) of the feature at `base`, in CAT_ORDER ascending by g / (h + catSmooth),
 * ties by bin; returns their count. One pass with an insertion sort: the closure-and-sort it replaces was most of
 * the split search on tables with many categorical columns (the order is the same total order).
 */
function sortCategories(hist: Float64Array, base: number, k: number, catSmooth: number): number {
  const order = CAT_ORDER;
  const ratio = CAT_RATIO;
  let m = 0;
  for (let b = 0; b < k; b++) {
    const h = hist[base + 2 * b + 1] as number;
    if (!(h > 0)) continue;
    const r = (hist[base + 2 * b] as number) / (h + catSmooth);
    // bins arrive ascending, so an equal ratio stays behind: the tie-break by bin
    let i = m;
    if (m < INSERTION_SORT_MAX) {
      while (i > 0 && (ratio[i - 1] as number) > r) {
        ratio[i] = ratio[i - 1] as number;
        order[i] = order[i - 1] as number;
        i--;
      }
    }
    ratio[i] = r;
    order[i] = b;
    m++;
  }
  if (m > INSERTION_SORT_MAX) {
    const idx = Array.from(order.subarray(0, m));
    const byBin = new Float64Array(256);
    for (let i = 0; i < m; i++) byBin[idx[i] as number] = ratio[i] as number;
    idx.sort((a, b) => (byBin[a] as number) - (byBin[b] as number) || a - b);
    for (let i = 0; i < m; i++) {
      order[i] = idx[i] as number;
      ratio[i] = byBin[idx[i] as number] as number;
    }
  }
  return m;
}

function findBestSplit(
  leaf: Leaf,
  bins: readonly FeatureBins[],
  nBins: Int32Array,
  layout: Int32Array,
  features: Int32Array,
  p: GbdtParams,
): SplitChoice | null {
  const hist = leaf.hist as Float64Array;
  const G = leaf.g;
  const H = leaf.h;
  const lambda = p.lambda;
  const mcw = p.minChildWeight;
  const parentScore = (G * G) / (H + lambda);
  // the best split so far lives in locals, one object at the end (an object per improvement was most of the
  // trainer's garbage); the first candidate is taken whatever its gain, later ones only when strictly better
  let found = false;
  let bGain = 0;
  let bFeature = -1;
  let bBin = -1;
  let bDefaultLeft = false;
  let bG = 0;
  let bH = 0;
  let bCategorical = false;
  let bCount = 0;
  for (let j = 0; j < features.length; j++) {
    const f = features[j] as number;
    const base = layout[f] as number;
    const nb = nBins[f] as number;
    const gm = hist[base + 2 * nb] as number;
    const hm = hist[base + 2 * nb + 1] as number;
    const fb = bins[f] as FeatureBins;
    if (fb.kind === 'numeric') {
      let gl = 0;
      let hl = 0;
      for (let b = 0; b < nb - 1; b++) {
        const gb = hist[base + 2 * b] as number;
        const hb = hist[base + 2 * b + 1] as number;
        // an empty bin repeats the previous bin's candidates (same sums, same gains: never strictly better), and
        // deep nodes leave most of a fine feature's bins empty; bin 0 is always tried
        if (gb === 0 && hb === 0 && b > 0) continue;
        gl += gb;
        hl += hb;
        // missing goes right
        let hr = H - hl;
        if (hl >= mcw && hr >= mcw) {
          const gr = G - gl;
          const gain = (gl * gl) / (hl + lambda) + (gr * gr) / (hr + lambda) - parentScore;
          if (!found || gain > bGain) {
            found = true;
            bGain = gain;
            bFeature = f;
            bBin = b;
            bDefaultLeft = hm > 0 ? false : hl >= hr;
            bG = gl;
            bH = hl;
            bCategorical = false;
          }
        }
        if (hm > 0) {
          // missing goes left
          const gl2 = gl + gm;
          const hl2 = hl + hm;
          hr = H - hl2;
          if (hl2 >= mcw && hr >= mcw) {
            const gr = G - gl2;
            const gain = (gl2 * gl2) / (hl2 + lambda) + (gr * gr) / (hr + lambda) - parentScore;
            if (!found || gain > bGain) {
              found = true;
              bGain = gain;
              bFeature = f;
              bBin = b;
              bDefaultLeft = true;
              bG = gl2;
              bH = hl2;
              bCategorical = false;
            }
          }
        }
      }
    } else {
      const m = sortCategories(hist, base, fb.categories.length, p.catSmooth);
      if (m < 1) continue;
      const order = CAT_ORDER;
      let improved = false;
      let gl = 0;
      let hl = 0;
      const sides = hm > 0 ? 2 : 1;
      // a prefix of the sorted categories goes left; the "other" bin always goes right
      for (let i = 0; i < m; i++) {
        const b = order[i] as number;
        gl += hist[base + 2 * b] as number;
        hl += hist[base + 2 * b + 1] as number;
        for (let side = 0; side < sides; side++) {
          const missLeft = side === 1;
          const gL = missLeft ? gl + gm : gl;
          const hL = missLeft ? hl + hm : hl;
          const hR = H - hL;
          if (hL < mcw || hR < mcw) continue;
          const gR = G - gL;
          const gain = (gL * gL) / (hL + lambda) + (gR * gR) / (hR + lambda) - parentScore;
          if (!found || gain > bGain) {
            found = true;
            bGain = gain;
            bFeature = f;
            bBin = -1;
            bDefaultLeft = hm > 0 ? missLeft : hL >= hR;
            bG = gL;
            bH = hL;
            bCategorical = true;
            bCount = i + 1;
            improved = true;
          }
        }
      }
      // the order scratch is reused by the next categorical feature: keep the best prefix
      if (improved) BEST_CAT_ORDER.set(order.subarray(0, bCount));
    }
  }
  if (!found) return null;
  return {
    gain: bGain,
    feature: bFeature,
    bin: bBin,
    defaultLeft: bDefaultLeft,
    catBins: bCategorical ? Array.from(BEST_CAT_ORDER.subarray(0, bCount)).sort((a, c) => a - c) : null,
    leftG: bG,
    leftH: bH,
  };
}

/** Per internal node, a 256-entry table: 1 when that bin goes left. Traversal on bins for any of our trees. */
export function binnedTreeMasks(tree: Tree, bins: BinMapper): Uint8Array[] {
  const masks: Uint8Array[] = [];
  for (let node = 0; node < tree.left.length; node++) {
    const mask = new Uint8Array(256);
    masks.push(mask);
    if ((tree.left[node] as number) < 0) continue;
    const fb = bins.features[tree.feature[node] as number] as FeatureBins;
    if ((tree.catOffset[node] as number) >= 0) {
      const setLeft = tree.catSetLeft[node] === 1;
      for (let b = 0; b < 255; b++) {
        const inSet = b < fb.categories.length && inCategorySet(tree, node, fb.categories[b] as number);
        mask[b] = inSet === setLeft ? 1 : 0;
      }
    } else {
      const tb = tree.binThreshold[node] as number;
      for (let b = 0; b <= tb; b++) mask[b] = 1;
    }
    mask[MISSING_BIN] = tree.defaultLeft[node] as number;
    // the trainer's own bins put missing values after the value bins
    mask[binCount(fb)] = tree.defaultLeft[node] as number;
  }
  return masks;
}

function leafOfBinned(tree: Tree, masks: Uint8Array[], binned: Uint8Array, rowBase: number): number {
  let node = 0;
  while ((tree.left[node] as number) >= 0) {
    const b = binned[rowBase + (tree.feature[node] as number)] as number;
    node = (masks[node] as Uint8Array)[b] === 1 ? (tree.left[node] as number) : (tree.right[node] as number);
  }
  return node;
}
