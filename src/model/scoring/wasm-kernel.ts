import { type FeatureBins, MISSING_BIN } from '../binning.js';
import type { Tree } from '../tree-ensemble.js';
import { fillBinSplitColumns, fillSplitColumns } from './blocks.js';
import type { ScoreInput } from './layout.js';
import {
  COLUMN_MASK,
  MASK_MISSING,
  MASK_OTHER,
  MISSING_HIGH,
  MISSING_LOW,
  maskBit,
  POINTER,
  pointerBinnedLeafValue,
  pointerLeafValue,
  SCRATCH_ROWS,
  type TreeLayout,
} from './layout.js';
import {
  exportFunction,
  fnTypeI32,
  functionBody,
  HEADER,
  importMemory,
  op,
  SECTION,
  section,
  vec,
} from './wasm-assembler.js';

interface KernelExports {
  raw(meta: number, trees: number, blk: number, out: number, len: number): void;
  binned(meta: number, trees: number, blk: number, out: number, len: number): void;
  fill(used: number, n: number, len: number): void;
  fillBins(used: number, n: number, len: number): void;
}

export interface WasmKernel extends KernelExports {
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
  // the key and bin scratch blocks, views on the instance memory
  readonly rawBlock: Int32Array;
  readonly binBlock: Uint8Array;
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

export function wasmApi(): WasmApi | null {
  return (globalThis as { WebAssembly?: WasmApi }).WebAssembly ?? null;
}

/**
 * Lays the model out in the memory of a WebAssembly kernel instance (see kernelModuleBytes): per tree meta words
 * and node words for the key block and for the bin block, the leaves, both scratch blocks and a block of
 * margins. The scratch blocks are views on that memory, so the block fills write straight into it. Null when
 * WebAssembly is unavailable, or its memory cannot be had.
 */
export function buildWasmKernel(L: TreeLayout): WasmKernel | null {
  const module = kernelModule();
  const api = wasmApi();
  if (!module || !api) return null;
  const t = L.treeCount;
  const nodes = L.col.length;
  const rawColumns = L.scratchColumns + L.splitSource.length;
  const metaRaw = 0;
  const metaBin = metaRaw + 16 * t;
  const nodeRaw = metaBin + 16 * t;
  const nodeBin = nodeRaw + 8 * nodes;
  const leaf = nodeBin + 8 * nodes;
  const out = leaf + 8 * L.hLeaf.length;
  const blkRaw = out + 8 * SCRATCH_ROWS;
  const blkBin = blkRaw + 4 * rawColumns * SCRATCH_ROWS;
  const used = blkBin + rawColumns * SCRATCH_ROWS;
  const usedBins = used + 4 * L.usedNumeric.length;
  const size = usedBins + 4 * L.usedNumeric.length;
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
    const nb = L.nodeBase[i] as number;
    const lb = L.leafOffset[i] as number;
    for (const [m, a] of [
      [4 * i, nodeRaw],
      [4 * (t + i), nodeBin],
    ] as const) {
      meta[m] = L.depth[i] as number;
      meta[m + 1] = a + 8 * nb;
      meta[m + 2] = 8 * (1 - nb) - a;
      meta[m + 3] = leaf + 8 * lb - a;
    }
  }
  const col = L.splitCol ?? L.col;
  const thr = L.splitThr ?? L.thr;
  const raw = new Int32Array(buf, nodeRaw, 2 * nodes);
  const bin = new Int32Array(buf, nodeBin, 2 * nodes);
  for (let n = 0; n < nodes; n++) {
    raw[2 * n] = 4 * ((col[n] as number) & COLUMN_MASK);
    raw[2 * n + 1] = thr[n] as number;
    // categorical nodes read their split column on bins too (rank - 1: the bin kernel compares with >)
    const cat = (L.col[n] as number) < 0;
    bin[2 * n] = (cat ? (col[n] as number) : (L.col[n] as number)) & COLUMN_MASK;
    bin[2 * n + 1] = cat ? (thr[n] as number) - 1 : (L.binThr[n] as number);
  }
  new Float64Array(buf, leaf, L.hLeaf.length).set(L.hLeaf);
  const usedList = new Int32Array(buf, used, L.usedNumeric.length);
  L.usedNumeric.forEach((f, u) => {
    usedList[u] = blkRaw + 8 * f * SCRATCH_ROWS;
  });
  const usedBinList = new Int32Array(buf, usedBins, L.usedNumeric.length);
  L.usedNumeric.forEach((f, u) => {
    usedBinList[u] = blkBin + 2 * f * SCRATCH_ROWS;
  });
  const rawBlock = new Int32Array(buf, blkRaw, rawColumns * SCRATCH_ROWS);
  const binBlock = new Uint8Array(buf, blkBin, rawColumns * SCRATCH_ROWS);
  // per split column, the split-column value of each bin of its categorical feature
  let binLut: Uint8Array | null = null;
  if (L.hasCatHeap && L.splitCol && L.bins) {
    binLut = new Uint8Array(256 * L.splitSource.length);
    for (let v = 0; v < L.splitSource.length; v++) {
      const f = L.usedCategorical[(L.splitSource[v] as number) - 2 * L.numFeatures] as number;
      const cats = (L.bins.features[f] as FeatureBins).categories;
      for (let b = 0; b < 256; b++) {
        let bit = MASK_OTHER;
        if (b === MISSING_BIN) bit = MASK_MISSING;
        else if (b < cats.length) bit = maskBit(cats[b] as number);
        binLut[256 * v + b] = L.splitLut[32 * v + bit] as number;
      }
    }
  }
  // runs of consecutive heap trees as (first, count), a pointer tree as (index, 0)
  const runs: number[] = [];
  for (let i = 0; i < t; i++) {
    if (L.kind[i] === POINTER) runs.push(i, 0);
    else if (runs.length > 0 && (runs[runs.length - 1] as number) > 0)
      runs[runs.length - 1] = (runs[runs.length - 1] as number) + 1;
    else runs.push(i, 1);
  }
  const exports = instance.exports as unknown as KernelExports;
  return {
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
    rawBlock,
    binBlock,
  };
}

