import type { ViewEvalPlan } from './evaluation-plan.js';

const CACHE_ENTRIES_PER_SLAB = 4096;

/**
 * The vectors last written for users with a scheduled change (see evaluateForWrite), in slabs like TilePool's: per
 * entry every view's vector (float32, as written) and the newest event time each of its time_since_last features
 * read (float64). About 4 bytes a feature plus 8 a time_since_last feature per scheduled user, beside their tiles.
 */
export class VectorCache {
  /** Per view: where its vector starts in an entry's float32 words, and its times in the float64 words. */
  readonly viewAt: Int32Array;
  readonly timesAt: Int32Array;
  readonly #vectorWidth: number;
  readonly #timesWidth: number;
  readonly #vectors: Float32Array[] = [];
  readonly #times: Float64Array[] = [];
  #free: number[] = [];
  #next = 0;

  constructor(plans: readonly ViewEvalPlan[]) {
    this.viewAt = new Int32Array(plans.length);
    this.timesAt = new Int32Array(plans.length);
    let vectors = 0;
    let times = 0;
    plans.forEach((vp, v) => {
      this.viewAt[v] = vectors;
      this.timesAt[v] = times;
      vectors += vp.width;
      times += vp.timesWidth;
    });
    this.#vectorWidth = vectors;
    this.#timesWidth = Math.max(1, times);
  }

  take(): number {
    const handle = this.#free.pop();
    if (handle !== undefined) return handle;
    const h = this.#next++;
    if (h / CACHE_ENTRIES_PER_SLAB >= this.#vectors.length) {
      this.#vectors.push(new Float32Array(this.#vectorWidth * CACHE_ENTRIES_PER_SLAB));
      this.#times.push(new Float64Array(this.#timesWidth * CACHE_ENTRIES_PER_SLAB));
    }
    return h;
  }

  give(handle: number): void {
    this.#free.push(handle);
  }

  vectorsOf(handle: number): Float32Array {
    return this.#vectors[(handle / CACHE_ENTRIES_PER_SLAB) | 0]!;
  }

  vectorBaseOf(handle: number): number {
    return (handle % CACHE_ENTRIES_PER_SLAB) * this.#vectorWidth;
  }

  timesOf(handle: number): Float64Array {
    return this.#times[(handle / CACHE_ENTRIES_PER_SLAB) | 0]!;
  }

  timesBaseOf(handle: number): number {
    return (handle % CACHE_ENTRIES_PER_SLAB) * this.#timesWidth;
  }
}
