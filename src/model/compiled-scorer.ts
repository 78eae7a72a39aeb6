import { InvalidInputError } from '../core/index.js';
import { type BinMapper, type FeatureBins, MISSING_BIN } from './binning.js';
import { inCategorySet, type Tree, type TreeEnsemble, treeDepth } from './tree-ensemble.js';

/** Trees deeper than this keep the pointer layout (a complete tree of depth d has 2^d leaves). */
const MAX_HEAP_DEPTH = 10;
/** Rows scored per tree before moving to the next tree: margins of a block stay in L1. */
const BLOCK_ROWS = 256;
const FEATURE_MASK = 0x3fffffff;

export interface ScoreInput {
  readonly rows: number;
  /** Column-major, `values[feature * rows + row]`, NaN = missing. */
  readonly values: Float32Array;
}

export interface CompileOptions {
  /** Training bins: enables `predictBinned` (trees trained here only). */
  readonly bins?: BinMapper;
}

/**
 * A model packed for scoring. Trees without categorical splits and at most MAX_HEAP_DEPTH deep become complete
 * (heap-indexed) trees: child = 2i + 1 + goRight, computed without a branch, leaves padded by copying, so every
 * row takes exactly `depth` steps. Other trees use a pointer layout. Trees are summed in their original order,
 * so margins equal the trainer's (same Float64 additions).
 */
export class CompiledScorer {
  readonly numFeatures: number;
  readonly treeCount: number;
  readonly baseMargin: number;
  // per tree: 0 = heap, 1 = pointer
  readonly #kind: Uint8Array;
  readonly #depth: Int32Array;
  readonly #nodeBase: Int32Array;
  readonly #leafBase: Int32Array;
  // heap layout, two 32-bit words per node in one buffer so a node is one cache access:
  // word 0 = feature | defaultRight << 30, word 1 = Float32 threshold (#hThr view) or bin threshold (#hNode view)
  readonly #hNode: Int32Array;
  readonly #hThr: Float32Array;
  readonly #hLeaf: Float64Array;
  // same with word 1 = bin threshold, for pre-binned input
  readonly #hBinNode: Int32Array;
  // categorical heap nodes: word 0 has bit 31 set; word 1 is an offset into #catTable ([setLeft, nWords, words...])
  // for raw values and into #catBinRight (256 go-right flags per node) for bins
  readonly #catTable: Int32Array;
  readonly #catBinRight: Uint8Array;
  readonly #hasCatHeap: boolean;
  // pointer layout (original trees)
  readonly #ptrTrees: (Tree | null)[];
  readonly #binned: boolean;
  readonly #bins: BinMapper | null;
  // pointer trees on bins: per node 256-entry go-left tables
  readonly #ptrMasks: (Uint8Array[] | null)[];