export function wasmMargins(L: TreeLayout, k: WasmKernel, input: ScoreInput, out: Float64Array): Float64Array {
  const rows = input.rows;
  const values = input.values;
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  const splitColumns = L.splitCol !== null;
  for (let start = 0; start < rows; start += SCRATCH_ROWS) {
    const len = Math.min(rows - start, SCRATCH_ROWS);
    fillRawBlockWasm(L, values, bits, rows, start, len, k);
    if (splitColumns) fillSplitColumns(L, k.rawBlock, len);
    k.margins.fill(L.baseMargin, 0, len);
    for (let g = 0; g < k.runs.length; g += 2) {
      const first = k.runs[g] as number;
      const count = k.runs[g + 1] as number;
      if (count > 0) {
        k.raw(k.metaRaw + 16 * first, count, k.blkRaw, k.out, len);
        continue;
      }
      // a pointer tree, between runs of heap trees: leaves are still added in tree order
      const tree = L.ptrTrees[first] as Tree;
      for (let j = 0; j < len; j++)
        k.margins[j] = (k.margins[j] as number) + pointerLeafValue(tree, values, rows, start + j);
    }
    out.set(len === SCRATCH_ROWS ? k.margins : k.margins.subarray(0, len), start);
  }
  return out;
}

/** fillRawBlock with the key conversion in the kernel: the raw bits are copied into the lo columns first. */
function fillRawBlockWasm(
  L: TreeLayout,
  values: Float32Array,
  bits: Int32Array,
  rows: number,
  start: number,
  len: number,
  k: WasmKernel,
): void {
  const blk = k.rawBlock;
  const used = L.usedNumeric;
  for (let u = 0; u < used.length; u++) {
    const src = (used[u] as number) * rows + start;
    blk.set(bits.subarray(src, src + len), 2 * (used[u] as number) * SCRATCH_ROWS);
  }
  k.fill(k.used, used.length, len);
  const cats = L.usedCategorical;
  for (let c = 0; c < cats.length; c++) {
    const src = (cats[c] as number) * rows + start;
    const dst = (2 * L.numFeatures + c) * SCRATCH_ROWS;
    for (let j = 0; j < len; j++) blk[dst + j] = maskBit(values[src + j] as number);
  }
}

/** fillBinBlock with the missing-bin substitution in the kernel: a memcpy per column. */
function fillBinBlockWasm(
  L: TreeLayout,
  bins: Uint8Array,
  rows: number,
  start: number,
  len: number,
  k: WasmKernel,
): void {
  const blk = k.binBlock;
  const used = L.usedNumeric;
  for (let u = 0; u < used.length; u++) {
    const src = (used[u] as number) * rows + start;
    blk.set(bins.subarray(src, src + len), 2 * (used[u] as number) * SCRATCH_ROWS);
  }
  k.fillBins(k.usedBins, used.length, len);
  const cats = L.usedCategorical;
  for (let c = 0; c < cats.length; c++) {
    const src = (cats[c] as number) * rows + start;
    blk.set(bins.subarray(src, src + len), (2 * L.numFeatures + c) * SCRATCH_ROWS);
  }
}

