import { InvalidInputError } from '../core/errors.js';
import { type BinMapper, type FeatureBins, MISSING_BIN } from './binning.js';
import { probabilitiesFromMargins } from './calibration.js';
import { inCategorySet, type Tree, type TreeEnsemble, treeDepth } from './tree-ensemble.js';

/** Trees deeper than this keep the pointer layout (a complete tree of depth d has 2^d leaves). */
const MAX_HEAP_DEPTH = 10;
/** Rows per block in the fallback kernel: margins of a block stay in L1. */
const BLOCK_ROWS = 256;
/**
 * Rows per block in the scratch kernels: the block's copy of the used columns (two per numeric feature) stays in
 * L2. 128 measured a little faster than 256 and 512 (100 features, 100 trees of depth 6).
 */
const SCRATCH_ROWS = 128;
const FEATURE_MASK = 0x3fffffff;
const COLUMN_MASK = 0x7fffffff;
/** Categorical splits as a 32-bit go-right mask: bits 0..29 for codes 0..29, bit 30 any other code, 31 missing. */
const MASK_CODES = 30;
const MASK_OTHER = 30;
const MASK_MISSING = 31;
const HEAP = 0;
const POINTER = 1;

export interface ScoreInput {
  readonly rows: number;
  /** Column-major, `values[feature * rows + row]`, NaN = missing. */
  readonly values: Float32Array;
}

export interface CompileOptions {
  /** Training bins: enables `predictBinnedMargin` (trees trained here only). */
  readonly bins?: BinMapper;
  /**
   * Batch scoring through the WebAssembly kernel where the model fits it (the default); false keeps the
   * JavaScript kernels (the tests compare the two).
   */
  readonly webAssembly?: boolean;
}

/**
 * A model packed for scoring. Trees at most MAX_HEAP_DEPTH deep become complete (heap-indexed) trees: a row at
 * node p of a tree whose root is node nb moves to 2p + 1 - nb + goRight, computed without a branch, leaves
 * padded by copying, so every row takes exactly `depth` steps. Deeper trees use a pointer layout. Trees are
 * summed in their original order in Float64, so margins equal the trainer's.
 *
 * Batch scoring copies each block of SCRATCH_ROWS rows into a column-major Int32 scratch block holding, per used
 * numeric feature, two columns of ordered integer keys (floatKey): missing values as the lowest key (read by
 * nodes whose default is left) and as the highest (default right). A numeric step is then one load and one
 * integer compare, with no NaN test and no multiply by the row count (column offsets are precomputed for the
 * block's fixed stride). Categorical features get an encoded column (mask bit numbers, see MASK_CODES) and their
 * nodes a 32-bit go-right mask, selected by the sign bit of the column word without a branch: the branch per
 * node on the node kind made Hillstrom's categorical model 3-4x slower than the same trees read as numeric.
 * Measured against the direct kernel (NaN test and `feature * rows` per step, a branch per categorical node),
 * which stays as the fallback for NaN / -Infinity thresholds and category codes >= MASK_CODES: 1.3-1.4x on
 * 100 features x 100 trees of depth 6, 2.4-3x on Hillstrom's model (100 trees of depth 4 with categorical splits).
 *
 * The tree walk over a block (and the key conversion of the numeric columns) runs in a small WebAssembly module
 * built here from bytes (kernelModuleBytes), when the model has no fallback-only splits and its categorical
 * splits became split columns (#planSplitColumns): the same layout and the same steps, eight rows at a time, in
 * tree order, so margins are bit-identical to the JavaScript kernels, which remain for the other models and for
 * `webAssembly: false`. It drops the bounds check of each of the three loads per step and the number tagging
 * around them: measured 2.2-2.3x on 100 features x 100 trees of depth 6 (1.5-1.7M rows/s against 0.6-0.75M)
 * and 2.1-2.3x on Hillstrom's model, with the key conversion in the kernel too (the copy of a block is then a
 * memcpy per column; 1.1-1.3x over the JavaScript fill). Pre-binned input uses the same kernel on the Uint8 block
 * (the missing-bin substitution in the kernel as well; split columns on bins through a 256-entry table per split
 * column): 2.5x numeric, 3.1-3.5x on Hillstrom.
 */