  constructor(ensemble: TreeEnsemble, options: CompileOptions = {}) {
    this.numFeatures = ensemble.numFeatures;
    this.treeCount = ensemble.trees.length;
    this.baseMargin = ensemble.baseMargin;
    const t = ensemble.trees.length;
    this.#kind = new Uint8Array(t);
    this.#depth = new Int32Array(t);
    this.#nodeBase = new Int32Array(t);
    this.#leafBase = new Int32Array(t);
    this.#ptrTrees = [];
    this.#ptrMasks = [];
    this.#binned = options.bins !== undefined;
    let nodes = 0;
    let leaves = 0;
    ensemble.trees.forEach((tree, i) => {
      const d = treeDepth(tree);
      const heap = d <= MAX_HEAP_DEPTH;
      this.#kind[i] = heap ? 0 : 1;
      this.#depth[i] = d;
      this.#nodeBase[i] = nodes;
      this.#leafBase[i] = leaves;
      if (heap) {
        nodes += (1 << d) - 1;
        leaves += 1 << d;
      }
    });
    const catTable: number[] = [];
    const catBinRight: number[] = [];
    this.#bins = options.bins ?? null;
    const nodeBuf = new ArrayBuffer(nodes * 8);
    this.#hNode = new Int32Array(nodeBuf);
    this.#hThr = new Float32Array(nodeBuf);
    this.#hBinNode = new Int32Array(nodes * 2);
    this.#hLeaf = new Float64Array(leaves);
    ensemble.trees.forEach((tree, i) => {
      if (this.#kind[i] === 0) {
        const cat = { table: catTable, binRight: catBinRight };
        this.#fillHeap(
          tree,
          0,
          0,
          0,
          this.#depth[i] as number,
          this.#nodeBase[i] as number,
          this.#leafBase[i] as number,
          cat,
        );
        this.#ptrTrees.push(null);
        this.#ptrMasks.push(null);
      } else {
        this.#ptrTrees.push(tree);
        this.#ptrMasks.push(options.bins ? pointerMasks(tree, options.bins) : null);
      }
    });
    this.#catTable = Int32Array.from(catTable);
    this.#hasCatHeap = catTable.length > 0;
    this.#catBinRight = Uint8Array.from(catBinRight);
  }

  #fillHeap(
    tree: Tree,
    node: number,
    heapIdx: number,
    level: number,
    depth: number,
    nb: number,
    lb: number,
    cat: { table: number[]; binRight: number[] },
  ): void {
    if ((tree.left[node] as number) < 0) {
      // a leaf above the full depth fills every leaf slot under its heap position; the padding nodes below it
      // keep feature 0 / threshold 0, and whichever way they go the value is the same
      const span = 1 << (depth - level);
      const first = ((heapIdx + 1) << (depth - level)) - 1 - ((1 << depth) - 1);
      for (let k = 0; k < span; k++) this.#hLeaf[lb + first + k] = tree.value[node] as number;
      return;
    }
    const k = 2 * (nb + heapIdx);
    const dr = tree.defaultLeft[node] === 1 ? 0 : 1;
    if ((tree.catOffset[node] as number) >= 0) {
      const word0 = (tree.feature[node] as number) | (dr << 30) | (1 << 31) | 0;
      this.#hNode[k] = word0;
      this.#hNode[k + 1] = cat.table.length;
      const words = tree.catLength[node] as number;
      cat.table.push(tree.catSetLeft[node] as number, words);
      for (let w = 0; w < words; w++)
        cat.table.push((tree.catWords[(tree.catOffset[node] as number) + w] as number) | 0);
      this.#hBinNode[k] = word0;
      this.#hBinNode[k + 1] = cat.binRight.length;
      if (this.#bins) {
        const fb = this.#bins.features[tree.feature[node] as number] as FeatureBins;
        const setLeft = tree.catSetLeft[node] === 1;
        for (let b = 0; b < 256; b++) {
          if (b === MISSING_BIN) cat.binRight.push(dr);
          else {
            const inSet = b < fb.categories.length && inCategorySet(tree, node, fb.categories[b] as number);
            cat.binRight.push(inSet === setLeft ? 0 : 1);
          }
        }
      }
    } else {
      const word0 = (tree.feature[node] as number) | (dr << 30) | 0;
      this.#hNode[k] = word0;
      this.#hThr[k + 1] = tree.threshold[node] as number;
      this.#hBinNode[k] = word0;
      this.#hBinNode[k + 1] = tree.binThreshold[node] as number;
    }
    this.#fillHeap(tree, tree.left[node] as number, 2 * heapIdx + 1, level + 1, depth, nb, lb, cat);
    this.#fillHeap(tree, tree.right[node] as number, 2 * heapIdx + 2, level + 1, depth, nb, lb, cat);
  }

  /** Margins (log-odds) for every row of a column-major matrix. */
  predictMargin(input: ScoreInput, out: Float64Array = new Float64Array(input.rows)): Float64Array {
    const rows = input.rows;
    if (input.values.length !== rows * this.numFeatures) {
      throw new InvalidInputError(
        `scorer expects ${this.numFeatures} columns x ${rows} rows = ${rows * this.numFeatures} values, got ${input.values.length}`,
      );
    }
    if (out.length < rows) throw new InvalidInputError(`output has ${out.length} slots for ${rows} rows`);
    // numeric-only models skip the categorical test in the inner loop
    return this.#hasCatHeap ? this.#marginMixed(input, out) : this.#marginNumeric(input, out);
  }

  #marginMixed(input: ScoreInput, out: Float64Array): Float64Array {
    const rows = input.rows;
    const values = input.values;
    const node = this.#hNode;
    const thr = this.#hThr;
    const cat = this.#catTable;
    const leafVals = this.#hLeaf;
    for (let start = 0; start < rows; start += BLOCK_ROWS) {
      const end = Math.min(rows, start + BLOCK_ROWS);
      for (let r = start; r < end; r++) out[r] = this.baseMargin;
      for (let t = 0; t < this.treeCount; t++) {
        if (this.#kind[t] === 1) {
          const tree = this.#ptrTrees[t] as Tree;
          for (let r = start; r < end; r++) out[r] = (out[r] as number) + pointerLeafValue(tree, values, rows, r);
          continue;
        }
        const depth = this.#depth[t] as number;
        const nb = this.#nodeBase[t] as number;
        const lb = (this.#leafBase[t] as number) - ((1 << depth) - 1);
        let r = start;
        // eight rows in flight: their dependency chains (load node, load value, compare) overlap
        for (; r + 7 < end; r += 8) {
          let i0 = 0;
          let i1 = 0;
          let i2 = 0;
          let i3 = 0;
          let i4 = 0;
          let i5 = 0;
          let i6 = 0;
          let i7 = 0;
          for (let d = 0; d < depth; d++) {
            const k0 = (nb + i0) << 1;
            const f0 = node[k0] as number;
            const x0 = values[(f0 & FEATURE_MASK) * rows + r] as number;
            i0 =
              2 * i0 +
              1 +
              (f0 < 0
                ? catRight(x0, f0, node[k0 + 1] as number, cat)
                : +(x0 >= (thr[k0 + 1] as number)) | (+Number.isNaN(x0) & (f0 >>> 30)));
            const k1 = (nb + i1) << 1;
            const f1 = node[k1] as number;
            const x1 = values[(f1 & FEATURE_MASK) * rows + r + 1] as number;
            i1 =
              2 * i1 +
              1 +
              (f1 < 0
                ? catRight(x1, f1, node[k1 + 1] as number, cat)
                : +(x1 >= (thr[k1 + 1] as number)) | (+Number.isNaN(x1) & (f1 >>> 30)));
            const k2 = (nb + i2) << 1;
            const f2 = node[k2] as number;
            const x2 = values[(f2 & FEATURE_MASK) * rows + r + 2] as number;
            i2 =
              2 * i2 +
              1 +
              (f2 < 0
                ? catRight(x2, f2, node[k2 + 1] as number, cat)
                : +(x2 >= (thr[k2 + 1] as number)) | (+Number.isNaN(x2) & (f2 >>> 30)));
            const k3 = (nb + i3) << 1;
            const f3 = node[k3] as number;
            const x3 = values[(f3 & FEATURE_MASK) * rows + r + 3] as number;
            i3 =
              2 * i3 +
              1 +
              (f3 < 0
                ? catRight(x3, f3, node[k3 + 1] as number, cat)
                : +(x3 >= (thr[k3 + 1] as number)) | (+Number.isNaN(x3) & (f3 >>> 30)));
            const k4 = (nb + i4) << 1;
            const f4 = node[k4] as number;
            const x4 = values[(f4 & FEATURE_MASK) * rows + r + 4] as number;
            i4 =
              2 * i4 +
              1 +
              (f4 < 0
                ? catRight(x4, f4, node[k4 + 1] as number, cat)
                : +(x4 >= (thr[k4 + 1] as number)) | (+Number.isNaN(x4) & (f4 >>> 30)));
            const k5 = (nb + i5) << 1;
            const f5 = node[k5] as number;
            const x5 = values[(f5 & FEATURE_MASK) * rows + r + 5] as number;
            i5 =
              2 * i5 +
              1 +
              (f5 < 0
                ? catRight(x5, f5, node[k5 + 1] as number, cat)
                : +(x5 >= (thr[k5 + 1] as number)) | (+Number.isNaN(x5) & (f5 >>> 30)));
            const k6 = (nb + i6) << 1;
            const f6 = node[k6] as number;
            const x6 = values[(f6 & FEATURE_MASK) * rows + r + 6] as number;
            i6 =
              2 * i6 +
              1 +
              (f6 < 0
                ? catRight(x6, f6, node[k6 + 1] as number, cat)
                : +(x6 >= (thr[k6 + 1] as number)) | (+Number.isNaN(x6) & (f6 >>> 30)));
            const k7 = (nb + i7) << 1;
            const f7 = node[k7] as number;
            const x7 = values[(f7 & FEATURE_MASK) * rows + r + 7] as number;
            i7 =
              2 * i7 +
              1 +
              (f7 < 0
                ? catRight(x7, f7, node[k7 + 1] as number, cat)
                : +(x7 >= (thr[k7 + 1] as number)) | (+Number.isNaN(x7) & (f7 >>> 30)));
          }
          out[r] = (out[r] as number) + (leafVals[lb + i0] as number);
          out[r + 1] = (out[r + 1] as number) + (leafVals[lb + i1] as number);
          out[r + 2] = (out[r + 2] as number) + (leafVals[lb + i2] as number);
          out[r + 3] = (out[r + 3] as number) + (leafVals[lb + i3] as number);
          out[r + 4] = (out[r + 4] as number) + (leafVals[lb + i4] as number);
          out[r + 5] = (out[r + 5] as number) + (leafVals[lb + i5] as number);
          out[r + 6] = (out[r + 6] as number) + (leafVals[lb + i6] as number);
          out[r + 7] = (out[r + 7] as number) + (leafVals[lb + i7] as number);
        }
        for (; r < end; r++) {
          let i = 0;
          for (let d = 0; d < depth; d++) {
            const k = (nb + i) << 1;
            const f = node[k] as number;
            const x = values[(f & FEATURE_MASK) * rows + r] as number;
            i =
              2 * i +
              1 +
              (f < 0
                ? catRight(x, f, node[k + 1] as number, cat)
                : +(x >= (thr[k + 1] as number)) | (+Number.isNaN(x) & (f >>> 30)));
          }
          out[r] = (out[r] as number) + (leafVals[lb + i] as number);
        }
      }
    }
    return out;
  }

  #marginNumeric(input: ScoreInput, out: Float64Array): Float64Array {
    const rows = input.rows;
    const values = input.values;
    const node = this.#hNode;
    const thr = this.#hThr;
    const leafVals = this.#hLeaf;
    for (let start = 0; start < rows; start += BLOCK_ROWS) {
      const end = Math.min(rows, start + BLOCK_ROWS);
      for (let r = start; r < end; r++) out[r] = this.baseMargin;
      for (let t = 0; t < this.treeCount; t++) {
        if (this.#kind[t] === 1) {
          const tree = this.#ptrTrees[t] as Tree;
          for (let r = start; r < end; r++) out[r] = (out[r] as number) + pointerLeafValue(tree, values, rows, r);
          continue;
        }
        const depth = this.#depth[t] as number;
        const nb = this.#nodeBase[t] as number;
        const lb = (this.#leafBase[t] as number) - ((1 << depth) - 1);
        let r = start;
        // eight rows in flight: their dependency chains (load node, load value, compare) overlap
        for (; r + 7 < end; r += 8) {
          let i0 = 0;
          let i1 = 0;
          let i2 = 0;
          let i3 = 0;
          let i4 = 0;
          let i5 = 0;
          let i6 = 0;
          let i7 = 0;
          for (let d = 0; d < depth; d++) {
            const k0 = (nb + i0) << 1;
            const f0 = node[k0] as number;
            const x0 = values[(f0 & FEATURE_MASK) * rows + r] as number;
            i0 = 2 * i0 + 1 + (+(x0 >= (thr[k0 + 1] as number)) | (+Number.isNaN(x0) & (f0 >>> 30)));
            const k1 = (nb + i1) << 1;
            const f1 = node[k1] as number;
            const x1 = values[(f1 & FEATURE_MASK) * rows + r + 1] as number;
            i1 = 2 * i1 + 1 + (+(x1 >= (thr[k1 + 1] as number)) | (+Number.isNaN(x1) & (f1 >>> 30)));
            const k2 = (nb + i2) << 1;
            const f2 = node[k2] as number;
            const x2 = values[(f2 & FEATURE_MASK) * rows + r + 2] as number;
            i2 = 2 * i2 + 1 + (+(x2 >= (thr[k2 + 1] as number)) | (+Number.isNaN(x2) & (f2 >>> 30)));
            const k3 = (nb + i3) << 1;
            const f3 = node[k3] as number;
            const x3 = values[(f3 & FEATURE_MASK) * rows + r + 3] as number;
            i3 = 2 * i3 + 1 + (+(x3 >= (thr[k3 + 1] as number)) | (+Number.isNaN(x3) & (f3 >>> 30)));
            const k4 = (nb + i4) << 1;
            const f4 = node[k4] as number;
            const x4 = values[(f4 & FEATURE_MASK) * rows + r + 4] as number;
            i4 = 2 * i4 + 1 + (+(x4 >= (thr[k4 + 1] as number)) | (+Number.isNaN(x4) & (f4 >>> 30)));
            const k5 = (nb + i5) << 1;
            const f5 = node[k5] as number;
            const x5 = values[(f5 & FEATURE_MASK) * rows + r + 5] as number;
            i5 = 2 * i5 + 1 + (+(x5 >= (thr[k5 + 1] as number)) | (+Number.isNaN(x5) & (f5 >>> 30)));
            const k6 = (nb + i6) << 1;
            const f6 = node[k6] as number;
            const x6 = values[(f6 & FEATURE_MASK) * rows + r + 6] as number;
            i6 = 2 * i6 + 1 + (+(x6 >= (thr[k6 + 1] as number)) | (+Number.isNaN(x6) & (f6 >>> 30)));
            const k7 = (nb + i7) << 1;
            const f7 = node[k7] as number;
            const x7 = values[(f7 & FEATURE_MASK) * rows + r + 7] as number;
            i7 = 2 * i7 + 1 + (+(x7 >= (thr[k7 + 1] as number)) | (+Number.isNaN(x7) & (f7 >>> 30)));
          }
          out[r] = (out[r] as number) + (leafVals[lb + i0] as number);
          out[r + 1] = (out[r + 1] as number) + (leafVals[lb + i1] as number);
          out[r + 2] = (out[r + 2] as number) + (leafVals[lb + i2] as number);
          out[r + 3] = (out[r + 3] as number) + (leafVals[lb + i3] as number);
          out[r + 4] = (out[r + 4] as number) + (leafVals[lb + i4] as number);
          out[r + 5] = (out[r + 5] as number) + (leafVals[lb + i5] as number);
          out[r + 6] = (out[r + 6] as number) + (leafVals[lb + i6] as number);
          out[r + 7] = (out[r + 7] as number) + (leafVals[lb + i7] as number);
        }
        for (; r < end; r++) {
          let i = 0;
          for (let d = 0; d < depth; d++) {
            const k = (nb + i) << 1;
            const f = node[k] as number;
            const x = values[(f & FEATURE_MASK) * rows + r] as number;
            i = 2 * i + 1 + (+(x >= (thr[k + 1] as number)) | (+Number.isNaN(x) & (f >>> 30)));
          }
          out[r] = (out[r] as number) + (leafVals[lb + i] as number);
        }
      }
    }
    return out;
  }

  /** Probabilities for every row. */
  predict(input: ScoreInput, out: Float64Array = new Float64Array(input.rows)): Float64Array {
    this.predictMargin(input, out);
    for (let r = 0; r < input.rows; r++) out[r] = 1 / (1 + Math.exp(-(out[r] as number)));
    return out;
  }

  /**
   * Margins from column-major Uint8 bins made with the training bins (`binColumnMajor`): a byte per value
   * instead of four, and an integer compare.
   */
  predictBinnedMargin(bins: Uint8Array, rows: number, out: Float64Array = new Float64Array(rows)): Float64Array {
    if (!this.#binned)
      throw new InvalidInputError('this scorer was compiled without training bins; pass { bins } to compileModel');
    if (bins.length !== rows * this.numFeatures) {
      throw new InvalidInputError(`binned input has ${bins.length} values, expected ${rows * this.numFeatures}`);
    }
    const node = this.#hBinNode;
    const catBin = this.#catBinRight;
    const leafVals = this.#hLeaf;
    for (let start = 0; start < rows; start += BLOCK_ROWS) {
      const end = Math.min(rows, start + BLOCK_ROWS);
      for (let r = start; r < end; r++) out[r] = this.baseMargin;
      for (let t = 0; t < this.treeCount; t++) {
        if (this.#kind[t] === 1) {
          const tree = this.#ptrTrees[t] as Tree;
          const masks = this.#ptrMasks[t] as Uint8Array[];
          for (let r = start; r < end; r++) {
            let nd = 0;
            while ((tree.left[nd] as number) >= 0) {
              const b = bins[(tree.feature[nd] as number) * rows + r] as number;
              nd = (masks[nd] as Uint8Array)[b] === 1 ? (tree.left[nd] as number) : (tree.right[nd] as number);
            }
            out[r] = (out[r] as number) + (tree.value[nd] as number);
          }
          continue;
        }
        const depth = this.#depth[t] as number;
        const nb = this.#nodeBase[t] as number;
        const lb = (this.#leafBase[t] as number) - ((1 << depth) - 1);
        let r = start;
        // the missing bin (255) is above every threshold: flip it back to the left when its default is left
        for (; r + 7 < end; r += 8) {
          let i0 = 0;
          let i1 = 0;
          let i2 = 0;
          let i3 = 0;
          let i4 = 0;
          let i5 = 0;
          let i6 = 0;
          let i7 = 0;
          for (let d = 0; d < depth; d++) {
            const k0 = (nb + i0) << 1;
            const f0 = node[k0] as number;
            const b0 = bins[(f0 & FEATURE_MASK) * rows + r] as number;
            i0 =
              2 * i0 +
              1 +
              (f0 < 0
                ? (catBin[(node[k0 + 1] as number) + b0] as number)
                : +(b0 > (node[k0 + 1] as number)) ^ (+(b0 === MISSING_BIN) & (1 ^ ((f0 >>> 30) & 1))));
            const k1 = (nb + i1) << 1;
            const f1 = node[k1] as number;
            const b1 = bins[(f1 & FEATURE_MASK) * rows + r + 1] as number;
            i1 =
              2 * i1 +
              1 +
              (f1 < 0
                ? (catBin[(node[k1 + 1] as number) + b1] as number)
                : +(b1 > (node[k1 + 1] as number)) ^ (+(b1 === MISSING_BIN) & (1 ^ ((f1 >>> 30) & 1))));
            const k2 = (nb + i2) << 1;
            const f2 = node[k2] as number;
            const b2 = bins[(f2 & FEATURE_MASK) * rows + r + 2] as number;
            i2 =
              2 * i2 +
              1 +
              (f2 < 0
                ? (catBin[(node[k2 + 1] as number) + b2] as number)
                : +(b2 > (node[k2 + 1] as number)) ^ (+(b2 === MISSING_BIN) & (1 ^ ((f2 >>> 30) & 1))));
            const k3 = (nb + i3) << 1;
            const f3 = node[k3] as number;
            const b3 = bins[(f3 & FEATURE_MASK) * rows + r + 3] as number;
            i3 =
              2 * i3 +
              1 +
              (f3 < 0
                ? (catBin[(node[k3 + 1] as number) + b3] as number)
                : +(b3 > (node[k3 + 1] as number)) ^ (+(b3 === MISSING_BIN) & (1 ^ ((f3 >>> 30) & 1))));
            const k4 = (nb + i4) << 1;
            const f4 = node[k4] as number;
            const b4 = bins[(f4 & FEATURE_MASK) * rows + r + 4] as number;
            i4 =
              2 * i4 +
              1 +
              (f4 < 0
                ? (catBin[(node[k4 + 1] as number) + b4] as number)
                : +(b4 > (node[k4 + 1] as number)) ^ (+(b4 === MISSING_BIN) & (1 ^ ((f4 >>> 30) & 1))));
            const k5 = (nb + i5) << 1;
            const f5 = node[k5] as number;
            const b5 = bins[(f5 & FEATURE_MASK) * rows + r + 5] as number;
            i5 =
              2 * i5 +
              1 +
              (f5 < 0
                ? (catBin[(node[k5 + 1] as number) + b5] as number)
                : +(b5 > (node[k5 + 1] as number)) ^ (+(b5 === MISSING_BIN) & (1 ^ ((f5 >>> 30) & 1))));
            const k6 = (nb + i6) << 1;
            const f6 = node[k6] as number;
            const b6 = bins[(f6 & FEATURE_MASK) * rows + r + 6] as number;
            i6 =
              2 * i6 +
              1 +
              (f6 < 0
                ? (catBin[(node[k6 + 1] as number) + b6] as number)
                : +(b6 > (node[k6 + 1] as number)) ^ (+(b6 === MISSING_BIN) & (1 ^ ((f6 >>> 30) & 1))));
            const k7 = (nb + i7) << 1;
            const f7 = node[k7] as number;
            const b7 = bins[(f7 & FEATURE_MASK) * rows + r + 7] as number;
            i7 =
              2 * i7 +
              1 +
              (f7 < 0
                ? (catBin[(node[k7 + 1] as number) + b7] as number)
                : +(b7 > (node[k7 + 1] as number)) ^ (+(b7 === MISSING_BIN) & (1 ^ ((f7 >>> 30) & 1))));
          }
          out[r] = (out[r] as number) + (leafVals[lb + i0] as number);
          out[r + 1] = (out[r + 1] as number) + (leafVals[lb + i1] as number);
          out[r + 2] = (out[r + 2] as number) + (leafVals[lb + i2] as number);
          out[r + 3] = (out[r + 3] as number) + (leafVals[lb + i3] as number);
          out[r + 4] = (out[r + 4] as number) + (leafVals[lb + i4] as number);
          out[r + 5] = (out[r + 5] as number) + (leafVals[lb + i5] as number);
          out[r + 6] = (out[r + 6] as number) + (leafVals[lb + i6] as number);
          out[r + 7] = (out[r + 7] as number) + (leafVals[lb + i7] as number);
        }
        for (; r < end; r++) {
          let i = 0;
          for (let d = 0; d < depth; d++) {
            const k = (nb + i) << 1;
            const f = node[k] as number;
            const b = bins[(f & FEATURE_MASK) * rows + r] as number;
            i =
              2 * i +
              1 +
              (f < 0
                ? (catBin[(node[k + 1] as number) + b] as number)
                : +(b > (node[k + 1] as number)) ^ (+(b === MISSING_BIN) & (1 ^ ((f >>> 30) & 1))));
          }
          out[r] = (out[r] as number) + (leafVals[lb + i] as number);
        }
      }
    }
    return out;
  }

  /** Margin of one row given in feature order; allocates nothing. */
  predictRowMargin(row: ArrayLike<number>): number {
    if (row.length !== this.numFeatures) {
      throw new InvalidInputError(`row has ${row.length} values, the model expects ${this.numFeatures}`);
    }
    const node = this.#hNode;
    const thr = this.#hThr;
    const cat = this.#catTable;
    const leafVals = this.#hLeaf;
    let m = this.baseMargin;
    for (let t = 0; t < this.treeCount; t++) {
      if (this.#kind[t] === 1) {
        m += pointerLeafValue(this.#ptrTrees[t] as Tree, row, 1, 0);
        continue;
      }
      const depth = this.#depth[t] as number;
      const nb = this.#nodeBase[t] as number;
      let i = 0;
      for (let d = 0; d < depth; d++) {
        const k = (nb + i) << 1;
        const f = node[k] as number;
        const x = row[f & FEATURE_MASK] as number;
        i =
          2 * i +
          1 +
          (f < 0
            ? catRight(x, f, node[k + 1] as number, cat)
            : +(x >= (thr[k + 1] as number)) | (+Number.isNaN(x) & (f >>> 30)));
      }
      m += leafVals[(this.#leafBase[t] as number) + i - ((1 << depth) - 1)] as number;
    }
    return m;
  }

  /** Probability of one row; allocates nothing. */
  predictRow(row: ArrayLike<number>): number {
    return 1 / (1 + Math.exp(-this.predictRowMargin(row)));
  }
}

/** 1 when a categorical heap node sends value x right (word0 carries the default-right bit at 30). */
function catRight(x: number, word0: number, off: number, table: Int32Array): number {
  if (Number.isNaN(x)) return (word0 >>> 30) & 1;
  let inSet = 0;
  if (x >= 0 && x < 2147483648 && (x | 0) === x) {
    const w = x >>> 5;
    if (w < (table[off + 1] as number)) inSet = ((table[off + 2 + w] as number) >>> (x & 31)) & 1;
  }
  return inSet === (table[off] as number) ? 0 : 1;
}

/** Leaf value for row r of a column-major matrix with `rows` rows (rows = 1, r = 0 for a single row). */
function pointerLeafValue(tree: Tree, values: ArrayLike<number>, rows: number, r: number): number {
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

function pointerMasks(tree: Tree, bins: BinMapper): Uint8Array[] {
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

export function compileEnsemble(ensemble: TreeEnsemble, options: CompileOptions = {}): CompiledScorer {
  return new CompiledScorer(ensemble, options);
}
