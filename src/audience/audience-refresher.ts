import type { AudienceService, ChangedUser, RefreshResult } from './audience-service.js';

/**
 * The stream's side of refresh: a `DirtyUserFeed` for the StreamIngestor (it publishes the users whose features it
 * just made visible), collecting them until `flush` re-decides them against every live audience. Batching is what
 * keeps a busy stream cheap: a user changed ten times between flushes is re-scored once.
 */
export class AudienceRefresher {
  readonly #service: AudienceService;
  #pending: ChangedUser[] = [];
  #running: Promise<RefreshResult | null> | null = null;
  readonly results: RefreshResult[] = [];

  constructor(service: AudienceService) {
    this.#service = service;
  }

  /** DirtyUserFeed.publish: the ingestor's dirty users (userId, eventTs, views). */
  async publish(users: readonly ChangedUser[]): Promise<void> {
    for (const u of users)
      this.#pending.push({
        userId: u.userId,
        ...(u.eventTs !== undefined ? { eventTs: u.eventTs } : {}),
        ...(u.views !== undefined ? { views: u.views } : {}),
      });
  }

  get pending(): number {
    return this.#pending.length;
  }

  /** Refreshes the audiences with every change collected so far (one refresh at a time); null when none. */
  async flush(atMs?: number): Promise<RefreshResult | null> {
    while (this.#running) await this.#running;
    if (this.#pending.length === 0) return null;
    const batch = this.#pending;
    this.#pending = [];
    const run = this.#service.refresh(batch, atMs === undefined ? {} : { atMs }).then((r) => {
      this.results.push(r);
      return r;
    });
    this.#running = run;
    try {
      return await run;
    } catch (err) {
      this.#pending = batch.concat(this.#pending); // tried again at the next flush
      throw err;
    } finally {
      this.#running = null;
    }
  }
}
