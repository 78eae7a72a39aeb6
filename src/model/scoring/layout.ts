import { type BinMapper, type FeatureBins, MISSING_BIN } from '../binning.js';
import { inCategorySet, type Tree, type TreeEnsemble, treeDepth } from '../tree-ensemble.js';

/** Trees deeper than this keep the pointer layout (a complete tree of depth d has 2^d leaves). */
export const MAX_HEAP_DEPTH = 10;
/** Rows per block in the fallback kernel: margins of a block stay in L1. */
export const BLOCK_ROWS = 256;
/**
 * Rows per block in the scratch kernels: the block's copy of the used columns (two per numeric feature) stays in
 * L2. 128 measured a little faster than 256 and 512 (100 features, 100 trees of depth 6).
 */
export const SCRATCH_ROWS = 128;
export const FEATURE_MASK = 0x3fffffff;
export const COLUMN_MASK = 0x7fffffff;
/** Categorical splits as a 32-bit go-right mask: bits 0..29 for codes 0..29, bit 30 any other code, 31 missing. */
export const MASK_CODES = 30;
export const MASK_OTHER = 30;
export const MASK_MISSING = 31;
export const HEAP = 0;
export const POINTER = 1;

export interface ScoreInput {
  readonly rows: number;
  /** Column-major, `values[feature * rows + row]`, NaN = missing. */
  readonly values: Float32Array;
}

/**
 * The node arrays every kernel reads (see CompiledScorer for the layouts and why each exists): heap trees at most
 * MAX_HEAP_DEPTH deep, complete and heap-indexed (a row at node p of a tree rooted at nb moves to
 * 2p + 1 - nb + goRight); deeper trees as the original pointer trees. Built once per model; the kernels, the
 * block fills and the WebAssembly kernel only read it.
 */
export class TreeLayout {
  readonly numFeatures: number;
  readonly treeCount: number;
  readonly baseMargin: number;
  // per tree: HEAP or POINTER
  readonly kind: Uint8Array;
  readonly depth: Int32Array;
  readonly nodeBase: Int32Array;
  readonly leafBase: Int32Array;
  // leafVals[leafOffset[t] + p] is the leaf reached at final node p of tree t
  readonly leafOffset: Int32Array;
  readonly hLeaf: Float64Array;
  // fallback layout, two 32-bit words per node in one buffer: word 0 = feature | defaultRight << 30
  // (| 1 << 31 for categorical), word 1 = Float32 threshold or an offset into catTable ([setLeft, nWords, words...])
  readonly hNode: Int32Array;
  readonly hThr: Float32Array;
  readonly catTable: Int32Array;
  readonly hasCatHeap: boolean;
  // scratch layout, one entry per heap node: col = scratch column * SCRATCH_ROWS (| 1 << 31 for categorical),
  // thr = the threshold as an ordered integer key (floatKey) or the categorical go-right mask, thrF = Float32
  // threshold (one-row path); binThr = bin threshold or the node's offset into catBinRight (256 go-right flags
  // per categorical node)
  readonly col: Int32Array;
  readonly rowCol: Int32Array;
  readonly thr: Int32Array;
  readonly thrF: Float32Array;
  readonly binThr: Int32Array;
  readonly catBinRight: Uint8Array;
  // scratch columns: 2f (missing -> -Inf / bin 0), 2f + 1 (missing -> +Inf / bin 255), 2 nf + k (categorical k)
  readonly scratchColumns: number;
  readonly usedNumeric: Int32Array;
  readonly usedCategorical: Int32Array;
  // raw-value scratch kernels apply (finite thresholds, categorical codes < MASK_CODES)
  rawScratch = true;
  // categorical nodes as numeric ones (see planSplitColumns): per heap node the column offset and key threshold
  // for the numeric kernel, null when the model has no categorical heap nodes or too many distinct splits
  readonly splitCol: Int32Array | null = null;
  readonly splitThr: Int32Array | null = null;
  // per split column: the categorical scratch column it reads, and 32 entries (mask bit -> column value)
  readonly splitSource: Int32Array = new Int32Array(0);
  readonly splitLut: Int32Array = new Int32Array(0);
  // 1 at tree t when trees t..t+3 are heap trees of one depth (the one-row path walks them together)
  readonly quad: Uint8Array;
  // pointer layout (original trees)
  readonly ptrTrees: (Tree | null)[];
  readonly bins: BinMapper | null;
  // pointer trees on bins: per node 256-entry go-left tables
  readonly ptrMasks: (Uint8Array[] | null)[];

