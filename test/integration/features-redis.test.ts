import { randomUUID } from 'node:crypto';
import { describe } from 'vitest';
import { RedisOnlineStore } from '../../src/features/redis-online-store.js';
import { describeOnlineStore } from '../../src/features/testing/online-store-conformance.js';
import { serviceAvailability } from './services.js';

const redis = await serviceAvailability('redis');

describe.skipIf(!redis.available)(`Redis online store${redis.skipNote}`, () => {
  describeOnlineStore(
    'redis',
    // a small write chunk so the 1,200-entity case spans several script calls in one pipeline
    () => new RedisOnlineStore({ url: redis.url, keyPrefix: `test:${randomUUID()}:`, writeChunk: 500 }),
    { cleanup: async (store) => void (await (store as RedisOnlineStore).clear()) },
  );
});
