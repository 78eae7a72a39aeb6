import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { AckPolicy, connect, JSONCodec } from 'nats';
import { describe, expect, it } from 'vitest';
import { serviceAvailability } from './services.js';

const redis = await serviceAvailability('redis');
const nats = await serviceAvailability('nats');

describe.skipIf(!redis.available)(`Redis round trip${redis.skipNote}`, () => {
  it('writes, reads back and deletes a hash under its own prefix', async () => {
    const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    const key = `test:${randomUUID()}:smoke`;
    try {
      await client.connect();
      await client.hset(key, { a: '1', b: Buffer.from([1, 2, 3]) });
      expect(await client.hget(key, 'a')).toBe('1');
      expect([...((await client.hgetBuffer(key, 'b')) ?? [])]).toEqual([1, 2, 3]);
    } finally {
      await client.del(key);
      client.disconnect();
    }
  });
});

describe.skipIf(!nats.available)(`NATS JetStream round trip${nats.skipNote}`, () => {
  it('publishes durably to a stream and consumes with an ack', async () => {
    const nc = await connect({ servers: nats.url, timeout: 2000 });
    const stream = `TEST_${randomUUID().replaceAll('-', '')}`;
    const subject = `${stream.toLowerCase()}.events`;
    const codec = JSONCodec<{ n: number }>();
    const jsm = await nc.jetstreamManager();
    try {
      await jsm.streams.add({ name: stream, subjects: [subject] });
      const js = nc.jetstream();
      const ack = await js.publish(subject, codec.encode({ n: 7 }));
      expect(ack.stream).toBe(stream);
      await jsm.consumers.add(stream, { durable_name: 'smoke', ack_policy: AckPolicy.Explicit });
      const consumer = await js.consumers.get(stream, 'smoke');
      const msg = await consumer.next({ expires: 2000 });
      expect(msg).not.toBeNull();
      expect(codec.decode(msg!.data)).toEqual({ n: 7 });
      msg!.ack();
    } finally {
      await jsm.streams.delete(stream).catch(() => {});
      await nc.close();
    }
  });
});
