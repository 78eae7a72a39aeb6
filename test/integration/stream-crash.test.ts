/**
 * Crash tests of streaming ingestion: a consumer killed mid-stream, and a broker killed mid-stream, must both end
 * with exactly the aggregates of an uninterrupted run (no loss, no double count).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDefinitionsFile } from '../../src/features/index.js';
import {
  type AggregationPlan,
  type AggregatorStateStore,
  BusReplayTarget,
  CountingFeatureSink,
  compileAggregationPlan,
  dailyCheckpoints,
  type EventBus,
  FileAggregatorStateStore,
  MemoryAggregatorStateStore,
  MemoryDeadLetterSink,
  MemoryEventBus,
  NatsEventBus,
  RedisAggregatorStateStore,
  RedisStreamsEventBus,
  StreamIngestor,
  type StreamIngestorOptions,
  type WindowAggregator,
} from '../../src/stream/index.js';
import { readManifest, replayEvents } from '../../src/world/index.js';
import { generateWorld } from '../../src/world/simulator.js';
import { ownBrokerAvailability, startOwnBroker } from './own-broker.js';
import { serviceAvailability } from './services.js';

const redis = await serviceAvailability('redis');
const nats = await serviceAvailability('nats');
const ownNats = await ownBrokerAvailability('nats');
const ownRedis = await ownBrokerAvailability('redis');

const root = mkdtempSync(join(tmpdir(), 'adnova-stream-crash-'));
const worldDir = join(root, 'world');
const definitions = join(import.meta.dirname, '../../src/features/examples/world-features.yaml');
let plan: AggregationPlan;
let lines: string[] = [];
let checkpoints: number[] = [];
let reference: Float32Array;
let users: string[] = [];

function snapshot(agg: WindowAggregator): Float32Array {
  const width = plan.features.length;
  const out = new Float32Array(users.length * checkpoints.length * width);
  let o = 0;
  for (const u of users)
    for (const t of checkpoints) {
      agg.evaluate(0, u, t, out, o);
      o += width;
    }
  return out;
}

async function publishAll(bus: EventBus, topic: string): Promise<void> {
  const target = new BusReplayTarget(bus, topic);
  for (const line of lines) await target.write(line);
  await target.flush();
}

function ingestorOptions(
  bus: EventBus,
  topic: string,
  state: AggregatorStateStore,
  name: string,
): StreamIngestorOptions {
  return {
    bus,
    topic,
    group: 'crash',
    consumerName: name,
    plan,
    features: new CountingFeatureSink(),
    state,
    deadLetters: new MemoryDeadLetterSink(),
    lateEvents: new MemoryDeadLetterSink(),
    retainFromMs: Math.min(...checkpoints) - plan.maxWindowMs - 86_400_000,
    flushEveryMessages: 1500,
    pullMax: 400,
    ackWaitMs: 1500,
    checkpointIntervalMs: 300,
  };
}

/** Runs until a share of the events is in, with some processed but unacknowledged, then dies without a flush. */
async function crashMidStream(ingestor: StreamIngestor, share: number): Promise<void> {
  while (ingestor.stats.received < lines.length * share || ingestor.pendingCount === 0) {
    if ((await ingestor.pollOnce(500)) === 0 && ingestor.stats.received >= lines.length) break;
  }
  expect(ingestor.pendingCount).toBeGreaterThan(0);
  await ingestor.abandon();
}

beforeAll(async () => {
  await generateWorld({
    outDir: worldDir,
    users: 300,
    days: 4,
    seed: 5,
    features: 16,
    scenarios: ['stream-outage'],
    driftDay: 2,
  });
  const manifest = readManifest(worldDir);
  plan = compileAggregationPlan(loadDefinitionsFile(definitions));
  await replayEvents({ dir: worldDir, target: { write: (line) => void lines.push(line) } });
  checkpoints = dailyCheckpoints(manifest.startTs, manifest.endTs);
  // the uninterrupted run
  const bus = new MemoryEventBus();
  await publishAll(bus, 'events');
  const ingestor = await StreamIngestor.start(
    ingestorOptions(bus, 'events', new MemoryAggregatorStateStore(), 'whole'),
  );
  await ingestor.runUntilIdle(500);
  await ingestor.close();
  await bus.close();
  users = [...ingestor.aggregator.users()].sort();
  reference = snapshot(ingestor.aggregator);
  expect(ingestor.stats.accepted).toBeGreaterThan(lines.length * 0.8);
}, 120_000);

afterAll(() => {
  lines = [];
  rmSync(root, { recursive: true, force: true });
});

