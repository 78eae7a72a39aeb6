import { describe, expect, it } from 'vitest';
import { BackendUnavailableError, InvalidInputError } from '../core/index.js';
import { defineEntity, defineFeatures, defineFeatureView, type OfflineRowBatch } from '../features/index.js';
import { compileAggregationPlan } from './aggregation-plan.js';
import { MemoryAggregatorStateStore } from './aggregator-state-store.js';
import { type DeadLetterInput, MemoryDeadLetterSink } from './dead-letter.js';
import type { BusConsumer, BusMessage, ConsumerOptions, EventBus } from './event-bus.js';
import { MemoryEventBus } from './memory-event-bus.js';
import {
  checkpointEveryOf,
  DEFAULT_CHECKPOINT_EVERY_MESSAGES,
  MemoryDirtyUserFeed,
  StreamIngestor,
  type StreamIngestorOptions,
} from './stream-ingestor.js';

const H = 3_600_000;
const T0 = Date.UTC(2026, 2, 2, 8);

const plan = compileAggregationPlan(
  defineFeatures({
    entities: [defineEntity({ name: 'user' })],
    views: [
      defineFeatureView({
        name: 'activity',
        entity: 'user',
        ttlSeconds: 7 * 86_400,
        source: { kind: 'stream' },
        features: [
          { name: 'events_1h', aggregation: { op: 'count', window: '1h' } },
          { name: 'spend_24h', aggregation: { op: 'sum', column: 'amount', window: '24h' } },
        ],
      }),
    ],
  }),
);

/** Keeps the newest row per user, as the online store would. */
class LastRowSink {
  readonly rows = new Map<string, { eventTs: number; values: number[] }>();
  async ingest(_view: string, batch: OfflineRowBatch): Promise<void> {
    const width = batch.values.length / batch.entityIds.length;
    batch.entityIds.forEach((id, i) => {
      this.rows.set(id, {
        eventTs: batch.eventTs[i]!,
        values: [...batch.values.subarray(i * width, (i + 1) * width)],
      });
    });
  }
}

let seq = 0;
const envelope = (user: string, eventTs: number, type = 'app_open', extra: Record<string, unknown> = {}) => ({
  key: user,
  payload: {
    arrival_ts: eventTs + 1000,
    message: { event_id: ++seq, user_id: user, event_type: type, event_ts: eventTs, platform: 'ios', ...extra },
  },
});

async function start(bus: MemoryEventBus, sink: LastRowSink, extra: Partial<StreamIngestorOptions> = {}) {
  return StreamIngestor.start({
    bus,
    topic: 'events',
    plan,
    features: sink,
    state: new MemoryAggregatorStateStore(),
    deadLetters: new MemoryDeadLetterSink(),
    lateEvents: new MemoryDeadLetterSink(),
    ...extra,
  });
}

