import type { Tree } from '../tree-ensemble.js';
import { fillBinBlock, fillRawBlock, fillSplitColumns } from './blocks.js';
import {
  BLOCK_ROWS,
  COLUMN_MASK,
  catRight,
  FEATURE_MASK,
  maskBit,
  POINTER,
  pointerBinnedLeafValue,
  pointerLeafValue,
  SCRATCH_ROWS,
  type ScoreInput,
  type TreeLayout,
} from './layout.js';

/**
 * The batch kernels: one template (kernelSource) instantiated per variant, as XGBoost's predictor instantiates
 * one template per <has_categorical, any_missing>. A variant says what the block holds (`binned`: Uint8 bins,
 * else Int32 keys; `direct`: the caller's Float32 columns, read with a NaN test and `feature * rows`, the fallback
 * for splits the key blocks cannot express) and whether its nodes can be categorical. The source is generated once
 * per variant and compiled with `new Function`: each variant is then its own function whose inner loop V8
 * specialises to its arrays, with the eight lanes written out. (A higher-order builder, one closure per variant
 * around a shared step, shares one function's type feedback across variants: V8 cannot specialise it.)
 *
 * Every kernel walks the blocks in order: fill the block (`fill(start, len)`, none for `direct`), set the block's
 * margins to the base margin, then add each tree's leaf in tree order, eight rows in flight (their dependency
 * chains of load node, load value, compare overlap), the rest one at a time. A row at heap node p of a tree rooted
 * at nb moves to 2p + c + goRight (c = 1 - nb); its leaf is leafVals[lb + p]. Pointer trees (deeper than
 * MAX_HEAP_DEPTH) take the pointer walk per row, in their place in tree order.
 */
interface Variant {
  readonly binned: boolean;
  readonly categorical: boolean;
  readonly direct: boolean;
}

/**
 * Arguments of a generated kernel: the layout, the block (for `direct`, the input columns), the input (values or
 * bins) with its row count, the margins, the node arrays the step reads (`col`, `thr`, `aux`: the categorical
 * table of the variant) and the block fill.
 */
type Kernel = (
  L: TreeLayout,
  blk: ArrayLike<number>,
  src: ArrayLike<number>,
  rows: number,
  out: Float64Array,
  col: Int32Array,
  thr: ArrayLike<number>,
  aux: ArrayLike<number>,
  fill: ((start: number, len: number) => void) | null,
) => Float64Array;

const LANES = 8;

/** Source of one step of lane `k` (`''` for the single-row remainder loop): p${k} moves to its child. */
function stepSource(v: Variant, k: number | ''): string {
  const p = `p${k}`;
  const j = k === '' ? 'j' : `j + ${k}`;
  if (v.direct) {
    // two words per node: feature | defaultRight << 30 (| 1 << 31 categorical), Float32 threshold or table offset
    return `{
      const k2 = ${p} << 1;
      const f = col[k2];
      const x = blk[(f & ${FEATURE_MASK}) * rows + start + ${j}];
      ${p} = 2 * ${p} + c + (f < 0 ? catRight(x, f, col[k2 + 1], aux) : +(x >= thr[k2 + 1]) | (+Number.isNaN(x) & (f >>> 30)));
    }`;
  }
  const cmp = v.binned ? '>' : '>=';
  if (!v.categorical) return `${p} = 2 * ${p} + c + +(blk[col[${p}] + ${j}] ${cmp} thr[${p}]);`;
  // the column word's sign bit picks the categorical go-right bit over the numeric compare, without a branch: on
  // keys the node's mask shifted by the row's mask bit, on bins aux[offset + bin] (aux is padded so that numeric
  // nodes, whose slot holds a bin threshold <= 254, read inside it too)
  const right = v.binned ? '(aux[h + x] & m)' : '((h >>> x) & m & 1)';
  return `{
      const w = col[${p}];
      const x = blk[(w & ${COLUMN_MASK}) + ${j}];
      const h = thr[${p}];
      const m = w >> 31;
      ${p} = 2 * ${p} + c + ((+(x ${cmp} h) & ~m) | ${right});
    }`;
}