/** Kills a consumer mid-stream, restarts it from the durable state, and compares with the uninterrupted run. */
async function consumerCrash(bus: EventBus, state: () => Promise<AggregatorStateStore>): Promise<void> {
  const topic = `crash-${randomUUID().slice(0, 8)}`;
  try {
    await publishAll(bus, topic);
    const first = await StreamIngestor.start(ingestorOptions(bus, topic, await state(), 'first'));
    await crashMidStream(first, 0.45);
    const second = await StreamIngestor.start(ingestorOptions(bus, topic, await state(), 'second'));
    await second.runUntilIdle(4000);
    await second.close();
    // the dying consumer's unacknowledged batch came back; dedup kept what was saved from counting twice
    expect(first.stats.received + second.stats.received).toBeGreaterThan(lines.length);
    expect(snapshot(second.aggregator)).toEqual(reference);
  } finally {
    await bus.deleteTopic(topic).catch(() => {});
  }
}

describe.skipIf(!redis.available)(`consumer crash on Redis Streams${redis.skipNote}`, () => {
  it('a consumer killed mid-stream and restarted ends with the aggregates of an uninterrupted run', async () => {
    const prefix = `adnova-test-${randomUUID().slice(0, 8)}:`;
    const bus = await RedisStreamsEventBus.connect({ url: redis.url, keyPrefix: prefix });
    const store = await RedisAggregatorStateStore.connect({ url: redis.url, prefix: `${prefix}state` });
    try {
      // each restart reads the state back from Redis: a fresh connection sees what the dead consumer saved
      await consumerCrash(bus, async () => store);
    } finally {
      await store.clear();
      await store.close();
      await bus.close();
    }
  }, 120_000);
});

describe.skipIf(!nats.available)(`consumer crash on NATS JetStream${nats.skipNote}`, () => {
  it('a consumer killed mid-stream and restarted ends with the aggregates of an uninterrupted run', async () => {
    const bus = await NatsEventBus.connect({ url: nats.url, streamPrefix: `test-${randomUUID().slice(0, 8)}` });
    const path = join(root, `nats-${randomUUID().slice(0, 8)}.state`);
    try {
      // a new FileAggregatorStateStore per start: the restart reads the file the dead consumer left
      await consumerCrash(bus, async () => new FileAggregatorStateStore(path));
    } finally {
      await bus.close();
    }
  }, 120_000);
});

/** Kills the broker while a consumer is mid-stream, restarts it, and lets the same consumer carry on. */
async function brokerRestart(kind: 'nats' | 'redis'): Promise<void> {
  const broker = await startOwnBroker(kind);
  const topic = 'events';
  let bus: EventBus | undefined;
  let store: AggregatorStateStore | undefined;
  try {
    bus =
      kind === 'nats'
        ? await NatsEventBus.connect({ url: broker.url, streamPrefix: 'crash' })
        : await RedisStreamsEventBus.connect({ url: broker.url, keyPrefix: 'crash:' });
    store =
      kind === 'nats'
        ? new FileAggregatorStateStore(join(root, `broker-${kind}.state`))
        : await RedisAggregatorStateStore.connect({ url: broker.url, prefix: 'crash:state' });
    await publishAll(bus, topic);
    const ingestor = await StreamIngestor.start(ingestorOptions(bus, topic, store, 'survivor'));
    let restarted = false;
    const chaos = (async () => {
      while (ingestor.stats.received < lines.length * 0.4) await new Promise((r) => setTimeout(r, 20));
      await broker.kill();
      await new Promise((r) => setTimeout(r, 1500));
      await broker.restart();
      restarted = true;
    })();
    await ingestor.runUntilIdle(5000, 60_000);
    await chaos;
    await ingestor.close();
    expect(restarted).toBe(true);
    expect(snapshot(ingestor.aggregator)).toEqual(reference);
  } finally {
    await store?.close().catch(() => {});
    await bus?.close().catch(() => {});
    await broker.stop();
  }
}

describe.skipIf(!ownNats.available)(`broker restart: NATS JetStream${ownNats.skipNote}`, () => {
  it('a NATS server killed and restarted mid-stream loses nothing and counts nothing twice', async () => {
    await brokerRestart('nats');
  }, 120_000);
});

describe.skipIf(!ownRedis.available)(`broker restart: Redis${ownRedis.skipNote}`, () => {
  it('a Redis server (append-only file) killed and restarted mid-stream loses nothing and counts nothing twice', async () => {
    await brokerRestart('redis');
  }, 120_000);
});
