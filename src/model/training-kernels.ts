/**
 * The trainer's row loops (histograms over all features, row partitions, leaf assignment) in a small WebAssembly
 * module generated per histogram layout, over one WebAssembly memory that holds the trainer's row arrays. The same
 * loops in JavaScript pay a bounds check per typed-array access: on Hillstrom's 9 features the histogram measured
 * 15.4 against 8.7 ns per row (bench/model.ts --small; 1.75x). The additions happen in the same order as in the
 * JavaScript kernel (fullHistogramSource), so histograms, and therefore trees, are the same bit for bit.
 */

/** Above this many features the module is not generated (the unrolled body grows with features). */
const MAX_FEATURES = 1024;
/** The row arrays and histogram slots must fit this many bytes (of WebAssembly's 4 GiB); else the trainer's JS path. */
const MAX_MEMORY_BYTES = 2 ** 31;
/** Histogram slots in the memory take at most this many bytes; more histograms live in JS and are copied. */
const MAX_SLOT_BYTES = 32 * 2 ** 20;

/** The part of the WebAssembly API used here (the project's TypeScript lib has no WebAssembly types). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (limits: { initial: number }) => { buffer: ArrayBuffer };
}

type HistogramFn = (hist: number, binned: number, rowIdx: number, gh: number, begin: number, end: number) => void;
type PartitionFn = (
  rowIdx: number,
  scratch: number,
  begin: number,
  end: number,
  column: number,
  mask: number,
) => number;
type GradientsFn = (
  margin: number,
  expNeg: number,
  leafNode: number,
  value: number,
  expValue: number,
  y: number,
  w: number,
  gh: number,
  sums: number,
  n: number,
  update: number,
) => void;
type AssignFn = (
  leafNode: number,
  rowIdx: number,
  begin: number,
  end: number,
  column: number,
  mask: number,
  left: number,
  right: number,
) => void;

/** What the memory holds: rows, features, the largest tree (nodes) and whether rows have weights. */
export interface KernelSize {
  readonly n: number;
  readonly nf: number;
  readonly maxNodes: number;
  readonly weighted: boolean;
}

const modules = new Map<string, object>();
/** Compiled modules kept for reuse (one per table shape, as the JS kernels). */
const MAX_CACHED_MODULES = 32;

/**
 * The row arrays of one training, as views on a WebAssembly memory, and the loops over them. Views stay valid for
 * the training: the memory is sized once and never grows. `create` returns null where WebAssembly is unavailable
 * or the arrays do not fit (the trainer then runs its JavaScript loops on ordinary arrays).
 */
export class TrainingKernels {
  /** Row-major trainer bins (`[row * nf + f]`, missing = the feature's bin count). */
  readonly binned: Uint8Array;
  /** Column-major copy of `binned` (`[f * n + row]`), read by partitions. */
  readonly binnedCols: Uint8Array;
  readonly rowIdx: Uint32Array;
  readonly scratch: Uint32Array;
  readonly leafNode: Int32Array;
  /** Gradient and hessian per row, interleaved. */
  readonly gh: Float64Array;
  /** 256 bytes: 1 where a bin goes left in the split being applied. */
  readonly mask: Uint8Array;
  /** Margin, exp(-margin), label and weight per row (weights only when `weighted`). */
  readonly margin: Float64Array;
  readonly expNeg: Float64Array;
  readonly y: Uint8Array;
  readonly w: Float64Array | null;
  /** Zeroed histograms in the memory, for the trainer's pool (each `layout[nf]` doubles). */
  readonly slots: Float64Array[];
  readonly #buffer: ArrayBuffer;
  readonly #n: number;
  readonly #scratchHist: Float64Array;
  readonly #hist: HistogramFn;
  readonly #histAll: HistogramFn;
  readonly #partition: PartitionFn;
  readonly #assign: AssignFn;
  readonly #gradients: GradientsFn;
  /** A tree's leaf values and their exp(-value), up to `#maxNodes` nodes; the sums of a gradient pass. */
  readonly #value: Float64Array;
  readonly #expValue: Float64Array;
  readonly #sums: Float64Array;

