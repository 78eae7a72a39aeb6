import { InvalidInputError } from '../../core/errors.js';
import type { BinMapper } from '../binning.js';
import { probabilitiesFromMargins } from '../calibration.js';
import type { TreeEnsemble } from '../tree-ensemble.js';
import { marginBinned, marginDirect, marginScratch, rowMargin, rowMarginFallback } from './kernels.js';
import { SCRATCH_ROWS, type ScoreInput, TreeLayout } from './layout.js';
import { buildWasmKernel, type WasmKernel, wasmBinnedMargins, wasmMargins } from './wasm-kernel.js';

export type { ScoreInput } from './layout.js';

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
  readonly #layout: TreeLayout;
  readonly #binned: boolean;
  readonly #useWasm: boolean;
  // JavaScript kernels' scratch blocks, made on first use
  #rawBlock: Int32Array | null = null;
  #binBlock: Uint8Array | null = null;
  // WebAssembly kernel state, built on the first batch call (undefined: not yet; null: the model does not fit it)
  #wasm: WasmKernel | null | undefined = undefined;
  readonly #rowScratch: Float64Array;

  constructor(ensemble: TreeEnsemble, options: CompileOptions = {}) {
    this.numFeatures = ensemble.numFeatures;
    this.treeCount = ensemble.trees.length;
    this.baseMargin = ensemble.baseMargin;
    this.#layout = new TreeLayout(ensemble, options.bins ?? null);
    this.#binned = options.bins !== undefined;
    this.#useWasm = options.webAssembly !== false;
    this.#rowScratch = new Float64Array(this.#layout.scratchColumns);
  }

  /** The WebAssembly kernel (see buildWasmKernel), null when off (`webAssembly: false`) or unavailable. */
  #wasmKernel(): WasmKernel | null {
    if (this.#wasm === undefined) this.#wasm = this.#useWasm ? buildWasmKernel(this.#layout) : null;
    return this.#wasm;
  }

  #jsRawBlock(): Int32Array {
    const L = this.#layout;
    this.#rawBlock ??= new Int32Array((L.scratchColumns + L.splitSource.length) * SCRATCH_ROWS);
    return this.#rawBlock;
  }

  #jsBinBlock(): Uint8Array {
    this.#binBlock ??= new Uint8Array(this.#layout.scratchColumns * SCRATCH_ROWS);
    return this.#binBlock;
  }

  /** Whether `predictMargin` runs the WebAssembly kernel (builds it on first use). */
  get usesWebAssembly(): boolean {
    const L = this.#layout;
    return L.rawScratch && this.#wasmKernel() !== null && (!L.hasCatHeap || L.splitCol !== null);
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
    const L = this.#layout;
    if (!L.rawScratch) return marginDirect(L, input, out);
    const wasm = this.#wasmKernel();
    if (wasm && (!L.hasCatHeap || L.splitCol)) return wasmMargins(L, wasm, input, out);
    // numeric-only models, and categorical ones whose splits got columns of their own, skip the categorical
    // select in the inner loop
    const blk = this.#jsRawBlock();
    if (!L.hasCatHeap) return marginScratch(L, blk, input, out, 'numeric');
    return marginScratch(L, blk, input, out, L.splitCol ? 'split-columns' : 'categorical');
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
    const L = this.#layout;
    const wasm = this.#wasmKernel();
    if (wasm && (!L.hasCatHeap || wasm.binLut)) return wasmBinnedMargins(L, wasm, bins, rows, out);
    return marginBinned(L, this.#jsBinBlock(), bins, rows, out);
  }

  /** Margin of one row given in feature order; allocates nothing. */
  predictRowMargin(row: ArrayLike<number>): number {
    if (row.length !== this.numFeatures) {
      throw new InvalidInputError(`row has ${row.length} values, the model expects ${this.numFeatures}`);
    }
    const L = this.#layout;
    return L.rawScratch ? rowMargin(L, this.#rowScratch, row) : rowMarginFallback(L, row);
  }

  /** Probability of one row; allocates nothing. */
  predictRow(row: ArrayLike<number>): number {
    return 1 / (1 + Math.exp(-this.predictRowMargin(row)));
  }
}

export function compileEnsemble(ensemble: TreeEnsemble, options: CompileOptions = {}): CompiledScorer {
  return new CompiledScorer(ensemble, options);
}
