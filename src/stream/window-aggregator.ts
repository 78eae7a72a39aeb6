import { InvalidInputError } from '../core/index.js';
import {
  type AggregatableEvent,
  type AggregationPlan,
  distinctBit,
  distinctEstimate,
  matchesFilter,
  popcount32,
  readEventField,
  SLOT_INIT,
  type SlotKind,
  type TileGroup,
  windowStartMs,
} from './aggregation-plan.js';

/** What became of one event offered to the aggregator. */
export type IngestOutcome = 'accepted' | 'duplicate' | 'late';

export interface WindowAggregatorOptions {
  /**
   * How long after it happened an event may arrive and still count: an event with `arrivalTs - eventTs` above
   * this is `late` (not aggregated; the caller routes it to the offline correction path). A per-event rule, so the
   * outcome never depends on the order messages are processed in (redeliveries after a crash come out of order).
   * Events without an arrival time are late when they are older than the watermark, the newest event time seen
   * minus this. Default 1 hour.
   */
  readonly allowedLatenessMs?: number;
  /**
   * Event ids are remembered (for dedup) until their event is behind the watermark AND this much Clock time has
   * passed since they were seen, so a redelivery after a crash is recognised however fast event time moves.
   * Default 10 minutes; must exceed the bus's ack deadline.
   */
  readonly dedupRetentionMs?: number;
  /** Clock for dedup retention; default Date.now. */
  readonly now?: () => number;
  /** Keep every tile a window evaluated at or after this time reads, even behind the watermark (parity checks). */
  readonly retainFromMs?: number;
}

/** One user's partial aggregates: per tile group, tile index -> tile handle (see TilePool); recent event ids. */
export interface UserAggregates {
  /** Newest accepted event time. */
  lastEventTs: number;
  readonly tiles: Map<number, number>[];
  /** Event id -> [event time, Clock time seen], for dedup. */
  readonly seen: Map<string, [number, number]>;
  /** When the user's vector next changes with no new event (a tile leaving a window); not persisted. */
  nextChangeTs: number;
  /** The `event_ts` of the last vector written for the user: later writes must not go back in time. */
  writtenTs: number;
}

export interface AggregatorCounters {
  accepted: number;
  duplicates: number;
  late: number;
}

/** What a checkpoint of the aggregator holds: enough to resume exactly (no loss, no double count). */
export interface AggregatorMeta {
  readonly maxEventTs: number;
  readonly counters: AggregatorCounters;
}

export const DEFAULT_ALLOWED_LATENESS_MS = 3_600_000;

/**
 * Streaming execution of an AggregationPlan on event time: per user, partial aggregates per tile (Chronon's
 * idea), combined when a window is read. Event-id dedup makes redeliveries harmless; a watermark bounds how
 * late an event may be. Not thread-safe; one instance per consumer (partition).
 */
export class WindowAggregator {
  readonly plan: AggregationPlan;
  readonly allowedLatenessMs: number;
  readonly #users = new Map<string, UserAggregates>();
  readonly #dirty = new Set<string>();
  readonly #filterHit: Uint8Array;
  readonly #viewPlans: ViewEvalPlan[];
  readonly #pools: TilePool[];
  readonly #retainFromMs: number;
  /** Per tile group: the distinct window lengths reading it. */
  readonly #groupWindows: number[][];
  /** Per group: more tiles than this on a user means some are past every window: prune them on the spot. */
  readonly #maxTiles: number[];
  #maxEventTs = Number.NEGATIVE_INFINITY;
  readonly counters: AggregatorCounters = { accepted: 0, duplicates: 0, late: 0 };
  readonly dedupRetentionMs: number;
  readonly #now: () => number;