  private constructor(
    buffer: ArrayBuffer,
    exports: Record<string, unknown>,
    size: KernelSize,
    histDoubles: number,
    slots: number,
  ) {
    const { n, nf, maxNodes, weighted } = size;
    this.#buffer = buffer;
    this.#n = n;
    let at = 0;
    const take = (bytes: number): number => {
      const start = at;
      at += Math.ceil(bytes / 16) * 16;
      return start;
    };
    this.gh = new Float64Array(buffer, take(16 * n), 2 * n);
    this.#scratchHist = new Float64Array(buffer, take(8 * histDoubles), histDoubles);
    this.slots = Array.from({ length: slots }, () => new Float64Array(buffer, take(8 * histDoubles), histDoubles));
    this.rowIdx = new Uint32Array(buffer, take(4 * n), n);
    this.scratch = new Uint32Array(buffer, take(4 * n), n);
    this.leafNode = new Int32Array(buffer, take(4 * n), n);
    this.mask = new Uint8Array(buffer, take(256), 256);
    this.binned = new Uint8Array(buffer, take(n * nf), n * nf);
    this.binnedCols = new Uint8Array(buffer, take(n * nf), n * nf);
    this.margin = new Float64Array(buffer, take(8 * n), n);
    this.expNeg = new Float64Array(buffer, take(8 * n), n);
    this.w = weighted ? new Float64Array(buffer, take(8 * n), n) : null;
    this.y = new Uint8Array(buffer, take(n), n);
    this.#value = new Float64Array(buffer, take(8 * maxNodes), maxNodes);
    this.#expValue = new Float64Array(buffer, take(8 * maxNodes), maxNodes);
    this.#sums = new Float64Array(buffer, take(16), 2);
    this.#hist = exports.hist as HistogramFn;
    this.#histAll = exports.histAll as HistogramFn;
    this.#partition = exports.partition as PartitionFn;
    this.#assign = exports.assign as AssignFn;
    this.#gradients = exports.gradients as GradientsFn;
  }

  /** Kernels for `size` with histograms in `layout` and up to `maxSlots` histograms in the memory, or null. */
  static create(layout: Int32Array, size: KernelSize, maxSlots: number): TrainingKernels | null {
    const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    const nf = layout.length - 1;
    const { n, maxNodes, weighted } = size;
    if (!api || nf > MAX_FEATURES || n === 0 || nf !== size.nf) return null;
    const histDoubles = layout[nf] as number;
    const histBytes = 16 * Math.ceil((8 * histDoubles) / 16);
    const slots = Math.max(0, Math.min(maxSlots, Math.floor(MAX_SLOT_BYTES / histBytes)));
    const row = (bytes: number): number => 16 * Math.ceil(bytes / 16);
    const total =
      row(16 * n) +
      histBytes * (slots + 1) +
      3 * row(4 * n) +
      256 +
      2 * row(n * nf) +
      (weighted ? 3 : 2) * row(8 * n) +
      row(n) +
      2 * row(8 * maxNodes) +
      16;
    if (total > MAX_MEMORY_BYTES) return null;
    try {
      const module = kernelModule(api, layout);
      const memory = new api.Memory({ initial: Math.ceil(total / 65_536) });
      const instance = new api.Instance(module, { e: { m: memory, exp: Math.exp } });
      return new TrainingKernels(memory.buffer, instance.exports, size, histDoubles, slots);
    } catch {
      return null;
    }
  }

  /**
   * Adds the rows `rowIdx[begin, end)` (or the rows begin..end themselves when `indexed` is false) into `hist`
   * over all features. A histogram outside the memory is built in a scratch slot and added.
   */
  histogram(hist: Float64Array, begin: number, end: number, indexed: boolean): void {
    const fn = indexed ? this.#hist : this.#histAll;
    const g = this.gh.byteOffset;
    const b = this.binned.byteOffset;
    const r = this.rowIdx.byteOffset;
    if (hist.buffer === this.#buffer) {
      fn(hist.byteOffset, b, r, g, begin, end);
      return;
    }
    const s = this.#scratchHist.fill(0);
    fn(s.byteOffset, b, r, g, begin, end);
    for (let k = 0; k < s.length; k++) hist[k] = (hist[k] as number) + (s[k] as number);
  }