/** The kernel template: the whole block loop of variant v (see the comment above). */
function kernelSource(v: Variant): string {
  const lanes = Array.from({ length: LANES }, (_, k) => k);
  const pointer = v.binned
    ? 'pointerBinnedLeafValue(L.ptrTrees[t], L.ptrMasks[t], src, rows, r)'
    : 'pointerLeafValue(L.ptrTrees[t], src, rows, r)';
  return `
    const leafVals = L.hLeaf;
    const blockRows = ${v.direct ? BLOCK_ROWS : SCRATCH_ROWS};
    for (let start = 0; start < rows; start += blockRows) {
      const end = Math.min(rows, start + blockRows);
      const len = end - start;
      ${v.direct ? '' : 'fill(start, len);'}
      for (let r = start; r < end; r++) out[r] = L.baseMargin;
      for (let t = 0; t < L.treeCount; t++) {
        if (L.kind[t] === ${POINTER}) {
          for (let r = start; r < end; r++) out[r] += ${pointer};
          continue;
        }
        const depth = L.depth[t];
        const nb = L.nodeBase[t];
        const c = 1 - nb;
        const lb = L.leafOffset[t];
        let j = 0;
        for (; j + ${LANES - 1} < len; j += ${LANES}) {
          ${lanes.map((k) => `let p${k} = nb;`).join(' ')}
          for (let d = 0; d < depth; d++) {
            ${lanes.map((k) => stepSource(v, k)).join('\n')}
          }
          const r = start + j;
          ${lanes.map((k) => `out[r + ${k}] += leafVals[lb + p${k}];`).join('\n')}
        }
        for (; j < len; j++) {
          let p = nb;
          for (let d = 0; d < depth; d++) ${stepSource(v, '')}
          out[start + j] += leafVals[lb + p];
        }
      }
    }
    return out;`;
}

function instantiate(v: Variant): Kernel {
  // the helpers the source calls come in as arguments of the factory, so the generated code closes over them
  const factory = new Function(
    'catRight',
    'pointerLeafValue',
    'pointerBinnedLeafValue',
    `return function kernel(L, blk, src, rows, out, col, thr, aux, fill) {${kernelSource(v)}\n};`,
  ) as (...helpers: unknown[]) => Kernel;
  return factory(catRight, pointerLeafValue, pointerBinnedLeafValue);
}

const RAW_NUMERIC = instantiate({ binned: false, categorical: false, direct: false });
const RAW_CATEGORICAL = instantiate({ binned: false, categorical: true, direct: false });
const BINNED_NUMERIC = instantiate({ binned: true, categorical: false, direct: false });
const BINNED_CATEGORICAL = instantiate({ binned: true, categorical: true, direct: false });
const DIRECT = instantiate({ binned: false, categorical: true, direct: true });
const NO_AUX = new Int32Array(0);

/**
 * Raw values on the key block. `col`/`thr` are the layout's scratch node arrays, or its split-column arrays
 * (`splitColumns`: categorical nodes read their split columns, filled per block, and the numeric variant runs);
 * `categorical` runs the variant with the per-step select instead.
 */
export function marginScratch(
  L: TreeLayout,
  blk: Int32Array,
  input: ScoreInput,
  out: Float64Array,
  variant: 'numeric' | 'split-columns' | 'categorical',
): Float64Array {
  const values = input.values;
  const rows = input.rows;
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  const split = variant === 'split-columns';
  const fill = (start: number, len: number): void => {
    fillRawBlock(L, blk, values, bits, rows, start, len);
    if (split) fillSplitColumns(L, blk, len);
  };
  const col = split ? (L.splitCol as Int32Array) : L.col;
  const thr = split ? (L.splitThr as Int32Array) : L.thr;
  const kernel = variant === 'categorical' ? RAW_CATEGORICAL : RAW_NUMERIC;
  return kernel(L, blk, values, rows, out, col, thr, NO_AUX, fill);
}