describe('StreamIngestor', () => {
  it('rewrites an idle user once a window moves past their events, so short windows decay', async () => {
    const bus = new MemoryEventBus();
    const sink = new LastRowSink();
    const dirty = new MemoryDirtyUserFeed();
    const ingestor = await start(bus, sink, { dirtyFeed: dirty });
    await bus.publish('events', [
      envelope('u-idle', T0, 'purchase', { amount: 12.5 }),
      envelope('u-idle', T0 + 60_000),
    ]);
    await ingestor.runUntilIdle(200);
    expect(sink.rows.get('u-idle')).toEqual({ eventTs: T0 + 60_000, values: [2, 12.5] });
    // two hours later in event time, other users keep the stream moving; u-idle sends nothing
    await bus.publish('events', [envelope('u-busy', T0 + 2 * H)]);
    await ingestor.runUntilIdle(200);
    expect(sink.rows.get('u-idle')).toEqual({ eventTs: T0 + 2 * H, values: [0, 12.5] });
    expect(ingestor.stats.usersAged).toBe(1);
    expect(dirty.users.filter((u) => u.userId === 'u-idle').map((u) => u.eventTs)).toEqual([T0 + 60_000, T0 + 2 * H]);
    // a late event of u-idle (within the allowed lateness) after that rewrite: the new vector is as of the rewrite's
    // time, never older, and includes the late event
    const late = envelope('u-idle', T0 + 2 * H - 30 * 60_000);
    (late.payload as { arrival_ts: number }).arrival_ts = T0 + 2 * H;
    await bus.publish('events', [late]);
    await ingestor.runUntilIdle(200);
    expect(sink.rows.get('u-idle')).toEqual({ eventTs: T0 + 2 * H, values: [1, 12.5] });
    // a day later the 24h window is empty too
    await bus.publish('events', [envelope('u-busy', T0 + 27 * H)]);
    await ingestor.runUntilIdle(200);
    expect(sink.rows.get('u-idle')).toEqual({ eventTs: T0 + 27 * H, values: [0, 0] });
    await ingestor.close();
    await bus.close();
  });

  it('does not rewrite idle users when expireIdleVectors is false', async () => {
    const bus = new MemoryEventBus();
    const sink = new LastRowSink();
    const ingestor = await start(bus, sink, { expireIdleVectors: false });
    await bus.publish('events', [envelope('u-idle', T0), envelope('u-busy', T0 + 3 * H)]);
    await ingestor.runUntilIdle(200);
    expect(sink.rows.get('u-idle')).toEqual({ eventTs: T0, values: [1, 0] });
    expect(ingestor.stats.usersAged).toBe(0);
    await ingestor.close();
    await bus.close();
  });

  it('dead-letters contract violations and future event times, and sends late events to the correction path', async () => {
    const bus = new MemoryEventBus();
    const sink = new LastRowSink();
    const deadLetters = new MemoryDeadLetterSink();
    const lateEvents = new MemoryDeadLetterSink();
    const ingestor = await start(bus, sink, { deadLetters, lateEvents });
    const late = envelope('u1', T0);
    (late.payload as { arrival_ts: number }).arrival_ts = T0 + 2 * H;
    const future = envelope('u1', T0 + H);
    (future.payload as { arrival_ts: number }).arrival_ts = T0;
    await bus.publish('events', [
      envelope('u1', T0, 'purchase', { amount: '12.34' }),
      late,
      future,
      envelope('u1', T0 + 5000),
    ]);
    await ingestor.runUntilIdle(200);
    expect(ingestor.stats).toMatchObject({ received: 4, invalid: 2, late: 1, accepted: 1 });
    expect(deadLetters.letters().map((l) => l.reason)).toEqual([
      'purchase.amount: expected a number, got string "12.34"',
      expect.stringMatching(/event_ts: expected at most 300000 ms after arrival_ts/),
    ]);
    expect(lateEvents.letters()[0]!.reason).toMatch(/arrived 7200000 ms after event_ts/);
    expect(sink.rows.get('u1')?.values).toEqual([1, 0]);
    await ingestor.close();
    await bus.close();
  });

  it('keeps only the newest maxRejectedEventIds rejected ids, a repeated rejection counting as new', async () => {
    const bus = new MemoryEventBus();
    const deadLetters = new MemoryDeadLetterSink();
    const ingestor = await start(bus, new LastRowSink(), { deadLetters, maxRejectedEventIds: 3 });
    const bad = (id: string) => {
      const e = envelope('u1', T0, 'purchase', { amount: 'ten' });
      (e.payload.message as { event_id: unknown }).event_id = id;
      return e;
    };
    await bus.publish('events', [bad('r1'), bad('r2'), bad('r3'), bad('r4'), envelope('u1', T0 + 1000)]);
    await ingestor.runUntilIdle(200);
    expect([...ingestor.rejectedEventIds]).toEqual(['r2', 'r3', 'r4']);
    expect(ingestor.rejectedEventIdsForgotten).toBe(1);
    // r2 rejected again (a redelivery, a resend) is the newest now: r3 goes first
    await bus.publish('events', [bad('r2'), bad('r5')]);
    await ingestor.runUntilIdle(200);
    expect([...ingestor.rejectedEventIds]).toEqual(['r4', 'r2', 'r5']);
    expect(ingestor.rejectedEventIdsForgotten).toBe(2);
    // every rejection still has its dead letter: only the in-memory id list is bounded
    expect(deadLetters.letters()).toHaveLength(6);
    await ingestor.close();
    await expect(start(bus, new LastRowSink(), { maxRejectedEventIds: -1 })).rejects.toThrow(
      /maxRejectedEventIds must be an integer >= 0 or Infinity, got -1/,
    );
    await bus.close();
  });

  it('survives failed writes: letters and vectors are written again, nothing is lost or acknowledged early', async () => {
    const bus = new MemoryEventBus();
    const sink = new LastRowSink();
    let sinkFailures = 1;
    const flaky = {
      ingest: async (view: string, batch: OfflineRowBatch) => {
        if (sinkFailures-- > 0) throw new BackendUnavailableError('online store unreachable (test)');
        await sink.ingest(view, batch);
      },
    };
    const deadLetters = new MemoryDeadLetterSink();
    let letterFailures = 1;
    const flakyLetters = {
      kind: 'flaky',
      get written() {
        return deadLetters.written;
      },
      write: async (letters: readonly DeadLetterInput[]) => {
        if (letterFailures-- > 0) throw new BackendUnavailableError('dead-letter store unreachable (test)');
        await deadLetters.write(letters);
      },
      close: async () => {},
    };
    const ingestor = await start(bus, new LastRowSink(), { features: flaky, deadLetters: flakyLetters });
    await bus.publish('events', [
      envelope('u1', T0, 'purchase', { amount: 'ten' }),
      envelope('u1', T0 + 1000, 'purchase', { amount: 10 }),
      envelope('u2', T0 + 2000),
    ]);
    await ingestor.runUntilIdle(300);
    await ingestor.close();
    expect(ingestor.stats.backendErrors).toBe(2);
    expect(deadLetters.letters()).toHaveLength(1);
    expect(sink.rows.get('u1')).toEqual({ eventTs: T0 + 1000, values: [1, 10] });
    expect(sink.rows.get('u2')?.values).toEqual([1, 0]);
    expect(ingestor.pendingCount).toBe(0);
    await bus.close();
  });

  it('caps the checkpoint message count below the bus limit of unacknowledged messages', () => {
    expect(checkpointEveryOf({}, undefined)).toBe(DEFAULT_CHECKPOINT_EVERY_MESSAGES);
    expect(checkpointEveryOf({ checkpointEveryMessages: 7 }, undefined)).toBe(7);
    // limit - (a flush's worth + a pull and its prefetch)
    expect(checkpointEveryOf({}, 20_000)).toBe(13_000);
    expect(checkpointEveryOf({ flushEveryMessages: 1000, pullMax: 500 }, 20_000)).toBe(18_000);
    expect(checkpointEveryOf({ checkpointEveryMessages: 2000 }, 20_000)).toBe(2000);
    expect(checkpointEveryOf({}, 100_000)).toBe(DEFAULT_CHECKPOINT_EVERY_MESSAGES);
    // a tiny limit: a checkpoint per pull
    expect(checkpointEveryOf({ pullMax: 100 }, 50)).toBe(100);
  });

  it('acknowledges before the bus limit of unacknowledged messages is reached, and acks every message once', async () => {
    const inner = new MemoryEventBus();
    const limit = 4000;
    let outstanding = 0;
    let maxOutstanding = 0;
    let acked = 0;
    // a bus that reports a limit of `limit` unacknowledged messages (as NATS max_ack_pending) and counts them
    const bus: EventBus = {
      kind: 'memory',
      publish: (topic, events) => inner.publish(topic, events),
      async consumer(topic: string, options: ConsumerOptions): Promise<BusConsumer> {
        const c = await inner.consumer(topic, options);
        return {
          topic: c.topic,
          group: c.group,
          name: c.name,
          maxUnacked: limit,
          async pull(o) {
            const ms = await c.pull(o);
            outstanding += ms.length;
            maxOutstanding = Math.max(maxOutstanding, outstanding);
            return ms;
          },
          async ack(ms: readonly BusMessage[]) {
            // the ingestor acks with handles that drop the payload: topic and position are what count
            for (const m of ms) expect(m.payload).toBeUndefined();
            await c.ack(ms);
            outstanding -= ms.length;
            acked += ms.length;
          },
          close: () => c.close(),
        };
      },
      deleteTopic: (topic) => inner.deleteTopic(topic),
      close: () => inner.close(),
    };
    const sink = new LastRowSink();
    const ingestor = await StreamIngestor.start({
      bus,
      topic: 'events',
      plan,
      features: sink,
      state: new MemoryAggregatorStateStore(),
      deadLetters: new MemoryDeadLetterSink(),
      lateEvents: new MemoryDeadLetterSink(),
      pullMax: 200,
      flushEveryMessages: 500,
      checkpointIntervalMs: 600_000,
    });
    const n = 10_000;
    await bus.publish(
      'events',
      Array.from({ length: n }, (_, i) => envelope(`u${i % 300}`, T0 + i)),
    );
    await ingestor.runUntilIdle(200);
    await ingestor.close();
    expect(ingestor.stats.accepted).toBe(n);
    expect(acked).toBe(n);
    expect(maxOutstanding).toBeLessThanOrEqual(limit);
    expect(ingestor.stats.checkpoints).toBeGreaterThanOrEqual(3);
    // nothing comes back: every message was acknowledged for the group
    const again = await inner.consumer('events', { group: 'stream-aggregates', name: 'ingestor-2' });
    expect(await again.pull({ maxMessages: 10, waitMs: 0 })).toEqual([]);
    await bus.close();
  });

  it('refuses an ack deadline shorter than the checkpoint interval', async () => {
    const bus = new MemoryEventBus();
    await expect(start(bus, new LastRowSink(), { ackWaitMs: 1000, checkpointIntervalMs: 5000 })).rejects.toThrow(
      InvalidInputError,
    );
    await bus.close();
  });
});

