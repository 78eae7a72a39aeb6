import { describe, expect, it } from 'vitest';
import { MS_PER_DAY } from '../core/index.js';
import { defineEntity, defineFeatures, defineFeatureView } from '../features/index.js';
import {
  CountingFeatureSink,
  compileAggregationPlan,
  MemoryAggregatorStateStore,
  MemoryDeadLetterSink,
  MemoryEventBus,
  StreamIngestor,
} from '../stream/index.js';
import { parseCampaignSpec } from './campaign.js';
import { SegmentIndexUpdater } from './index-updates.js';
import { retrievalReason, retrieve } from './retrieval.js';
import { INDEX_KEYS, SegmentIndex } from './segment-index.js';

const T0 = Date.UTC(2026, 2, 10, 8);
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

const campaign = (channel: 'email' | 'push', activeWithinDays?: number) =>
  parseCampaignSpec({
    id: `c-${channel}`,
    advertiserId: 'a1',
    channel,
    goal: 'open',
    vertical: 'apparel',
    targeting: activeWithinDays === undefined ? {} : { activeWithinDays },
    desiredAudienceSize: 10,
    schedule: { launch: T0 },
  });

let seq = 0;
const envelope = (user: string, eventTs: number, type: string, extra: Record<string, unknown> = {}) => ({
  key: user,
  payload: {
    arrival_ts: eventTs + 1000,
    message: { event_id: `e${++seq}`, user_id: user, event_type: type, event_ts: eventTs, platform: 'ios', ...extra },
  },
});

/** Three users with email and push consent, last active 20 days ago; u2 is tombstoned. */
function indexOfThree(): SegmentIndex {
  const index = new SegmentIndex();
  for (const id of ['u0', 'u1', 'u2'])
    index.upsertUser(id, { consent: { email: true, push: true }, lastActiveTs: T0 - 20 * MS_PER_DAY });
  index.markDeleted('u2');
  return index;
}

async function ingest(index: SegmentIndex, messages: ReturnType<typeof envelope>[], allowedLatenessMs?: number) {
  const bus = new MemoryEventBus();
  const updater = new SegmentIndexUpdater(index);
  const ingestor = await StreamIngestor.start({
    bus,
    topic: 'events',
    plan,
    features: new CountingFeatureSink(),
    state: new MemoryAggregatorStateStore(),
    deadLetters: new MemoryDeadLetterSink(),
    lateEvents: new MemoryDeadLetterSink(),
    eventObserver: updater,
    allowedLatenessMs,
  });
  await bus.publish('events', messages);
  await ingestor.pollOnce(0);
  return { ingestor, updater, bus };
}

const members = (index: SegmentIndex, c: ReturnType<typeof campaign>, atMs = T0) =>
  index.users.usersOf(retrieve(c, index, { atMs }).candidates.toUint32Array());

describe('SegmentIndexUpdater: the segment index kept current by the stream', () => {
  it('an unsubscribe removes the user from its channel as soon as the ingestor has processed it', async () => {
    const index = indexOfThree();
    expect(members(index, campaign('email'))).toEqual(['u0', 'u1']);
    const { updater, ingestor } = await ingest(index, [
      envelope('u1', T0 - 60_000, 'unsubscribe', { channel: 'email' }),
    ]);
    expect(members(index, campaign('email'))).toEqual(['u0']);
    expect(members(index, campaign('push'))).toEqual(['u0', 'u1']); // other channels keep their consent
    expect(retrievalReason(campaign('email'), index, index.users.denseOf('u1'), { atMs: T0 })?.rule).toBe('consent');
    expect(updater.stats).toMatchObject({ unsubscribes: 1, events: 1 });
    await ingestor.close();
  });

  it('every event is activity: "active within N days" sees it at once', async () => {
    const index = indexOfThree();
    expect(members(index, campaign('email', 7))).toEqual([]);
    const { ingestor } = await ingest(index, [envelope('u0', T0 - 3_600_000, 'app_open')]);
    expect(members(index, campaign('email', 7))).toEqual(['u0']);
    expect(index.lastActiveTs(index.users.denseOf('u0') as number)).toBe(T0 - 3_600_000);
    await ingestor.close();
  });

  it('a tombstoned user stays deleted whatever the stream says; a new user is known but reaches no channel', async () => {
    const index = indexOfThree();
    const { updater, ingestor } = await ingest(index, [
      envelope('u2', T0 - 60_000, 'app_open'),
      envelope('u9', T0 - 60_000, 'app_open'),
    ]);
    expect(updater.stats).toMatchObject({ events: 2, deletedIgnored: 1, newUsers: 1 });
    const u2 = index.users.denseOf('u2') as number;
    expect(Number.isNaN(index.lastActiveTs(u2))).toBe(true);
    expect(index.bitmap(INDEX_KEYS.users).has(u2)).toBe(false);
    expect(index.bitmap(INDEX_KEYS.users).has(index.users.denseOf('u9') as number)).toBe(true);
    expect(members(index, campaign('email'))).toEqual(['u0', 'u1']); // no consent recorded for u9
    await ingestor.close();
  });

  it('a late unsubscribe (too late for the windows) is still honoured; a producer clock error is not', async () => {
    const index = indexOfThree();
    const late = envelope('u0', T0 - 10 * 3_600_000, 'unsubscribe', { channel: 'push' });
    late.payload.arrival_ts = T0;
    const future = envelope('u1', T0 + 3_600_000, 'unsubscribe', { channel: 'push' });
    future.payload.arrival_ts = T0;
    const { ingestor } = await ingest(index, [late, future], 60_000);
    expect(ingestor.stats.late).toBe(1);
    expect(members(index, campaign('push'))).toEqual(['u1']);
    await ingestor.close();
  });

  it('afterSnapshot takes back the consent an older snapshot granted again; a redelivery changes nothing', async () => {
    const index = indexOfThree();
    const unsub = envelope('u1', T0 - 60_000, 'unsubscribe', { channel: 'email' });
    const { updater, ingestor } = await ingest(index, [unsub]);
    updater.observe([
      {
        eventId: 'again',
        userId: 'u1',
        eventType: 'unsubscribe',
        eventTs: T0 - 60_000,
        arrivalTs: T0,
        schemaVersion: 1,
        channel: 'email',
      },
    ]);
    expect(updater.stats.unsubscribes).toBe(1);
    // the nightly snapshot was taken an hour before the unsubscribe: it says u1 consents
    index.upsertUser('u1', { consent: { email: true } });
    expect(members(index, campaign('email'))).toEqual(['u0', 'u1']);
    expect(updater.afterSnapshot(T0 - 3_600_000)).toBe(1);
    expect(members(index, campaign('email'))).toEqual(['u0']);
    expect(updater.pendingUnsubscribes).toBe(1);
    // a snapshot taken after the unsubscribe already knows it: nothing to apply again, and it is forgotten
    expect(updater.afterSnapshot(T0)).toBe(0);
    expect(updater.pendingUnsubscribes).toBe(0);
    await ingestor.close();
  });
});
