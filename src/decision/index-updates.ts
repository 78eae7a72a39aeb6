import type { StreamEvent, StreamEventObserver } from '../stream/index.js';
import { INDEX_KEYS, type SegmentIndex } from './segment-index.js';

/** What the stream changed in the index since it was created. */
export interface IndexUpdateStats {
  /** Events seen (every valid event the ingestor took). */
  events: number;
  /** Unsubscribes applied: the user left the channel's consent bitmap. */
  unsubscribes: number;
  /** Users first seen on the stream (not in any snapshot yet): known to the index, active, no attributes. */
  newUsers: number;
  /** Events of tombstoned users: ignored, the user stays deleted. */
  deletedIgnored: number;
}

/**
 * Keeps a SegmentIndex current from the stream (a StreamIngestor's `eventObserver`): every event is activity
 * (`touch` at its event time, so "active within N days" sees it at once), and an `unsubscribe` removes the user from
 * its channel's consent bitmap before the event is acknowledged, so the next decision cannot reach them.
 *
 * A batch snapshot older than an unsubscribe would grant the consent back when it is loaded: `afterSnapshot(ts)`
 * applies again every unsubscribe this updater saw after the snapshot's time, and forgets the older ones (the
 * snapshot has them), so the log holds only what no snapshot has caught up with. Applying an event twice (a
 * redelivery) changes nothing.
 */
export class SegmentIndexUpdater implements StreamEventObserver {
  readonly stats: IndexUpdateStats = { events: 0, unsubscribes: 0, newUsers: 0, deletedIgnored: 0 };
  /** Per channel: dense user -> newest unsubscribe event time. */
  readonly #unsubscribed = new Map<string, Map<number, number>>();

  constructor(readonly index: SegmentIndex) {}

  observe(events: readonly StreamEvent[]): void {
    const index = this.index;
    const deleted = index.has(INDEX_KEYS.deleted) ? index.bitmap(INDEX_KEYS.deleted) : undefined;
    for (const e of events) {
      this.stats.events++;
      let dense = index.users.denseOf(e.userId);
      if ((dense !== undefined && deleted?.has(dense)) || index.tombstones.isDeleted(e.userId)) {
        this.stats.deletedIgnored++;
        continue;
      }
      if (dense === undefined) {
        dense = index.upsertUser(e.userId, {});
        this.stats.newUsers++;
      }
      index.touch(dense, e.eventTs);
      if (e.eventType === 'unsubscribe' && e.channel !== undefined) {
        index.remove(INDEX_KEYS.consent(e.channel), dense);
        let byUser = this.#unsubscribed.get(e.channel);
        if (byUser === undefined) {
          byUser = new Map();
          this.#unsubscribed.set(e.channel, byUser);
        }
        const prev = byUser.get(dense);
        if (prev === undefined) this.stats.unsubscribes++;
        if (prev === undefined || e.eventTs > prev) byUser.set(dense, e.eventTs);
      }
    }
  }

  /**
   * Call after loading a batch snapshot taken at `snapshotTs` into the index: every unsubscribe seen with an event
   * time after it is applied again. Returns how many were.
   */
  afterSnapshot(snapshotTs: number): number {
    let n = 0;
    for (const [channel, byUser] of this.#unsubscribed)
      for (const [dense, ts] of byUser)
        if (ts > snapshotTs) {
          this.index.remove(INDEX_KEYS.consent(channel), dense);
          n++;
        } else byUser.delete(dense); // the snapshot knows it: no later (newer) snapshot can grant it back
    return n;
  }

  /** Unsubscribes remembered for `afterSnapshot`: those newer than the last snapshot applied. */
  get pendingUnsubscribes(): number {
    let n = 0;
    for (const byUser of this.#unsubscribed.values()) n += byUser.size;
    return n;
  }
}