describe('StreamIngestor with tombstones', () => {
  it("drops a deleted user's events (valid, invalid or late), forgets their restored state and never writes them", async () => {
    const deleted = new Set<string>();
    const tombstones = { isDeleted: (u: string) => deleted.has(u) };
    const bus = new MemoryEventBus();
    const sink = new LastRowSink();
    const state = new MemoryAggregatorStateStore();
    const deadLetters = new MemoryDeadLetterSink();
    const first = await start(bus, sink, { state, tombstones, deadLetters });
    await bus.publish('events', [envelope('gone', T0), envelope('kept', T0)]);
    await first.runUntilIdle(50);
    await first.close();
    expect((await state.load())?.users.has('gone')).toBe(true);

    deleted.add('gone');
    sink.rows.clear();
    const second = await start(bus, sink, { state, tombstones, deadLetters, group: 'stream-aggregates' });
    expect(second.aggregator.userCount).toBe(1);
    await bus.publish('events', [
      envelope('gone', T0 + H),
      envelope('gone', T0 + H, 'purchase', { amount: 'not a number' }),
      {
        key: 'gone',
        payload: {
          arrival_ts: T0 + 10 * H,
          message: { event_id: ++seq, user_id: 'gone', event_type: 'app_open', event_ts: T0, platform: 'ios' },
        },
      },
      envelope('kept', T0 + H),
    ]);
    await second.runUntilIdle(50);
    await second.close();
    expect(second.stats).toMatchObject({ tombstoned: 3, accepted: 1, invalid: 0, late: 0 });
    expect([...sink.rows.keys()]).toEqual(['kept']);
    expect(deadLetters.letters()).toHaveLength(0);
    expect((await state.load())?.users.has('gone')).toBe(false);
  });
});