  constructor(ensemble: TreeEnsemble, bins: BinMapper | null) {
    this.numFeatures = ensemble.numFeatures;
    this.treeCount = ensemble.trees.length;
    this.baseMargin = ensemble.baseMargin;
    const t = ensemble.trees.length;
    this.kind = new Uint8Array(t);
    this.depth = new Int32Array(t);
    this.nodeBase = new Int32Array(t);
    this.leafBase = new Int32Array(t);
    this.leafOffset = new Int32Array(t);
    this.ptrTrees = [];
    this.ptrMasks = [];
    this.bins = bins;
    let nodes = 0;
    let leaves = 0;
    ensemble.trees.forEach((tree, i) => {
      const d = treeDepth(tree);
      const heap = d <= MAX_HEAP_DEPTH;
      this.kind[i] = heap ? HEAP : POINTER;
      this.depth[i] = d;
      this.nodeBase[i] = nodes;
      this.leafBase[i] = leaves;
      if (heap) {
        // after d steps from root nb the node is nb + (2^d - 1) + leaf index
        this.leafOffset[i] = leaves - ((1 << d) - 1) - nodes;
        nodes += (1 << d) - 1;
        leaves += 1 << d;
      }
    });
    const nodeBuf = new ArrayBuffer(nodes * 8);
    this.hNode = new Int32Array(nodeBuf);
    this.hThr = new Float32Array(nodeBuf);
    this.hLeaf = new Float64Array(leaves);
    this.col = new Int32Array(nodes);
    this.rowCol = new Int32Array(nodes);
    this.thr = new Int32Array(nodes);
    this.thrF = new Float32Array(nodes);
    this.binThr = new Int32Array(nodes);
    const catOrder = new Map<number, number>();
    const usedNumeric = new Set<number>();
    const cat: HeapFill = { table: [], binRight: [], catOrder, usedNumeric };
    ensemble.trees.forEach((tree, i) => {
      if (this.kind[i] === HEAP) {
        this.#fillHeap(tree, 0, 0, 0, this.depth[i] as number, i, cat);
        this.ptrTrees.push(null);
        this.ptrMasks.push(null);
      } else {
        this.ptrTrees.push(tree);
        this.ptrMasks.push(bins ? pointerMasks(tree, bins) : null);
      }
    });
    this.catTable = Int32Array.from(cat.table);
    this.hasCatHeap = cat.table.length > 0;
    // >= 512 entries: numeric nodes read catBin[binThreshold + bin] (<= 254 + 255) and discard it
    this.catBinRight = new Uint8Array(Math.max(512, cat.binRight.length));
    this.catBinRight.set(cat.binRight);
    this.scratchColumns = 2 * this.numFeatures + catOrder.size;
    this.usedNumeric = Int32Array.from([...usedNumeric].sort((a, b) => a - b));
    this.usedCategorical = new Int32Array(catOrder.size);
    for (const [f, k] of catOrder) this.usedCategorical[k] = f;
    // column offsets in scratch-row units, and the same for the one-row scratch (stride 1)
    for (let n = 0; n < nodes; n++) {
      const w = this.col[n] as number;
      this.rowCol[n] = w;
      this.col[n] = ((w & COLUMN_MASK) * SCRATCH_ROWS) | (w & ~COLUMN_MASK);
    }
    if (this.rawScratch && this.hasCatHeap) {
      const plan = this.#planSplitColumns(nodes);
      if (plan) {
        this.splitCol = plan.col;
        this.splitThr = plan.thr;
        this.splitSource = plan.source;
        this.splitLut = plan.lut;
      }
    }
    this.quad = new Uint8Array(t);
    for (let i = 0; i + 3 < t; i++) {
      let same = true;
      for (let q = 0; q < 4; q++)
        same &&= this.kind[i + q] === HEAP && this.depth[i + q] === this.depth[i] && (this.depth[i] as number) > 0;
      this.quad[i] = same ? 1 : 0;
    }
  }