  /**
   * Gradients and hessians of every row into `gh` (log loss), their sums returned in `sums`; with a tree's leaf
   * `value`s (by `leafNode`) and their exp(-value), first adds each row's leaf value to `margin` and multiplies
   * `expNeg` (recomputed from the margin outside 1e-300..1e300), as the trainer's updateAndComputeGradients.
   * False (nothing done) when the tree has more nodes than the memory holds.
   */
  gradients(value: Float64Array | null, expValue: Float64Array | null, sums: Float64Array): boolean {
    if (value && (value.length > this.#value.length || !expValue)) return false;
    if (value && expValue) {
      this.#value.set(value);
      this.#expValue.set(expValue);
    }
    this.#gradients(
      this.margin.byteOffset,
      this.expNeg.byteOffset,
      this.leafNode.byteOffset,
      this.#value.byteOffset,
      this.#expValue.byteOffset,
      this.y.byteOffset,
      this.w ? this.w.byteOffset : 0,
      this.gh.byteOffset,
      this.#sums.byteOffset,
      this.#n,
      value ? 1 : 0,
    );
    sums[0] = this.#sums[0] as number;
    sums[1] = this.#sums[1] as number;
    return true;
  }

  /** Stable partition of `rowIdx[begin, end)` on `mask` of `feature`'s bins: left rows first; the left count. */
  partition(begin: number, end: number, feature: number): number {
    return this.#partition(
      this.rowIdx.byteOffset,
      this.scratch.byteOffset,
      begin,
      end,
      this.binnedCols.byteOffset + feature * this.#n,
      this.mask.byteOffset,
    );
  }

  /** `leafNode[r]` = left where `mask` of `feature`'s bin is 1, else right, for the rows of `rowIdx[begin, end)`. */
  assign(begin: number, end: number, feature: number, left: number, right: number): void {
    this.#assign(
      this.leafNode.byteOffset,
      this.rowIdx.byteOffset,
      begin,
      end,
      this.binnedCols.byteOffset + feature * this.#n,
      this.mask.byteOffset,
      left,
      right,
    );
  }
}

function kernelModule(api: WasmApi, layout: Int32Array): object {
  const key = layout.join(',');
  let m = modules.get(key);
  if (!m) {
    m = new api.Module(trainingModuleBytes(layout));
    if (modules.size >= MAX_CACHED_MODULES) modules.delete(modules.keys().next().value as string);
    modules.set(key, m);
  }
  return m;
}

const uleb = (v: number): number[] => {
  const out: number[] = [];
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
};
const sleb = (v: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
};
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const wasmName = (s: string): number[] => [...uleb(s.length), ...[...s].map((ch) => ch.charCodeAt(0))];

const I32 = 0x7f;
const F64 = 0x7c;
const get = (i: number): number[] => [0x20, i];
const set = (i: number): number[] => [0x21, i];
const tee = (i: number): number[] => [0x22, i];
const c32 = (v: number): number[] => [0x41, ...sleb(v)];
const ADD = 0x6a;
const SUB = 0x6b;
const MUL = 0x6c;
const SHL = 0x74;
const GE_U = 0x4f;
const F64_ADD = 0xa0;
const SELECT = 0x1b;
const load32 = (offset: number): number[] => [0x28, 2, ...uleb(offset)];
const load8 = (offset: number): number[] => [0x2d, 0, ...uleb(offset)];
const store32 = (offset: number): number[] => [0x36, 2, ...uleb(offset)];
const loadF64 = (offset: number): number[] => [0x2b, 3, ...uleb(offset)];
const storeF64 = (offset: number): number[] => [0x39, 3, ...uleb(offset)];
const MEMORY_COPY = [0xfc, 0x0a, 0x00, 0x00];
const F64_SUB = 0xa1;
const F64_MUL = 0xa2;
const F64_DIV = 0xa3;
const F64_MAX = 0xa5;
const F64_NEG = 0x9a;
const F64_LT = 0x63;
const F64_GT = 0x64;
const F64_FROM_U32 = 0xb8;
const AND = 0x71;
const EQZ = 0x45;
const NE = 0x47;
const c64 = (v: number): number[] => [0x44, ...new Uint8Array(Float64Array.of(v).buffer)];
/** `for (i = from; i < to; i++) body` with i, from, to locals. */
const loopRows = (i: number, from: number, to: number, body: number[]): number[] => [
  ...get(from),
  ...set(i),
  0x02,
  0x40,
  0x03,
  0x40,
  ...get(i),
  ...get(to),
  GE_U,
  0x0d,
  1,
  ...body,
  ...get(i),
  ...c32(1),
  ADD,
  ...set(i),
  0x0c,
  0,
  0x0b,
  0x0b,
];
const funcBody = (locals: number[][], code: number[]): number[] => {
  const body = [...uleb(locals.length), ...locals.flat(), ...code, 0x0b];
  return [...uleb(body.length), ...body];
};

