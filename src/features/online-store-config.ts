import { join } from 'node:path';
import type { AdnovaConfig } from '../core/index.js';
import { MemoryOnlineStore } from './memory-online-store.js';
import type { OnlineStore } from './online-store.js';
import { RedisOnlineStore } from './redis-online-store.js';

/**
 * The online store a configuration names, for a feature store directory: Redis under the configured key prefix,
 * or the embedded memory store with its snapshot file in `dir`. Every command and job that reads or writes online
 * features opens it this way, so the stream writes the store the decisions read.
 */
export function openOnlineStore(config: AdnovaConfig, dir: string): OnlineStore {
  return config.onlineStore.kind === 'redis'
    ? new RedisOnlineStore({ url: config.redis.url, keyPrefix: `${config.redis.keyPrefix}features:` })
    : new MemoryOnlineStore({ snapshotPath: join(dir, 'online-snapshot.json') });
}