  #fillHeap(tree: Tree, node: number, heapIdx: number, level: number, depth: number, t: number, fill: HeapFill): void {
    const nb = this.nodeBase[t] as number;
    if ((tree.left[node] as number) < 0) {
      // a leaf above the full depth fills every leaf slot under its heap position; the padding nodes below it
      // keep feature 0 / threshold 0, and whichever way they go the value is the same
      const span = 1 << (depth - level);
      const first = ((heapIdx + 1) << (depth - level)) - 1 - ((1 << depth) - 1);
      const lb = this.leafBase[t] as number;
      for (let k = 0; k < span; k++) this.hLeaf[lb + first + k] = tree.value[node] as number;
      return;
    }
    const p = nb + heapIdx;
    const k = 2 * p;
    const f = tree.feature[node] as number;
    const dr = tree.defaultLeft[node] === 1 ? 0 : 1;
    if ((tree.catOffset[node] as number) >= 0) {
      const word0 = f | (dr << 30) | (1 << 31) | 0;
      this.hNode[k] = word0;
      this.hNode[k + 1] = fill.table.length;
      const words = tree.catLength[node] as number;
      const setLeft = tree.catSetLeft[node] === 1;
      fill.table.push(setLeft ? 1 : 0, words);
      for (let w = 0; w < words; w++)
        fill.table.push((tree.catWords[(tree.catOffset[node] as number) + w] as number) | 0);
      // scratch: the encoded column of feature f; codes not in the set (and other codes) go right when setLeft
      let ck = fill.catOrder.get(f);
      if (ck === undefined) {
        ck = fill.catOrder.size;
        fill.catOrder.set(f, ck);
      }
      this.col[p] = (2 * this.numFeatures + ck) | (1 << 31);
      let mask = (setLeft ? 1 << MASK_OTHER : 0) | (dr << MASK_MISSING);
      for (let w = 0; w < words; w++) {
        const bits = tree.catWords[(tree.catOffset[node] as number) + w] as number;
        if (w > 0 ? bits !== 0 : bits >>> MASK_CODES !== 0) this.rawScratch = false;
      }
      for (let c = 0; c < MASK_CODES; c++) if (inCategorySet(tree, node, c) !== setLeft) mask |= 1 << c;
      this.thr[p] = mask;
      this.binThr[p] = fill.binRight.length;
      if (this.bins) {
        const fb = this.bins.features[f] as FeatureBins;
        for (let b = 0; b < 256; b++) {
          if (b === MISSING_BIN) fill.binRight.push(dr);
          else {
            const inSet = b < fb.categories.length && inCategorySet(tree, node, fb.categories[b] as number);
            fill.binRight.push(inSet === setLeft ? 0 : 1);
          }
        }
      }
    } else {
      const thr = tree.threshold[node] as number;
      this.hNode[k] = f | (dr << 30) | 0;
      this.hThr[k + 1] = thr;
      // NaN thresholds have no key; -Infinity would send the one-row path's substituted missing values right
      if (!(thr > Number.NEGATIVE_INFINITY)) this.rawScratch = false;
      fill.usedNumeric.add(f);
      this.col[p] = 2 * f + dr;
      this.thr[p] = floatKey(thr);
      this.thrF[p] = thr;
      this.binThr[p] = tree.binThreshold[node] as number;
    }
    this.#fillHeap(tree, tree.left[node] as number, 2 * heapIdx + 1, level + 1, depth, t, fill);
    this.#fillHeap(tree, tree.right[node] as number, 2 * heapIdx + 2, level + 1, depth, t, fill);
  }

  /**
   * Categorical nodes as numeric ones, so that the whole model runs the numeric kernel without the per-step select
   * of the mixed kernel. A categorical node goes right when the row's mask bit (code, other or missing) is in its
   * go-right set. The distinct sets of a feature are grouped into chains of nested sets S1 ⊇ S2 ⊇ ...; each chain
   * gets a scratch column holding, per row, how many of its sets contain the row's bit, so that "in Si" is
   * "column >= i": a numeric compare. Hillstrom's model (100 trees of depth 4, four categorical columns) has 58
   * distinct sets in 21 chains. Filling a column costs about what one step of the select costs, so the plan is kept
   * only while the chains are fewer than half the steps a row takes.
   */
  #planSplitColumns(nodes: number): { col: Int32Array; thr: Int32Array; source: Int32Array; lut: Int32Array } | null {
    let steps = 0;
    for (let t = 0; t < this.treeCount; t++) if (this.kind[t] === HEAP) steps += this.depth[t] as number;
    // distinct go-right sets per categorical scratch column
    const sets = new Map<number, Set<number>>();
    for (let n = 0; n < nodes; n++) {
      const w = this.col[n] as number;
      if (w >= 0) continue;
      const src = (w & COLUMN_MASK) / SCRATCH_ROWS;
      let s = sets.get(src);
      if (!s) {
        s = new Set();
        sets.set(src, s);
      }
      s.add((this.thr[n] as number) >>> 0);
    }
    // greedy chains: larger sets first, each set joins the first chain whose smallest set contains it
    const source: number[] = [];
    const lut: number[] = [];
    const place = new Map<string, { column: number; rank: number }>();
    for (const [src, s] of [...sets].sort((a, b) => a[0] - b[0])) {
      const ordered = [...s].sort((a, b) => popcount(b) - popcount(a) || a - b);
      const chains: number[][] = [];
      for (const m of ordered) {
        let chain = chains.find((c) => ((c[c.length - 1] as number) & m) >>> 0 === m);
        if (!chain) {
          chain = [];
          chains.push(chain);
        }
        chain.push(m);
        place.set(`${src}:${m}`, { column: source.length + chains.indexOf(chain), rank: chain.length });
      }
      for (const chain of chains) {
        source.push(src);
        for (let bit = 0; bit < 32; bit++) lut.push(chain.filter((m) => (m >>> bit) & 1).length);
      }
      if (2 * source.length > steps) return null;
    }
    const col = new Int32Array(nodes);
    const thr = new Int32Array(nodes);
    const first = this.scratchColumns;
    for (let n = 0; n < nodes; n++) {
      const w = this.col[n] as number;
      if (w >= 0) {
        col[n] = w;
        thr[n] = this.thr[n] as number;
        continue;
      }
      const at = place.get(`${(w & COLUMN_MASK) / SCRATCH_ROWS}:${(this.thr[n] as number) >>> 0}`);
      if (!at) return null;
      col[n] = (first + at.column) * SCRATCH_ROWS;
      thr[n] = at.rank;
    }
    return { col, thr, source: Int32Array.from(source), lut: Int32Array.from(lut) };
  }

  /** Fills the split columns of planSplitColumns from the block's categorical columns. */
}

