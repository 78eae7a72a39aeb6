import type { DedupIds } from './dedup-ids.js';
import type { TileList } from './tile-pool.js';

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
