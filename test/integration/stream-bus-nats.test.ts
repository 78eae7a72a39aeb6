import { randomUUID } from 'node:crypto';
import { connect } from 'nats';
import { afterEach, describe, expect, it } from 'vitest';
import type { BusMessage } from '../../src/stream/event-bus.js';
import { NatsEventBus } from '../../src/stream/nats-event-bus.js';
import { describeEventBus } from '../../src/stream/testing/event-bus-conformance.js';
import { TcpDropProxy } from '../../src/stream/testing/tcp-drop-proxy.js';
import { serviceAvailability } from './services.js';

const nats = await serviceAvailability('nats');

describe.skipIf(!nats.available)(`NATS JetStream event bus${nats.skipNote}`, () => {
  const prefixes: string[] = [];
  const open = (url = nats.url, ackWaitMs?: number, streamPrefix = `test-${randomUUID()}`) => {
    prefixes.push(streamPrefix);
    return NatsEventBus.connect({ url, streamPrefix, ...(ackWaitMs ? { ackWaitMs } : {}) });
  };

  afterEach(async () => {
    // the suite deletes its topics; this catches streams a failed test left behind
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await nc.jetstreamManager();
      const mine = prefixes.splice(0);
      for await (const info of jsm.streams.list()) {
        if (mine.some((p) => info.config.name.startsWith(`${p}_`))) await jsm.streams.delete(info.config.name);
      }
    } finally {
      await nc.close();
    }
  });

  describeEventBus('nats', () => open(), {
    writeRaw: async (bus, topic, text) => {
      // a foreign producer's publish: no key line, no message id, just the text
      const nc = await connect({ servers: nats.url });
      try {
        await nc.jetstream().publish((bus as NatsEventBus).subject(topic), new TextEncoder().encode(text));
      } finally {
        await nc.close();
      }
    },
  });

  it('ends a pull without a wait at the last message, even when that message reaches max_ack_pending', async () => {
    const streamPrefix = `test-${randomUUID()}`;
    prefixes.push(streamPrefix);
    const bus = await NatsEventBus.connect({ url: nats.url, streamPrefix, maxAckPending: 5 });
    try {
      const consumer = await bus.consumer('limit', { group: 'g', name: 'c1' });
      await bus.publish(
        'limit',
        Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, payload: { n: i } })),
      );
      // the server keeps such a request open with no status to end it; only the last message's pending count
      // (0 in its ack subject) says it is over, else the client's guard ends it 2 s later
      const started = Date.now();
      const got = await consumer.pull({ maxMessages: 10, waitMs: 0 });
      expect(got.map((m) => (m.payload as { n: number }).n)).toEqual([0, 1, 2, 3, 4]);
      expect(Date.now() - started).toBeLessThan(1000);
      await consumer.ack(got);
      await bus.deleteTopic('limit');
    } finally {
      await bus.close();
    }
  });

  it('survives its connection being cut mid-stream, losing nothing', async () => {
    const target = new URL(nats.url);
    const proxy = await TcpDropProxy.start(target.hostname || '127.0.0.1', Number(target.port || 4222));
    const bus = await open(`nats://127.0.0.1:${proxy.port}`, 1000);
    const topic = 'drops';
    const total = 3000;
    try {
      const consumer = await bus.consumer(topic, { group: 'g', name: 'c1' });
      const seen = new Map<number, number>();
      let published = 0;
      let drops = 0;
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
      const deadline = Date.now() + 40_000;
      for (let round = 0; seen.size < total && Date.now() < deadline; round++) {
        let got: BusMessage[] = [];
        try {
          const pulling = consumer.pull({ maxMessages: 150, waitMs: 200 });
          if (round % 3 === 1 && drops < 6) {
            // cut the bus's connection (publisher and consumer share it) while calls are in flight
            await new Promise((r) => setTimeout(r, 2));
            drops += Math.min(1, proxy.dropAll());
          }
          got = await pulling;
          await consumer.ack(got);
        } catch {
          failedCalls++;
          continue;
        }
        for (const m of got) {
          if (m.deliveryCount > 1) redelivered++;
          const n = (m.payload as { n: number }).n;
          seen.set(n, (seen.get(n) ?? 0) + 1);
        }
      }
      await producer;
      const duplicates = [...seen.values()].reduce((a, b) => a + b, 0) - seen.size;
      console.info(
        `nats drop test: ${drops} drops, ${failedCalls} failed calls, ${redelivered} redeliveries, ${duplicates} duplicates, ${seen.size} distinct`,
      );
      expect(drops).toBe(6);
      expect(seen.size).toBe(total);
      for (let n = 0; n < total; n++) expect(seen.has(n)).toBe(true);
      await bus.deleteTopic(topic);
    } finally {
      await bus.close();
      await proxy.close();
    }
  });

  it('redelivers messages lost on the wire when the connection dies mid-reply', async () => {
    const target = new URL(nats.url);
    const proxy = await TcpDropProxy.start(target.hostname || '127.0.0.1', Number(target.port || 4222));
    const bus = await open(`nats://127.0.0.1:${proxy.port}`, 1000);
    try {
      await bus.publish(
        'wire',
        Array.from({ length: 20 }, (_, n) => ({ key: `u${n % 3}`, payload: n })),
      );
      const consumer = await bus.consumer('wire', { group: 'g', name: 'c' });
      proxy.swallowReplies(true); // the server delivers; the client never sees it
      const lost = await consumer.pull({ maxMessages: 20, waitMs: 300 }).catch(() => []);
      expect(lost).toEqual([]);
      expect(proxy.swallowedBytes).toBeGreaterThan(0);
      proxy.swallowReplies(false);
      proxy.dropAll();
      const got: BusMessage[] = [];
      const deadline = Date.now() + 15_000;
      while (got.length < 20 && Date.now() < deadline) {
        const batch = await consumer.pull({ maxMessages: 20, waitMs: 500 }).catch(() => []);
        await consumer.ack(batch);
        got.push(...batch);
      }
      expect(got.map((m) => m.payload).sort((a, b) => (a as number) - (b as number))).toEqual(
        Array.from({ length: 20 }, (_, n) => n),
      );
      for (const m of got) expect(m.deliveryCount).toBeGreaterThanOrEqual(2);
      await bus.deleteTopic('wire');
    } finally {
      await bus.close();
      await proxy.close();
    }
  });

  it('re-creates a topic deleted under a publisher and keeps publishing', async () => {
    const streamPrefix = `test-${randomUUID()}`;
    const bus = await open(nats.url, undefined, streamPrefix);
    const admin = await open(nats.url, undefined, streamPrefix);
    try {
      await bus.publish('gone', [{ key: 'u', payload: 1 }]);
      await admin.deleteTopic('gone'); // the publisher still believes the stream exists
      const again = await bus.publish('gone', [{ key: 'u', payload: 2 }]);
      expect(again.count).toBe(1);
      const c = await bus.consumer('gone', { group: 'g', name: 'c' });
      expect((await c.pull({ waitMs: 1000 })).map((m) => m.payload)).toEqual([2]);
      await bus.deleteTopic('gone');
    } finally {
      await bus.close();
      await admin.close();
    }
  });

  it('reports NATS being unreachable as BackendUnavailableError', async () => {
    await expect(
      NatsEventBus.connect({ url: 'nats://127.0.0.1:1', streamPrefix: 'x', connectTimeoutMs: 500 }),
    ).rejects.toMatchObject({
      code: 'BACKEND_UNAVAILABLE',
    });
  });
});