export function wasmBinnedMargins(
  L: TreeLayout,
  k: WasmKernel,
  bins: Uint8Array,
  rows: number,
  out: Float64Array,
): Float64Array {
  for (let start = 0; start < rows; start += SCRATCH_ROWS) {
    const len = Math.min(rows - start, SCRATCH_ROWS);
    fillBinBlockWasm(L, bins, rows, start, len, k);
    if (k.binLut) fillBinSplitColumns(L, k.binBlock, len, k.binLut);
    k.margins.fill(L.baseMargin, 0, len);
    for (let g = 0; g < k.runs.length; g += 2) {
      const first = k.runs[g] as number;
      const count = k.runs[g + 1] as number;
      if (count > 0) {
        k.binned(k.metaBin + 16 * first, count, k.blkBin, k.out, len);
        continue;
      }
      const tree = L.ptrTrees[first] as Tree;
      const masks = L.ptrMasks[first] as Uint8Array[];
      for (let j = 0; j < len; j++)
        k.margins[j] = (k.margins[j] as number) + pointerBinnedLeafValue(tree, masks, bins, rows, start + j);
    }
    out.set(len === SCRATCH_ROWS ? k.margins : k.margins.subarray(0, len), start);
  }
  return out;
}

/** Whether `predictMargin` runs the WebAssembly kernel (builds it on first use). */

/**
 * The WebAssembly kernel module (see buildWasmKernel), assembled once per process from the bytes below.
 * `raw(meta, trees, blk, out, len)` on the Int32 key block and `binned(...)` on the Uint8 bin block walk `trees`
 * trees over the block, eight rows at a time (measured against 4, 12 and 16: no better), then the remaining rows
 * one at a time, adding leaves to the Float64 margins at `out` in tree order. Per tree, `meta` holds four i32:
 * depth, the root's node address P0, the child constant C and the leaf constant L. With node p at byte address
 * P = A + 8p (A: the node table), the heap step p' = 2p + 1 - nb + goRight becomes
 * `P = 2P + C + ((block[col(P) + row] >= thr(P)) << 3)` with C = 8 (1 - nb) - A (`>` on bins); node words
 * [column byte offset, threshold] sit at P and P + 4, and a row's leaf is the Float64 at P + L. `fill` turns the
 * raw Float32 bits copied into the lo columns into keys (see fillRawBlock), without a branch.
 */
function kernelModuleBytes(): Uint8Array {
  const get = op.localGet;
  const set = op.localSet;
  const c32 = op.i32Const;
  const load = op.i32Load;
  const ADD = op.i32Add;
  const SHL = op.i32Shl;
  const GE_U = op.i32GeU;
  const GT_U = op.i32GtU;
  const EQZ = op.i32Eqz;
  const BLOCK = op.block;
  const LOOP = op.loop;
  const END = op.end;
  const br = op.br;
  const brIf = op.brIf;
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
    const value = (k: number): number[] => (binned ? op.i32Load8U(k) : op.i32Load(4 * k));
    const cmp = binned ? op.i32GtS : op.i32GeS;
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
      ...op.f64Load(8 * k),
      ...get(P + k),
      ...get(L),
      ADD,
      ...op.f64Load(0),
      op.f64Add,
      ...op.f64Store(8 * k),
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
    return code;
  };
  const rawCode = body(false);
  const binCode = body(true);
  // fill(used, n, len): n lo-column addresses at `used`, each holding len raw Float32 bit patterns, become keys
  // in place (missing: MISSING_LOW) and in the hi column SCRATCH_ROWS words on (missing: MISSING_HIGH)
  // params 0..2: used, n, len; locals
  const END_USED = 3;
  const A = 4;
  const E = 5;
  const B = 6;
  const K = 7;
  const NAN = 8;
  const AND = op.i32And;
  const SELECT = op.select;
  const store = op.i32Store;
  const store8 = op.i32Store8;
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
    op.i32ShrS,
    ...c32(0x7fffffff),
    AND,
    op.i32Xor,
    ...get(B),
    ...c32(-2147483648),
    op.i32Eq,
    SELECT,
    ...set(K),
    ...get(B),
    ...c32(0x7fffffff),
    AND,
    ...c32(0x7f800000),
    op.i32GtS,
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
  // fillBins(used, n, len): the same on the bin block, bin 255 (missing) becoming 0 in the lo column
  const fillBinsCode = overUsedColumns(1, [
    ...get(A),
    ...op.i32Load8U(0),
    ...set(B),
    ...get(A),
    ...get(B),
    ...store8(SCRATCH_ROWS),
    ...get(A),
    ...c32(0),
    ...get(B),
    ...get(B),
    ...c32(MISSING_BIN),
    op.i32Eq,
    SELECT,
    ...store8(0),
  ]);
  return Uint8Array.from([
    ...HEADER,
    ...section(SECTION.type, vec([fnTypeI32(5), fnTypeI32(3)])),
    ...section(SECTION.import, vec([importMemory('env', 'mem')])),
    ...section(SECTION.function, vec([[0], [0], [1], [1]])),
    ...section(
      SECTION.export,
      vec([
        exportFunction('raw', 0),
        exportFunction('binned', 1),
        exportFunction('fill', 2),
        exportFunction('fillBins', 3),
      ]),
    ),
    ...section(
      SECTION.code,
      vec([
        functionBody(LOCALS, rawCode),
        functionBody(LOCALS, binCode),
        functionBody(6, fillCode),
        functionBody(6, fillBinsCode),
      ]),
    ),
  ]);
}
