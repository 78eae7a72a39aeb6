import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/core/index.js';
import { RedisOnlineStore } from '../../src/features/redis-online-store.js';
import {
  type HmgetReplies,
  RespHmgetReader,
  replyBytes,
  respEndpointOf,
} from '../../src/features/resp-hmget-reader.js';

const hex = (r: HmgetReplies) =>
  Array.from({ length: r.rows }, (_, row) =>
    Array.from({ length: r.fields }, (_, f) => replyBytes(r, row, f)?.toString('hex') ?? null),
  );

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
  describeOnlineStore(
    'redis, reads through ioredis, two entities per script call',
    // writeChunk 2: writes and freshness's event-time reads span several script calls
    () =>
      new RedisOnlineStore({ url: redis.url, keyPrefix: `test:${randomUUID()}:`, directReads: false, writeChunk: 2 }),
    { cleanup: async (store) => void (await (store as RedisOnlineStore).clear()) },
  );
});

describe.skipIf(!redis.available)(`Redis garbage collection and views with no TTL${redis.skipNote}`, () => {
  it("keeps an entity's key forever once a view with no TTL lives in it, whatever other views' TTLs say", async () => {
    const prefix = `test:${randomUUID()}:`;
    const store = new RedisOnlineStore({ url: redis.url, keyPrefix: prefix, gcGraceSeconds: 60 });
    const client = new Redis(redis.url);
    const write = (storageKey: string, ttlMs: number | undefined, id: string) =>
      store.write(
        { storageKey, width: 1, ttlMs },
        { entityIds: [id], eventTs: Float64Array.of(1), createdTs: Float64Array.of(1), values: Float32Array.of(1) },
      );
    try {
      await write('short__v1', 3_600_000, 'a');
      expect(await client.ttl(store.keyOf('a'))).toBe(3660);
      // a view with no TTL written after (or before) a view with one: the key never expires
      await write('forever__v1', Number.POSITIVE_INFINITY, 'a');
      expect(await client.ttl(store.keyOf('a'))).toBe(-1);
      await write('forever__v1', Number.POSITIVE_INFINITY, 'b');
      await write('short__v1', 3_600_000, 'b');
      expect(await client.ttl(store.keyOf('b'))).toBe(-1);
      // without one, the TTL rules as before
      await write('short__v1', 3_600_000, 'c');
      expect(await client.ttl(store.keyOf('c'))).toBe(3660);
    } finally {
      await store.clear();
      await store.close();
      client.disconnect();
    }
  });
});

describe.skipIf(!redis.available)(`Redis online store's own HMGET reader against real Redis${redis.skipNote}`, () => {
  it('returns exactly what ioredis returns, with any read-buffer size, and recovers from an error reply', async () => {
    const prefix = `test:${randomUUID()}:reader:`;
    const client = new Redis(redis.url);
    const endpoint = respEndpointOf(redis.url);
    if (endpoint === undefined) throw new Error(`REDIS_URL ${redis.url} is not a plain redis:// URL`);
    const readers = [new RespHmgetReader({ endpoint }), new RespHmgetReader({ endpoint, readBufferBytes: 7 })];
    try {
      const rng = new Rng(3);
      const keys = Array.from({ length: 60 }, (_, i) => `${prefix}${i}`);
      const fields = ['a', 'b', 'c@1', 'd'];
      for (const key of keys) {
        const args: Array<string | Buffer> = [];
        for (const f of fields) {
          if (rng.next() < 0.2) continue; // a missing field
          const len = rng.next() < 0.1 ? 0 : Math.floor(rng.next() * 3000);
          args.push(f, Buffer.from(Array.from({ length: len }, () => Math.floor(rng.next() * 256))));
        }
        if (args.length > 0) await client.hset(key, ...args);
      }
      // a key that is not ASCII is sent as UTF-8, byte length and all
      await client.hset(`${prefix}ü-€`, 'a', 'wide key');
      keys.push(`${prefix}ü-€`);
      const query = [...keys, `${prefix}absent`];
      const expected = await Promise.all(query.map((k) => client.hmgetBuffer(k, ...fields)));
      for (const reader of readers) {
        const got = await reader.hmget(query, fields);
        expect(hex(got)).toEqual(expected.map((r) => r.map((b) => b?.toString('hex') ?? null)));
        got.release();
      }
      // a key of the wrong type fails the read with Redis's message; the connection stays usable
      await client.set(`${prefix}string`, 'x');
      const reader = readers[0] as RespHmgetReader;
      await expect(reader.hmget([keys[0] as string, `${prefix}string`], fields)).rejects.toThrow('WRONGTYPE');
      const again = await reader.hmget([keys[1] as string], fields);
      expect(hex(again)[0]).toEqual(expected[1]?.map((b) => b?.toString('hex') ?? null));
      again.release();
    } finally {
      for (const r of readers) r.close();
      const left = await client.keys(`${prefix}*`);
      if (left.length > 0) await client.del(...left);
      client.disconnect();
    }
  });

  it('selects the URL database', async () => {
    const key = `test:${randomUUID()}:db`;
    const url = new URL(redis.url);
    url.pathname = '/5';
    const client = new Redis(url.toString());
    const endpoint = respEndpointOf(url.toString());
    if (endpoint === undefined) throw new Error('not a plain redis:// URL');
    const reader = new RespHmgetReader({ endpoint });
    try {
      await client.hset(key, 'f', 'in db 5');
      const got = await reader.hmget([key], ['f']);
      expect(replyBytes(got, 0, 0)?.toString()).toBe('in db 5');
      got.release();
    } finally {
      reader.close();
      await client.del(key);
      client.disconnect();
    }
  });
});
