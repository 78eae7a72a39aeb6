/**
 * One message that is not JSON, between valid events, on each bus (memory, Redis Streams, NATS JetStream; the real
 * services): the ingestor dead-letters it with its reason, counts it, acknowledges it, and aggregates every valid
 * event after it; nothing stays pending at the broker, and a second run finds nothing to do.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { connect } from 'nats';
import { afterEach, describe, expect, it } from 'vitest';
import { MetricsRegistry } from '../../src/core/index.js';
import { defineEntity, defineFeatures, defineFeatureView } from '../../src/features/index.js';
import {
  CountingFeatureSink,
  compileAggregationPlan,
  type EventBus,
  MemoryAggregatorStateStore,
  MemoryDeadLetterSink,
  MemoryEventBus,
  NatsEventBus,
  RedisStreamsEventBus,
  StreamIngestor,
} from '../../src/stream/index.js';
import { serviceAvailability } from './services.js';

const redis = await serviceAvailability('redis');
const nats = await serviceAvailability('nats');

const T0 = Date.UTC(2026, 2, 2, 8);
const USERS = 7;
const plan = compileAggregationPlan(
  defineFeatures({
    entities: [defineEntity({ name: 'user' })],
    views: [
      defineFeatureView({
        name: 'activity',
        entity: 'user',
        ttlSeconds: 7 * 86_400,
        source: { kind: 'stream' },
        features: [{ name: 'events_24h', aggregation: { op: 'count', window: '24h' } }],
      }),
    ],
  }),
);

function events(from: number, count: number) {
  return Array.from({ length: count }, (_, i) => {
    const n = from + i;
    const user = `u${n % USERS}`;
    const eventTs = T0 + n * 1000;
    return {
      key: user,
      payload: {
        arrival_ts: eventTs + 500,
        message: { event_id: `e${n}`, user_id: user, event_type: 'app_open', event_ts: eventTs, platform: 'ios' },
      },
    };
  });
}

interface BusUnderTest {
  readonly bus: EventBus;
  /** Stores `text` on the topic as a foreign producer would (around the bus's own encoding). */
  writeRaw(topic: string, text: string): Promise<void>;
  /** Messages of `group` delivered and not acknowledged, plus (NATS) not yet delivered, as the broker counts them. */
  pending(topic: string, group: string): Promise<number>;
  close(): Promise<void>;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function memoryBus(): Promise<BusUnderTest> {
  const bus = new MemoryEventBus();
  return {
    bus,
    writeRaw: async (topic, text) => {
      await bus.publishRaw(topic, [{ key: 'raw', text }]);
    },
    // a member rejoining under its name gets back at once what it held; the group's deadline makes others wait
    pending: async (topic, group) => {
      const probe = await bus.consumer(topic, { group, name: 'ingestor-1' });
      const back = await probe.pull({ maxMessages: 10_000, waitMs: 0 });
      await probe.close();
      return back.length;
    },
    close: () => bus.close(),
  };
}

async function redisBus(): Promise<BusUnderTest> {
  const keyPrefix = `test:${randomUUID()}:`;
  const bus = await RedisStreamsEventBus.connect({ url: redis.url, keyPrefix });
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  cleanups.push(async () => {
    const keys = await admin.keys(`${keyPrefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    admin.disconnect();
  });
  return {
    bus,
    writeRaw: async (topic, text) => {
      await admin.xadd(bus.streamKey(topic), '*', 'k', 'raw', 'p', text);
    },
    pending: async (topic, group) => {
      const [count] = (await admin.xpending(bus.streamKey(topic), group)) as [number, ...unknown[]];
      return Number(count);
    },
    close: () => bus.close(),
  };
}

async function natsBus(): Promise<BusUnderTest> {
  const streamPrefix = `test-${randomUUID()}`;
  const bus = await NatsEventBus.connect({ url: nats.url, streamPrefix });
  const nc = await connect({ servers: nats.url });
  const jsm = await nc.jetstreamManager();
  cleanups.push(async () => {
    for await (const info of jsm.streams.list()) {
      if (info.config.name.startsWith(`${streamPrefix}_`)) await jsm.streams.delete(info.config.name);
    }
    await nc.close();
  });
  return {
    bus,
    // a foreign producer's publish: no key line, no message id, just the text
    writeRaw: async (topic, text) => {
      await nc.jetstream().publish(bus.subject(topic), new TextEncoder().encode(text));
    },
    pending: async (topic, group) => {
      const info = await jsm.consumers.info(bus.streamName(topic), group);
      return info.num_ack_pending + info.num_pending;
    },
    close: () => bus.close(),
  };
}

const buses: Array<[string, boolean, () => Promise<BusUnderTest>]> = [
  ['memory', true, memoryBus],
  [`redis${redis.skipNote}`, redis.available, redisBus],
  [`nats${nats.skipNote}`, nats.available, natsBus],
];

describe.each(buses)('a message that is not JSON on the %s bus', (_name, available, open) => {
  it.skipIf(!available)(
    'is dead-lettered with its reason, counted and acknowledged; every valid event around it is aggregated',
    async () => {
      const under = await open();
      cleanups.push(() => under.close());
      const { bus } = under;
      const topic = `events-${randomUUID().slice(0, 8)}`;
      const group = 'stream-aggregates';
      await bus.publish(topic, events(0, 2000));
      await under.writeRaw(topic, '{not json');
      await bus.publish(topic, events(2000, 10));

      const deadLetters = new MemoryDeadLetterSink();
      const metrics = new MetricsRegistry();
      const state = new MemoryAggregatorStateStore();
      const start = () =>
        StreamIngestor.start({
          bus,
          topic,
          group,
          plan,
          features: new CountingFeatureSink(),
          state,
          deadLetters,
          lateEvents: new MemoryDeadLetterSink(),
          metrics,
          pullMax: 300,
        });
      const ingestor = await start();
      const stats = { ...(await ingestor.runUntilIdle(700)) };
      await ingestor.close();

      expect(stats).toMatchObject({ received: 2011, accepted: 2010, invalid: 1, undecodable: 1, backendErrors: 0 });
      expect(deadLetters.letters()).toHaveLength(1);
      const letter = deadLetters.letters()[0]!;
      expect(letter.event).toBe('{not json');
      expect(letter.reason).toMatch(/^undecodable payload at position \S+: not JSON \(.+\): "\{not json"$/);
      expect(letter.schemaVersion).toBe('envelope@1');
      expect(letter.source).toBe(topic);
      expect(await metrics.text()).toContain(`adnova_stream_undecodable_messages_total{topic="${topic}"} 1`);

      // every valid event counted, those after the bad one included: each user's 24h count at the end
      const counts = new Float32Array(1);
      for (let u = 0; u < USERS; u++) {
        ingestor.aggregator.evaluate(0, `u${u}`, T0 + 2010 * 1000, counts, 0);
        const expected = Array.from({ length: 2010 }, (_, n) => n).filter((n) => n % USERS === u).length;
        expect(counts[0]).toBe(expected);
      }

      expect(await under.pending(topic, group)).toBe(0);
      const again = await start();
      const second = await again.runUntilIdle(300);
      await again.close();
      expect(second.received).toBe(0);
    },
    60_000,
  );
});
