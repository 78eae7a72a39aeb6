import { InvalidInputError } from '../core/index.js';
import {
  type AggregatableEvent,
  type AggregationPlan,
  DISTINCT_SKETCH_BITS,
  distinctBit,
  distinctEstimate,
  type EventFieldName,
  popcount32,
  SLOT_INIT,
  type SlotKind,
  type TileGroup,
  windowStartMs,
} from './aggregation-plan.js';
import { AggregatorStateCorruptError } from './errors.js';

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

/** One user's partial aggregates: per tile group, its tiles (see TileList); recent event ids. */
export interface UserAggregates {
  /** Newest accepted event time. */
  lastEventTs: number;
  readonly tiles: TileList[];
  /** Recent event ids, for dedup (see DedupIds). */
  readonly seen: DedupIds;
  /** When the user's vector next changes with no new event (a tile leaving a window); not persisted. */
  nextChangeTs: number;
  /** The `event_ts` of the last vector written for the user: later writes must not go back in time. */
  writtenTs: number;
  /** In the aggregator's dirty list (changed since the last takeDirty); not persisted. */
  dirty: boolean;
  /** No longer the aggregator's state for its id (evicted, deleted, replaced by a restore). */
  removed: boolean;
  /** Its entry in the aggregator's VectorCache, or -1; not persisted. */
  cache: number;
  /** The time the cached vectors were evaluated at; NaN once the tiles changed since. Not persisted. */
  cachedAtMs: number;
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
  /**
   * Users changed since the last takeDirty, in the order they first changed: a flag on the user and a list, not a
   * set of ids, so an event costs no hash lookup beyond its user's. The list keeps the user objects too, so the
   * flush that follows reads them without looking them up again (see evaluateForWrite).
   */
  #dirtyIds: string[] = [];
  #dirtyUsers: UserAggregates[] = [];
  /** Dirty users evicted since the last takeDirty: their id may be in the list twice (rare; deduplicated then). */
  #dirtyRemoved = 0;
  /** What the last takeDirty returned, with the users, for evaluateForWrite. */
  #taken: { ids: string[]; users: UserAggregates[] } = { ids: [], users: [] };
  readonly #update: UpdatePlan;
  readonly #viewPlans: ViewEvalPlan[];
  readonly #pools: TilePool[];
  /** The vectors last written for scheduled users, so an aged rewrite re-reads only what left a window. */
  #cache: VectorCache;
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
    this.#update = updatePlan(plan);
    this.#viewPlans = viewEvalPlans(plan);
    this.#cache = new VectorCache(this.#viewPlans);
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
        tiles: this.plan.groups.map((): TileList => []),
        seen: new DedupIds(),
        nextChangeTs: Number.POSITIVE_INFINITY,
        writtenTs: Number.NEGATIVE_INFINITY,
        dirty: false,
        removed: false,
        cache: -1,
        cachedAtMs: Number.NaN,
      };
      this.#users.set(e.userId, user);
    } else if (user.seen.has(e.eventId)) {
      this.counters.duplicates++;
      return 'duplicate';
    }
    user.seen.add(e.eventId, ts, this.#now());
    user.cachedAtMs = Number.NaN;
    if (ts > user.lastEventTs) user.lastEventTs = ts;
    if (ts > this.#maxEventTs) this.#maxEventTs = ts;

    const up = this.#update;
    prepareUpdate(up, e);
    const groups = this.plan.groups;
    for (let g = 0; g < groups.length; g++) {
      const idx = Math.floor(ts / groups[g]!.tileMs);
      const tiles = user.tiles[g]!;
      const pool = this.#pools[g]!;
      // events come mostly in time order: their tile is the newest or close to it, so search from the end
      let i = tiles.length - 2;
      while (i >= 0 && tiles[i]! > idx) i -= 2;
      let handle: number;
      if (i >= 0 && tiles[i] === idx) handle = tiles[i + 1]!;
      else {
        handle = pool.take();
        if (i + 2 === tiles.length) tiles.push(idx, handle);
        else tiles.splice(i + 2, 0, idx, handle);
      }
      updateTile(up.groups[g]!, up, pool.slabOf(handle), pool.baseOf(handle), ts);
      if (tiles.length > 2 * this.#maxTiles[g]!) this.#pruneTiles(g, tiles, this.#keepFrom());
    }
    this.counters.accepted++;
    if (!user.dirty) this.#pushDirty(e.userId, user);
    return 'accepted';
  }

  #pushDirty(id: string, user: UserAggregates): void {
    user.dirty = true;
    this.#dirtyIds.push(id);
    this.#dirtyUsers.push(user);
  }

  /** Users whose aggregates changed since the last call, each once, in the order they first changed. */
  takeDirty(): string[] {
    const ids = this.#dirtyIds;
    const users = this.#dirtyUsers;
    const seen = this.#dirtyRemoved > 0 ? new Set<string>() : undefined;
    const outIds: string[] = [];
    const outUsers: UserAggregates[] = [];
    for (let i = 0; i < ids.length; i++) {
      const user = users[i]!;
      if (!user.dirty) continue; // deleted since
      user.dirty = false;
      const id = ids[i]!;
      if (seen !== undefined) {
        if (seen.has(id)) continue;
        seen.add(id);
      }
      outIds.push(id);
      outUsers.push(user);
    }
    this.#dirtyIds = [];
    this.#dirtyUsers = [];
    this.#dirtyRemoved = 0;
    this.#taken = { ids: outIds, users: outUsers };
    return outIds;
  }

  /** Marks users changed again (a flush that failed hands its users back). */
  markDirty(userIds: readonly string[]): void {
    for (const id of userIds) {
      const user = this.#users.get(id);
      if (user !== undefined && !user.dirty) this.#pushDirty(id, user);
    }
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
    if (user === undefined) out.set(vp.empty, offset);
    else this.#evaluateUser(vp, user, atMs, out, offset);
  }

  /**
   * A flush's vectors, with one state lookup per user: every view's vector of `userIds[i]` as of its write time
   * (writeTs for the first `dirtyCount` users, `agedAtMs` for the rest: users whose windows moved on without them),
   * evaluated just after it (exact, since no tile holds a later event). Each user is marked written and, with
   * `schedule`, its next time-driven change is scheduled (see nextChangeAfter). Returns the write times and, per
   * view, the vectors row by row.
   */
  evaluateForWrite(
    userIds: readonly string[],
    dirtyCount: number,
    agedAtMs: number,
    schedule: boolean,
  ): { eventTs: Float64Array; values: Float32Array[] } {
    const n = userIds.length;
    const eventTs = new Float64Array(n);
    const plans = this.#viewPlans;
    const values = plans.map((vp) => new Float32Array(n * vp.width));
    // the users takeDirty handed out, found again by position (a flush passes its result first) without a lookup
    // and those takeDue handed out, after them
    const taken = this.#taken;
    const takenN = Math.min(n, taken.ids.length);
    const due = this.#due;
    for (let i = 0; i < n; i++) {
      if (i % PREFETCH_USERS === 0) {
        const to = Math.min(n, i + PREFETCH_USERS);
        if (i < takenN) this.#prefetch(taken.users, i, Math.min(to, takenN));
        const from = Math.max(0, i - dirtyCount);
        if (from < due.users.length) {
          const until = Math.min(due.users.length, to - dirtyCount);
          if (schedule) this.#prefetchAged(due.users, from, until, agedAtMs + 1);
          else this.#prefetch(due.users, from, until);
        }
      }
      const id = userIds[i]!;
      let user: UserAggregates | undefined;
      const j = i - dirtyCount;
      if (i < takenN && taken.ids[i] === id && !taken.users[i]!.removed) user = taken.users[i]!;
      else if (j >= 0 && j < due.ids.length && due.ids[j] === id && !due.users[j]!.removed) user = due.users[j]!;
      else user = this.#users.get(id);
      if (user === undefined) {
        eventTs[i] = i < dirtyCount ? Number.NaN : agedAtMs;
        for (let v = 0; v < plans.length; v++) values[v]!.set(plans[v]!.empty, i * plans[v]!.width);
        continue;
      }
      const ts = i < dirtyCount ? Math.max(user.lastEventTs, user.writtenTs) : agedAtMs;
      eventTs[i] = ts;
      const atMs = ts + 1;
      if (!schedule) {
        for (let v = 0; v < plans.length; v++)
          this.#evaluateUser(plans[v]!, user, atMs, values[v]!, i * plans[v]!.width);
      } else {
        // an aged user whose tiles did not change since its cached vectors: only what left a window is read again
        // (evaluateAged); otherwise a whole read, kept for the next aged rewrite
        const cache = this.#cache;
        // (a read before the user's newest event, an aged time behind it, would leave tiles to enter: a whole read)
        const cached =
          i >= dirtyCount && user.cache >= 0 && user.cachedAtMs <= atMs && user.lastEventTs < user.cachedAtMs;
        if (user.cache < 0) user.cache = cache.take();
        const h = user.cache;
        const vectors = cache.vectorsOf(h);
        const times = cache.timesOf(h);
        const vBase = cache.vectorBaseOf(h);
        const tBase = cache.timesBaseOf(h);
        for (let v = 0; v < plans.length; v++) {
          const vp = plans[v]!;
          const out = values[v]!;
          const offset = i * vp.width;
          const vAt = vBase + cache.viewAt[v]!;
          const tAt = tBase + cache.timesAt[v]!;
          if (cached) this.#evaluateAged(vp, user, user.cachedAtMs, atMs, out, offset, vectors, vAt, times, tAt);
          else this.#evaluateUser(vp, user, atMs, out, offset, times, tAt);
          for (let k = 0; k < vp.width; k++) vectors[vAt + k] = out[offset + k]!;
        }
        user.cachedAtMs = atMs;
      }
      if (ts > user.writtenTs) user.writtenTs = ts;
      if (schedule) {
        const at = this.#nextChange(user, atMs);
        if (Number.isFinite(at)) {
          user.nextChangeTs = at;
          this.#heapPush(at, id, user);
        } else this.#dropCache(user); // nothing left to expire: no aged rewrite will read it
      }
    }
    return { eventTs, values };
  }

  #dropCache(user: UserAggregates): void {
    if (user.cache < 0) return;
    this.#cache.give(user.cache);
    user.cache = -1;
    user.cachedAtMs = Number.NaN;
  }

  /**
   * Reads the first word of every tile users[from..to) may read, before they are evaluated: a software prefetch.
   * The tiles are scattered over the slabs and mostly out of cache; read here in one tight loop, the CPU has many
   * misses in flight at once, where an evaluation meets them one at a time. Measured +15-20% on bench/stream.ts 1a
   * ("processing into the in-memory store"; chunks of 16-32 users alike, reading every line of a tile no better).
   */
  #prefetch(users: readonly (UserAggregates | undefined)[], from: number, to: number): void {
    let sum = 0;
    const pools = this.#pools;
    const maxTiles = this.#maxTiles;
    for (let j = from; j < to; j++) {
      const user = users[j];
      if (user === undefined) continue;
      const lists = user.tiles;
      for (let g = 0; g < lists.length; g++) {
        const tiles = lists[g]!;
        const pool = pools[g]!;
        // the newest tiles, as many as a read can merge (older ones are pruned on the spot or by evict)
        const stop = Math.max(0, tiles.length - 2 * maxTiles[g]!);
        for (let k = tiles.length - 1; k > stop; k -= 2) {
          const handle = tiles[k]!;
          sum += pool.slabOf(handle)[pool.baseOf(handle)]!;
        }
      }
    }
    // kept, so the reads are not dead code to the compiler
    this.#prefetched += sum;
  }

  #prefetched = 0;

  /**
   * #prefetch for aged users: what evaluateAged reads, i.e. the cached vector and time_since_last times, and the tiles
   * only of groups that lost one (most aged users re-read one short window: their other tiles stay untouched).
   */
  #prefetchAged(users: readonly (UserAggregates | undefined)[], from: number, to: number, atMs: number): void {
    let sum = 0;
    const cache = this.#cache;
    const pools = this.#pools;
    const maxTiles = this.#maxTiles;
    const groups = this.#viewPlans[0]?.groups ?? [];
    for (let j = from; j < to; j++) {
      const user = users[j];
      if (user === undefined) continue;
      const h = user.cache;
      if (h < 0 || !(user.cachedAtMs <= atMs)) {
        this.#prefetch(users, j, j + 1);
        continue;
      }
      sum += cache.vectorsOf(h)[cache.vectorBaseOf(h)]! + cache.timesOf(h)[cache.timesBaseOf(h)]!;
      for (let g = 0; g < groups.length; g++) {
        const gp = groups[g]!;
        const tiles = user.tiles[gp.group]!;
        if (!lostTile(gp, tiles, user.cachedAtMs, atMs)) continue;
        const pool = pools[gp.group]!;
        const stop = Math.max(0, tiles.length - 2 * maxTiles[gp.group]!);
        for (let k = tiles.length - 1; k > stop; k -= 2) {
          const handle = tiles[k]!;
          sum += pool.slabOf(handle)[pool.baseOf(handle)]!;
        }
      }
    }
    this.#prefetched += sum;
  }

  /**
   * Prefetches what ingesting events of these users will read first (see #prefetch): their state, newest tiles and
   * dedup ids. For a batch about to be ingested, in chunks of a few dozen.
   */
  prefetchUsers(userIds: readonly string[]): void {
    let sum = 0;
    const pools = this.#pools;
    for (let j = 0; j < userIds.length; j++) {
      const user = this.#users.get(userIds[j]!);
      if (user === undefined) continue;
      sum += user.seen.first;
      const lists = user.tiles;
      for (let g = 0; g < lists.length; g++) {
        const tiles = lists[g]!;
        if (tiles.length === 0) continue;
        const handle = tiles[tiles.length - 1]!;
        sum += pools[g]!.slabOf(handle)[pools[g]!.baseOf(handle)]!;
      }
    }
    this.#prefetched += sum;
  }

  /**
   * A view's vector of `user` at `atMs` into `out[offset...]`; with `times`, the newest event time each
   * time_since_last feature read too (at `times[timesAt + GroupEvalPlan.timesAt...]`, for evaluateAged).
   */
  #evaluateUser(
    vp: ViewEvalPlan,
    user: UserAggregates,
    atMs: number,
    out: Float32Array,
    offset: number,
    times?: Float64Array,
    timesAt = 0,
  ): void {
    const groups = vp.groups;
    for (let g = 0; g < groups.length; g++) this.#evaluateGroup(groups[g]!, user, atMs, out, offset, times, timesAt);
  }

  #evaluateGroup(
    gp: GroupEvalPlan,
    user: UserAggregates,
    atMs: number,
    out: Float32Array,
    offset: number,
    times: Float64Array | undefined,
    timesAt: number,
  ): void {
    const tileMs = gp.tileMs;
    const windows = gp.windows;
    const from = gp.from;
    const bands = windows.length;
    const width = gp.width;
    const acc = gp.acc;
    // every band's initial words in one copy (a loop of stores cost ~10% of a read of few tiles)
    acc.set(gp.accInit);
    for (let b = 0; b < bands; b++) from[b] = windowStartMs(atMs, windows[b]!, tileMs);
    const minFrom = from[0]!;
    const pool = this.#pools[gp.group]!;
    const tiles = user.tiles[gp.group]!;
    // newest first: tiles are in ascending order, so the first one before the longest window ends the walk
    let b = bands - 1;
    for (let i = tiles.length - 2; i >= 0; i -= 2) {
      const start = tiles[i]! * tileMs;
      if (start >= atMs) continue;
      if (start < minFrom) break;
      while (start < from[b]!) b--;
      const handle = tiles[i + 1]!;
      mergeTile(gp, acc, b * width, pool.slabOf(handle), pool.baseOf(handle));
    }
    // band b += bands b+1.. : each band now holds its whole window
    for (let b = bands - 2; b >= 0; b--) mergeInto(gp, acc, b * width, acc, (b + 1) * width);
    finalizeGroup(gp, acc, atMs, out, offset);
    if (times !== undefined) {
      const accIndex = gp.accIndex;
      const at = timesAt + gp.timesAt - gp.opStart[OP_TIME_SINCE_LAST]!;
      for (let i = gp.opStart[OP_TIME_SINCE_LAST]!, end = gp.opStart[OP_TIME_SINCE_LAST + 1]!; i < end; i++)
        times[at + i] = acc[accIndex[i]!]!;
    }
  }

  /**
   * A view's vector of an aged user at `atMs` from its vector at `cachedAtMs` (no event since, so its windows can
   * only have lost tiles): a group none of whose windows lost a tile keeps its values, bit for bit what a whole read
   * gives (finalizeGroup of the same words), except time_since_last, which moves with the evaluation time and is
   * computed again from the event time kept beside it; a group that lost a tile is read again. A user idle past a
   * short window re-reads only that window's group, not the hourly and daily tiles of the long ones.
   */
  #evaluateAged(
    vp: ViewEvalPlan,
    user: UserAggregates,
    cachedAtMs: number,
    atMs: number,
    out: Float32Array,
    offset: number,
    vectors: Float32Array,
    vectorAt: number,
    times: Float64Array,
    timesAt: number,
  ): void {
    for (let k = 0; k < vp.width; k++) out[offset + k] = vectors[vectorAt + k]!;
    const groups = vp.groups;
    for (let g = 0; g < groups.length; g++) {
      const gp = groups[g]!;
      if (lostTile(gp, user.tiles[gp.group]!, cachedAtMs, atMs)) {
        this.#evaluateGroup(gp, user, atMs, out, offset, times, timesAt);
        continue;
      }
      const outIndex = gp.outIndex;
      const at = timesAt + gp.timesAt - gp.opStart[OP_TIME_SINCE_LAST]!;
      for (let i = gp.opStart[OP_TIME_SINCE_LAST]!, end = gp.opStart[OP_TIME_SINCE_LAST + 1]!; i < end; i++) {
        const t = times[at + i]!;
        out[offset + outIndex[i]!] = Number.isFinite(t) ? (atMs - t) / 1000 : Number.NaN;
      }
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

  #pruneTiles(g: number, tiles: TileList, keepFromMs: number): number {
    if (!Number.isFinite(keepFromMs)) return 0;
    const group = this.plan.groups[g]!;
    const minIdx = Math.floor(keepFromMs / group.tileMs) - group.maxWindowMs / group.tileMs;
    // ascending: the tiles to drop are a prefix
    let i = 0;
    const pool = this.#pools[g]!;
    while (i < tiles.length && tiles[i]! < minIdx) {
      pool.give(tiles[i + 1]!);
      i += 2;
    }
    if (i > 0) tiles.splice(0, i);
    return i / 2;
  }

  evict(keepFromMs = this.#keepFrom()): number {
    if (!Number.isFinite(keepFromMs)) return 0;
    const wm = this.watermark;
    const forgetBefore = this.#now() - this.dedupRetentionMs;
    let dropped = 0;
    const groups = this.plan.groups;
    for (const [id, user] of this.#users) {
      let pruned = 0;
      for (let g = 0; g < groups.length; g++) pruned += this.#pruneTiles(g, user.tiles[g]!, keepFromMs);
      // a dropped tile may be in the cached vectors: evaluateAged could not see it leave
      if (pruned > 0) user.cachedAtMs = Number.NaN;
      dropped += pruned;
      user.seen.forget(wm, forgetBefore);
      if (user.seen.size === 0 && user.tiles.every((t) => t.length === 0)) {
        this.#users.delete(id);
        user.removed = true;
        this.#dropCache(user);
        if (user.dirty) this.#dirtyRemoved++;
      }
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
          for (let i = 1; i < tiles.length; i += 2) this.#pools[g]!.give(tiles[i]!);
          tiles.length = 0;
        });
        // the schedule heap may hold this object until its time comes: keep none of the user's data in it
        user.seen.forget(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
        this.#dropCache(user);
        this.#users.delete(id);
        user.removed = true;
        user.dirty = false;
        n++;
      }
      // an evicted user may still be listed dirty
      if (this.#dirtyRemoved > 0)
        for (let i = 0; i < this.#dirtyIds.length; i++)
          if (this.#dirtyIds[i] === id) this.#dirtyUsers[i]!.dirty = false;
    }
    return n;
  }

  /**
   * The first time after `afterMs` at which the user's vector changes without a new event: a tile leaving one of
   * the windows reading it (at `tileStart + tileSize + window`). Infinity when nothing is left to expire.
   */
  nextChangeAfter(userId: string, afterMs: number): number {
    const user = this.#users.get(userId);
    return user === undefined ? Number.POSITIVE_INFINITY : this.#nextChange(user, afterMs);
  }

  #nextChange(user: UserAggregates, afterMs: number): number {
    let next = Number.POSITIVE_INFINITY;
    for (let g = 0; g < this.plan.groups.length; g++) {
      const tiles = user.tiles[g]!;
      const s = this.plan.groups[g]!.tileMs;
      const windows = this.#groupWindows[g]!;
      for (let i = 0; i < tiles.length; i += 2) {
        const idx = tiles[i]!;
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
    this.#heapPush(atMs, userId, user);
  }

  /** Users whose scheduled change time is at or before `upToMs`, each once; their schedule is cleared. */
  takeDue(upToMs: number): string[] {
    const out: string[] = [];
    const users: UserAggregates[] = [];
    const heapAt = this.#heapAt;
    while (heapAt.length > 0 && heapAt[0]! <= upToMs) {
      const at = heapAt[0]!;
      const id = this.#heapId[0]!;
      let user: UserAggregates | undefined = this.#heapUser[0]!;
      this.#heapPop();
      // the object scheduled is the id's state unless it was removed since (then: the id's state now, if any)
      if (user.removed) user = this.#users.get(id);
      if (user !== undefined && user.nextChangeTs === at) {
        user.nextChangeTs = Number.POSITIVE_INFINITY;
        out.push(id);
        users.push(user);
      }
    }
    this.#due = { ids: out, users };
    return out;
  }

  /** Scheduled changes, a binary min-heap on time; with each its user id and state (no lookup when it is due). */
  readonly #heapAt: number[] = [];
  readonly #heapId: string[] = [];
  readonly #heapUser: UserAggregates[] = [];
  /** What the last takeDue returned, with the users, for evaluateForWrite. */
  #due: { ids: string[]; users: UserAggregates[] } = { ids: [], users: [] };

  #heapPush(at: number, id: string, user: UserAggregates): void {
    const a = this.#heapAt;
    const b = this.#heapId;
    const u = this.#heapUser;
    let i = a.length;
    a.push(at);
    b.push(id);
    u.push(user);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= at) break;
      a[i] = a[p]!;
      b[i] = b[p]!;
      u[i] = u[p]!;
      i = p;
    }
    a[i] = at;
    b[i] = id;
    u[i] = user;
  }

  /** Removes the top entry. */
  #heapPop(): void {
    const a = this.#heapAt;
    const b = this.#heapId;
    const u = this.#heapUser;
    const lastAt = a.pop()!;
    const lastId = b.pop()!;
    const lastUser = u.pop()!;
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
        u[i] = u[c]!;
        i = c;
      }
      a[i] = lastAt;
      b[i] = lastId;
      u[i] = lastUser;
    }
  }

  meta(): AggregatorMeta {
    return { maxEventTs: this.#maxEventTs, counters: { ...this.counters } };
  }

  /** One user's state as bytes (encodeUserState), for a state store; undefined when the user has none. */
  exportUser(userId: string): Uint8Array | undefined {
    const user = this.#users.get(userId);
    return user === undefined ? undefined : encodeUserState(this.plan, user, this.#pools);
  }

  /**
   * A checkpoint's users, as exportUser would give them (null for a user without state), into `out`. The bytes are
   * views into shared chunks (see StateArena), not a buffer per user.
   */
  exportUsers(userIds: Iterable<string>, out: Map<string, Uint8Array | null>): void {
    const arena = new StateArena();
    // in chunks: look the users up, prefetch their tiles (see #prefetch), then encode them in order
    const ids: string[] = [];
    const users: (UserAggregates | undefined)[] = [];
    const encode = () => {
      this.#prefetch(users, 0, users.length);
      for (let k = 0; k < ids.length; k++) {
        const user = users[k];
        out.set(ids[k]!, user === undefined ? null : encodeUserState(this.plan, user, this.#pools, arena));
      }
      ids.length = 0;
      users.length = 0;
    };
    for (const id of userIds) {
      ids.push(id);
      users.push(this.#users.get(id));
      if (ids.length === PREFETCH_USERS) encode();
    }
    encode();
  }

  /** Restores a checkpoint: meta and every user's bytes as exportUser produced them. */
  restore(meta: AggregatorMeta, users: Iterable<[string, Uint8Array]>): void {
    for (const user of this.#users.values()) user.removed = true;
    this.#users.clear();
    this.#dirtyIds = [];
    this.#dirtyUsers = [];
    this.#dirtyRemoved = 0;
    this.#taken = { ids: [], users: [] };
    this.#due = { ids: [], users: [] };
    // every restored user is scheduled again below; the old entries would only keep the replaced state alive
    this.#heapAt.length = 0;
    this.#heapId.length = 0;
    this.#heapUser.length = 0;
    // the replaced users' cache entries go with them
    this.#cache = new VectorCache(this.#viewPlans);
    this.#maxEventTs = meta.maxEventTs;
    Object.assign(this.counters, meta.counters);
    for (const [id, bytes] of users) this.#users.set(id, decodeUserState(this.plan, bytes, id, this.#pools));
    // schedules are not saved: recompute them (what is already due is rewritten at the next flush)
    for (const [id, user] of this.#users) this.scheduleChange(id, this.nextChangeAfter(id, user.lastEventTs + 1));
  }
}

/**
 * One user's recent event ids, for dedup, in the order they were added: the ids, their hashes and two arrays of
 * numbers (event time, Clock time seen) by position, no object per event. Past SMALL ids, an open-addressing table
 * of [hash, position + 1] pairs (at most half full) in a plain array of small integers; below, a scan of the hashes.
 * A lookup of a new id (the common case) never touches a stored string, where a Map compares the strings of its
 * bucket chain (a cache miss each) and reallocates as it grows (bench/stream.ts 1a: ingest ~4% faster).
 */
export class DedupIds {
  ids: string[] = [];
  ts: number[] = [];
  seenAt: number[] = [];
  #hashes: number[] = [];
  #table: number[] | undefined;
  /** The last id looked up and its hash: `add` follows `has` for the same id. */
  #lastId: string | undefined;
  #lastHash = 0;

  get size(): number {
    return this.ids.length;
  }

  /** What `has` reads first when there is no table (a prefetch, see WindowAggregator.prefetchUsers). */
  get first(): number {
    return this.#hashes[0] ?? 0;
  }

  has(id: string): boolean {
    const h = idHash(id);
    this.#lastId = id;
    this.#lastHash = h;
    const ids = this.ids;
    const table = this.#table;
    if (table === undefined) {
      const hashes = this.#hashes;
      for (let k = 0; k < hashes.length; k++) if (hashes[k] === h && ids[k] === id) return true;
      return false;
    }
    const mask = (table.length >> 1) - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const p = table[2 * i + 1]!;
      if (p === 0) return false;
      if (table[2 * i] === h && ids[p - 1] === id) return true;
    }
  }

  /** Adds an id not yet present (check `has` first). */
  add(id: string, ts: number, seenAt: number): void {
    const h = id === this.#lastId ? this.#lastHash : idHash(id);
    this.#lastId = undefined;
    this.ids.push(id);
    this.ts.push(ts);
    this.seenAt.push(seenAt);
    this.#hashes.push(h);
    const n = this.ids.length;
    const table = this.#table;
    if (table !== undefined && 2 * n <= table.length >> 1) insert(table, h, n);
    else if (n > SMALL) this.#table = tableOf(this.#hashes);
  }

  /** Forgets the ids of events before `beforeTs` seen before `seenBefore`; the rest keep their order. */
  forget(beforeTs: number, seenBefore: number): void {
    const ids = this.ids;
    const ts = this.ts;
    const seenAt = this.seenAt;
    const hashes = this.#hashes;
    let kept = 0;
    for (let k = 0; k < ids.length; k++) {
      if (ts[k]! < beforeTs && seenAt[k]! < seenBefore) continue;
      if (kept !== k) {
        ids[kept] = ids[k]!;
        ts[kept] = ts[k]!;
        seenAt[kept] = seenAt[k]!;
        hashes[kept] = hashes[k]!;
      }
      kept++;
    }
    if (kept === ids.length) return;
    ids.length = kept;
    ts.length = kept;
    seenAt.length = kept;
    hashes.length = kept;
    this.#lastId = undefined;
    this.#table = kept > SMALL ? tableOf(hashes) : undefined;
  }
}

/** Ids a user may have before a hash table replaces the scan. */
const SMALL = 8;

/** A table at most half full of every position's hash. */
function tableOf(hashes: readonly number[]): number[] {
  let slots = 16;
  while (2 * hashes.length > slots) slots *= 2;
  const table: number[] = new Array(2 * slots).fill(0);
  for (let k = 0; k < hashes.length; k++) insert(table, hashes[k]!, k + 1);
  return table;
}

function insert(table: number[], h: number, position: number): void {
  const mask = (table.length >> 1) - 1;
  let i = h & mask;
  while (table[2 * i + 1] !== 0) i = (i + 1) & mask;
  table[2 * i] = h;
  table[2 * i + 1] = position;
}

/** FNV-1a of the id's UTF-16 code units, to 30 bits (a small integer in V8). */
function idHash(id: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h & 0x3fffffff;
}

/**
 * One user's tiles of one group, ascending by tile index, flat: `[index, handle, index, handle, ...]`. A small
 * array of small integers (no Map, no entry objects): an event's tile is found from the end, a read walks it
 * newest first and stops at the longest window, and pruning drops a prefix.
 */
export type TileList = number[];

const TILES_PER_SLAB = 4096;
/** Users whose tiles evaluateForWrite prefetches at a time (see #prefetch). */
const PREFETCH_USERS = 32;

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

/**
 * Whether one of the group's windows lost a tile between reads at `fromMs` and `toMs` (a tile starting in
 * [floor(fromMs / s) * s - W, floor(toMs / s) * s - W) for a window W: see windowStartMs), for a user whose tiles
 * did not change since `fromMs` (an event clears its cachedAtMs).
 */
function lostTile(gp: GroupEvalPlan, tiles: TileList, fromMs: number, toMs: number): boolean {
  const n = tiles.length;
  if (n === 0) return false;
  const s = gp.tileMs;
  const q1 = Math.floor(fromMs / s) * s;
  const q2 = Math.floor(toMs / s) * s;
  if (q1 === q2) return false;
  const windows = gp.windows;
  for (let w = 0; w < windows.length; w++) {
    const lo = q1 - windows[w]!;
    const hi = q2 - windows[w]!;
    // ascending: the first tile at or past `lo` decides
    for (let i = 0; i < n; i += 2) {
      const start = tiles[i]! * s;
      if (start < lo) continue;
      if (start < hi) return true;
      break;
    }
  }
  return false;
}

const CACHE_ENTRIES_PER_SLAB = 4096;

/**
 * The vectors last written for users with a scheduled change (see evaluateForWrite), in slabs like TilePool's: per
 * entry every view's vector (float32, as written) and the newest event time each of its time_since_last features
 * read (float64). About 4 bytes a feature plus 8 a time_since_last feature per scheduled user, beside their tiles.
 */
class VectorCache {
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

/** Words of a tile's touched-slot mask: 32 slots a word. */
function maskWordsOf(group: TileGroup): number {
  return Math.max(1, Math.ceil(group.slots.length / 32));
}

/** Slot kinds as small integers for the hot loops. */
const K_COUNT = 0;
const K_SUM = 1;
const K_MIN = 2;
const K_MAX = 3;
const K_LAST = 4;
const K_LAST_TS = 5;
const K_BITMAP = 6;
const KIND_CODE: Readonly<Record<SlotKind, number>> = {
  count: K_COUNT,
  sum: K_SUM,
  min: K_MIN,
  max: K_MAX,
  last: K_LAST,
  last_ts: K_LAST_TS,
  bitmap: K_BITMAP,
};

/** Event fields as small integers: a switch reads them (a table of closures is a megamorphic call per read). */
const FIELD_CODE: Readonly<Record<EventFieldName, number>> = {
  event_type: 0,
  platform: 1,
  category: 2,
  item_id: 3,
  channel: 4,
  campaign_id: 5,
  send_id: 6,
  order_id: 7,
  amount: 8,
  quantity: 9,
  session_id: 10,
};

function readField(e: AggregatableEvent, code: number): string | number | undefined {
  switch (code) {
    case 0:
      return e.eventType;
    case 1:
      return e.platform;
    case 2:
      return e.category;
    case 3:
      return e.itemId;
    case 4:
      return e.channel;
    case 5:
      return e.campaignId;
    case 6:
      return e.sendId;
    case 7:
      return e.orderId;
    case 8:
      return e.amount;
    case 9:
      return e.quantity;
    case 10:
      return e.sessionId;
    default:
      return undefined;
  }
}

/**
 * What one event adds, computed once per event and shared by every tile group: groups repeat the same slots (one
 * aggregation in several windows), so a filter, a field read or a sketch bit is worked out once, not per group.
 */
interface UpdatePlan {
  /** Per filter: its clauses as field codes and value sets. */
  readonly filters: readonly { readonly fields: Int32Array; readonly values: readonly ReadonlySet<string>[] }[];
  /** Filters testing only event_type: their outcome per event type is cached. */
  readonly typeOnly: Uint8Array;
  readonly typeHits: Map<string, Uint8Array>;
  readonly hit: Uint8Array;
  /** Distinct (kind, column, filter) across groups: kind code, field code (-1: none), filter (-1: all events). */
  readonly uKind: Int32Array;
  readonly uField: Int32Array;
  readonly uFilter: Int32Array;
  /** Per event, per distinct slot: applies (0/1), the numeric value, the sketch bit. */
  readonly uPass: Uint8Array;
  readonly uValue: Float64Array;
  readonly uBit: Int32Array;
  /** Per event: the distinct slots it applies to, the first `nPass` of `passList`. */
  readonly passList: Int32Array;
  nPass: number;
  /**
   * Per tile group: per slot its kind code, word offset in a tile (past the mask) and distinct slot; per distinct slot
   * the group's slot (-1: none); whether the mask is one word.
   */
  readonly groups: readonly {
    readonly kind: Int32Array;
    readonly offset: Int32Array;
    readonly u: Int32Array;
    readonly slotOf: Int32Array;
    readonly oneMaskWord: boolean;
  }[];
}

function updatePlan(plan: AggregationPlan): UpdatePlan {
  const uKey = new Map<string, number>();
  const uKind: number[] = [];
  const uField: number[] = [];
  const uFilter: number[] = [];
  const groups = plan.groups.map((group) => {
    const u = group.slots.map((slot) => {
      const key = `${slot.kind}:${slot.column ?? ''}:${slot.filter}`;
      let i = uKey.get(key);
      if (i === undefined) {
        i = uKind.length;
        uKey.set(key, i);
        uKind.push(KIND_CODE[slot.kind]);
        uField.push(slot.column === undefined ? -1 : FIELD_CODE[slot.column]);
        uFilter.push(slot.filter);
      }
      return i;
    });
    return {
      kind: Int32Array.from(group.slots, (slot) => KIND_CODE[slot.kind]),
      offset: Int32Array.from(group.slots, (slot) => maskWordsOf(group) + slot.offset),
      u: Int32Array.from(u),
      oneMaskWord: maskWordsOf(group) === 1,
    };
  });
  const n = uKind.length;
  const withSlotOf = groups.map((gu) => {
    const slotOf = new Int32Array(n).fill(-1);
    gu.u.forEach((u, s) => {
      slotOf[u] = s;
    });
    return { ...gu, slotOf };
  });
  return {
    filters: plan.filters.map((f) => ({
      fields: Int32Array.from(f.clauses, (c) => FIELD_CODE[c.field]),
      values: f.clauses.map((c) => c.values),
    })),
    typeOnly: Uint8Array.from(plan.filters, (f) => (f.clauses.every((c) => c.field === 'event_type') ? 1 : 0)),
    typeHits: new Map(),
    hit: new Uint8Array(plan.filters.length),
    uKind: Int32Array.from(uKind),
    uField: Int32Array.from(uField),
    uFilter: Int32Array.from(uFilter),
    uPass: new Uint8Array(n),
    uValue: new Float64Array(n),
    uBit: new Int32Array(n),
    passList: new Int32Array(n),
    nPass: 0,
    groups: withSlotOf,
  };
}

function passes(up: UpdatePlan, f: number, e: AggregatableEvent): number {
  const filter = up.filters[f]!;
  for (let c = 0; c < filter.fields.length; c++) {
    const v = readField(e, filter.fields[c]!);
    if (v === undefined || !filter.values[c]!.has(typeof v === 'string' ? v : String(v))) return 0;
  }
  return 1;
}

/** Fills `up`'s per-event arrays for `e`. */
function prepareUpdate(up: UpdatePlan, e: AggregatableEvent): void {
  const hit = up.hit;
  let byType = up.typeHits.get(e.eventType);
  if (byType === undefined) {
    byType = new Uint8Array(hit.length);
    for (let f = 0; f < hit.length; f++) if (up.typeOnly[f] === 1) byType[f] = passes(up, f, e);
    if (up.typeHits.size >= 1024) up.typeHits.clear();
    up.typeHits.set(e.eventType, byType);
  }
  for (let f = 0; f < hit.length; f++) hit[f] = up.typeOnly[f] === 1 ? byType[f]! : passes(up, f, e);
  const uKind = up.uKind;
  const uPass = up.uPass;
  const passList = up.passList;
  let nPass = 0;
  for (let u = 0; u < uKind.length; u++) {
    const filter = up.uFilter[u]!;
    if (filter >= 0 && hit[filter] === 0) {
      uPass[u] = 0;
      continue;
    }
    const kind = uKind[u]!;
    if (kind === K_COUNT || kind === K_LAST_TS) {
      uPass[u] = 1;
    } else if (kind === K_BITMAP) {
      const v = readField(e, up.uField[u]!);
      if (v === undefined) uPass[u] = 0;
      else {
        uPass[u] = 1;
        up.uBit[u] = distinctBit(v);
      }
    } else {
      const v = readField(e, up.uField[u]!);
      if (typeof v === 'number' && Number.isFinite(v)) {
        uPass[u] = 1;
        up.uValue[u] = v;
      } else uPass[u] = 0;
    }
    if (uPass[u] === 1) passList[nPass++] = u;
  }
  up.nPass = nPass;
}

/**
 * Adds the event `up` was prepared for to the tile at `tile[b...]`: only the slots it applies to (a few of a group's
 * slots), each marked in the tile's mask (reads merge only marked slots).
 */
function updateTile(gu: UpdatePlan['groups'][number], up: UpdatePlan, tile: Float64Array, b: number, ts: number): void {
  const kinds = gu.kind;
  const offsets = gu.offset;
  const slotOf = gu.slotOf;
  const passList = up.passList;
  const nPass = up.nPass;
  const oneMaskWord = gu.oneMaskWord;
  let mask = 0;
  for (let j = 0; j < nPass; j++) {
    const u = passList[j]!;
    const s = slotOf[u]!;
    if (s < 0) continue;
    if (oneMaskWord) mask |= 1 << s;
    else {
      const m = b + (s >>> 5);
      tile[m] = tile[m]! | (1 << (s & 31));
    }
    const o = b + offsets[s]!;
    switch (kinds[s]) {
      case K_COUNT:
        tile[o]! += 1;
        break;
      case K_LAST_TS:
        if (ts > tile[o]!) tile[o] = ts;
        break;
      case K_BITMAP: {
        const bit = up.uBit[u]!;
        const word = o + (bit >>> 5);
        tile[word] = ((tile[word]! | (1 << (bit & 31))) >>> 0) as number;
        break;
      }
      case K_SUM:
        tile[o]! += up.uValue[u]!;
        tile[o + 1]! += 1;
        break;
      case K_MIN: {
        const v = up.uValue[u]!;
        if (v < tile[o]!) tile[o] = v;
        break;
      }
      case K_MAX: {
        const v = up.uValue[u]!;
        if (v > tile[o]!) tile[o] = v;
        break;
      }
      default: {
        // last: the latest event wins; on equal times the largest value, so arrival order never matters
        const v = up.uValue[u]!;
        if (ts > tile[o]! || (ts === tile[o] && v > tile[o + 1]!)) {
          tile[o] = ts;
          tile[o + 1] = v;
        }
      }
    }
  }
  if (mask !== 0) tile[b] = tile[b]! | mask;
}

/** Op codes: finalizeGroup writes the features of each op in this order (one loop per op, no switch per feature). */
const OP_CODE: Readonly<Record<string, number>> = {
  count: 0,
  sum: 1,
  mean: 2,
  min: 3,
  max: 4,
  last: 5,
  time_since_last: 6,
  approx_distinct: 7,
};
const OP_COUNT = 8;
const OP_TIME_SINCE_LAST = OP_CODE.time_since_last!;

/** distinctEstimate of every possible number of set bits: a read costs no logarithm. */
const DISTINCT_ESTIMATES = Float64Array.from({ length: DISTINCT_SKETCH_BITS + 1 }, (_, bits) => distinctEstimate(bits));

/**
 * One view's reads of one tile group. The group's distinct windows (longest first) cut its tiles into bands: band
 * b holds the tiles inside window b but outside window b + 1. A read merges each tile once into its band's
 * accumulator (every slot the view reads, in one loop per slot kind), then folds the bands from the shortest
 * window up, so band b ends up holding all of window b: one merge per tile and slot, not per tile and feature.
 */
interface GroupEvalPlan {
  readonly group: number;
  readonly tileMs: number;
  /** Distinct window lengths, longest first. */
  readonly windows: Float64Array;
  /** Scratch: each window's start for the current read (ascending). */
  readonly from: Float64Array;
  /** Words per band: the group's tile width, so a slot sits at the same offset in a tile and in a band. */
  readonly width: number;
  /** Band accumulators, `windows.length * width` words. */
  readonly acc: Float64Array;
  /** A band's initial words repeated for every band: what `acc` starts a read with. */
  readonly accInit: Float64Array;
  /** Word offsets of the slots the view reads, by how they merge. */
  readonly add: Int32Array;
  readonly min: Int32Array;
  readonly max: Int32Array;
  /** `last` slots: [event time, value] pairs. */
  readonly last: Int32Array;
  /** approx_distinct slots: eight uint32 words each. */
  readonly bitmap: Int32Array;
  /** Per slot of the group: kind code and word offset; the slots the view reads as mask words (see TilePool). */
  readonly slotKind: Int32Array;
  readonly slotOffset: Int32Array;
  readonly usedMask: Int32Array;
  /** Where a tile's slot words start (past its mask). */
  readonly slotsAt: number;
  /**
   * Per feature of the view in this group, ordered by op code: its index in the view and word in `acc`;
   * features of op code c are at [opStart[c], opStart[c + 1]) (one loop per op, no switch per feature).
   */
  readonly outIndex: Int32Array;
  readonly accIndex: Int32Array;
  readonly opStart: Int32Array;
  /** Where this group's time_since_last features start among the view's (see VectorCache). */
  readonly timesAt: number;
}

interface ViewEvalPlan {
  readonly width: number;
  readonly groups: readonly GroupEvalPlan[];
  /** The view's time_since_last features, over all groups. */
  readonly timesWidth: number;
  /** The vector of a user without state: empty windows (0 for count/sum/approx_distinct, NaN otherwise). */
  readonly empty: Float32Array;
}

function viewEvalPlans(plan: AggregationPlan): ViewEvalPlan[] {
  return plan.views.map((v) => {
    const byGroup = new Map<number, number[]>(); // group -> positions in the view
    v.features.forEach((fi, k) => {
      const g = plan.features[fi]!.group;
      const list = byGroup.get(g);
      if (list === undefined) byGroup.set(g, [k]);
      else list.push(k);
    });
    let timesWidth = 0;
    const groups = [...byGroup].map(([g, positions]): GroupEvalPlan => {
      const group = plan.groups[g]!;
      const feats = positions.map((k) => plan.features[v.features[k]!]!);
      const windows = Float64Array.from(new Set(feats.map((f) => f.windowMs)))
        .sort()
        .reverse();
      const width = Math.max(1, group.width);
      const init = new Float64Array(width);
      for (const slot of group.slots) init.set(SLOT_INIT[slot.kind], slot.offset);
      const usedSlots = [...new Set(feats.map((f) => f.slot))].sort((a, b) => a - b);
      const used = usedSlots.map((s) => group.slots[s]!);
      const usedMask = new Int32Array(maskWordsOf(group));
      for (const s of usedSlots) usedMask[s >>> 5]! |= 1 << (s & 31);
      const add: number[] = [];
      const min: number[] = [];
      const max: number[] = [];
      const last: number[] = [];
      const bitmap: number[] = [];
      for (const slot of used) {
        const o = slot.offset;
        if (slot.kind === 'count') add.push(o);
        else if (slot.kind === 'sum') add.push(o, o + 1);
        else if (slot.kind === 'min') min.push(o);
        else if (slot.kind === 'max' || slot.kind === 'last_ts') max.push(o);
        else if (slot.kind === 'last') last.push(o);
        else bitmap.push(o);
      }
      const timesAt = timesWidth;
      timesWidth += feats.filter((f) => OP_CODE[f.op] === OP_TIME_SINCE_LAST).length;
      return {
        group: g,
        tileMs: group.tileMs,
        windows,
        from: new Float64Array(windows.length),
        width,
        acc: new Float64Array(windows.length * width),
        accInit: Float64Array.from({ length: windows.length * width }, (_, w) => init[w % width]!),
        add: Int32Array.from(add),
        min: Int32Array.from(min),
        max: Int32Array.from(max),
        last: Int32Array.from(last),
        bitmap: Int32Array.from(bitmap),
        slotKind: Int32Array.from(group.slots, (slot) => KIND_CODE[slot.kind]),
        slotOffset: Int32Array.from(group.slots, (slot) => slot.offset),
        usedMask,
        slotsAt: maskWordsOf(group),
        ...finalizeOrder(
          positions,
          feats.map((f) => OP_CODE[f.op]!),
          feats.map((f) => windows.indexOf(f.windowMs) * width + group.slots[f.slot]!.offset),
        ),
        timesAt,
      };
    });
    const empty = new Float32Array(v.features.length);
    for (const gp of groups) {
      gp.acc.set(gp.accInit);
      finalizeGroup(gp, gp.acc, 0, empty, 0);
    }
    return { width: v.features.length, groups, empty, timesWidth };
  });
}

/** A group's features sorted by op code (stable), with where each op's run starts. */
function finalizeOrder(
  positions: readonly number[],
  ops: readonly number[],
  accIndex: readonly number[],
): Pick<GroupEvalPlan, 'outIndex' | 'accIndex' | 'opStart'> {
  const order = positions.map((_, i) => i).sort((a, b) => ops[a]! - ops[b]! || a - b);
  const opStart = new Int32Array(OP_COUNT + 1);
  for (const op of ops) opStart[op + 1]!++;
  for (let c = 0; c < OP_COUNT; c++) opStart[c + 1]! += opStart[c]!;
  return {
    outIndex: Int32Array.from(order, (i) => positions[i]!),
    accIndex: Int32Array.from(order, (i) => accIndex[i]!),
    opStart,
  };
}

/** Writes a group's features from its band accumulators, one loop per op code (see OP_CODE). */
function finalizeGroup(gp: GroupEvalPlan, acc: Float64Array, atMs: number, out: Float32Array, offset: number): void {
  const outIndex = gp.outIndex;
  const accIndex = gp.accIndex;
  const start = gp.opStart;
  let i = 0;
  // count, sum
  for (const end = start[2]!; i < end; i++) out[offset + outIndex[i]!] = acc[accIndex[i]!]!;
  // mean
  for (const end = start[3]!; i < end; i++) {
    const a = accIndex[i]!;
    out[offset + outIndex[i]!] = acc[a + 1]! > 0 ? acc[a]! / acc[a + 1]! : Number.NaN;
  }
  // min, max
  for (const end = start[5]!; i < end; i++) {
    const v = acc[accIndex[i]!]!;
    out[offset + outIndex[i]!] = Number.isFinite(v) ? v : Number.NaN;
  }
  // last
  for (const end = start[6]!; i < end; i++) {
    const a = accIndex[i]!;
    out[offset + outIndex[i]!] = Number.isFinite(acc[a]) ? acc[a + 1]! : Number.NaN;
  }
  // time_since_last
  for (const end = start[7]!; i < end; i++) {
    const t = acc[accIndex[i]!]!;
    out[offset + outIndex[i]!] = Number.isFinite(t) ? (atMs - t) / 1000 : Number.NaN;
  }
  // approx_distinct
  for (const end = start[8]!; i < end; i++) {
    const a = accIndex[i]!;
    let bits = 0;
    for (let w = 0; w < 8; w++) bits += popcount32(acc[a + w]!);
    out[offset + outIndex[i]!] = DISTINCT_ESTIMATES[bits]!;
  }
}

/**
 * Merges the tile at `src[o...]` into the band at `acc[a...]`: only the slots the view reads that the tile's mask
 * marks as touched (an untouched slot holds its initial words, which merge as a no-op). Tiles are sparse (an event
 * touches a few of a group's slots), so this is a few words rather than the whole tile.
 */
function mergeTile(gp: GroupEvalPlan, acc: Float64Array, a: number, src: Float64Array, o: number): void {
  const used = gp.usedMask;
  const kinds = gp.slotKind;
  const offsets = gp.slotOffset;
  const slotsAt = o + gp.slotsAt;
  for (let w = 0; w < used.length; w++) {
    let m = src[o + w]! & used[w]!;
    while (m !== 0) {
      const low = m & -m;
      m ^= low;
      const s = (w << 5) + 31 - Math.clz32(low);
      const x = a + offsets[s]!;
      const y = slotsAt + offsets[s]!;
      switch (kinds[s]) {
        case K_COUNT:
          acc[x]! += src[y]!;
          break;
        case K_SUM:
          acc[x]! += src[y]!;
          acc[x + 1]! += src[y + 1]!;
          break;
        case K_MIN:
          if (src[y]! < acc[x]!) acc[x] = src[y]!;
          break;
        case K_MAX:
        case K_LAST_TS:
          if (src[y]! > acc[x]!) acc[x] = src[y]!;
          break;
        case K_LAST: {
          // the latest event wins; on equal times the largest value
          const t = src[y]!;
          if (t > acc[x]! || (t === acc[x] && src[y + 1]! > acc[x + 1]!)) {
            acc[x] = t;
            acc[x + 1] = src[y + 1]!;
          }
          break;
        }
        default:
          for (let k = 0; k < 8; k++) acc[x + k] = ((acc[x + k]! | src[y + k]!) >>> 0) as number;
      }
    }
  }
}

/** Merges the partial aggregates at `src[o...]` (a band) into the band at `acc[a...]`. */
function mergeInto(gp: GroupEvalPlan, acc: Float64Array, a: number, src: Float64Array, o: number): void {
  const add = gp.add;
  for (let i = 0; i < add.length; i++) {
    const x = add[i]!;
    acc[a + x]! += src[o + x]!;
  }
  const min = gp.min;
  for (let i = 0; i < min.length; i++) {
    const x = min[i]!;
    if (src[o + x]! < acc[a + x]!) acc[a + x] = src[o + x]!;
  }
  const max = gp.max;
  for (let i = 0; i < max.length; i++) {
    const x = max[i]!;
    if (src[o + x]! > acc[a + x]!) acc[a + x] = src[o + x]!;
  }
  const last = gp.last;
  for (let i = 0; i < last.length; i++) {
    const x = last[i]!;
    const t = src[o + x]!;
    // the latest event wins; on equal times the largest value
    if (t > acc[a + x]! || (t === acc[a + x] && src[o + x + 1]! > acc[a + x + 1]!)) {
      acc[a + x] = t;
      acc[a + x + 1] = src[o + x + 1]!;
    }
  }
  const bitmap = gp.bitmap;
  for (let i = 0; i < bitmap.length; i++) {
    const x = a + bitmap[i]!;
    const y = o + bitmap[i]!;
    for (let w = 0; w < 8; w++) acc[x + w] = ((acc[x + w]! | src[y + w]!) >>> 0) as number;
  }
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