interface HeapFill {
  table: number[];
  binRight: number[];
  catOrder: Map<number, number>;
  usedNumeric: Set<number>;
}

/**
 * An integer with the order of Float32 values (-0 as +0): compares on keys equal compares on the values, and a
 * categorical code is used as a shift count without a conversion. Measured 1.2x on Hillstrom's categorical
 * model against Float32 scratch columns; the same on numeric models.
 */
export function floatKey(x: number): number {
  F32[0] = x === 0 ? 0 : x;
  const b = I32[0] as number;
  return b ^ ((b >> 31) & 0x7fffffff);
}
const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);
/** Scratch values of a missing value: below every key (default left) and above every key (default right). */
export const MISSING_LOW = -2147483648;
export const MISSING_HIGH = 2147483647;

function popcount(x: number): number {
  let v = x >>> 0;
  let c = 0;
  while (v !== 0) {
    v &= v - 1;
    c++;
  }
  return c;
}

/** The mask bit of a categorical value: its code when an integer below MASK_CODES, else other or missing. */
export function maskBit(x: number): number {
  if (Number.isNaN(x)) return MASK_MISSING;
  return x >= 0 && x < MASK_CODES && (x | 0) === x ? x : MASK_OTHER;
}

/** 1 when a categorical heap node sends value x right (word0 carries the default-right bit at 30). */
export function catRight(x: number, word0: number, off: number, table: Int32Array): number {
  if (Number.isNaN(x)) return (word0 >>> 30) & 1;
  let inSet = 0;
  if (x >= 0 && x < 2147483648 && (x | 0) === x) {
    const w = x >>> 5;
    if (w < (table[off + 1] as number)) inSet = ((table[off + 2 + w] as number) >>> (x & 31)) & 1;
  }
  return inSet === (table[off] as number) ? 0 : 1;
}

