import type { AggregationPlan } from '../aggregation-plan.js';
import { AggregatorStateCorruptError } from '../errors.js';
import { DedupIds } from './dedup-ids.js';
import type { TileList, TilePool } from './tile-pool.js';
import type { UserAggregates } from './types.js';

const STATE_FORMAT = 3;
const fromUtf8 = new TextDecoder();
const toUtf8 = new TextEncoder();

/** Bytes of an id: ASCII written directly (the common case), anything else through TextEncoder. */
function idBytes(id: string): Uint8Array | undefined {
  for (let i = 0; i < id.length; i++) if (id.charCodeAt(i) > 127) return toUtf8.encode(id);
  return undefined;
}

/**
 * Where encodeUserState writes: chunks of at least ARENA_BYTES, each user's bytes a view at an 8-byte aligned offset.
 * One ArrayBuffer per chunk, not per user: a checkpoint encodes every changed user (tens of thousands in a catch-up),
 * and an ArrayBuffer each cost about as much again as the encoding (bench/stream.ts 1b; ~9 us against ~3.5 us a user).
 * A view keeps its whole chunk alive: stores that keep the bytes compact them (MemoryAggregatorStateStore).
 */
export class StateArena {
  #f = new Float64Array(0);
  #bytes = new Uint8Array(0);
  /** Next free word. */
  #at = 0;

  /** Room for `byteLength` bytes at an 8-byte aligned offset: its first word in `f` (the current chunk). */
  alloc(byteLength: number): number {
    const words = Math.ceil(byteLength / 8);
    if (this.#at + words > this.#f.length) {
      const buffer = new ArrayBuffer(Math.max(ARENA_BYTES, words * 8));
      this.#f = new Float64Array(buffer);
      this.#bytes = new Uint8Array(buffer);
      this.#at = 0;
    }
    const at = this.#at;
    this.#at += words;
    return at;
  }

  get f(): Float64Array {
    return this.#f;
  }

  get bytes(): Uint8Array {
    return this.#bytes;
  }
}

const ARENA_BYTES = 1 << 20;

/**
 * One user's aggregates as bytes: Float64 words [format, newest event time, time of the last written vector, per tile
 * group: tile count, then per tile its index and slot words; id count, then per dedup id: event time, time seen, byte
 * length], then the ids' bytes. Tiles are copied word for word into an aligned buffer: every checkpoint saves every
 * changed user, so this is on the hot path. Written into `arena` when given (a view into its chunk), else into a
 * buffer of its own.
 */
export function encodeUserState(
  plan: AggregationPlan,
  user: UserAggregates,
  pools: readonly TilePool[],
  arena?: StateArena,
): Uint8Array {
  let words = 3;
  for (let g = 0; g < plan.groups.length; g++) words += 1 + (user.tiles[g]!.length / 2) * (1 + plan.groups[g]!.width);
  const seen = user.seen;
  const nIds = seen.size;
  words += 1 + 3 * nIds;
  let textBytes = 0;
  // ids with non-ASCII characters, as UTF-8 (rare): by position in the dedup order
  let unicode: (Uint8Array | undefined)[] | undefined;
  const ids = seen.ids;
  for (let k = 0; k < nIds; k++) {
    const id = ids[k]!;
    const b = idBytes(id);
    if (b !== undefined) {
      unicode ??= [];
      unicode[k] = b;
      textBytes += b.length;
    } else textBytes += id.length;
  }
  const byteLength = words * 8 + textBytes;
  let f: Float64Array;
  let bytes: Uint8Array;
  let o: number;
  let out: Uint8Array;
  if (arena === undefined) {
    const buffer = new ArrayBuffer(byteLength);
    f = new Float64Array(buffer, 0, words);
    bytes = new Uint8Array(buffer);
    o = 0;
    out = bytes;
  } else {
    o = arena.alloc(byteLength);
    f = arena.f;
    bytes = arena.bytes;
    out = new Uint8Array(bytes.buffer, o * 8, byteLength);
  }
  let t = (o + words) * 8;
  f[o++] = STATE_FORMAT;
  f[o++] = user.lastEventTs;
  f[o++] = user.writtenTs;
  for (let g = 0; g < plan.groups.length; g++) {
    const tiles = user.tiles[g]!;
    f[o++] = tiles.length / 2;
    const pool = pools[g]!;
    const width = plan.groups[g]!.width;
    for (let i = 0; i < tiles.length; i += 2) {
      const handle = tiles[i + 1]!;
      f[o++] = tiles[i]!;
      const slab = pool.slabOf(handle);
      const base = pool.baseOf(handle) + pool.slotsAt;
      for (let w = 0; w < width; w++) f[o + w] = slab[base + w]!;
      o += width;
    }
  }
  f[o++] = nIds;
  const seenTs = seen.ts;
  const seenAt = seen.seenAt;
  for (let k = 0; k < nIds; k++) {
    const id = ids[k]!;
    const b = unicode?.[k];
    f[o++] = seenTs[k]!;
    f[o++] = seenAt[k]!;
    if (b === undefined) {
      f[o++] = id.length;
      for (let c = 0; c < id.length; c++) bytes[t++] = id.charCodeAt(c);
    } else {
      f[o++] = b.length;
      bytes.set(b, t);
      t += b.length;
    }
  }
  return out;
}

