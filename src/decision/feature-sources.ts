import type { FeatureMatrix } from '../core/index.js';
import type { FeatureStore } from '../features/index.js';
import type { DecisionContext, FeatureSource } from './scoring.js';

/**
 * Features from the online store, as of the decision time (the TTL rule applied at read). Request views keep their
 * declared defaults here, as in the offline source, so both give the same matrix; the decision feeds the hour to
 * the model's hour column itself.
 */
export class OnlineFeatureSource implements FeatureSource {
  readonly name = 'online';
  readonly #store: FeatureStore;
  readonly #service: string;

  constructor(store: FeatureStore, service: string) {
    this.#store = store;
    this.#service = service;
  }

  read(userIds: readonly string[], atMs: number, _context: DecisionContext): Promise<FeatureMatrix> {
    return this.#store.readOnline(this.#service, userIds, { atMs });
  }
}

/** Features from the offline store by the point-in-time join as of the decision time (back-tests, evaluation). */
export class OfflineFeatureSource implements FeatureSource {
  readonly name = 'offline';
  readonly #store: FeatureStore;
  readonly #service: string;

  constructor(store: FeatureStore, service: string) {
    this.#store = store;
    this.#service = service;
  }

  read(userIds: readonly string[], atMs: number, _context: DecisionContext): Promise<FeatureMatrix> {
    return this.#store.readPointInTime(this.#service, userIds, atMs);
  }
}