  constructor(plan: AggregationPlan, options: WindowAggregatorOptions = {}) {
    const lateness = options.allowedLatenessMs ?? DEFAULT_ALLOWED_LATENESS_MS;
    if (!(Number.isFinite(lateness) && lateness >= 0))
      throw new InvalidInputError(`allowedLatenessMs must be a number >= 0, got ${lateness}`);
    const retention = options.dedupRetentionMs ?? 10 * 60_000;
    if (!(Number.isFinite(retention) && retention >= 0))
      throw new InvalidInputError(`dedupRetentionMs must be a number >= 0, got ${retention}`);
    this.plan = plan;
    this.allowedLatenessMs = lateness;
    this.dedupRetentionMs = retention;
    this.#now = options.now ?? Date.now;
    this.#retainFromMs = options.retainFromMs ?? Number.POSITIVE_INFINITY;
    this.#maxTiles = plan.groups.map((g) => g.maxWindowMs / g.tileMs + 2);
    this.#filterHit = new Uint8Array(plan.filters.length);
    this.#viewPlans = viewEvalPlans(plan);
    this.#pools = plan.groups.map((g) => new TilePool(g));
    this.#groupWindows = plan.groups.map((_, g) => [
      ...new Set(plan.features.filter((f) => f.group === g).map((f) => f.windowMs)),
    ]);
  }

  /** Events before this time are late. */
  get watermark(): number {
    return this.#maxEventTs - this.allowedLatenessMs;
  }

  get maxEventTs(): number {
    return this.#maxEventTs;
  }

  get userCount(): number {
    return this.#users.size;
  }

  /** Adds one event; late and duplicate events change nothing but the counters. */
  ingest(e: AggregatableEvent): IngestOutcome {
    const ts = e.eventTs;
    const late =
      e.arrivalTs === undefined
        ? ts < this.#maxEventTs - this.allowedLatenessMs
        : e.arrivalTs - ts > this.allowedLatenessMs;
    if (late) {
      this.counters.late++;
      return 'late';
    }
    let user = this.#users.get(e.userId);
    if (user === undefined) {
      user = {
        lastEventTs: Number.NEGATIVE_INFINITY,
        tiles: this.plan.groups.map(() => new Map()),
        seen: new Map(),
        nextChangeTs: Number.POSITIVE_INFINITY,
        writtenTs: Number.NEGATIVE_INFINITY,
      };
      this.#users.set(e.userId, user);
    } else if (user.seen.has(e.eventId)) {
      this.counters.duplicates++;
      return 'duplicate';
    }
    user.seen.set(e.eventId, [ts, this.#now()]);
    if (ts > user.lastEventTs) user.lastEventTs = ts;
    if (ts > this.#maxEventTs) this.#maxEventTs = ts;

    const filters = this.plan.filters;
    const hit = this.#filterHit;
    for (let f = 0; f < filters.length; f++) hit[f] = matchesFilter(filters[f]!, e) ? 1 : 0;
    const groups = this.plan.groups;
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]!;
      const idx = Math.floor(ts / group.tileMs);
      const tiles = user.tiles[g]!;
      const pool = this.#pools[g]!;
      let handle = tiles.get(idx);
      if (handle === undefined) {
        handle = pool.take();
        tiles.set(idx, handle);
      }
      updateTile(group, pool.slabOf(handle), pool.baseOf(handle), e, hit);
      if (tiles.size > this.#maxTiles[g]!) this.#pruneTiles(g, tiles, this.#keepFrom());
    }
    this.counters.accepted++;
    this.#dirty.add(e.userId);
    return 'accepted';
  }

  /** Users whose aggregates changed since the last call, each once. */
  takeDirty(): string[] {
    const out = [...this.#dirty];
    this.#dirty.clear();
    return out;
  }

  /** Marks users changed again (a flush that failed hands its users back). */
  markDirty(userIds: readonly string[]): void {
    for (const id of userIds) if (this.#users.has(id)) this.#dirty.add(id);
  }

  /**
   * The time a new vector of the user should be written as of: their newest event, or the time of the vector
   * last written for them if that is later (an idle-user rewrite), so a late event never writes an older vector
   * than one already served. Exact: no tile holds an event after it.
   */
  writeTs(userId: string): number {
    const user = this.#users.get(userId);
    return user === undefined ? Number.NaN : Math.max(user.lastEventTs, user.writtenTs);
  }

  markWritten(userId: string, eventTs: number): void {
    const user = this.#users.get(userId);
    if (user !== undefined && eventTs > user.writtenTs) user.writtenTs = eventTs;
  }

  lastEventTs(userId: string): number {
    return this.#users.get(userId)?.lastEventTs ?? Number.NaN;
  }

  users(): IterableIterator<string> {
    return this.#users.keys();
  }

  /**
   * Writes view `view`'s feature vector for `userId` evaluated at `atMs` into `out[offset...]`. A user with no state
   * gets the empty-window values (0 for count/sum/approx_distinct, NaN otherwise). Exact when every tile at or
   * after `atMs`'s tile holds only events before `atMs`: true for `lastEventTs + 1` and for tile boundaries.
   */
  evaluate(view: number, userId: string, atMs: number, out: Float32Array, offset = 0): void {
    const vp = this.#viewPlans[view];
    if (vp === undefined) throw new InvalidInputError(`no view ${view} in the plan`);
    const user = this.#users.get(userId);
    const acc = vp.acc;
    acc.set(vp.init);
    if (user !== undefined) {
      // one pass over each tile group's tiles, merging each tile into every feature whose window covers it
      for (const gp of vp.groups) {
        const tileMs = gp.tileMs;
        const from = gp.from;
        let minFrom = Number.POSITIVE_INFINITY;
        for (let i = 0; i < gp.items.length; i++) {
          const f = windowStartMs(atMs, gp.items[i]!.windowMs, tileMs);
          from[i] = f;
          if (f < minFrom) minFrom = f;
        }
        const pool = this.#pools[gp.group]!;
        for (const [idx, handle] of user.tiles[gp.group]!) {
          const start = idx * tileMs;
          if (start < minFrom || start >= atMs) continue;
          const slab = pool.slabOf(handle);
          const base = pool.baseOf(handle);
          for (let i = 0; i < gp.items.length; i++) {
            if (start < from[i]!) continue;
            const item = gp.items[i]!;
            mergeSlot(item.kind, acc, item.accOffset, slab, base + item.slotOffset);
          }
        }
      }
    }
    for (let k = 0; k < vp.features.length; k++) {
      const f = vp.features[k]!;
      out[offset + k] = finalize(f.op, acc, f.accOffset, atMs);
    }
  }

  /**
   * Forgets tiles no evaluation at or after `keepFromMs` (default: the watermark) can read, and dedup ids past
   * their retention (see WindowAggregatorOptions.dedupRetentionMs). Returns the number of tiles dropped.
   */
  /**
   * Tiles a read at or after this time may need. One more allowed lateness behind the watermark: an event that is
   * on time by its arrival can still be processed behind the watermark (a redelivery), and its user's read must be
   * exact.
   */
  #keepFrom(): number {
    return Math.min(this.#retainFromMs, this.watermark - this.allowedLatenessMs);
  }

  #pruneTiles(g: number, tiles: Map<number, number>, keepFromMs: number): number {
    if (!Number.isFinite(keepFromMs)) return 0;
    const group = this.plan.groups[g]!;
    const minIdx = Math.floor(keepFromMs / group.tileMs) - group.maxWindowMs / group.tileMs;
    let dropped = 0;
    for (const [idx, handle] of tiles) {
      if (idx < minIdx) {
        this.#pools[g]!.give(handle);
        tiles.delete(idx);
        dropped++;
      }
    }
    return dropped;
  }

  evict(keepFromMs = this.#keepFrom()): number {
    if (!Number.isFinite(keepFromMs)) return 0;
    const wm = this.watermark;
    const forgetBefore = this.#now() - this.dedupRetentionMs;
    let dropped = 0;
    const groups = this.plan.groups;
    for (const [id, user] of this.#users) {
      for (let g = 0; g < groups.length; g++) dropped += this.#pruneTiles(g, user.tiles[g]!, keepFromMs);
      for (const [eventId, [ts, seenAt]] of user.seen) if (ts < wm && seenAt < forgetBefore) user.seen.delete(eventId);
      if (user.seen.size === 0 && user.tiles.every((t) => t.size === 0)) this.#users.delete(id);
    }
    return dropped;
  }

  /** Removes users (privacy deletion); returns how many had state. */
  deleteUsers(userIds: readonly string[]): number {
    let n = 0;
    for (const id of userIds) {
      const user = this.#users.get(id);
      if (user !== undefined) {
        user.tiles.forEach((tiles, g) => {
          for (const handle of tiles.values()) this.#pools[g]!.give(handle);
        });
        this.#users.delete(id);
        n++;
      }
      this.#dirty.delete(id);
    }
    return n;
  }

  /**
   * The first time after `afterMs` at which the user's vector changes without a new event: a tile leaving one of
   * the windows reading it (at `tileStart + tileSize + window`). Infinity when nothing is left to expire.
   */
  nextChangeAfter(userId: string, afterMs: number): number {
    const user = this.#users.get(userId);
    if (user === undefined) return Number.POSITIVE_INFINITY;
    let next = Number.POSITIVE_INFINITY;
    for (let g = 0; g < this.plan.groups.length; g++) {
      const tiles = user.tiles[g]!;
      if (tiles.size === 0) continue;
      const s = this.plan.groups[g]!.tileMs;
      const windows = this.#groupWindows[g]!;
      for (const idx of tiles.keys()) {
        for (let w = 0; w < windows.length; w++) {
          const at = idx * s + s + windows[w]!;
          if (at > afterMs && at < next) next = at;
        }
      }
    }
    return next;
  }

  /** Schedules the user's next time-driven change (see nextChangeAfter); a later call replaces an earlier one. */
  scheduleChange(userId: string, atMs: number): void {
    const user = this.#users.get(userId);
    if (user === undefined || !Number.isFinite(atMs)) return;
    user.nextChangeTs = atMs;
    this.#heapPush(atMs, userId);
  }

  /** Users whose scheduled change time is at or before `upToMs`, each once; their schedule is cleared. */
  takeDue(upToMs: number): string[] {
    const out: string[] = [];
    while (this.#heapAt.length > 0 && this.#heapAt[0]! <= upToMs) {
      const [at, id] = this.#heapPop();
      const user = this.#users.get(id);
      if (user !== undefined && user.nextChangeTs === at) {
        user.nextChangeTs = Number.POSITIVE_INFINITY;
        out.push(id);
      }
    }
    return out;
  }

  readonly #heapAt: number[] = [];
  readonly #heapId: string[] = [];

  #heapPush(at: number, id: string): void {
    const a = this.#heapAt;
    const b = this.#heapId;
    let i = a.length;
    a.push(at);
    b.push(id);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= at) break;
      a[i] = a[p]!;
      b[i] = b[p]!;
      i = p;
    }
    a[i] = at;
    b[i] = id;
  }

  #heapPop(): [number, string] {
    const a = this.#heapAt;
    const b = this.#heapId;
    const top: [number, string] = [a[0]!, b[0]!];
    const lastAt = a.pop()!;
    const lastId = b.pop()!;
    const n = a.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && a[r]! < a[l]! ? r : l;
        if (a[c]! >= lastAt) break;
        a[i] = a[c]!;
        b[i] = b[c]!;
        i = c;
      }
      a[i] = lastAt;
      b[i] = lastId;
    }
    return top;
  }

  meta(): AggregatorMeta {
    return { maxEventTs: this.#maxEventTs, counters: { ...this.counters } };
  }

  /** One user's state as bytes (encodeUserState), for a state store; undefined when the user has none. */
  exportUser(userId: string): Uint8Array | undefined {
    const user = this.#users.get(userId);
    return user === undefined ? undefined : encodeUserState(this.plan, user, this.#pools);
  }

  /** Restores a checkpoint: meta and every user's bytes as exportUser produced them. */
  restore(meta: AggregatorMeta, users: Iterable<[string, Uint8Array]>): void {
    this.#users.clear();
    this.#dirty.clear();
    this.#maxEventTs = meta.maxEventTs;
    Object.assign(this.counters, meta.counters);
    for (const [id, bytes] of users) this.#users.set(id, decodeUserState(this.plan, bytes, id, this.#pools));
    // schedules are not saved: recompute them (what is already due is rewritten at the next flush)
    for (const [id, user] of this.#users) this.scheduleChange(id, this.nextChangeAfter(id, user.lastEventTs + 1));
  }
}

const TILES_PER_SLAB = 4096;

/**
 * Tile storage of one group: slabs of Float64 words, a tile being `width` words at a handle. No object per tile:
 * a new tile costs a free-list pop and a copy of the initial words; dropped tiles are reused.
 */
export class TilePool {
  readonly width: number;
  readonly #init: Float64Array;
  readonly #slabs: Float64Array[] = [];
  #free: number[] = [];
  #next = 0;

  constructor(group: TileGroup) {
    this.width = Math.max(1, group.width);
    this.#init = new Float64Array(this.width);
    for (const slot of group.slots) this.#init.set(SLOT_INIT[slot.kind], slot.offset);
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

  /** A tile holding these words (restoring a checkpoint). */
  takeCopy(words: Float64Array): number {
    const handle = this.take();
    this.slabOf(handle).set(words, this.baseOf(handle));
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

function updateTile(group: TileGroup, tile: Float64Array, b: number, e: AggregatableEvent, hit: Uint8Array): void {
  const slots = group.slots;
  for (let s = 0; s < slots.length; s++) {
    const slot = slots[s]!;
    if (slot.filter >= 0 && hit[slot.filter] === 0) continue;
    const o = b + slot.offset;
    switch (slot.kind) {
      case 'count':
        tile[o]! += 1;
        break;
      case 'last_ts':
        if (e.eventTs > tile[o]!) tile[o] = e.eventTs;
        break;
      case 'bitmap': {
        const v = readEventField(e, slot.column!);
        if (v === undefined) break;
        const bit = distinctBit(v);
        const word = o + (bit >>> 5);
        tile[word] = ((tile[word]! | (1 << (bit & 31))) >>> 0) as number;
        break;
      }
      default: {
        const v = readEventField(e, slot.column!);
        if (typeof v !== 'number' || !Number.isFinite(v)) break;
        if (slot.kind === 'sum') {
          tile[o]! += v;
          tile[o + 1]! += 1;
        } else if (slot.kind === 'min') {
          if (v < tile[o]!) tile[o] = v;
        } else if (slot.kind === 'max') {
          if (v > tile[o]!) tile[o] = v;
        } else if (e.eventTs > tile[o]! || (e.eventTs === tile[o] && v > tile[o + 1]!)) {
          // last: the latest event wins; on equal times the largest value, so arrival order never matters
          tile[o] = e.eventTs;
          tile[o + 1] = v;
        }
      }
    }
  }
}

function mergeSlot(kind: SlotKind, acc: Float64Array, a: number, tile: Float64Array, o: number): void {
  switch (kind) {
    case 'count':
      acc[a]! += tile[o]!;
      break;
    case 'sum':
      acc[a]! += tile[o]!;
      acc[a + 1]! += tile[o + 1]!;
      break;
    case 'min':
      if (tile[o]! < acc[a]!) acc[a] = tile[o]!;
      break;
    case 'max':
    case 'last_ts':
      if (tile[o]! > acc[a]!) acc[a] = tile[o]!;
      break;
    case 'last':
      if (tile[o]! > acc[a]! || (tile[o] === acc[a] && tile[o + 1]! > acc[a + 1]!)) {
        acc[a] = tile[o]!;
        acc[a + 1] = tile[o + 1]!;
      }
      break;
    case 'bitmap':
      for (let w = 0; w < 8; w++) acc[a + w] = ((acc[a + w]! | tile[o + w]!) >>> 0) as number;
      break;
  }
}

function finalize(op: string, acc: Float64Array, a: number, atMs: number): number {
  switch (op) {
    case 'count':
    case 'sum':
      return acc[a]!;
    case 'mean':
      return acc[a + 1]! > 0 ? acc[a]! / acc[a + 1]! : Number.NaN;
    case 'min':
    case 'max':
      return Number.isFinite(acc[a]) ? acc[a]! : Number.NaN;
    case 'last':
      return Number.isFinite(acc[a]) ? acc[a + 1]! : Number.NaN;
    case 'time_since_last':
      return Number.isFinite(acc[a]) ? (atMs - acc[a]!) / 1000 : Number.NaN;
    case 'approx_distinct': {
      let bits = 0;
      for (let w = 0; w < 8; w++) bits += popcount32(acc[a + w]!);
      return distinctEstimate(bits);
    }
    default:
      return Number.NaN;
  }
}

/** Per view: an accumulator per feature, and the features grouped by tile group for one pass over the tiles. */
interface ViewEvalPlan {
  readonly acc: Float64Array;
  readonly init: Float64Array;
  readonly features: readonly { readonly op: string; readonly accOffset: number }[];
  readonly groups: readonly {
    readonly group: number;
    readonly tileMs: number;
    readonly from: Float64Array;
    readonly items: readonly { kind: SlotKind; windowMs: number; accOffset: number; slotOffset: number }[];
  }[];
}

function viewEvalPlans(plan: AggregationPlan): ViewEvalPlan[] {
  return plan.views.map((v) => {
    const features: { op: string; accOffset: number }[] = [];
    const init: number[] = [];
    const byGroup = new Map<number, { kind: SlotKind; windowMs: number; accOffset: number; slotOffset: number }[]>();
    for (const fi of v.features) {
      const f = plan.features[fi]!;
      const group = plan.groups[f.group]!;
      const slot = group.slots[f.slot]!;
      const accOffset = init.length;
      init.push(...SLOT_INIT[slot.kind]);
      features.push({ op: f.op, accOffset });
      let items = byGroup.get(f.group);
      if (items === undefined) {
        items = [];
        byGroup.set(f.group, items);
      }
      items.push({ kind: slot.kind, windowMs: f.windowMs, accOffset, slotOffset: slot.offset });
    }
    return {
      acc: new Float64Array(init.length),
      init: Float64Array.from(init),
      features,
      groups: [...byGroup].map(([group, items]) => ({
        group,
        tileMs: plan.groups[group]!.tileMs,
        from: new Float64Array(items.length),
        items,
      })),
    };
  });
}

const STATE_FORMAT = 3;
const fromUtf8 = new TextDecoder();
const toUtf8 = new TextEncoder();

/** Bytes of an id: ASCII written directly (the common case), anything else through TextEncoder. */
function idBytes(id: string): Uint8Array | undefined {
  for (let i = 0; i < id.length; i++) if (id.charCodeAt(i) > 127) return toUtf8.encode(id);
  return undefined;
}

/**
 * One user's aggregates as bytes: Float64 words [format, newest event time, time of the last written vector, per tile group: tile count, then per
 * tile its index and slot words; id count, then per dedup id: event time, time seen, byte length], then the ids'
 * bytes. Tiles are copied word for word into an aligned buffer: every flush saves every changed user, so this is
 * on the hot path.
 */
export function encodeUserState(plan: AggregationPlan, user: UserAggregates, pools: readonly TilePool[]): Uint8Array {
  let words = 3;
  for (let g = 0; g < plan.groups.length; g++) words += 1 + user.tiles[g]!.size * (1 + plan.groups[g]!.width);
  words += 1 + 3 * user.seen.size;
  let textBytes = 0;
  const unicode: (Uint8Array | undefined)[] = [];
  for (const id of user.seen.keys()) {
    const b = idBytes(id);
    unicode.push(b);
    textBytes += b === undefined ? id.length : b.length;
  }
  const buffer = new ArrayBuffer(words * 8 + textBytes);
  const f = new Float64Array(buffer, 0, words);
  const bytes = new Uint8Array(buffer);
  let o = 0;
  f[o++] = STATE_FORMAT;
  f[o++] = user.lastEventTs;
  f[o++] = user.writtenTs;
  for (let g = 0; g < plan.groups.length; g++) {
    const tiles = user.tiles[g]!;
    f[o++] = tiles.size;
    const pool = pools[g]!;
    const width = plan.groups[g]!.width;
    for (const [idx, handle] of tiles) {
      f[o++] = idx;
      const slab = pool.slabOf(handle);
      const base = pool.baseOf(handle);
      for (let w = 0; w < width; w++) f[o + w] = slab[base + w]!;
      o += width;
    }
  }
  f[o++] = user.seen.size;
  let t = words * 8;
  let i = 0;
  for (const [id, [ts, seenAt]] of user.seen) {
    const b = unicode[i++];
    f[o++] = ts;
    f[o++] = seenAt;
    if (b === undefined) {
      f[o++] = id.length;
      for (let c = 0; c < id.length; c++) bytes[t++] = id.charCodeAt(c);
    } else {
      f[o++] = b.length;
      bytes.set(b, t);
      t += b.length;
    }
  }
  return bytes;
}

/** Reads encodeUserState's bytes back; `pools` (one per tile group) supply the tiles. */
export function decodeUserState(
  plan: AggregationPlan,
  bytes: Uint8Array,
  userId: string,
  pools: readonly TilePool[],
): UserAggregates {
  const bad = (why: string): never => {
    throw new InvalidInputError(
      `saved state of user ${userId} is unreadable (${why}); if the definitions changed, rebuild the state with a replay`,
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
  const tiles: Map<number, number>[] = [];
  for (let g = 0; g < plan.groups.length; g++) {
    const width = plan.groups[g]!.width;
    need(1);
    const n = f[o++]!;
    const map = new Map<number, number>();
    for (let k = 0; k < n; k++) {
      need(1 + width);
      const idx = f[o++]!;
      const words = f.subarray(o, o + width);
      map.set(idx, pools[g]!.takeCopy(words));
      o += width;
    }
    tiles.push(map);
  }
  need(1);
  const nIds = f[o++]!;
  need(3 * nIds);
  const seen = new Map<string, [number, number]>();
  let t = o * 8 + 3 * nIds * 8;
  for (let k = 0; k < nIds; k++) {
    const ts = f[o++]!;
    const seenAt = f[o++]!;
    const len = f[o++]!;
    if (t + len > aligned.byteLength) bad(`id ${k} runs past the end`);
    seen.set(fromUtf8.decode(aligned.subarray(t, t + len)), [ts, seenAt]);
    t += len;
  }
  if (t !== aligned.byteLength) bad(`${aligned.byteLength - t} bytes left over`);
  return { lastEventTs, tiles, seen, nextChangeTs: Number.POSITIVE_INFINITY, writtenTs };
}