/** Reads encodeUserState's bytes back; `pools` (one per tile group) supply the tiles. */
export function decodeUserState(
  plan: AggregationPlan,
  bytes: Uint8Array,
  userId: string,
  pools: readonly TilePool[],
): UserAggregates {
  const bad = (why: string): never => {
    throw new AggregatorStateCorruptError(
      `saved state of user ${userId} is unreadable (${why}); if the definitions changed, rebuild the state with a replay`,
      { details: { where: `user ${userId}`, found: why } },
    );
  };
  if (bytes.byteLength < 24) bad(`${bytes.byteLength} bytes`);
  // an aligned copy when the bytes came at an odd offset (e.g. inside a larger Redis reply buffer)
  const aligned = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const maxWords = Math.floor(aligned.byteLength / 8);
  const f = new Float64Array(aligned.buffer, aligned.byteOffset, maxWords);
  let o = 0;
  const need = (n: number) => {
    if (o + n > maxWords) bad(`truncated at word ${o}`);
  };
  if (f[o++] !== STATE_FORMAT) bad(`format ${f[0]}, expected ${STATE_FORMAT}`);
  const lastEventTs = f[o++]!;
  const writtenTs = f[o++]!;
  const tiles: TileList[] = [];
  for (let g = 0; g < plan.groups.length; g++) {
    const width = plan.groups[g]!.width;
    need(1);
    const n = f[o++]!;
    const entries: [number, number][] = [];
    for (let k = 0; k < n; k++) {
      need(1 + width);
      const idx = f[o++]!;
      if (!Number.isInteger(idx)) bad(`tile index ${idx}`);
      const words = f.subarray(o, o + width);
      entries.push([idx, pools[g]!.takeCopy(words)]);
      o += width;
    }
    // saved in any order (older states: insertion order); kept ascending
    entries.sort((x, y) => x[0] - y[0]);
    for (let k = 1; k < entries.length; k++)
      if (entries[k]![0] === entries[k - 1]![0]) bad(`tile index ${entries[k]![0]} twice`);
    tiles.push(entries.flat());
  }
  need(1);
  const nIds = f[o++]!;
  need(3 * nIds);
  const seen = new DedupIds();
  let t = o * 8 + 3 * nIds * 8;
  for (let k = 0; k < nIds; k++) {
    const ts = f[o++]!;
    const seenAt = f[o++]!;
    const len = f[o++]!;
    if (t + len > aligned.byteLength) bad(`id ${k} runs past the end`);
    const id = fromUtf8.decode(aligned.subarray(t, t + len));
    if (seen.has(id)) bad(`event id ${JSON.stringify(id)} twice`);
    seen.add(id, ts, seenAt);
    t += len;
  }
  if (t !== aligned.byteLength) bad(`${aligned.byteLength - t} bytes left over`);
  return {
    lastEventTs,
    tiles,
    seen,
    nextChangeTs: Number.POSITIVE_INFINITY,
    writtenTs,
    dirty: false,
    removed: false,
    cache: -1,
    cachedAtMs: Number.NaN,
  };
}
