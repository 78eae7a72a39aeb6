import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { BusMessage } from '../../src/stream/event-bus.js';
import { RedisStreamsEventBus } from '../../src/stream/redis-streams-event-bus.js';
import { describeEventBus } from '../../src/stream/testing/event-bus-conformance.js';
import { TcpDropProxy } from '../../src/stream/testing/tcp-drop-proxy.js';
import { serviceAvailability } from './services.js';

const redis = await serviceAvailability('redis');

describe.skipIf(!redis.available)(`Redis Streams event bus${redis.skipNote}`, () => {
  const prefixes: string[] = [];
  const open = (prefix = `test-${randomUUID()}:`, ackWaitMs?: number) => {
    prefixes.push(prefix);
    return RedisStreamsEventBus.connect({ url: redis.url, keyPrefix: prefix, ...(ackWaitMs ? { ackWaitMs } : {}) });
  };

  afterEach(async () => {
    // the suite deletes its topics; this catches anything a failed test left behind
    const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      for (const prefix of prefixes.splice(0)) {
        const keys = await admin.keys(`${prefix}*`);
        if (keys.length > 0) await admin.del(...keys);
      }
    } finally {
      admin.disconnect();
    }
  });

  describeEventBus('redis', () => open(), {
    writeRaw: async (bus, topic, text) => {
      const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
      try {
        await admin.xadd((bus as RedisStreamsEventBus).streamKey(topic), '*', 'k', 'raw', 'p', text);
      } finally {
        admin.disconnect();
      }
    },
  });

  it('survives its connections being killed mid-stream, losing nothing', async () => {
    const prefix = `test-${randomUUID()}:`;
    const bus = await open(prefix, 1000);
    const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    const topic = 'drops';
    const total = 3000;
    try {
      const consumer = await bus.consumer(topic, { group: 'g', name: 'c1' });
      const seen = new Map<number, number>();
      let published = 0;
      let kills = 0;
      let failedCalls = 0;
      let redelivered = 0;
      const producer = (async () => {
        while (published < total) {
          const batch = Array.from({ length: 100 }, (_, i) => ({
            key: `u${(published + i) % 7}`,
            payload: { n: published + i },
          }));
          await bus.publish(topic, batch);
          published += batch.length;
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const deadline = Date.now() + 30_000;
      for (let round = 0; seen.size < total && Date.now() < deadline; round++) {
        let got: BusMessage[] = [];
        try {
          const pulling = consumer.pull({ maxMessages: 150, waitMs: 200 });
          if (round % 3 === 1 && kills < 6) {
            // kill the consumer's and the publisher's connections (found by client name) while calls are in flight
            await new Promise((r) => setTimeout(r, 2));
            kills += Math.min(1, await killClients(admin, `${prefix}bus-`));
          }
          got = await pulling;
          await consumer.ack(got);
        } catch {
          failedCalls++;
          continue; // the connection died under this call; the adapter reconnects and we pull again
        }
        for (const m of got) {
          if (m.deliveryCount > 1) redelivered++;
          const n = (m.payload as { n: number }).n;
          seen.set(n, (seen.get(n) ?? 0) + 1);
        }
      }
      await producer;
      expect(kills).toBe(6);
      const duplicates = [...seen.values()].reduce((a, b) => a + b, 0) - seen.size;
      console.info(
        `redis drop test: ${kills} kills, ${failedCalls} failed calls, ${redelivered} redeliveries, ${duplicates} duplicates, ${seen.size} distinct`,
      );
      expect(seen.size).toBe(total);
      for (let n = 0; n < total; n++) expect(seen.has(n)).toBe(true);
      await bus.deleteTopic(topic);
    } finally {
      admin.disconnect();
      await bus.close();
    }
  });

  it('detects a read whose reply never comes, reconnects and takes the entries back before their deadline', async () => {
    const target = new URL(redis.url);
    const proxy = await TcpDropProxy.start(target.hostname || '127.0.0.1', Number(target.port || 6379));
    const prefix = `test-${randomUUID()}:`;
    prefixes.push(prefix);
    const proxied = new URL(redis.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    // a deadline of a minute: anything back within the test came from the consumer's own pending list
    const bus = await RedisStreamsEventBus.connect({ url: proxied.toString(), keyPrefix: prefix, ackWaitMs: 60_000 });
    try {
      await bus.publish(
        'wire',
        Array.from({ length: 20 }, (_, n) => ({ key: `u${n % 3}`, payload: n })),
      );
      const consumer = await bus.consumer('wire', { group: 'g', name: 'c' });
      await consumer.pull({ maxMessages: 1, waitMs: 0 }).then((m) => consumer.ack(m)); // recovery pass done
      proxy.swallowReplies(true); // Redis moves the entries to the pending list; the reply never arrives
      const inFlight = consumer.pull({ maxMessages: 50, waitMs: 300 }).catch(() => [] as BusMessage[]);
      const until = Date.now() + 5000;
      while (proxy.swallowedBytes === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      expect(proxy.swallowedBytes).toBeGreaterThan(0);
      proxy.swallowReplies(false); // that reply is gone; the connection stays open but silent about it
      const got: BusMessage[] = [...(await inFlight)]; // ends by the stall watchdog, not by a dropped socket
      const deadline = Date.now() + 10_000;
      while (got.length < 19 && Date.now() < deadline) {
        const batch = await consumer.pull({ maxMessages: 50, waitMs: 200 }).catch(() => [] as BusMessage[]);
        await consumer.ack(batch);
        got.push(...batch);
      }
      expect(got.map((m) => m.payload)).toEqual(Array.from({ length: 19 }, (_, n) => n + 1));
      for (const m of got) expect(m.deliveryCount).toBe(2);
      await bus.deleteTopic('wire');
    } finally {
      await bus.close();
      await proxy.close();
    }
  });

  it('gives a consumer restarted under its name its unacked messages back at once', async () => {
    const bus = await open(undefined, 60_000);
    try {
      await bus.publish('restart', [
        { key: 'u1', payload: 1 },
        { key: 'u2', payload: 2 },
      ]);
      const first = await bus.consumer('restart', { group: 'g', name: 'worker-1' });
      expect(await first.pull({ waitMs: 1000 })).toHaveLength(2);
      await first.close(); // crashes holding both
      const stranger = await bus.consumer('restart', { group: 'g', name: 'worker-2' });
      expect(await stranger.pull({ waitMs: 0 })).toEqual([]); // deadline is a minute away
      const again = await bus.consumer('restart', { group: 'g', name: 'worker-1' });
      const back = await again.pull({ waitMs: 0 });
      expect(back.map((m) => [m.payload, m.deliveryCount])).toEqual([
        [1, 2],
        [2, 2],
      ]);
      await again.ack(back);
      await bus.deleteTopic('restart');
    } finally {
      await bus.close();
    }
  });

  it('caps each topic stream near maxLen when one is set', async () => {
    const prefix = `test-${randomUUID()}:`;
    prefixes.push(prefix);
    const bus = await RedisStreamsEventBus.connect({ url: redis.url, keyPrefix: prefix, maxLen: 100 });
    const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      for (let i = 0; i < 10; i++) {
        await bus.publish(
          'capped',
          Array.from({ length: 100 }, (_, j) => ({ key: 'u', payload: i * 100 + j })),
        );
      }
      const length = await admin.xlen(bus.streamKey('capped'));
      expect(length).toBeGreaterThanOrEqual(100);
      expect(length).toBeLessThan(1000); // approximate trimming: whole macro-nodes go, so a little over 100
      const c = await bus.consumer('capped', { group: 'g', name: 'c' });
      const got = await c.pull({ maxMessages: 1000, waitMs: 500 });
      expect(got.at(-1)?.payload).toBe(999);
      await bus.deleteTopic('capped');
    } finally {
      admin.disconnect();
      await bus.close();
    }
  });

  it('delivers an entry without the payload field as undecodable, naming the fields it has', async () => {
    const bus = await open();
    const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    try {
      await bus.publish('foreign', [{ key: 'u', payload: 1 }]);
      await admin.xadd(bus.streamKey('foreign'), '*', 'user', 'u', 'body', '{}');
      await bus.publish('foreign', [{ key: 'u', payload: 2 }]);
      const c = await bus.consumer('foreign', { group: 'g', name: 'c' });
      const got = await c.pull({ maxMessages: 10, waitMs: 1000 });
      expect(got.map((m) => m.payload)).toEqual([1, undefined, 2]);
      expect(got[1]?.undecodable).toEqual({
        reason: 'no payload field "p": expected fields "k" (key) and "p" (JSON payload), got "user", "body"',
        text: '',
      });
      await c.ack(got);
      expect(Number(((await admin.xpending(bus.streamKey('foreign'), 'g')) as [number])[0])).toBe(0);
      await bus.deleteTopic('foreign');
    } finally {
      admin.disconnect();
      await bus.close();
    }
  });

  it('reports Redis being unreachable as BackendUnavailableError', async () => {
    await expect(
      RedisStreamsEventBus.connect({
        url: 'redis://127.0.0.1:1',
        keyPrefix: 'x:',
        maxRetriesPerRequest: 0,
        connectTimeoutMs: 500,
      }),
    ).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE' });
  });
});

async function killClients(admin: Redis, namePrefix: string): Promise<number> {
  const list = (await admin.client('LIST')) as string;
  let killed = 0;
  for (const line of list.split('\n')) {
    const name = /(?:^| )name=(\S*)/.exec(line)?.[1];
    const id = /(?:^| )id=(\d+)/.exec(line)?.[1];
    if (id && name?.startsWith(namePrefix)) {
      await admin.client('KILL', 'ID', id);
      killed++;
    }
  }
  return killed;
}