/** Leaf value for row r of a column-major matrix with `rows` rows (rows = 1, r = 0 for a single row). */
export function pointerLeafValue(tree: Tree, values: ArrayLike<number>, rows: number, r: number): number {
  let node = 0;
  while ((tree.left[node] as number) >= 0) {
    const x = values[(tree.feature[node] as number) * rows + r] as number;
    let goLeft: boolean;
    if (Number.isNaN(x)) goLeft = tree.defaultLeft[node] === 1;
    else if ((tree.catOffset[node] as number) >= 0)
      goLeft = inCategorySet(tree, node, x) === (tree.catSetLeft[node] === 1);
    else goLeft = x < (tree.threshold[node] as number);
    node = goLeft ? (tree.left[node] as number) : (tree.right[node] as number);
  }
  return tree.value[node] as number;
}

export function pointerBinnedLeafValue(
  tree: Tree,
  masks: Uint8Array[],
  bins: Uint8Array,
  rows: number,
  r: number,
): number {
  let nd = 0;
  while ((tree.left[nd] as number) >= 0) {
    const b = bins[(tree.feature[nd] as number) * rows + r] as number;
    nd = (masks[nd] as Uint8Array)[b] === 1 ? (tree.left[nd] as number) : (tree.right[nd] as number);
  }
  return tree.value[nd] as number;
}

export function pointerMasks(tree: Tree, bins: BinMapper): Uint8Array[] {
  const masks: Uint8Array[] = [];
  for (let node = 0; node < tree.left.length; node++) {
    const mask = new Uint8Array(256);
    masks.push(mask);
    if ((tree.left[node] as number) < 0) continue;
    const fb = bins.features[tree.feature[node] as number] as FeatureBins;
    if ((tree.catOffset[node] as number) >= 0) {
      const setLeft = tree.catSetLeft[node] === 1;
      for (let b = 0; b < MISSING_BIN; b++) {
        const inSet = b < fb.categories.length && inCategorySet(tree, node, fb.categories[b] as number);
        mask[b] = inSet === setLeft ? 1 : 0;
      }
    } else {
      for (let b = 0; b <= (tree.binThreshold[node] as number); b++) mask[b] = 1;
    }
    mask[MISSING_BIN] = tree.defaultLeft[node] as number;
  }
  return masks;
}
