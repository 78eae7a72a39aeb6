import { SLOT_INIT, type TileGroup } from '../aggregation-plan.js';
import { maskWordsOf } from './update-plan.js';

/**
 * One user's tiles of one group, ascending by tile index, flat: `[index, handle, index, handle, ...]`. A small
 * array of small integers (no Map, no entry objects): an event's tile is found from the end, a read walks it
 * newest first and stops at the longest window, and pruning drops a prefix.
 */
export type TileList = number[];

const TILES_PER_SLAB = 4096;
/** Users whose tiles evaluateForWrite prefetches at a time (see #prefetch). */
export const PREFETCH_USERS = 32;

/**
 * Tile storage of one group: slabs of Float64 words, a tile being `width` words at a handle. No object per tile:
 * a new tile costs a free-list pop and a copy of the initial words; dropped tiles are reused.
 */
export class TilePool {
  /**
   * Words per tile: the touched-slot mask (bit s of word w set when slot 32w + s may differ from its initial
   * words), then the group's slot words. The mask comes first, in the cache line of the first slots.
   */
  readonly width: number;
  readonly maskWords: number;
  /** The group's slot words (what a checkpoint saves), from `slotsAt` in a tile. */
  readonly slotWords: number;
  readonly slotsAt: number;
  readonly #group: TileGroup;
  readonly #init: Float64Array;
  readonly #slabs: Float64Array[] = [];
  #free: number[] = [];
  #next = 0;

  constructor(group: TileGroup) {
    this.#group = group;
    this.maskWords = maskWordsOf(group);
    this.slotsAt = this.maskWords;
    this.slotWords = group.width;
    this.width = this.maskWords + this.slotWords;
    this.#init = new Float64Array(this.width);
    for (const slot of group.slots) this.#init.set(SLOT_INIT[slot.kind], this.slotsAt + slot.offset);
  }

  take(): number {
    let handle = this.#free.pop();
    if (handle === undefined) {
      handle = this.#next++;
      if (handle / TILES_PER_SLAB >= this.#slabs.length)
        this.#slabs.push(new Float64Array(this.width * TILES_PER_SLAB));
    }
    // a plain loop: TypedArray#set costs a runtime call, more than copying a few dozen words
    const slab = this.slabOf(handle);
    const base = this.baseOf(handle);
    const init = this.#init;
    for (let w = 0; w < init.length; w++) slab[base + w] = init[w]!;
    return handle;
  }

  /** A tile holding these slot words (restoring a checkpoint); its mask marks the slots not at their initial words. */
  takeCopy(words: Float64Array): number {
    const handle = this.take();
    const slab = this.slabOf(handle);
    const base = this.baseOf(handle);
    slab.set(words.subarray(0, this.slotWords), base + this.slotsAt);
    const slots = this.#group.slots;
    for (let s = 0; s < slots.length; s++) {
      const slot = slots[s]!;
      const init = SLOT_INIT[slot.kind];
      for (let w = 0; w < init.length; w++) {
        if (!Object.is(words[slot.offset + w], init[w])) {
          const m = base + (s >>> 5);
          slab[m] = slab[m]! | (1 << (s & 31));
          break;
        }
      }
    }
    return handle;
  }

  give(handle: number): void {
    this.#free.push(handle);
  }

  slabOf(handle: number): Float64Array {
    return this.#slabs[(handle / TILES_PER_SLAB) | 0]!;
  }

  baseOf(handle: number): number {
    return (handle % TILES_PER_SLAB) * this.width;
  }
}
