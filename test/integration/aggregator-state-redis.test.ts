/** The AggregatorStateStore conformance suite against a real Redis, one key prefix per store. */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe } from 'vitest';
import { RedisAggregatorStateStore } from '../../src/stream/index.js';
import { describeAggregatorStateStore } from '../../src/stream/testing/aggregator-state-store-conformance.js';
import { serviceAvailability } from './services.js';

const redis = await serviceAvailability('redis');

describe.skipIf(!redis.available)(`Redis aggregator state${redis.skipNote}`, () => {
  const prefixes = new Map<RedisAggregatorStateStore, string>();
  afterAll(async () => {
    const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      for (const prefix of prefixes.values()) {
        const keys = await admin.keys(`${prefix}*`);
        if (keys.length > 0) await admin.del(...keys);
      }
    } finally {
      admin.disconnect();
    }
  });
  const connect = async (prefix: string) => {
    const store = await RedisAggregatorStateStore.connect({ url: redis.url, prefix });
    prefixes.set(store, prefix);
    return store;
  };

  describeAggregatorStateStore('redis', {
    open: () => connect(`test-state-${randomUUID()}:`),
    reopen: (store) => connect(prefixes.get(store as RedisAggregatorStateStore) as string),
    corrupt: async (store) => {
      const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
      try {
        const prefix = prefixes.get(store as RedisAggregatorStateStore) as string;
        await admin.set(`${prefix}:meta`, '{not json'); // the users hash stays: the meta names the checkpoint
      } finally {
        admin.disconnect();
      }
    },
  });
});
