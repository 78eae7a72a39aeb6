import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisOnlineStore } from '../../src/features/index.js';
import { onlineStoreEraser, openTombstoneLedger, RedisTombstoneLog } from '../../src/privacy/index.js';
import { serviceAvailability } from './services.js';

const redis = await serviceAvailability('redis');

describe.skipIf(!redis.available)(`privacy on Redis${redis.skipNote}`, () => {
  const prefix = `test:privacy:${randomUUID()}:`;
  const dir = mkdtempSync(join(tmpdir(), 'adnova-privacy-redis-'));
  afterAll(async () => {
    const admin = new Redis(redis.url);
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps tombstones in one Redis hash, by HMAC, shared by every process that opens it', async () => {
    const a = await openTombstoneLedger({ dir, log: new RedisTombstoneLog({ url: redis.url, keyPrefix: prefix }) });
    await a.add(['u1', 'u2'], 'del_1', 1000);
    await a.add(['u2', 'u3'], 'del_2', 2000);
    await a.close();
    const b = await openTombstoneLedger({ dir, log: new RedisTombstoneLog({ url: redis.url, keyPrefix: prefix }) });
    try {
      expect(b.size).toBe(3);
      expect(['u1', 'u2', 'u3', 'u4'].map((u) => b.isDeleted(u))).toEqual([true, true, true, false]);
      expect(b.recordOf('u2')?.requestId).toBe('del_1');
      const admin = new Redis(redis.url);
      const fields = await admin.hkeys(`${prefix}privacy:tombstones`);
      admin.disconnect();
      expect(fields).toHaveLength(3);
      expect(fields.join(' ')).not.toContain('u1');
    } finally {
      await b.close();
    }
  });

  it('erases users from the Redis online store and finds none of them by a SCAN afterwards', async () => {
    const online = new RedisOnlineStore({ url: redis.url, keyPrefix: `${prefix}online:` });
    try {
      const view = { storageKey: 'v__1', width: 2 };
      await online.write(view, {
        entityIds: ['a1', 'a2', 'a3'],
        eventTs: Float64Array.of(1, 1, 1),
        createdTs: Float64Array.of(1, 1, 1),
        values: Float32Array.of(1, 2, 3, 4, 5, 6),
      });
      const eraser = onlineStoreEraser(online);
      const deleted = new Set(['a1', 'a3', 'zz']);
      expect(await eraser.scan?.((u) => deleted.has(u))).toBe(2);
      expect((await eraser.erase([...deleted])).records).toBe(2);
      expect(await eraser.count([...deleted])).toBe(0);
      expect(await eraser.scan?.((u) => deleted.has(u))).toBe(0);
      expect(await eraser.scan?.((u) => u === 'a2')).toBe(1);
    } finally {
      await online.clear();
      await online.close();
    }
  });
});
