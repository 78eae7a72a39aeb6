import { MISSING_BIN } from '../binning.js';
import { MISSING_HIGH, MISSING_LOW, maskBit, SCRATCH_ROWS, type TreeLayout } from './layout.js';

/*
 * The scratch blocks of the batch kernels: each block of SCRATCH_ROWS rows is copied column by column into
 * a column-major block of the used columns (see CompiledScorer), then the kernels walk the trees over it.
 */

/** Fills the split columns of TreeLayout from the block's categorical columns. */
export function fillSplitColumns(L: TreeLayout, blk: Int32Array, len: number): void {
  const source = L.splitSource;
  const lut = L.splitLut;
  const first = L.scratchColumns;
  for (let v = 0; v < source.length; v++) {
    const src = (source[v] as number) * SCRATCH_ROWS;
    const dst = (first + v) * SCRATCH_ROWS;
    const base = 32 * v;
    for (let j = 0; j < len; j++) blk[dst + j] = lut[base + (blk[src + j] as number)] as number;
  }
}

/** fillSplitColumns on the bin block. */
export function fillBinSplitColumns(L: TreeLayout, blk: Uint8Array, len: number, binLut: Uint8Array): void {
  const source = L.splitSource;
  const first = L.scratchColumns;
  for (let v = 0; v < source.length; v++) {
    const src = (source[v] as number) * SCRATCH_ROWS;
    const dst = (first + v) * SCRATCH_ROWS;
    const base = 256 * v;
    for (let j = 0; j < len; j++) blk[dst + j] = binLut[base + (blk[src + j] as number)] as number;
  }
}

/** Copies rows [start, start + len) of the used columns into the scratch block (see the class comment). */
export function fillRawBlock(
  L: TreeLayout,
  blk: Int32Array,
  values: Float32Array,
  bits: Int32Array,
  rows: number,
  start: number,
  len: number,
): void {
  const used = L.usedNumeric;
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
  const cats = L.usedCategorical;
  for (let k = 0; k < cats.length; k++) {
    const src = (cats[k] as number) * rows + start;
    const dst = (2 * L.numFeatures + k) * SCRATCH_ROWS;
    for (let j = 0; j < len; j++) blk[dst + j] = maskBit(values[src + j] as number);
  }
}

/** Bins version of fillRawBlock: missing (255) becomes 0 in the default-left column. */
export function fillBinBlock(
  L: TreeLayout,
  blk: Uint8Array,
  bins: Uint8Array,
  rows: number,
  start: number,
  len: number,
): void {
  const used = L.usedNumeric;
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
  const cats = L.usedCategorical;
  for (let k = 0; k < cats.length; k++) {
    const src = (cats[k] as number) * rows;
    blk.set(bins.subarray(src + start, src + start + len), (2 * L.numFeatures + k) * SCRATCH_ROWS);
  }
}
