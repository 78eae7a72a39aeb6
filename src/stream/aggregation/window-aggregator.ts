import { InvalidInputError } from '../../core/index.js';
import { type AggregatableEvent, type AggregationPlan, windowStartMs } from '../aggregation-plan.js';
import { DedupIds } from './dedup-ids.js';
import {
  finalizeGroup,
  type GroupEvalPlan,
  lostTile,
  mergeInto,
  mergeTile,
  OP_TIME_SINCE_LAST,
  type ViewEvalPlan,
  viewEvalPlans,
} from './evaluation-plan.js';
import { decodeUserState, encodeUserState, StateArena } from './state-codec.js';
import { PREFETCH_USERS, type TileList, TilePool } from './tile-pool.js';
import type {
  AggregatorCounters,
  AggregatorMeta,
  IngestOutcome,
  UserAggregates,
  WindowAggregatorOptions,
} from './types.js';
import { prepareUpdate, type UpdatePlan, updatePlan, updateTile } from './update-plan.js';
import { VectorCache } from './vector-cache.js';

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