/**
 * hist(hist, binned, rowIdx, gh, begin, end) and histAll (rows begin..end): per row, for f in order,
 * hist[layout[f] + 2 bin] += g, hist[layout[f] + 2 bin + 1] += h, as fullHistogramSource.
 * partition(rowIdx, scratch, begin, end, column, mask) -> left count, and
 * assign(leafNode, rowIdx, begin, end, column, mask, left, right), as partitionRows and assignSplitLeaves.
 * All addresses are byte offsets in the imported memory "e"."m".
 */
export function trainingModuleBytes(layout: Int32Array): Uint8Array {
  const nf = layout.length - 1;
  const histBody = (indexed: boolean): number[] => {
    // params 0 hist, 1 binned, 2 rowIdx, 3 gh, 4 begin, 5 end; locals 6 i, 7 r, 8 base, 9 k, 10 g, 11 h
    const body: number[] = [];
    if (indexed) body.push(...get(2), ...get(6), ...c32(2), SHL, ADD, ...load32(0), ...set(7));
    else body.push(...get(6), ...set(7));
    body.push(...get(3), ...get(7), ...c32(4), SHL, ADD, ...tee(9), ...loadF64(0), ...set(10));
    body.push(...get(9), ...loadF64(8), ...set(11));
    body.push(...get(1), ...get(7), ...c32(nf), MUL, ADD, ...set(8));
    for (let f = 0; f < nf; f++) {
      const off = 8 * (layout[f] as number);
      body.push(...get(0), ...get(8), ...load8(f), ...c32(4), SHL, ADD, ...tee(9));
      body.push(...get(9), ...loadF64(off), ...get(10), F64_ADD, ...storeF64(off));
      body.push(...get(9), ...get(9), ...loadF64(off + 8), ...get(11), F64_ADD, ...storeF64(off + 8));
    }
    return funcBody(
      [
        [4, I32],
        [2, F64],
      ],
      loopRows(6, 4, 5, body),
    );
  };
  // params 0 rowIdx, 1 scratch, 2 begin, 3 end, 4 column, 5 mask; locals 6 i, 7 r, 8 l, 9 nl, 10 nr
  const partitionBody = funcBody(
    [[5, I32]],
    [
      ...loopRows(6, 2, 3, [
        ...get(0),
        ...get(6),
        ...c32(2),
        SHL,
        ADD,
        ...load32(0),
        ...set(7),
        ...get(5),
        ...get(4),
        ...get(7),
        ADD,
        ...load8(0),
        ADD,
        ...load8(0),
        ...set(8),
        // both stores happen, the counters pick which one counts (no branch on the bin)
        ...get(0),
        ...get(2),
        ...get(9),
        ADD,
        ...c32(2),
        SHL,
        ADD,
        ...get(7),
        ...store32(0),
        ...get(1),
        ...get(10),
        ...c32(2),
        SHL,
        ADD,
        ...get(7),
        ...store32(0),
        ...get(9),
        ...get(8),
        ADD,
        ...set(9),
        ...get(10),
        ...c32(1),
        ADD,
        ...get(8),
        SUB,
        ...set(10),
      ]),
      ...get(0),
      ...get(2),
      ...get(9),
      ADD,
      ...c32(2),
      SHL,
      ADD,
      ...get(1),
      ...get(10),
      ...c32(2),
      SHL,
      ...MEMORY_COPY,
      ...get(9),
    ],
  );
  // params 0 leafNode, 1 rowIdx, 2 begin, 3 end, 4 column, 5 mask, 6 left, 7 right; locals 8 i, 9 r
  const assignBody = funcBody(
    [[2, I32]],
    loopRows(8, 2, 3, [
      ...get(1),
      ...get(8),
      ...c32(2),
      SHL,
      ADD,
      ...load32(0),
      ...set(9),
      ...get(0),
      ...get(9),
      ...c32(2),
      SHL,
      ADD,
      ...get(6),
      ...get(7),
      ...get(5),
      ...get(4),
      ...get(9),
      ADD,
      ...load8(0),
      ADD,
      ...load8(0),
      SELECT,
      ...store32(0),
    ]),
  );
  // params 0 margin, 1 expNeg, 2 leafNode, 3 value, 4 expValue, 5 y, 6 w (0: none), 7 gh, 8 sums, 9 n, 10 update;
  // locals 11 i, 12 leaf, 13 a (i32), 14 m, 15 e, 16 pr, 17 wi, 18 g, 19 h, 20 G, 21 H (f64). Same operations in the
  // same order as updateAndComputeGradients / computeGradients (a weight of 1 multiplies exactly).
  const rowAddress = (base: number, shift: number): number[] => [...get(base), ...get(11), ...c32(shift), SHL, ADD];
  const gradientsBody = funcBody(
    [
      [3, I32],
      [8, F64],
    ],
    [
      ...c32(0),
      ...set(11),
      0x02,
      0x40,
      0x03,
      0x40,
      ...get(11),
      ...get(9),
      GE_U,
      0x0d,
      1,
      ...get(10),
      0x04,
      0x40,
      ...rowAddress(2, 2),
      ...load32(0),
      ...set(12),
      ...rowAddress(0, 3),
      ...tee(13),
      ...get(13),
      ...loadF64(0),
      ...get(3),
      ...get(12),
      ...c32(3),
      SHL,
      ADD,
      ...loadF64(0),
      F64_ADD,
      ...tee(14),
      ...storeF64(0),
      ...rowAddress(1, 3),
      ...tee(13),
      ...loadF64(0),
      ...get(4),
      ...get(12),
      ...c32(3),
      SHL,
      ADD,
      ...loadF64(0),
      F64_MUL,
      ...tee(15),
      ...c64(1e-300),
      F64_GT,
      ...get(15),
      ...c64(1e300),
      F64_LT,
      AND,
      EQZ,
      0x04,
      0x40,
      ...get(14),
      F64_NEG,
      0x10,
      0,
      ...set(15),
      0x0b,
      ...get(13),
      ...get(15),
      ...storeF64(0),
      0x05,
      ...rowAddress(1, 3),
      ...loadF64(0),
      ...set(15),
      0x0b,
      ...c64(1),
      ...c64(1),
      ...get(15),
      F64_ADD,
      F64_DIV,
      ...set(16),
      ...rowAddress(6, 3),
      ...loadF64(0),
      ...c64(1),
      ...get(6),
      ...c32(0),
      NE,
      SELECT,
      ...set(17),
      ...get(17),
      ...get(16),
      ...rowAddress(5, 0),
      ...load8(0),
      F64_FROM_U32,
      F64_SUB,
      F64_MUL,
      ...set(18),
      ...get(17),
      ...get(16),
      F64_MUL,
      ...c64(1),
      ...get(16),
      F64_SUB,
      F64_MUL,
      ...c64(1e-16),
      F64_MAX,
      ...set(19),
      ...rowAddress(7, 4),
      ...tee(13),
      ...get(18),
      ...storeF64(0),
      ...get(13),
      ...get(19),
      ...storeF64(8),
      ...get(20),
      ...get(18),
      F64_ADD,
      ...set(20),
      ...get(21),
      ...get(19),
      F64_ADD,
      ...set(21),
      ...get(11),
      ...c32(1),
      ADD,
      ...set(11),
      0x0c,
      0,
      0x0b,
      0x0b,
      ...get(8),
      ...get(20),
      ...storeF64(0),
      ...get(8),
      ...get(21),
      ...storeF64(8),
    ],
  );
  const fnType = (params: number, result: boolean): number[] => [
    0x60,
    ...uleb(params),
    ...Array<number>(params).fill(I32),
    ...(result ? [1, I32] : [0]),
  ];
  const exportFn = (name: string, index: number): number[] => [...wasmName(name), 0, index];
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    // types: 0 histograms, 1 partition, 2 assign, 3 gradients, 4 exp; function 0 is the imported Math.exp
    ...section(1, [
      5,
      ...fnType(6, false),
      ...fnType(6, true),
      ...fnType(8, false),
      ...fnType(11, false),
      0x60,
      1,
      F64,
      1,
      F64,
    ]),
    ...section(2, [2, ...wasmName('e'), ...wasmName('m'), 2, 0, 0, ...wasmName('e'), ...wasmName('exp'), 0, 4]),
    ...section(3, [5, 0, 0, 1, 2, 3]),
    ...section(7, [
      5,
      ...exportFn('hist', 1),
      ...exportFn('histAll', 2),
      ...exportFn('partition', 3),
      ...exportFn('assign', 4),
      ...exportFn('gradients', 5),
    ]),
    ...section(10, [5, ...histBody(true), ...histBody(false), ...partitionBody, ...assignBody, ...gradientsBody]),
  ]);
}
