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

/** Raw values, numeric splits only: one compare per step (missing values were replaced per column copy). */
export function marginScratchNumeric(
  L: TreeLayout,
  blk: Int32Array,
  input: ScoreInput,
  out: Float64Array,
  col: Int32Array,
  thr: Int32Array,
  splitColumns: boolean,
): Float64Array {
  const rows = input.rows;
  const values = input.values;
  const leafVals = L.hLeaf;
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  for (let start = 0; start < rows; start += SCRATCH_ROWS) {
    const end = Math.min(rows, start + SCRATCH_ROWS);
    const len = end - start;
    fillRawBlock(L, blk, values, bits, rows, start, len);
    if (splitColumns) fillSplitColumns(L, blk, len);
    for (let r = start; r < end; r++) out[r] = L.baseMargin;
    for (let t = 0; t < L.treeCount; t++) {
      if (L.kind[t] === POINTER) {
        const tree = L.ptrTrees[t] as Tree;
        for (let r = start; r < end; r++) out[r] = (out[r] as number) + pointerLeafValue(tree, values, rows, r);
        continue;
      }
      const depth = L.depth[t] as number;
      const nb = L.nodeBase[t] as number;
      const c = 1 - nb;
      const lb = L.leafOffset[t] as number;
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
export function marginScratchMixed(L: TreeLayout, blk: Int32Array, input: ScoreInput, out: Float64Array): Float64Array {
  const rows = input.rows;
  const values = input.values;
  const col = L.col;
  const thr = L.thr;
  const leafVals = L.hLeaf;
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  for (let start = 0; start < rows; start += SCRATCH_ROWS) {
    const end = Math.min(rows, start + SCRATCH_ROWS);
    const len = end - start;
    fillRawBlock(L, blk, values, bits, rows, start, len);
    for (let r = start; r < end; r++) out[r] = L.baseMargin;
    for (let t = 0; t < L.treeCount; t++) {
      if (L.kind[t] === POINTER) {
        const tree = L.ptrTrees[t] as Tree;
        for (let r = start; r < end; r++) out[r] = (out[r] as number) + pointerLeafValue(tree, values, rows, r);
        continue;
      }
      const depth = L.depth[t] as number;
      const nb = L.nodeBase[t] as number;
      const c = 1 - nb;
      const lb = L.leafOffset[t] as number;
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
export function binnedNumeric(
  L: TreeLayout,
  blk: Uint8Array,
  bins: Uint8Array,
  rows: number,
  out: Float64Array,
): Float64Array {
  const col = L.col;
  const thr = L.binThr;
  const leafVals = L.hLeaf;
  for (let start = 0; start < rows; start += SCRATCH_ROWS) {
    const end = Math.min(rows, start + SCRATCH_ROWS);
    const len = end - start;
    fillBinBlock(L, blk, bins, rows, start, len);
    for (let r = start; r < end; r++) out[r] = L.baseMargin;
    for (let t = 0; t < L.treeCount; t++) {
      if (L.kind[t] === POINTER) {
        const tree = L.ptrTrees[t] as Tree;
        const masks = L.ptrMasks[t] as Uint8Array[];
        for (let r = start; r < end; r++)
          out[r] = (out[r] as number) + pointerBinnedLeafValue(tree, masks, bins, rows, r);
        continue;
      }
      const depth = L.depth[t] as number;
      const nb = L.nodeBase[t] as number;
      const c = 1 - nb;
      const lb = L.leafOffset[t] as number;
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
export function binnedMixed(
  L: TreeLayout,
  blk: Uint8Array,
  bins: Uint8Array,
  rows: number,
  out: Float64Array,
): Float64Array {
  const col = L.col;
  const thr = L.binThr;
  const catBin = L.catBinRight;
  const leafVals = L.hLeaf;
  for (let start = 0; start < rows; start += SCRATCH_ROWS) {
    const end = Math.min(rows, start + SCRATCH_ROWS);
    const len = end - start;
    fillBinBlock(L, blk, bins, rows, start, len);
    for (let r = start; r < end; r++) out[r] = L.baseMargin;
    for (let t = 0; t < L.treeCount; t++) {
      if (L.kind[t] === POINTER) {
        const tree = L.ptrTrees[t] as Tree;
        const masks = L.ptrMasks[t] as Uint8Array[];
        for (let r = start; r < end; r++)
          out[r] = (out[r] as number) + pointerBinnedLeafValue(tree, masks, bins, rows, r);
        continue;
      }
      const depth = L.depth[t] as number;
      const nb = L.nodeBase[t] as number;
      const c = 1 - nb;
      const lb = L.leafOffset[t] as number;
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

export function marginFallback(L: TreeLayout, input: ScoreInput, out: Float64Array): Float64Array {
  const rows = input.rows;
  const values = input.values;
  const node = L.hNode;
  const thr = L.hThr;
  const cat = L.catTable;
  const leafVals = L.hLeaf;
  for (let start = 0; start < rows; start += BLOCK_ROWS) {
    const end = Math.min(rows, start + BLOCK_ROWS);
    for (let r = start; r < end; r++) out[r] = L.baseMargin;
    for (let t = 0; t < L.treeCount; t++) {
      if (L.kind[t] === 1) {
        const tree = L.ptrTrees[t] as Tree;
        for (let r = start; r < end; r++) out[r] = (out[r] as number) + pointerLeafValue(tree, values, rows, r);
        continue;
      }
      const depth = L.depth[t] as number;
      const nb = L.nodeBase[t] as number;
      const lb = (L.leafBase[t] as number) - ((1 << depth) - 1);
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