/** Pre-binned input on the bin block. */
export function marginBinned(
  L: TreeLayout,
  blk: Uint8Array,
  bins: Uint8Array,
  rows: number,
  out: Float64Array,
): Float64Array {
  const fill = (start: number, len: number): void => fillBinBlock(L, blk, bins, rows, start, len);
  if (!L.hasCatHeap) return BINNED_NUMERIC(L, blk, bins, rows, out, L.col, L.binThr, NO_AUX, fill);
  return BINNED_CATEGORICAL(L, blk, bins, rows, out, L.col, L.binThr, L.catBinRight, fill);
}

/** The direct kernel on the caller's columns: the fallback for NaN / -Infinity thresholds and codes >= MASK_CODES. */
export function marginDirect(L: TreeLayout, input: ScoreInput, out: Float64Array): Float64Array {
  return DIRECT(L, input.values, input.values, input.rows, out, L.hNode, L.hThr, L.catTable, null);
}

/** Margin of one row given in feature order; allocates nothing. */
export function rowMargin(L: TreeLayout, s: Float64Array, row: ArrayLike<number>): number {
  // the same scratch columns as the batch kernels, with stride 1
  const used = L.usedNumeric;
  for (let u = 0; u < used.length; u++) {
    const f = used[u] as number;
    const x = row[f] as number;
    const nan = Number.isNaN(x);
    s[2 * f] = nan ? Number.NEGATIVE_INFINITY : x;
    s[2 * f + 1] = nan ? Number.POSITIVE_INFINITY : x;
  }
  const cats = L.usedCategorical;
  for (let k = 0; k < cats.length; k++) s[2 * L.numFeatures + k] = maskBit(row[cats[k] as number] as number);
  const col = L.rowCol;
  const thr = L.thrF;
  const mask = L.thr;
  const leafVals = L.hLeaf;
  let m = L.baseMargin;
  let t = 0;
  while (t < L.treeCount) {
    if (L.quad[t] === 1) {
      // four trees in flight: a single row's steps are a chain of dependent loads; leaves are still added in
      // tree order
      const depth = L.depth[t] as number;
      const nb0 = L.nodeBase[t] as number;
      const c0 = 1 - nb0;
      let p0 = nb0;
      const nb1 = L.nodeBase[t + 1] as number;
      const c1 = 1 - nb1;
      let p1 = nb1;
      const nb2 = L.nodeBase[t + 2] as number;
      const c2 = 1 - nb2;
      let p2 = nb2;
      const nb3 = L.nodeBase[t + 3] as number;
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
      m += leafVals[(L.leafOffset[t] as number) + p0] as number;
      m += leafVals[(L.leafOffset[t + 1] as number) + p1] as number;
      m += leafVals[(L.leafOffset[t + 2] as number) + p2] as number;
      m += leafVals[(L.leafOffset[t + 3] as number) + p3] as number;
      t += 4;
      continue;
    }
    if (L.kind[t] === POINTER) {
      m += pointerLeafValue(L.ptrTrees[t] as Tree, row, 1, 0);
      t++;
      continue;
    }
    const depth = L.depth[t] as number;
    const nb = L.nodeBase[t] as number;
    const c = 1 - nb;
    let p = nb;
    for (let d = 0; d < depth; d++) {
      const w = col[p] as number;
      const x = s[w & COLUMN_MASK] as number;
      const cm = w >> 31;
      p = 2 * p + c + ((+(x >= (thr[p] as number)) & ~cm) | (((mask[p] as number) >>> x) & cm & 1));
    }
    m += leafVals[(L.leafOffset[t] as number) + p] as number;
    t++;
  }
  return m;
}

export function rowMarginFallback(L: TreeLayout, row: ArrayLike<number>): number {
  const node = L.hNode;
  const thr = L.hThr;
  const cat = L.catTable;
  const leafVals = L.hLeaf;
  let m = L.baseMargin;
  for (let t = 0; t < L.treeCount; t++) {
    if (L.kind[t] === POINTER) {
      m += pointerLeafValue(L.ptrTrees[t] as Tree, row, 1, 0);
      continue;
    }
    const depth = L.depth[t] as number;
    const nb = L.nodeBase[t] as number;
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
    m += leafVals[(L.leafBase[t] as number) + i - ((1 << depth) - 1)] as number;
  }
  return m;
}
