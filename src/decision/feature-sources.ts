import type { FeatureMatrix } from '../core/index.js';
import type { FeatureStore, ReadBuffers } from '../features/index.js';
import type { DecisionContext, FeatureSource } from './scoring.js';

/**
 * The feature store's two executions of the one point-in-time rule as feature sources: `online` reads the online
 * store as of the decision time (the TTL rule applied at read), `offline` the point-in-time join as of that time
 * (back-tests, evaluation). Request views keep their declared defaults in both, so both give the same matrix; the
 * decision feeds the hour to the model's hour column itself.
 */
export class FeatureStoreSource implements FeatureSource {
  readonly name: 'online' | 'offline';
  readonly #store: FeatureStore;
  readonly #service: string;

  constructor(store: FeatureStore, service: string, name: 'online' | 'offline') {
    this.#store = store;
    this.#service = service;
    this.name = name;
  }

  read(
    userIds: readonly string[],
    atMs: number,
    _context: DecisionContext,
    buffers?: ReadBuffers,
  ): Promise<FeatureMatrix> {
    return this.name === 'online'
      ? this.#store.readOnline(this.#service, userIds, buffers ? { atMs, buffers } : { atMs })
      : this.#store.readPointInTime(this.#service, userIds, atMs);
  }
}

export const onlineFeatureSource = (store: FeatureStore, service: string): FeatureSource =>
  new FeatureStoreSource(store, service, 'online');
export const offlineFeatureSource = (store: FeatureStore, service: string): FeatureSource =>
  new FeatureStoreSource(store, service, 'offline');
