import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { BackendUnavailableError, InvalidInputError } from '../../core/index.js';
import type { BusConsumer, BusMessage, EventBus } from '../event-bus.js';

export interface EventBusConformanceOptions {
  /** Ack deadline the suite's groups use; short so redelivery tests stay quick. Default 400 ms. */
  readonly ackWaitMs?: number;
  /** Events in the large-batch test. Default 20,000. */
  readonly largeBatch?: number;
  /**
   * Stores `text` on `topic` as a foreign producer would, around the bus's encoding (a raw XADD, a raw NATS
   * publish); resolves once it is stored. Required: every bus must show how it delivers a message that is not JSON.
   */
  readonly writeRaw: (bus: EventBus, topic: string, text: string) => Promise<void>;
}

interface Payload {
  readonly key: string;
  readonly n: number;
  readonly text?: string;
}

/**
 * The one behaviour every EventBus implementation must show. `factory` returns a fresh bus whose names
 * (Redis key prefix, NATS stream prefix) are unique to the call; the suite deletes the topics it used while
 * their bus is open (a test that closes its bus leaves the rest to the caller's prefix cleanup).
 */
export function describeEventBus(
  name: string,
  factory: () => Promise<EventBus> | EventBus,
  options: EventBusConformanceOptions,
): void {
  const ackWaitMs = options.ackWaitMs ?? 400;
  const largeBatch = options.largeBatch ?? 20_000;

  describe(`EventBus conformance: ${name}`, () => {
    const buses: EventBus[] = [];
    const topics: Array<[EventBus, string]> = [];

    afterEach(async () => {
      for (const [bus, topic] of topics.splice(0)) await bus.deleteTopic(topic).catch(() => {});
      for (const bus of buses.splice(0)) await bus.close();
    });

    async function setup(): Promise<{ bus: EventBus; topic: string }> {
      const bus = await factory();
      buses.push(bus);
      const topic = `t-${randomUUID().slice(0, 8)}`;
      topics.push([bus, topic]);
      return { bus, topic };
    }

    const join = (bus: EventBus, topic: string, group: string, consumer: string) =>
      bus.consumer(topic, { group, name: consumer, ackWaitMs });

    it('delivers every event once, in publish order per key, with payloads intact', async () => {
      const { bus, topic } = await setup();
      const events = [];
      for (let n = 0; n < 60; n++) {
        const key = `user-${n % 3}`;
        events.push({ key, payload: { key, n, text: n === 7 ? 'ünïcødé "quoted" \n line' : undefined } });
      }
      const result = await bus.publish(topic, events);
      expect(result.count).toBe(60);
      expect(result.firstPosition).toBeDefined();
      const consumer = await join(bus, topic, 'g1', 'c1');
      const got = await drain(consumer, 7);
      expect(got.map((m) => (m.payload as Payload).n)).toEqual(events.map((e) => e.payload.n));
      for (const m of got) {
        expect(m.key).toBe((m.payload as Payload).key);
        expect(m.topic).toBe(topic);
        expect(m.deliveryCount).toBe(1);
        expect(Number.isFinite(m.publishedTs)).toBe(true);
      }
      expect(new Set(got.map((m) => m.position)).size).toBe(60);
      expect(got[0]?.position).toBe(result.firstPosition);
      expect(got[59]?.position).toBe(result.lastPosition);
      expect((got[7]!.payload as Payload).text).toBe('ünïcødé "quoted" \n line');
      expect(got[0]?.payload).toEqual({ key: 'user-0', n: 0 });
      for (const key of ['user-0', 'user-1', 'user-2']) {
        const ns = got.filter((m) => m.key === key).map((m) => (m.payload as Payload).n);
        expect(ns).toEqual([...ns].sort((a, b) => a - b));
        expect(ns).toHaveLength(20);
      }
    });

    it('redelivers what a consumer took and never acked, after the ack deadline, to another member', async () => {
      const { bus, topic } = await setup();
      await bus.publish(topic, keyed(10));
      const dying = await join(bus, topic, 'g', 'dies');
      const taken = await dying.pull({ maxMessages: 10, waitMs: 2000 });
      expect(taken).toHaveLength(10);
      await dying.ack(taken.slice(0, 4));
      await dying.close(); // dies without acking the other 6

      const survivor = await join(bus, topic, 'g', 'survivor');
      // at-least-once: a message may come back more than once (a delivery can land in a pull that already
      // ended, and then waits out another deadline), so collect distinct events and ack each batch at once.
      // Every event must come back marked as a redelivery at least once; nats-server 2.9 can stamp a copy
      // sent in the race with a pull's expiry with a stale count of 1, so the check is on the highest count.
      const redelivered = new Map<number, number>();
      const deadline = Date.now() + ackWaitMs * 20 + 5000;
      while (redelivered.size < 6 && Date.now() < deadline) {
        const batch = await survivor.pull({ maxMessages: 10, waitMs: ackWaitMs });
        for (const m of batch) {
          const n = (m.payload as Payload).n;
          redelivered.set(n, Math.max(redelivered.get(n) ?? 0, m.deliveryCount));
        }
        await survivor.ack(batch);
      }
      expect([...redelivered.keys()].sort((a, b) => a - b)).toEqual([4, 5, 6, 7, 8, 9]);
      for (const count of redelivered.values()) expect(count).toBeGreaterThanOrEqual(2);
      const late = await survivor.pull({ maxMessages: 10, waitMs: ackWaitMs * 3 });
      // nothing acked comes back; a copy still in flight from before its ack may, but only of these six
      expect(late.filter((m) => !redelivered.has((m.payload as Payload).n))).toEqual([]);
      await survivor.ack(late);
      expect(await survivor.pull({ maxMessages: 10, waitMs: ackWaitMs * 3 })).toEqual([]);
    });

    it('splits the work of one group between two members without duplicates', async () => {
      const { bus, topic } = await setup();
      await bus.publish(topic, keyed(200));
      const a = await join(bus, topic, 'workers', 'a');
      const b = await join(bus, topic, 'workers', 'b');
      const byA: BusMessage[] = [];
      const byB: BusMessage[] = [];
      for (let round = 0; round < 50 && byA.length + byB.length < 200; round++) {
        const fromA = await a.pull({ maxMessages: 20, waitMs: 200 });
        await a.ack(fromA);
        byA.push(...fromA);
        const fromB = await b.pull({ maxMessages: 20, waitMs: 200 });
        await b.ack(fromB);
        byB.push(...fromB);
      }
      expect(byA.length).toBeGreaterThan(0);
      expect(byB.length).toBeGreaterThan(0);
      const all = [...byA, ...byB].map((m) => (m.payload as Payload).n);
      expect(all).toHaveLength(200);
      expect(new Set(all).size).toBe(200);
      expect(await a.pull({ maxMessages: 10, waitMs: 0 })).toEqual([]);
    });

    it('gives every group the whole topic', async () => {
      const { bus, topic } = await setup();
      await bus.publish(topic, keyed(50));
      const g1 = await join(bus, topic, 'audiences', 'x');
      const g2 = await join(bus, topic, 'features', 'x');
      const seen1 = await drain(g1, 16);
      const seen2 = await drain(g2, 16);
      expect(seen1.map((m) => (m.payload as Payload).n)).toEqual(range(50));
      expect(seen2.map((m) => (m.payload as Payload).n)).toEqual(range(50));
      await bus.publish(topic, keyed(5, 50));
      expect((await drain(g1, 16)).map((m) => (m.payload as Payload).n)).toEqual(range(5, 50));
      expect((await drain(g2, 16)).map((m) => (m.payload as Payload).n)).toEqual(range(5, 50));
    });

    it('treats acks as idempotent and never redelivers an acked message', async () => {
      const { bus, topic } = await setup();
      await bus.publish(topic, keyed(8));
      const c = await join(bus, topic, 'g', 'c');
      const got = await c.pull({ maxMessages: 8, waitMs: 2000 });
      expect(got).toHaveLength(8);
      await c.ack(got);
      await c.ack(got);
      await c.ack([]);
      await c.ack(got.slice(2, 5));
      const other = await join(bus, topic, 'g', 'other');
      expect(await other.pull({ maxMessages: 8, waitMs: ackWaitMs * 3 })).toEqual([]);
      expect(await c.pull({ maxMessages: 8, waitMs: 0 })).toEqual([]);
    });

    it('lets any member of a group ack what another member pulled', async () => {
      const { bus, topic } = await setup();
      await bus.publish(topic, keyed(6));
      const puller = await join(bus, topic, 'g', 'puller');
      const acker = await join(bus, topic, 'g', 'acker');
      const got = await puller.pull({ maxMessages: 6, waitMs: 2000 });
      expect(got).toHaveLength(6);
      await acker.ack(got);
      await puller.close();
      expect(await acker.pull({ maxMessages: 6, waitMs: ackWaitMs * 3 })).toEqual([]);
    });

    it('replays from a position, from a time, or only new events', async () => {
      const { bus, topic } = await setup();
      await bus.publish(topic, keyed(20));
      const first = await drain(await join(bus, topic, 'live', 'c'), 20);
      expect(first).toHaveLength(20);
      const tenth = first[9] as BusMessage;

      const fromPosition = await bus.consumer(topic, {
        group: 'replay-pos',
        name: 'c',
        ackWaitMs,
        startAt: { kind: 'after', position: tenth.position },
      });
      expect((await drain(fromPosition, 20)).map((m) => (m.payload as Payload).n)).toEqual(range(10, 10));

      const latest = await bus.consumer(topic, { group: 'tail', name: 'c', ackWaitMs, startAt: { kind: 'latest' } });
      await sleep(15); // publish times must differ from the first batch's for the time replay below
      await bus.publish(topic, keyed(5, 20));
      const second = await drain(latest, 20);
      expect(second.map((m) => (m.payload as Payload).n)).toEqual(range(5, 20));
      const lastOfFirst = first[19] as BusMessage;
      const firstOfSecond = second[0] as BusMessage;
      expect(firstOfSecond.publishedTs).toBeGreaterThan(lastOfFirst.publishedTs);

      const fromTime = await bus.consumer(topic, {
        group: 'replay-time',
        name: 'c',
        ackWaitMs,
        startAt: { kind: 'time', timeMs: firstOfSecond.publishedTs },
      });
      expect((await drain(fromTime, 20)).map((m) => (m.payload as Payload).n)).toEqual(range(5, 20));

      // a group that already exists keeps its place: startAt only applies at creation
      const rejoin = await bus.consumer(topic, {
        group: 'replay-pos',
        name: 'd',
        ackWaitMs,
        startAt: { kind: 'earliest' },
      });
      expect(await rejoin.pull({ maxMessages: 50, waitMs: 0 })).toHaveLength(5);
    });

    it('publishes and consumes a large batch completely', async () => {
      const { bus, topic } = await setup();
      const events = keyed(largeBatch).map((e) => ({ key: `user-${e.payload.n % 97}`, payload: e.payload }));
      const result = await bus.publish(topic, events);
      expect(result.count).toBe(largeBatch);
      const c = await join(bus, topic, 'bulk', 'c');
      const got = await drain(c, 1000);
      expect(got).toHaveLength(largeBatch);
      const lastByKey = new Map<string, number>();
      for (const m of got) {
        const n = (m.payload as Payload).n;
        expect(n).toBeGreaterThan(lastByKey.get(m.key) ?? -1);
        lastByKey.set(m.key, n);
      }
    });

    it('delivers a message that is not JSON as undecodable, in order, and lets it be acked like any other', async () => {
      const { bus, topic } = await setup();
      await bus.publish(topic, keyed(3));
      await options.writeRaw(bus, topic, '{not json');
      await bus.publish(topic, keyed(3, 3));
      const c = await join(bus, topic, 'g', 'c');
      // small pulls: the bad one is neither the first nor the last of its pull, nor does it end the stream
      const got = await drain(c, 2);
      expect(got.map((m) => (m.undecodable === undefined ? (m.payload as Payload).n : 'bad'))).toEqual([
        0,
        1,
        2,
        'bad',
        3,
        4,
        5,
      ]);
      const bad = got[3]!;
      expect(bad.payload).toBeUndefined();
      expect(bad.undecodable?.text).toBe('{not json');
      expect(bad.undecodable?.reason).toMatch(/^not JSON \(.+\): "\{not json"$/);
      expect(bad.topic).toBe(topic);
      for (const m of got) expect(m.undecodable === undefined).toBe(m !== bad);
      // acked with the rest (drain acks each batch): nothing of it is left for the group
      const other = await join(bus, topic, 'g', 'other');
      expect(await other.pull({ maxMessages: 10, waitMs: ackWaitMs * 3 })).toEqual([]);
    });

    it('rejects bad input with InvalidInputError and writes nothing of a bad batch', async () => {
      const { bus, topic } = await setup();
      const circular: Record<string, unknown> = {};
      circular['self'] = circular;
      await expectInvalid(bus.publish('', keyed(1)), /topic: expected .*got an empty string/);
      await expectInvalid(bus.publish('has space', keyed(1)), /topic/);
      await expectInvalid(bus.publish('a.b', keyed(1)), /topic/);
      await expectInvalid(
        bus.publish(topic, [
          { key: 'u', payload: 1 },
          { key: 'u', payload: 10n },
        ]),
        /event 1 payload is not JSON-serializable/,
      );
      await expectInvalid(
        bus.publish(topic, [{ key: 'u', payload: circular }]),
        /event 0 payload is not JSON-serializable/,
      );
      await expectInvalid(
        bus.publish(topic, [{ key: 'u', payload: undefined }]),
        /event 0 payload is not JSON-serializable/,
      );
      await expectInvalid(bus.publish(topic, [{ key: 'u', payload: () => 1 }]), /not JSON-serializable/);
      await expectInvalid(bus.publish(topic, [{ key: '', payload: 1 }]), /event 0 key must be a non-empty string/);
      await expectInvalid(bus.publish(topic, [{ key: 'a\nb', payload: 1 }]), /key/);
      await expectInvalid(bus.publish(topic, [null as never]), /event 0 must be an object/);
      await expectInvalid(bus.consumer('', { group: 'g', name: 'c' }), /topic/);
      await expectInvalid(bus.consumer(topic, { group: '', name: 'c' }), /group/);
      await expectInvalid(bus.consumer(topic, { group: 'g', name: 'x y' }), /consumer name/);
      await expectInvalid(
        bus.consumer(topic, { group: 'g', name: 'c', startAt: { kind: 'time', timeMs: -1 } }),
        /timeMs/,
      );
      const c = await join(bus, topic, 'g', 'c');
      await expectInvalid(c.pull({ maxMessages: 0 }), /maxMessages/);
      await expectInvalid(c.pull({ waitMs: -5 }), /waitMs/);
      // nothing of the rejected batches reached the log
      expect(await c.pull({ maxMessages: 10, waitMs: 300 })).toEqual([]);
      expect((await bus.publish(topic, [])).count).toBe(0);
    });

    it('ends a waiting pull when its consumer or the bus closes', async () => {
      const { bus, topic } = await setup();
      const c1 = await join(bus, topic, 'g', 'c1');
      const c2 = await join(bus, topic, 'g', 'c2');
      // waits longer than the test timeout: only close() can end these pulls in time
      const waiting1 = c1.pull({ waitMs: 120_000 });
      const waiting2 = c2.pull({ waitMs: 120_000 });
      await sleep(50);
      await c1.close();
      expect(await waiting1).toEqual([]);
      await bus.close();
      expect(await waiting2).toEqual([]);
    }, 30_000);

    it('closes safely twice and refuses work afterwards', async () => {
      const { bus, topic } = await setup();
      await bus.publish(topic, keyed(2));
      const c = await join(bus, topic, 'g', 'c');
      await c.close();
      await c.close();
      expect(await c.pull({ waitMs: 0 })).toEqual([]);
      const other = await factory();
      await other.close();
      await other.close();
      await expect(other.publish(topic, keyed(1))).rejects.toBeInstanceOf(BackendUnavailableError);
    });
  });
}

async function expectInvalid(promise: Promise<unknown>, message: RegExp): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidInputError);
  expect((err as Error).message).toMatch(message);
}

function keyed(count: number, from = 0): Array<{ key: string; payload: Payload }> {
  return range(count, from).map((n) => ({ key: `user-${n % 4}`, payload: { key: `user-${n % 4}`, n } }));
}

function range(count: number, from = 0): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

/** Pulls and acks until a pull comes back empty. */
async function drain(consumer: BusConsumer, maxMessages: number): Promise<BusMessage[]> {
  const out: BusMessage[] = [];
  for (;;) {
    const batch = await consumer.pull({ maxMessages, waitMs: out.length === 0 ? 2000 : 150 });
    if (batch.length === 0) return out;
    await consumer.ack(batch);
    out.push(...batch);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