export class CompiledScorer {
  readonly numFeatures: number;
  readonly treeCount: number;
  readonly baseMargin: number;
  // per tree: HEAP or POINTER
  readonly #kind: Uint8Array;
  readonly #depth: Int32Array;
  readonly #nodeBase: Int32Array;
  readonly #leafBase: Int32Array;
  // leafVals[#leafOffset[t] + p] is the leaf reached at final node p of tree t
  readonly #leafOffset: Int32Array;
  readonly #hLeaf: Float64Array;
  // fallback layout, two 32-bit words per node in one buffer: word 0 = feature | defaultRight << 30
  // (| 1 << 31 for categorical), word 1 = Float32 threshold or an offset into #catTable ([setLeft, nWords, words...])
  readonly #hNode: Int32Array;
  readonly #hThr: Float32Array;
  readonly #catTable: Int32Array;
  readonly #hasCatHeap: boolean;
  // scratch layout, one entry per heap node: #col = scratch column * SCRATCH_ROWS (| 1 << 31 for categorical),
  // #thr = the threshold as an ordered integer key (floatKey) or the categorical go-right mask, #thrF = Float32
  // threshold (one-row path); #binThr = bin threshold or the node's offset into #catBinRight (256 go-right flags
  // per categorical node)
  readonly #col: Int32Array;
  readonly #rowCol: Int32Array;
  readonly #thr: Int32Array;
  readonly #thrF: Float32Array;
  readonly #binThr: Int32Array;
  readonly #catBinRight: Uint8Array;
  // scratch columns: 2f (missing -> -Inf / bin 0), 2f + 1 (missing -> +Inf / bin 255), 2 nf + k (categorical k)
  readonly #scratchColumns: number;
  readonly #usedNumeric: Int32Array;
  readonly #usedCategorical: Int32Array;
  // raw-value scratch kernels apply (finite thresholds, categorical codes < MASK_CODES)
  #rawScratch = true;
  // categorical nodes as numeric ones (see #planSplitColumns): per heap node the column offset and key threshold
  // for the numeric kernel, null when the model has no categorical heap nodes or too many distinct splits
  readonly #splitCol: Int32Array | null = null;
  readonly #splitThr: Int32Array | null = null;
  // per split column: the categorical scratch column it reads, and 32 entries (mask bit -> column value)
  readonly #splitSource: Int32Array = new Int32Array(0);
  readonly #splitLut: Int32Array = new Int32Array(0);
  #rawBlock: Int32Array | null = null;
  #binBlock: Uint8Array | null = null;
  // WebAssembly kernel state, built on the first batch call (undefined: not yet; null: the model does not fit it)
  #wasm: WasmKernel | null | undefined = undefined;
  readonly #useWasm: boolean;
  readonly #rowScratch: Float64Array;
  // 1 at tree t when trees t..t+3 are heap trees of one depth (the one-row path walks them together)
  readonly #quad: Uint8Array;
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
    this.#leafOffset = new Int32Array(t);
    this.#ptrTrees = [];
    this.#ptrMasks = [];
    this.#binned = options.bins !== undefined;
    this.#bins = options.bins ?? null;
    this.#useWasm = options.webAssembly !== false;
    let nodes = 0;
    let leaves = 0;
    ensemble.trees.forEach((tree, i) => {
      const d = treeDepth(tree);
      const heap = d <= MAX_HEAP_DEPTH;
      this.#kind[i] = heap ? HEAP : POINTER;
      this.#depth[i] = d;
      this.#nodeBase[i] = nodes;
      this.#leafBase[i] = leaves;
      if (heap) {
        // after d steps from root nb the node is nb + (2^d - 1) + leaf index
        this.#leafOffset[i] = leaves - ((1 << d) - 1) - nodes;
        nodes += (1 << d) - 1;
        leaves += 1 << d;
      }
    });
    const nodeBuf = new ArrayBuffer(nodes * 8);
    this.#hNode = new Int32Array(nodeBuf);
    this.#hThr = new Float32Array(nodeBuf);
    this.#hLeaf = new Float64Array(leaves);
    this.#col = new Int32Array(nodes);
    this.#rowCol = new Int32Array(nodes);
    this.#thr = new Int32Array(nodes);
    this.#thrF = new Float32Array(nodes);
    this.#binThr = new Int32Array(nodes);
    const catOrder = new Map<number, number>();
    const usedNumeric = new Set<number>();
    const cat: HeapFill = { table: [], binRight: [], catOrder, usedNumeric };
    ensemble.trees.forEach((tree, i) => {
      if (this.#kind[i] === HEAP) {
        this.#fillHeap(tree, 0, 0, 0, this.#depth[i] as number, i, cat);
        this.#ptrTrees.push(null);
        this.#ptrMasks.push(null);
      } else {
        this.#ptrTrees.push(tree);
        this.#ptrMasks.push(options.bins ? pointerMasks(tree, options.bins) : null);
      }
    });
    this.#catTable = Int32Array.from(cat.table);
    this.#hasCatHeap = cat.table.length > 0;
    // >= 512 entries: numeric nodes read catBin[binThreshold + bin] (<= 254 + 255) and discard it
    this.#catBinRight = new Uint8Array(Math.max(512, cat.binRight.length));
    this.#catBinRight.set(cat.binRight);
    this.#scratchColumns = 2 * this.numFeatures + catOrder.size;
    this.#usedNumeric = Int32Array.from([...usedNumeric].sort((a, b) => a - b));
    this.#usedCategorical = new Int32Array(catOrder.size);
    for (const [f, k] of catOrder) this.#usedCategorical[k] = f;
    // column offsets in scratch-row units, and the same for the one-row scratch (stride 1)
    for (let n = 0; n < nodes; n++) {
      const w = this.#col[n] as number;
      this.#rowCol[n] = w;
      this.#col[n] = ((w & COLUMN_MASK) * SCRATCH_ROWS) | (w & ~COLUMN_MASK);
    }
    this.#rowScratch = new Float64Array(this.#scratchColumns);
    if (this.#rawScratch && this.#hasCatHeap) {
      const plan = this.#planSplitColumns(nodes);
      if (plan) {
        this.#splitCol = plan.col;
        this.#splitThr = plan.thr;
        this.#splitSource = plan.source;
        this.#splitLut = plan.lut;
      }
    }
    this.#quad = new Uint8Array(t);
    for (let i = 0; i + 3 < t; i++) {
      let same = true;
      for (let q = 0; q < 4; q++)
        same &&= this.#kind[i + q] === HEAP && this.#depth[i + q] === this.#depth[i] && (this.#depth[i] as number) > 0;
      this.#quad[i] = same ? 1 : 0;
    }
  }

  #fillHeap(tree: Tree, node: number, heapIdx: number, level: number, depth: number, t: number, fill: HeapFill): void {
    const nb = this.#nodeBase[t] as number;
    if ((tree.left[node] as number) < 0) {
      // a leaf above the full depth fills every leaf slot under its heap position; the padding nodes below it
      // keep feature 0 / threshold 0, and whichever way they go the value is the same
      const span = 1 << (depth - level);
      const first = ((heapIdx + 1) << (depth - level)) - 1 - ((1 << depth) - 1);
      const lb = this.#leafBase[t] as number;
      for (let k = 0; k < span; k++) this.#hLeaf[lb + first + k] = tree.value[node] as number;
      return;
    }
    const p = nb + heapIdx;
    const k = 2 * p;
    const f = tree.feature[node] as number;
    const dr = tree.defaultLeft[node] === 1 ? 0 : 1;
    if ((tree.catOffset[node] as number) >= 0) {
      const word0 = f | (dr << 30) | (1 << 31) | 0;
      this.#hNode[k] = word0;
      this.#hNode[k + 1] = fill.table.length;
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
      this.#col[p] = (2 * this.numFeatures + ck) | (1 << 31);
      let mask = (setLeft ? 1 << MASK_OTHER : 0) | (dr << MASK_MISSING);
      for (let w = 0; w < words; w++) {
        const bits = tree.catWords[(tree.catOffset[node] as number) + w] as number;
        if (w > 0 ? bits !== 0 : bits >>> MASK_CODES !== 0) this.#rawScratch = false;
      }
      for (let c = 0; c < MASK_CODES; c++) if (inCategorySet(tree, node, c) !== setLeft) mask |= 1 << c;
      this.#thr[p] = mask;
      this.#binThr[p] = fill.binRight.length;
      if (this.#bins) {
        const fb = this.#bins.features[f] as FeatureBins;
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
      this.#hNode[k] = f | (dr << 30) | 0;
      this.#hThr[k + 1] = thr;
      // NaN thresholds have no key; -Infinity would send the one-row path's substituted missing values right
      if (!(thr > Number.NEGATIVE_INFINITY)) this.#rawScratch = false;
      fill.usedNumeric.add(f);
      this.#col[p] = 2 * f + dr;
      this.#thr[p] = floatKey(thr);
      this.#thrF[p] = thr;
      this.#binThr[p] = tree.binThreshold[node] as number;
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
    for (let t = 0; t < this.treeCount; t++) if (this.#kind[t] === HEAP) steps += this.#depth[t] as number;
    // distinct go-right sets per categorical scratch column
    const sets = new Map<number, Set<number>>();
    for (let n = 0; n < nodes; n++) {
      const w = this.#col[n] as number;
      if (w >= 0) continue;
      const src = (w & COLUMN_MASK) / SCRATCH_ROWS;
      let s = sets.get(src);
      if (!s) {
        s = new Set();
        sets.set(src, s);
      }
      s.add((this.#thr[n] as number) >>> 0);
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
    const first = this.#scratchColumns;
    for (let n = 0; n < nodes; n++) {
      const w = this.#col[n] as number;
      if (w >= 0) {
        col[n] = w;
        thr[n] = this.#thr[n] as number;
        continue;
      }
      const at = place.get(`${(w & COLUMN_MASK) / SCRATCH_ROWS}:${(this.#thr[n] as number) >>> 0}`);
      if (!at) return null;
      col[n] = (first + at.column) * SCRATCH_ROWS;
      thr[n] = at.rank;
    }
    return { col, thr, source: Int32Array.from(source), lut: Int32Array.from(lut) };
  }

  /** Fills the split columns of #planSplitColumns from the block's categorical columns. */
  #fillSplitColumns(len: number): void {
    const blk = this.#rawBlock as Int32Array;
    const source = this.#splitSource;
    const lut = this.#splitLut;
    const first = this.#scratchColumns;
    for (let v = 0; v < source.length; v++) {
      const src = (source[v] as number) * SCRATCH_ROWS;
      const dst = (first + v) * SCRATCH_ROWS;
      const base = 32 * v;
      for (let j = 0; j < len; j++) blk[dst + j] = lut[base + (blk[src + j] as number)] as number;
    }
  }

  /** #fillSplitColumns on the bin block. */
  #fillBinSplitColumns(len: number, binLut: Uint8Array): void {
    const blk = this.#binBlock as Uint8Array;
    const source = this.#splitSource;
    const first = this.#scratchColumns;
    for (let v = 0; v < source.length; v++) {
      const src = (source[v] as number) * SCRATCH_ROWS;
      const dst = (first + v) * SCRATCH_ROWS;
      const base = 256 * v;
      for (let j = 0; j < len; j++) blk[dst + j] = binLut[base + (blk[src + j] as number)] as number;
    }
  }

  /** Copies rows [start, start + len) of the used columns into the scratch block (see the class comment). */
  #fillRawBlock(values: Float32Array, bits: Int32Array, rows: number, start: number, len: number): void {
    const blk = this.#rawBlock as Int32Array;
    const used = this.#usedNumeric;
    for (let u = 0; u < used.length; u++) {
      const f = used[u] as number;
      const src = f * rows + start;
      const lo = 2 * f * SCRATCH_ROWS;
      const hi = lo + SCRATCH_ROWS;
      for (let j = 0; j < len; j++) {
        const b = bits[src + j] as number;
        if ((b & 0x7fffffff) > 0x7f800000) {
          // NaN: below / above every key
          blk[lo + j] = MISSING_LOW;
          blk[hi + j] = MISSING_HIGH;
        } else {
          const k = b === -2147483648 ? 0 : b ^ ((b >> 31) & 0x7fffffff);
          blk[lo + j] = k;
          blk[hi + j] = k;
        }
      }
    }
    const cats = this.#usedCategorical;
    for (let k = 0; k < cats.length; k++) {
      const src = (cats[k] as number) * rows + start;
      const dst = (2 * this.numFeatures + k) * SCRATCH_ROWS;
      for (let j = 0; j < len; j++) blk[dst + j] = maskBit(values[src + j] as number);
    }
  }

  /** Bins version of #fillRawBlock: missing (255) becomes 0 in the default-left column. */
  #fillBinBlock(bins: Uint8Array, rows: number, start: number, len: number): void {
    const blk = this.#binBlock as Uint8Array;
    const used = this.#usedNumeric;
    for (let u = 0; u < used.length; u++) {
      const f = used[u] as number;
      const src = f * rows + start;
      const lo = 2 * f * SCRATCH_ROWS;
      const hi = lo + SCRATCH_ROWS;
      for (let j = 0; j < len; j++) {
        const b = bins[src + j] as number;
        blk[lo + j] = b === MISSING_BIN ? 0 : b;
        blk[hi + j] = b;
      }
    }
    const cats = this.#usedCategorical;
    for (let k = 0; k < cats.length; k++) {
      const src = (cats[k] as number) * rows;
      blk.set(bins.subarray(src + start, src + start + len), (2 * this.numFeatures + k) * SCRATCH_ROWS);
    }
  }

  /**
   * Lays the model out in the memory of a WebAssembly kernel instance (see kernelModuleBytes): per tree meta words
   * and node words for the key block and for the bin block, the leaves, both scratch blocks and a block of
   * margins. The scratch blocks become views on that memory, so the block fills write straight into it. Null when
   * WebAssembly is off (`webAssembly: false`) or unavailable, or its memory cannot be had.
   */
  #wasmKernel(): WasmKernel | null {
    if (this.#wasm !== undefined) return this.#wasm;
    this.#wasm = null;
    if (!this.#useWasm) return null;
    const module = kernelModule();
    const api = wasmApi();
    if (!module || !api) return null;
    const t = this.treeCount;
    const nodes = this.#col.length;
    const rawColumns = this.#scratchColumns + this.#splitSource.length;
    const metaRaw = 0;
    const metaBin = metaRaw + 16 * t;
    const nodeRaw = metaBin + 16 * t;
    const nodeBin = nodeRaw + 8 * nodes;
    const leaf = nodeBin + 8 * nodes;
    const out = leaf + 8 * this.#hLeaf.length;
    const blkRaw = out + 8 * SCRATCH_ROWS;
    const blkBin = blkRaw + 4 * rawColumns * SCRATCH_ROWS;
    const used = blkBin + rawColumns * SCRATCH_ROWS;
    const usedBins = used + 4 * this.#usedNumeric.length;
    const size = usedBins + 4 * this.#usedNumeric.length;
    let memory: { buffer: ArrayBuffer };
    let instance: { exports: object };
    try {
      memory = new api.Memory({ initial: Math.ceil((size + 8) / 65536) });
      instance = new api.Instance(module, { env: { mem: memory } });
    } catch {
      // out of address space for another memory, say: the JavaScript kernels still work
      return null;
    }
    const buf = memory.buffer;
    const meta = new Int32Array(buf, metaRaw, 8 * t);
    for (let i = 0; i < t; i++) {
      const nb = this.#nodeBase[i] as number;
      const lb = this.#leafOffset[i] as number;
      for (const [m, a] of [
        [4 * i, nodeRaw],
        [4 * (t + i), nodeBin],
      ] as const) {
        meta[m] = this.#depth[i] as number;
        meta[m + 1] = a + 8 * nb;
        meta[m + 2] = 8 * (1 - nb) - a;
        meta[m + 3] = leaf + 8 * lb - a;
      }
    }
    const col = this.#splitCol ?? this.#col;
    const thr = this.#splitThr ?? this.#thr;
    const raw = new Int32Array(buf, nodeRaw, 2 * nodes);
    const bin = new Int32Array(buf, nodeBin, 2 * nodes);
    for (let n = 0; n < nodes; n++) {
      raw[2 * n] = 4 * ((col[n] as number) & COLUMN_MASK);
      raw[2 * n + 1] = thr[n] as number;
      // categorical nodes read their split column on bins too (rank - 1: the bin kernel compares with >)
      const cat = (this.#col[n] as number) < 0;
      bin[2 * n] = (cat ? (col[n] as number) : (this.#col[n] as number)) & COLUMN_MASK;
      bin[2 * n + 1] = cat ? (thr[n] as number) - 1 : (this.#binThr[n] as number);
    }
    new Float64Array(buf, leaf, this.#hLeaf.length).set(this.#hLeaf);
    const usedList = new Int32Array(buf, used, this.#usedNumeric.length);
    this.#usedNumeric.forEach((f, u) => {
      usedList[u] = blkRaw + 8 * f * SCRATCH_ROWS;
    });
    const usedBinList = new Int32Array(buf, usedBins, this.#usedNumeric.length);
    this.#usedNumeric.forEach((f, u) => {
      usedBinList[u] = blkBin + 2 * f * SCRATCH_ROWS;
    });
    this.#rawBlock = new Int32Array(buf, blkRaw, rawColumns * SCRATCH_ROWS);
    this.#binBlock = new Uint8Array(buf, blkBin, rawColumns * SCRATCH_ROWS);
    // per split column, the split-column value of each bin of its categorical feature
    let binLut: Uint8Array | null = null;
    if (this.#hasCatHeap && this.#splitCol && this.#bins) {
      binLut = new Uint8Array(256 * this.#splitSource.length);
      for (let v = 0; v < this.#splitSource.length; v++) {
        const f = this.#usedCategorical[(this.#splitSource[v] as number) - 2 * this.numFeatures] as number;
        const cats = (this.#bins.features[f] as FeatureBins).categories;
        for (let b = 0; b < 256; b++) {
          let bit = MASK_OTHER;
          if (b === MISSING_BIN) bit = MASK_MISSING;
          else if (b < cats.length) bit = maskBit(cats[b] as number);
          binLut[256 * v + b] = this.#splitLut[32 * v + bit] as number;
        }
      }
    }
    // runs of consecutive heap trees as (first, count), a pointer tree as (index, 0)
    const runs: number[] = [];
    for (let i = 0; i < t; i++) {
      if (this.#kind[i] === POINTER) runs.push(i, 0);
      else if (runs.length > 0 && (runs[runs.length - 1] as number) > 0)
        runs[runs.length - 1] = (runs[runs.length - 1] as number) + 1;
      else runs.push(i, 1);
    }
    const exports = instance.exports as unknown as KernelExports;
    this.#wasm = {
      raw: exports.raw,
      binned: exports.binned,
      fill: exports.fill,
      fillBins: exports.fillBins,
      used,
      usedBins,
      binLut,
      runs: Int32Array.from(runs),
      metaRaw,
      metaBin,
      blkRaw,
      blkBin,
      out,
      margins: new Float64Array(buf, out, SCRATCH_ROWS),
    };
    return this.#wasm;
  }

  #marginWasm(input: ScoreInput, out: Float64Array, k: WasmKernel): Float64Array {
    const rows = input.rows;
    const values = input.values;
    const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
    const splitColumns = this.#splitCol !== null;
    for (let start = 0; start < rows; start += SCRATCH_ROWS) {
      const len = Math.min(rows - start, SCRATCH_ROWS);
      this.#fillRawBlockWasm(values, bits, rows, start, len, k);
      if (splitColumns) this.#fillSplitColumns(len);
      k.margins.fill(this.baseMargin, 0, len);
      for (let g = 0; g < k.runs.length; g += 2) {
        const first = k.runs[g] as number;
        const count = k.runs[g + 1] as number;
        if (count > 0) {
          k.raw(k.metaRaw + 16 * first, count, k.blkRaw, k.out, len);
          continue;
        }
        // a pointer tree, between runs of heap trees: leaves are still added in tree order
        const tree = this.#ptrTrees[first] as Tree;
        for (let j = 0; j < len; j++)
          k.margins[j] = (k.margins[j] as number) + pointerLeafValue(tree, values, rows, start + j);
      }
      out.set(len === SCRATCH_ROWS ? k.margins : k.margins.subarray(0, len), start);
    }
    return out;
  }

  /** #fillRawBlock with the key conversion in the kernel: the raw bits are copied into the lo columns first. */
  #fillRawBlockWasm(
    values: Float32Array,
    bits: Int32Array,
    rows: number,
    start: number,
    len: number,
    k: WasmKernel,
  ): void {
    const blk = this.#rawBlock as Int32Array;
    const used = this.#usedNumeric;
    for (let u = 0; u < used.length; u++) {
      const src = (used[u] as number) * rows + start;
      blk.set(bits.subarray(src, src + len), 2 * (used[u] as number) * SCRATCH_ROWS);
    }
    k.fill(k.used, used.length, len);
    const cats = this.#usedCategorical;
    for (let c = 0; c < cats.length; c++) {
      const src = (cats[c] as number) * rows + start;
      const dst = (2 * this.numFeatures + c) * SCRATCH_ROWS;
      for (let j = 0; j < len; j++) blk[dst + j] = maskBit(values[src + j] as number);
    }
  }

  /** #fillBinBlock with the missing-bin substitution in the kernel: a memcpy per column. */
  #fillBinBlockWasm(bins: Uint8Array, rows: number, start: number, len: number, k: WasmKernel): void {
    const blk = this.#binBlock as Uint8Array;
    const used = this.#usedNumeric;
    for (let u = 0; u < used.length; u++) {
      const src = (used[u] as number) * rows + start;
      blk.set(bins.subarray(src, src + len), 2 * (used[u] as number) * SCRATCH_ROWS);
    }
    k.fillBins(k.usedBins, used.length, len);
    const cats = this.#usedCategorical;
    for (let c = 0; c < cats.length; c++) {
      const src = (cats[c] as number) * rows + start;
      blk.set(bins.subarray(src, src + len), (2 * this.numFeatures + c) * SCRATCH_ROWS);
    }
  }

  #binnedWasm(bins: Uint8Array, rows: number, out: Float64Array, k: WasmKernel): Float64Array {
    for (let start = 0; start < rows; start += SCRATCH_ROWS) {
      const len = Math.min(rows - start, SCRATCH_ROWS);
      this.#fillBinBlockWasm(bins, rows, start, len, k);
      if (k.binLut) this.#fillBinSplitColumns(len, k.binLut);
      k.margins.fill(this.baseMargin, 0, len);
      for (let g = 0; g < k.runs.length; g += 2) {
        const first = k.runs[g] as number;
        const count = k.runs[g + 1] as number;
        if (count > 0) {
          k.binned(k.metaBin + 16 * first, count, k.blkBin, k.out, len);
          continue;
        }
        const tree = this.#ptrTrees[first] as Tree;
        const masks = this.#ptrMasks[first] as Uint8Array[];
        for (let j = 0; j < len; j++)
          k.margins[j] = (k.margins[j] as number) + pointerBinnedLeafValue(tree, masks, bins, rows, start + j);
      }
      out.set(len === SCRATCH_ROWS ? k.margins : k.margins.subarray(0, len), start);
    }
    return out;
  }

  /** Whether `predictMargin` runs the WebAssembly kernel (builds it on first use). */
  get usesWebAssembly(): boolean {
    return this.#rawScratch && this.#wasmKernel() !== null && (!this.#hasCatHeap || this.#splitCol !== null);
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
    if (!this.#rawScratch) return this.#marginFallback(input, out);
    const wasm = this.#wasmKernel();
    if (wasm && (!this.#hasCatHeap || this.#splitCol)) return this.#marginWasm(input, out, wasm);
    // numeric-only models, and categorical ones whose splits got columns of their own, skip the categorical
    // select in the inner loop
    if (!this.#hasCatHeap) return this.#marginScratchNumeric(input, out, this.#col, this.#thr, false);
    if (this.#splitCol && this.#splitThr)
      return this.#marginScratchNumeric(input, out, this.#splitCol, this.#splitThr, true);
    return this.#marginScratchMixed(input, out);
  }

  /** Raw values, numeric splits only: one compare per step (missing values were replaced per column copy). */
  #marginScratchNumeric(
    input: ScoreInput,
    out: Float64Array,
    col: Int32Array,
    thr: Int32Array,
    splitColumns: boolean,
  ): Float64Array {
    const rows = input.rows;
    const values = input.values;
    const leafVals = this.#hLeaf;
    this.#rawBlock ??= new Int32Array((this.#scratchColumns + this.#splitSource.length) * SCRATCH_ROWS);
    const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
    const blk = this.#rawBlock;
    for (let start = 0; start < rows; start += SCRATCH_ROWS) {
      const end = Math.min(rows, start + SCRATCH_ROWS);
      const len = end - start;
      this.#fillRawBlock(values, bits, rows, start, len);
      if (splitColumns) this.#fillSplitColumns(len);
      for (let r = start; r < end; r++) out[r] = this.baseMargin;
      for (let t = 0; t < this.treeCount; t++) {
        if (this.#kind[t] === POINTER) {
          const tree = this.#ptrTrees[t] as Tree;
          for (let r = start; r < end; r++) out[r] = (out[r] as number) + pointerLeafValue(tree, values, rows, r);
          continue;
        }
        const depth = this.#depth[t] as number;
        const nb = this.#nodeBase[t] as number;
        const c = 1 - nb;
        const lb = this.#leafOffset[t] as number;
        let j = 0;
        // eight rows in flight: their dependency chains (load column, load value, compare) overlap
        for (; j + 7 < len; j += 8) {
          let p0 = nb;
          let p1 = nb;
          let p2 = nb;
          let p3 = nb;
          let p4 = nb;
          let p5 = nb;
          let p6 = nb;
          let p7 = nb;
          for (let d = 0; d < depth; d++) {
            p0 = 2 * p0 + c + +((blk[(col[p0] as number) + j] as number) >= (thr[p0] as number));
            p1 = 2 * p1 + c + +((blk[(col[p1] as number) + j + 1] as number) >= (thr[p1] as number));
            p2 = 2 * p2 + c + +((blk[(col[p2] as number) + j + 2] as number) >= (thr[p2] as number));
            p3 = 2 * p3 + c + +((blk[(col[p3] as number) + j + 3] as number) >= (thr[p3] as number));
            p4 = 2 * p4 + c + +((blk[(col[p4] as number) + j + 4] as number) >= (thr[p4] as number));
            p5 = 2 * p5 + c + +((blk[(col[p5] as number) + j + 5] as number) >= (thr[p5] as number));
            p6 = 2 * p6 + c + +((blk[(col[p6] as number) + j + 6] as number) >= (thr[p6] as number));
            p7 = 2 * p7 + c + +((blk[(col[p7] as number) + j + 7] as number) >= (thr[p7] as number));
          }
          const r = start + j;
          out[r] = (out[r] as number) + (leafVals[lb + p0] as number);
          out[r + 1] = (out[r + 1] as number) + (leafVals[lb + p1] as number);
          out[r + 2] = (out[r + 2] as number) + (leafVals[lb + p2] as number);
          out[r + 3] = (out[r + 3] as number) + (leafVals[lb + p3] as number);
          out[r + 4] = (out[r + 4] as number) + (leafVals[lb + p4] as number);
          out[r + 5] = (out[r + 5] as number) + (leafVals[lb + p5] as number);
          out[r + 6] = (out[r + 6] as number) + (leafVals[lb + p6] as number);
          out[r + 7] = (out[r + 7] as number) + (leafVals[lb + p7] as number);
        }
        for (; j < len; j++) {
          let p = nb;
          for (let d = 0; d < depth; d++) {
            p = 2 * p + c + +((blk[(col[p] as number) + j] as number) >= (thr[p] as number));
          }
          out[start + j] = (out[start + j] as number) + (leafVals[lb + p] as number);
        }
      }
    }
    return out;
  }

  /**
   * Raw values with categorical splits (codes < MASK_CODES): a categorical node's go-right bit is
   * `mask >>> code`, chosen over the numeric compare by the column word's sign bit, without a branch.
   */
  #marginScratchMixed(input: ScoreInput, out: Float64Array): Float64Array {
    const rows = input.rows;
    const values = input.values;
    const col = this.#col;
    const thr = this.#thr;
    const leafVals = this.#hLeaf;
    this.#rawBlock ??= new Int32Array((this.#scratchColumns + this.#splitSource.length) * SCRATCH_ROWS);
    const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
    const blk = this.#rawBlock;
    for (let start = 0; start < rows; start += SCRATCH_ROWS) {
      const end = Math.min(rows, start + SCRATCH_ROWS);
      const len = end - start;
      this.#fillRawBlock(values, bits, rows, start, len);
      for (let r = start; r < end; r++) out[r] = this.baseMargin;
      for (let t = 0; t < this.treeCount; t++) {
        if (this.#kind[t] === POINTER) {
          const tree = this.#ptrTrees[t] as Tree;
          for (let r = start; r < end; r++) out[r] = (out[r] as number) + pointerLeafValue(tree, values, rows, r);
          continue;
        }
        const depth = this.#depth[t] as number;
        const nb = this.#nodeBase[t] as number;
        const c = 1 - nb;
        const lb = this.#leafOffset[t] as number;
        let j = 0;
        // eight rows in flight: their dependency chains (load column, load value, compare) overlap
        for (; j + 7 < len; j += 8) {
          let p0 = nb;
          let p1 = nb;
          let p2 = nb;
          let p3 = nb;
          let p4 = nb;
          let p5 = nb;
          let p6 = nb;
          let p7 = nb;
          for (let d = 0; d < depth; d++) {
            const w0 = col[p0] as number;
            const x0 = blk[(w0 & COLUMN_MASK) + j] as number;
            const h0 = thr[p0] as number;
            const m0 = w0 >> 31;
            p0 = 2 * p0 + c + ((+(x0 >= h0) & ~m0) | ((h0 >>> x0) & m0 & 1));
            const w1 = col[p1] as number;
            const x1 = blk[(w1 & COLUMN_MASK) + j + 1] as number;
            const h1 = thr[p1] as number;
            const m1 = w1 >> 31;
            p1 = 2 * p1 + c + ((+(x1 >= h1) & ~m1) | ((h1 >>> x1) & m1 & 1));
            const w2 = col[p2] as number;
            const x2 = blk[(w2 & COLUMN_MASK) + j + 2] as number;
            const h2 = thr[p2] as number;
            const m2 = w2 >> 31;
            p2 = 2 * p2 + c + ((+(x2 >= h2) & ~m2) | ((h2 >>> x2) & m2 & 1));
            const w3 = col[p3] as number;
            const x3 = blk[(w3 & COLUMN_MASK) + j + 3] as number;
            const h3 = thr[p3] as number;
            const m3 = w3 >> 31;
            p3 = 2 * p3 + c + ((+(x3 >= h3) & ~m3) | ((h3 >>> x3) & m3 & 1));
            const w4 = col[p4] as number;
            const x4 = blk[(w4 & COLUMN_MASK) + j + 4] as number;
            const h4 = thr[p4] as number;
            const m4 = w4 >> 31;
            p4 = 2 * p4 + c + ((+(x4 >= h4) & ~m4) | ((h4 >>> x4) & m4 & 1));
            const w5 = col[p5] as number;
            const x5 = blk[(w5 & COLUMN_MASK) + j + 5] as number;
            const h5 = thr[p5] as number;
            const m5 = w5 >> 31;
            p5 = 2 * p5 + c + ((+(x5 >= h5) & ~m5) | ((h5 >>> x5) & m5 & 1));
            const w6 = col[p6] as number;
            const x6 = blk[(w6 & COLUMN_MASK) + j + 6] as number;
            const h6 = thr[p6] as number;
            const m6 = w6 >> 31;
            p6 = 2 * p6 + c + ((+(x6 >= h6) & ~m6) | ((h6 >>> x6) & m6 & 1));
            const w7 = col[p7] as number;
            const x7 = blk[(w7 & COLUMN_MASK) + j + 7] as number;
            const h7 = thr[p7] as number;
            const m7 = w7 >> 31;
            p7 = 2 * p7 + c + ((+(x7 >= h7) & ~m7) | ((h7 >>> x7) & m7 & 1));
          }
          const r = start + j;
          out[r] = (out[r] as number) + (leafVals[lb + p0] as number);
          out[r + 1] = (out[r + 1] as number) + (leafVals[lb + p1] as number);
          out[r + 2] = (out[r + 2] as number) + (leafVals[lb + p2] as number);
          out[r + 3] = (out[r + 3] as number) + (leafVals[lb + p3] as number);
          out[r + 4] = (out[r + 4] as number) + (leafVals[lb + p4] as number);
          out[r + 5] = (out[r + 5] as number) + (leafVals[lb + p5] as number);
          out[r + 6] = (out[r + 6] as number) + (leafVals[lb + p6] as number);
          out[r + 7] = (out[r + 7] as number) + (leafVals[lb + p7] as number);
        }
        for (; j < len; j++) {
          let p = nb;
          for (let d = 0; d < depth; d++) {
            const w = col[p] as number;
            const x = blk[(w & COLUMN_MASK) + j] as number;
            const h = thr[p] as number;
            const m = w >> 31;
            p = 2 * p + c + ((+(x >= h) & ~m) | ((h >>> x) & m & 1));
          }
          out[start + j] = (out[start + j] as number) + (leafVals[lb + p] as number);
        }
      }
    }
    return out;
  }

  /** Pre-binned input, numeric splits only. */
  #binnedNumeric(bins: Uint8Array, rows: number, out: Float64Array): Float64Array {
    const col = this.#col;
    const thr = this.#binThr;
    const leafVals = this.#hLeaf;
    this.#binBlock ??= new Uint8Array(this.#scratchColumns * SCRATCH_ROWS);
    const blk = this.#binBlock;
    for (let start = 0; start < rows; start += SCRATCH_ROWS) {
      const end = Math.min(rows, start + SCRATCH_ROWS);
      const len = end - start;
      this.#fillBinBlock(bins, rows, start, len);
      for (let r = start; r < end; r++) out[r] = this.baseMargin;
      for (let t = 0; t < this.treeCount; t++) {
        if (this.#kind[t] === POINTER) {
          const tree = this.#ptrTrees[t] as Tree;
          const masks = this.#ptrMasks[t] as Uint8Array[];
          for (let r = start; r < end; r++)
            out[r] = (out[r] as number) + pointerBinnedLeafValue(tree, masks, bins, rows, r);
          continue;
        }
        const depth = this.#depth[t] as number;
        const nb = this.#nodeBase[t] as number;
        const c = 1 - nb;
        const lb = this.#leafOffset[t] as number;
        let j = 0;
        // eight rows in flight: their dependency chains (load column, load value, compare) overlap
        for (; j + 7 < len; j += 8) {
          let p0 = nb;
          let p1 = nb;
          let p2 = nb;
          let p3 = nb;
          let p4 = nb;
          let p5 = nb;
          let p6 = nb;
          let p7 = nb;
          for (let d = 0; d < depth; d++) {
            p0 = 2 * p0 + c + +((blk[(col[p0] as number) + j] as number) > (thr[p0] as number));
            p1 = 2 * p1 + c + +((blk[(col[p1] as number) + j + 1] as number) > (thr[p1] as number));
            p2 = 2 * p2 + c + +((blk[(col[p2] as number) + j + 2] as number) > (thr[p2] as number));
            p3 = 2 * p3 + c + +((blk[(col[p3] as number) + j + 3] as number) > (thr[p3] as number));
            p4 = 2 * p4 + c + +((blk[(col[p4] as number) + j + 4] as number) > (thr[p4] as number));
            p5 = 2 * p5 + c + +((blk[(col[p5] as number) + j + 5] as number) > (thr[p5] as number));
            p6 = 2 * p6 + c + +((blk[(col[p6] as number) + j + 6] as number) > (thr[p6] as number));
            p7 = 2 * p7 + c + +((blk[(col[p7] as number) + j + 7] as number) > (thr[p7] as number));
          }
          const r = start + j;
          out[r] = (out[r] as number) + (leafVals[lb + p0] as number);
          out[r + 1] = (out[r + 1] as number) + (leafVals[lb + p1] as number);
          out[r + 2] = (out[r + 2] as number) + (leafVals[lb + p2] as number);
          out[r + 3] = (out[r + 3] as number) + (leafVals[lb + p3] as number);
          out[r + 4] = (out[r + 4] as number) + (leafVals[lb + p4] as number);
          out[r + 5] = (out[r + 5] as number) + (leafVals[lb + p5] as number);
          out[r + 6] = (out[r + 6] as number) + (leafVals[lb + p6] as number);
          out[r + 7] = (out[r + 7] as number) + (leafVals[lb + p7] as number);
        }
        for (; j < len; j++) {
          let p = nb;
          for (let d = 0; d < depth; d++) {
            p = 2 * p + c + +((blk[(col[p] as number) + j] as number) > (thr[p] as number));
          }
          out[start + j] = (out[start + j] as number) + (leafVals[lb + p] as number);
        }
      }
    }
    return out;
  }

  /**
   * Pre-binned input with categorical splits: a categorical node reads `catBin[offset + bin]` (the offset is in
   * the threshold slot; #catBinRight is padded so that numeric nodes, whose slot holds a bin threshold <= 254,
   * read inside it too) and the column word's sign bit picks it over the numeric compare, without a branch.
   */
  #binnedMixed(bins: Uint8Array, rows: number, out: Float64Array): Float64Array {
    const col = this.#col;
    const thr = this.#binThr;
    const catBin = this.#catBinRight;
    const leafVals = this.#hLeaf;
    this.#binBlock ??= new Uint8Array(this.#scratchColumns * SCRATCH_ROWS);
    const blk = this.#binBlock;
    for (let start = 0; start < rows; start += SCRATCH_ROWS) {
      const end = Math.min(rows, start + SCRATCH_ROWS);
      const len = end - start;
      this.#fillBinBlock(bins, rows, start, len);
      for (let r = start; r < end; r++) out[r] = this.baseMargin;
      for (let t = 0; t < this.treeCount; t++) {
        if (this.#kind[t] === POINTER) {
          const tree = this.#ptrTrees[t] as Tree;
          const masks = this.#ptrMasks[t] as Uint8Array[];
          for (let r = start; r < end; r++)
            out[r] = (out[r] as number) + pointerBinnedLeafValue(tree, masks, bins, rows, r);
          continue;
        }
        const depth = this.#depth[t] as number;
        const nb = this.#nodeBase[t] as number;
        const c = 1 - nb;
        const lb = this.#leafOffset[t] as number;
        let j = 0;
        // eight rows in flight: their dependency chains (load column, load value, compare) overlap
        for (; j + 7 < len; j += 8) {
          let p0 = nb;
          let p1 = nb;
          let p2 = nb;
          let p3 = nb;
          let p4 = nb;
          let p5 = nb;
          let p6 = nb;
          let p7 = nb;
          for (let d = 0; d < depth; d++) {
            const w0 = col[p0] as number;
            const b0 = blk[(w0 & COLUMN_MASK) + j] as number;
            const h0 = thr[p0] as number;
            const m0 = w0 >> 31;
            p0 = 2 * p0 + c + ((+(b0 > h0) & ~m0) | ((catBin[h0 + b0] as number) & m0));
            const w1 = col[p1] as number;
            const b1 = blk[(w1 & COLUMN_MASK) + j + 1] as number;
            const h1 = thr[p1] as number;
            const m1 = w1 >> 31;
            p1 = 2 * p1 + c + ((+(b1 > h1) & ~m1) | ((catBin[h1 + b1] as number) & m1));
            const w2 = col[p2] as number;
            const b2 = blk[(w2 & COLUMN_MASK) + j + 2] as number;
            const h2 = thr[p2] as number;
            const m2 = w2 >> 31;
            p2 = 2 * p2 + c + ((+(b2 > h2) & ~m2) | ((catBin[h2 + b2] as number) & m2));
            const w3 = col[p3] as number;
            const b3 = blk[(w3 & COLUMN_MASK) + j + 3] as number;
            const h3 = thr[p3] as number;
            const m3 = w3 >> 31;
            p3 = 2 * p3 + c + ((+(b3 > h3) & ~m3) | ((catBin[h3 + b3] as number) & m3));
            const w4 = col[p4] as number;
            const b4 = blk[(w4 & COLUMN_MASK) + j + 4] as number;
            const h4 = thr[p4] as number;
            const m4 = w4 >> 31;
            p4 = 2 * p4 + c + ((+(b4 > h4) & ~m4) | ((catBin[h4 + b4] as number) & m4));
            const w5 = col[p5] as number;
            const b5 = blk[(w5 & COLUMN_MASK) + j + 5] as number;
            const h5 = thr[p5] as number;
            const m5 = w5 >> 31;
            p5 = 2 * p5 + c + ((+(b5 > h5) & ~m5) | ((catBin[h5 + b5] as number) & m5));
            const w6 = col[p6] as number;
            const b6 = blk[(w6 & COLUMN_MASK) + j + 6] as number;
            const h6 = thr[p6] as number;
            const m6 = w6 >> 31;
            p6 = 2 * p6 + c + ((+(b6 > h6) & ~m6) | ((catBin[h6 + b6] as number) & m6));
            const w7 = col[p7] as number;
            const b7 = blk[(w7 & COLUMN_MASK) + j + 7] as number;
            const h7 = thr[p7] as number;
            const m7 = w7 >> 31;
            p7 = 2 * p7 + c + ((+(b7 > h7) & ~m7) | ((catBin[h7 + b7] as number) & m7));
          }
          const r = start + j;
          out[r] = (out[r] as number) + (leafVals[lb + p0] as number);
          out[r + 1] = (out[r + 1] as number) + (leafVals[lb + p1] as number);
          out[r + 2] = (out[r + 2] as number) + (leafVals[lb + p2] as number);
          out[r + 3] = (out[r + 3] as number) + (leafVals[lb + p3] as number);
          out[r + 4] = (out[r + 4] as number) + (leafVals[lb + p4] as number);
          out[r + 5] = (out[r + 5] as number) + (leafVals[lb + p5] as number);
          out[r + 6] = (out[r + 6] as number) + (leafVals[lb + p6] as number);
          out[r + 7] = (out[r + 7] as number) + (leafVals[lb + p7] as number);
        }
        for (; j < len; j++) {
          let p = nb;
          for (let d = 0; d < depth; d++) {
            const w = col[p] as number;
            const b = blk[(w & COLUMN_MASK) + j] as number;
            const h = thr[p] as number;
            const m = w >> 31;
            p = 2 * p + c + ((+(b > h) & ~m) | ((catBin[h + b] as number) & m));
          }
          out[start + j] = (out[start + j] as number) + (leafVals[lb + p] as number);
        }
      }
    }
    return out;
  }

  #marginFallback(input: ScoreInput, out: Float64Array): Float64Array {
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

  /** Probabilities for every row. */
  predict(input: ScoreInput, out: Float64Array = new Float64Array(input.rows)): Float64Array {
    return probabilitiesFromMargins(this.predictMargin(input, out), input.rows);
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
    if (out.length < rows) throw new InvalidInputError(`output has ${out.length} slots for ${rows} rows`);
    const wasm = this.#wasmKernel();
    if (wasm && (!this.#hasCatHeap || wasm.binLut)) return this.#binnedWasm(bins, rows, out, wasm);
    return this.#hasCatHeap ? this.#binnedMixed(bins, rows, out) : this.#binnedNumeric(bins, rows, out);
  }

  /** Margin of one row given in feature order; allocates nothing. */
  predictRowMargin(row: ArrayLike<number>): number {
    if (row.length !== this.numFeatures) {
      throw new InvalidInputError(`row has ${row.length} values, the model expects ${this.numFeatures}`);
    }
    if (!this.#rawScratch) return this.#rowMarginFallback(row);
    // the same scratch columns as the batch kernels, with stride 1
    const s = this.#rowScratch;
    const used = this.#usedNumeric;
    for (let u = 0; u < used.length; u++) {
      const f = used[u] as number;
      const x = row[f] as number;
      const nan = Number.isNaN(x);
      s[2 * f] = nan ? Number.NEGATIVE_INFINITY : x;
      s[2 * f + 1] = nan ? Number.POSITIVE_INFINITY : x;
    }
    const cats = this.#usedCategorical;
    for (let k = 0; k < cats.length; k++) s[2 * this.numFeatures + k] = maskBit(row[cats[k] as number] as number);
    const col = this.#rowCol;
    const thr = this.#thrF;
    const mask = this.#thr;
    const leafVals = this.#hLeaf;
    let m = this.baseMargin;
    let t = 0;
    while (t < this.treeCount) {
      if (this.#quad[t] === 1) {
        // four trees in flight: a single row's steps are a chain of dependent loads; leaves are still added in
        // tree order
        const depth = this.#depth[t] as number;
        const nb0 = this.#nodeBase[t] as number;
        const c0 = 1 - nb0;
        let p0 = nb0;
        const nb1 = this.#nodeBase[t + 1] as number;
        const c1 = 1 - nb1;
        let p1 = nb1;
        const nb2 = this.#nodeBase[t + 2] as number;
        const c2 = 1 - nb2;
        let p2 = nb2;
        const nb3 = this.#nodeBase[t + 3] as number;
        const c3 = 1 - nb3;
        let p3 = nb3;
        for (let d = 0; d < depth; d++) {
          const w0 = col[p0] as number;
          const x0 = s[w0 & COLUMN_MASK] as number;
          const m0 = w0 >> 31;
          p0 = 2 * p0 + c0 + ((+(x0 >= (thr[p0] as number)) & ~m0) | (((mask[p0] as number) >>> x0) & m0 & 1));
          const w1 = col[p1] as number;
          const x1 = s[w1 & COLUMN_MASK] as number;
          const m1 = w1 >> 31;
          p1 = 2 * p1 + c1 + ((+(x1 >= (thr[p1] as number)) & ~m1) | (((mask[p1] as number) >>> x1) & m1 & 1));
          const w2 = col[p2] as number;
          const x2 = s[w2 & COLUMN_MASK] as number;
          const m2 = w2 >> 31;
          p2 = 2 * p2 + c2 + ((+(x2 >= (thr[p2] as number)) & ~m2) | (((mask[p2] as number) >>> x2) & m2 & 1));
          const w3 = col[p3] as number;
          const x3 = s[w3 & COLUMN_MASK] as number;
          const m3 = w3 >> 31;
          p3 = 2 * p3 + c3 + ((+(x3 >= (thr[p3] as number)) & ~m3) | (((mask[p3] as number) >>> x3) & m3 & 1));
        }
        m += leafVals[(this.#leafOffset[t] as number) + p0] as number;
        m += leafVals[(this.#leafOffset[t + 1] as number) + p1] as number;
        m += leafVals[(this.#leafOffset[t + 2] as number) + p2] as number;
        m += leafVals[(this.#leafOffset[t + 3] as number) + p3] as number;
        t += 4;
        continue;
      }
      if (this.#kind[t] === POINTER) {
        m += pointerLeafValue(this.#ptrTrees[t] as Tree, row, 1, 0);
        t++;
        continue;
      }
      const depth = this.#depth[t] as number;
      const nb = this.#nodeBase[t] as number;
      const c = 1 - nb;
      let p = nb;
      for (let d = 0; d < depth; d++) {
        const w = col[p] as number;
        const x = s[w & COLUMN_MASK] as number;
        const cm = w >> 31;
        p = 2 * p + c + ((+(x >= (thr[p] as number)) & ~cm) | (((mask[p] as number) >>> x) & cm & 1));
      }
      m += leafVals[(this.#leafOffset[t] as number) + p] as number;
      t++;
    }
    return m;
  }

  #rowMarginFallback(row: ArrayLike<number>): number {
    const node = this.#hNode;
    const thr = this.#hThr;
    const cat = this.#catTable;
    const leafVals = this.#hLeaf;
    let m = this.baseMargin;
    for (let t = 0; t < this.treeCount; t++) {
      if (this.#kind[t] === POINTER) {
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

interface HeapFill {
  table: number[];
  binRight: number[];
  catOrder: Map<number, number>;
  usedNumeric: Set<number>;
}

interface KernelExports {
  raw(meta: number, trees: number, blk: number, out: number, len: number): void;
  binned(meta: number, trees: number, blk: number, out: number, len: number): void;
  fill(used: number, n: number, len: number): void;
  fillBins(used: number, n: number, len: number): void;
}

interface WasmKernel extends KernelExports {
  readonly metaRaw: number;
  readonly metaBin: number;
  readonly blkRaw: number;
  readonly blkBin: number;
  readonly out: number;
  readonly margins: Float64Array;
  // lo-column addresses of the used numeric features in the key block (the fill's list) and in the bin block
  readonly used: number;
  readonly usedBins: number;
  // split columns on bins (256 values per split column), null without split columns or training bins
  readonly binLut: Uint8Array | null;
  readonly runs: Int32Array;
}

/** The part of the WebAssembly API used here (the project's TypeScript lib has no DOM / WebAssembly types). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
  Memory: new (limits: { initial: number }) => { buffer: ArrayBuffer };
}

let kernelModuleCache: object | null | undefined;
/** The compiled kernel module, null where WebAssembly is unavailable. */
function kernelModule(): object | null {
  if (kernelModuleCache === undefined) {
    kernelModuleCache = null;
    const api = wasmApi();
    if (api) {
      try {
        kernelModuleCache = new api.Module(kernelModuleBytes());
      } catch {
        kernelModuleCache = null;
      }
    }
  }
  return kernelModuleCache;
}

function wasmApi(): WasmApi | null {
  return (globalThis as { WebAssembly?: WasmApi }).WebAssembly ?? null;
}

/**
 * An integer with the order of Float32 values (-0 as +0): compares on keys equal compares on the values, and a
 * categorical code is used as a shift count without a conversion. Measured 1.2x on Hillstrom's categorical
 * model against Float32 scratch columns; the same on numeric models.
 */
function floatKey(x: number): number {
  F32[0] = x === 0 ? 0 : x;
  const b = I32[0] as number;
  return b ^ ((b >> 31) & 0x7fffffff);
}
const F32 = new Float32Array(1);
const I32 = new Int32Array(F32.buffer);
/** Scratch values of a missing value: below every key (default left) and above every key (default right). */
const MISSING_LOW = -2147483648;
const MISSING_HIGH = 2147483647;

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
function maskBit(x: number): number {
  if (Number.isNaN(x)) return MASK_MISSING;
  return x >= 0 && x < MASK_CODES && (x | 0) === x ? x : MASK_OTHER;
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

function pointerBinnedLeafValue(tree: Tree, masks: Uint8Array[], bins: Uint8Array, rows: number, r: number): number {
  let nd = 0;
  while ((tree.left[nd] as number) >= 0) {
    const b = bins[(tree.feature[nd] as number) * rows + r] as number;
    nd = (masks[nd] as Uint8Array)[b] === 1 ? (tree.left[nd] as number) : (tree.right[nd] as number);
  }
  return tree.value[nd] as number;
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

/**
 * The WebAssembly kernel module (see CompiledScorer#wasmKernel), assembled once per process from the bytes below.
 * `raw(meta, trees, blk, out, len)` on the Int32 key block and `binned(...)` on the Uint8 bin block walk `trees`
 * trees over the block, eight rows at a time (measured against 4, 12 and 16: no better), then the remaining rows
 * one at a time, adding leaves to the Float64 margins at `out` in tree order. Per tree, `meta` holds four i32:
 * depth, the root's node address P0, the child constant C and the leaf constant L. With node p at byte address
 * P = A + 8p (A: the node table), the heap step p' = 2p + 1 - nb + goRight becomes
 * `P = 2P + C + ((block[col(P) + row] >= thr(P)) << 3)` with C = 8 (1 - nb) - A (`>` on bins); node words
 * [column byte offset, threshold] sit at P and P + 4, and a row's leaf is the Float64 at P + L. `fill` turns the
 * raw Float32 bits copied into the lo columns into keys (see #fillRawBlock), without a branch.
 */
function kernelModuleBytes(): Uint8Array {
  const I32 = 0x7f;
  const uleb = (v: number): number[] => {
    const b: number[] = [];
    do {
      let byte = v & 0x7f;
      v >>>= 7;
      if (v !== 0) byte |= 0x80;
      b.push(byte);
    } while (v !== 0);
    return b;
  };
  const sleb = (v: number): number[] => {
    const b: number[] = [];
    for (;;) {
      const byte = v & 0x7f;
      v >>= 7;
      if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
        b.push(byte);
        return b;
      }
      b.push(byte | 0x80);
    }
  };
  const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
  const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
  const name = (s: string): number[] => [...uleb(s.length), ...[...s].map((ch) => ch.charCodeAt(0))];
  // opcodes
  const get = (i: number): number[] => [0x20, i];
  const set = (i: number): number[] => [0x21, i];
  const c32 = (v: number): number[] => [0x41, ...sleb(v)];
  const load = (offset: number): number[] => [0x28, 2, ...uleb(offset)];
  const ADD = 0x6a;
  const SHL = 0x74;
  const GE_U = 0x4f;
  const GT_U = 0x4b;
  const EQZ = 0x45;
  const BLOCK = [0x02, 0x40];
  const LOOP = [0x03, 0x40];
  const END = 0x0b;
  const br = (depth: number): number[] => [0x0c, depth];
  const brIf = (depth: number): number[] => [0x0d, depth];
  // params 0..4: meta, trees, blk, out, len; locals
  const META = 0;
  const TREES = 1;
  const BLK = 2;
  const OUT = 3;
  const LEN = 4;
  const T = 5;
  const DEPTH = 6;
  const P0 = 7;
  const C = 8;
  const L = 9;
  const J = 10;
  const D = 11;
  const ROW = 12;
  const P = 13; // P .. P + 7
  const LOCALS = 8 + 8;

  const body = (binned: boolean): number[] => {
    const width = binned ? 1 : 4;
    // row value: load8_u / load at col + ROW (+ k * width); compare: > on bins (unsigned: bytes), >= on keys
    const value = (k: number): number[] => (binned ? [0x2d, 0, ...uleb(k)] : [0x28, 2, ...uleb(4 * k)]);
    const cmp = binned ? 0x4a /* gt_s */ : 0x4e; /* ge_s */
    const step = (k: number): number[] => [
      ...get(P + k),
      ...c32(1),
      SHL,
      ...get(C),
      ADD,
      ...get(P + k),
      ...load(0),
      ...get(ROW),
      ADD,
      ...value(k),
      ...get(P + k),
      ...load(4),
      cmp,
      ...c32(3),
      SHL,
      ADD,
      ...set(P + k),
    ];
    // out[j + k] += leaf(P + k)
    const addLeaf = (k: number): number[] => [
      ...get(OUT),
      ...get(J),
      ...c32(3),
      SHL,
      ADD,
      ...get(OUT),
      ...get(J),
      ...c32(3),
      SHL,
      ADD,
      0x2b,
      3,
      ...uleb(8 * k),
      ...get(P + k),
      ...get(L),
      ADD,
      0x2b,
      3,
      0,
      0xa0,
      0x39,
      3,
      ...uleb(8 * k),
    ];
    const descend = (lanes: number): number[] => {
      const init: number[] = [];
      for (let k = 0; k < lanes; k++) init.push(...get(P0), ...set(P + k));
      const steps: number[] = [];
      for (let k = 0; k < lanes; k++) steps.push(...step(k));
      const leaves: number[] = [];
      for (let k = 0; k < lanes; k++) leaves.push(...addLeaf(k));
      return [
        ...init,
        ...get(BLK),
        ...get(J),
        ...c32(width === 4 ? 2 : 0),
        SHL,
        ADD,
        ...set(ROW),
        ...get(DEPTH),
        ...set(D),
        ...BLOCK,
        ...LOOP,
        ...get(D),
        EQZ,
        ...brIf(1),
        ...steps,
        ...get(D),
        ...c32(-1),
        ADD,
        ...set(D),
        ...br(0),
        END,
        END,
        ...leaves,
        ...get(J),
        ...c32(lanes),
        ADD,
        ...set(J),
      ];
    };
    const code = [
      ...c32(0),
      ...set(T),
      ...BLOCK,
      ...LOOP,
      ...get(T),
      ...get(TREES),
      GE_U,
      ...brIf(1),
      // tree meta
      ...get(META),
      ...get(T),
      ...c32(4),
      SHL,
      ADD,
      ...set(D),
      ...get(D),
      ...load(0),
      ...set(DEPTH),
      ...get(D),
      ...load(4),
      ...set(P0),
      ...get(D),
      ...load(8),
      ...set(C),
      ...get(D),
      ...load(12),
      ...set(L),
      ...c32(0),
      ...set(J),
      // eight rows at a time
      ...BLOCK,
      ...LOOP,
      ...get(J),
      ...c32(8),
      ADD,
      ...get(LEN),
      GT_U,
      ...brIf(1),
      ...descend(8),
      ...br(0),
      END,
      END,
      // the rest one at a time
      ...BLOCK,
      ...LOOP,
      ...get(J),
      ...get(LEN),
      GE_U,
      ...brIf(1),
      ...descend(1),
      ...br(0),
      END,
      END,
      ...get(T),
      ...c32(1),
      ADD,
      ...set(T),
      ...br(0),
      END,
      END,
      END,
    ];
    return [...vec([[...uleb(LOCALS), I32]]), ...code];
  };
  const fnType = [0x60, ...vec([[I32], [I32], [I32], [I32], [I32]]), ...vec([])];
  const raw = body(false);
  const bin = body(true);
  // fill(used, n, len): n lo-column addresses at `used`, each holding len raw Float32 bit patterns, become keys
  // in place (missing: MISSING_LOW) and in the hi column SCRATCH_ROWS words on (missing: MISSING_HIGH)
  // params 0..2: used, n, len; locals
  const END_USED = 3;
  const A = 4;
  const E = 5;
  const B = 6;
  const K = 7;
  const NAN = 8;
  const AND = 0x71;
  const SELECT = 0x1b;
  const store = (offset: number): number[] => [0x36, 2, ...uleb(offset)];
  const store8 = (offset: number): number[] => [0x3a, 0, ...uleb(offset)];
  // both fills: for each column address in the list at param 0 (param 1 entries), for each of its param 2 rows
  // (elements of `width` bytes), run `element` with local A at the element; the list advances 4 bytes an entry
  const overUsedColumns = (width: 1 | 4, element: number[]): number[] => [
    ...get(0),
    ...get(1),
    ...c32(2),
    SHL,
    ADD,
    ...set(END_USED),
    ...BLOCK,
    ...LOOP,
    ...get(0),
    ...get(END_USED),
    GE_U,
    ...brIf(1),
    ...get(0),
    ...load(0),
    ...set(A),
    ...get(A),
    ...get(2),
    ...(width === 4 ? [...c32(2), SHL] : []),
    ADD,
    ...set(E),
    ...BLOCK,
    ...LOOP,
    ...get(A),
    ...get(E),
    GE_U,
    ...brIf(1),
    ...element,
    ...get(A),
    ...c32(width),
    ADD,
    ...set(A),
    ...br(0),
    END,
    END,
    ...get(0),
    ...c32(4),
    ADD,
    ...set(0),
    ...br(0),
    END,
    END,
    END,
  ];
  const fillCode = overUsedColumns(4, [
    ...get(A),
    ...load(0),
    ...set(B),
    // key: b ^ ((b >> 31) & 0x7fffffff), and 0 for -0
    ...c32(0),
    ...get(B),
    ...get(B),
    ...c32(31),
    0x75,
    ...c32(0x7fffffff),
    AND,
    0x73,
    ...get(B),
    ...c32(-2147483648),
    0x46,
    SELECT,
    ...set(K),
    ...get(B),
    ...c32(0x7fffffff),
    AND,
    ...c32(0x7f800000),
    0x4a,
    ...set(NAN),
    ...get(A),
    ...c32(MISSING_LOW),
    ...get(K),
    ...get(NAN),
    SELECT,
    ...store(0),
    ...get(A),
    ...c32(MISSING_HIGH),
    ...get(K),
    ...get(NAN),
    SELECT,
    ...store(4 * SCRATCH_ROWS),
  ]);
  const fill = [...vec([[...uleb(6), I32]]), ...fillCode];
  const fillType = [0x60, ...vec([[I32], [I32], [I32]]), ...vec([])];
  // fillBins(used, n, len): the same on the bin block, bin 255 (missing) becoming 0 in the lo column
  const fillBinsCode = overUsedColumns(1, [
    ...get(A),
    0x2d,
    0,
    0,
    ...set(B),
    ...get(A),
    ...get(B),
    ...store8(SCRATCH_ROWS),
    ...get(A),
    ...c32(0),
    ...get(B),
    ...get(B),
    ...c32(MISSING_BIN),
    0x46,
    SELECT,
    ...store8(0),
  ]);
  const fillBins = [...vec([[...uleb(6), I32]]), ...fillBinsCode];
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec([fnType, fillType])),
    ...section(2, vec([[...name('env'), ...name('mem'), 0x02, 0x00, 0x01]])),
    ...section(3, vec([[0], [0], [1], [1]])),
    ...section(
      7,
      vec([
        [...name('raw'), 0x00, 0],
        [...name('binned'), 0x00, 1],
        [...name('fill'), 0x00, 2],
        [...name('fillBins'), 0x00, 3],
      ]),
    ),
    ...section(
      10,
      vec([
        [...uleb(raw.length), ...raw],
        [...uleb(bin.length), ...bin],
        [...uleb(fill.length), ...fill],
        [...uleb(fillBins.length), ...fillBins],
      ]),
    ),
  ]);
}
