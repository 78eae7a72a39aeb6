/**
 * Streaming ingestion benchmarks (issue #5):
 *   npx tsx bench/stream.ts [--quick] [--events N] [--users N] [--ingest-events N] [--e2e-events N] [--seconds S]
 *                           [--runs N] [--skip-memory] [--skip-redis] [--skip-nats] [--skip-latency]
 * Defaults: 300,000 events over 30,000 users for 1a, their first 60,000 for 1b and 40,000 for 2 (3 runs each,
 * about 2-3 minutes); --quick: 50,000 / 5,000 users / 50,000 / 20,000, one run (about 30 s). --skip-memory skips
 * sections 1a and 1b, --skip-latency the paced latency of section 2 (e.g. to rerun or profile the drains alone).
 *
 * One stream view of 80 features: 20 aggregations (counts per event type, sum/mean/min/max/last of purchase amounts,
 * time_since_last, approx_distinct of category and item) x windows 1h, 24h, 7d, 28d. Events are seeded, realistic
 * wire envelopes satisfying contract v1 for N users (skewed activity), spread over 7 days of event time and
 * out of order by up to 3 minutes.
 *
 * 1. In-memory processing (target >= 100K events/s per core):
 *    a. WindowAggregator.ingest of pre-validated events (baselines beside it: JSON.parse and contract validation
 *       alone, and ingest plus the per-flush evaluation of the changed users' 80 features), then into a
 *       MemoryOnlineStore; last, the same from the wire: JSON.parse and validation of each envelope, and the aged
 *       rewrites (users whose windows lost a tile, written again as of the stream time) that the ingestor adds, with
 *       a baseline of that line without the aged rewrites;
 *    b. the whole StreamIngestor path from a MemoryEventBus topic (JSON parse, contract validation, metrics,
 *       aggregation, flush, state save, ack) into: no store (counting sink, the ceiling), the online store only
 *       (FeatureStore.writeOnline on a MemoryOnlineStore), and the real FeatureStore.ingest (Parquet append to
 *       the offline store, then the MemoryOnlineStore). Events are published first; only the drain is timed.
 * 2. End to end through Redis Streams and NATS JetStream into the RedisOnlineStore (online-only sink):
 *    drain throughput of pre-published events (target >= 30K events/s per core; after one uncounted warm-up run per
 *    bus), and event-to-visible latency at a paced 10K events/s from a separate publisher process (target p99 <= 1 s):
 *    per event, the time its user's vector write to Redis resolved minus its event_ts (= publish time). The
 *    ingestor's freshness histogram is printed too.
 *
 * Per core: the ingestor is one Node thread; "per CPU-s" divides events by this process's user+sys CPU time over
 * the timed phase (DuckDB threads included; Redis/NATS server CPU is not). The machine is shared: figures are noisy.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsRegistry, Rng } from '../src/core/index.js';
import {
  defineEntity,
  defineFeatures,
  defineFeatureView,
  type FeatureDefinitions,
  FeatureStore,
  MemoryOnlineStore,
  type OfflineRowBatch,
  RedisOnlineStore,
  storageKeyOf,
  ttlMsOf,
} from '../src/features/index.js';
import {
  type AggregationPlan,
  type BusConsumer,
  type BusEventInput,
  type BusMessage,
  type ConsumerOptions,
  compileAggregationPlan,
  type EventBus,
  type FeatureSink,
  MemoryAggregatorStateStore,
  MemoryDeadLetterSink,
  MemoryEventBus,
  NatsEventBus,
  RedisStreamsEventBus,
  type StreamEvent,
  StreamIngestor,
  validateEnvelope,
  WindowAggregator,
} from '../src/stream/index.js';
import { machineLine, median, quantile, reachable } from './lib.js';

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(`--${name}`);
const num = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const str = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? String(args[i + 1]) : fallback;
};
const quick = flag('quick');
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';
const TOPIC = 'events';
const PHASE_CAP_MS = 120_000;
const DAY = 86_400_000;

// --- definitions: 20 aggregations x 4 windows ------------------------------------------------------------------
type Agg = {
  op: 'count' | 'sum' | 'mean' | 'min' | 'max' | 'last' | 'time_since_last' | 'approx_distinct';
  column?: string;
  where?: Record<string, string[]>;
};
const PURCHASE = { event_type: ['purchase'] };
const AGGREGATIONS: ReadonlyArray<readonly [string, Agg]> = [
  ['events', { op: 'count' }],
  ['app_opens', { op: 'count', where: { event_type: ['app_open'] } }],
  ['sessions', { op: 'count', where: { event_type: ['session_start'] } }],
  ['product_views', { op: 'count', where: { event_type: ['product_view'] } }],
  ['add_to_cart', { op: 'count', where: { event_type: ['add_to_cart'] } }],
  ['purchases', { op: 'count', where: PURCHASE }],
  ['message_clicks', { op: 'count', where: { event_type: ['email_click', 'push_click', 'in_app_click'] } }],
  ['toy_book_views', { op: 'count', where: { event_type: ['product_view'], category: ['books', 'toys'] } }],
  ['spend', { op: 'sum', column: 'amount', where: PURCHASE }],
  ['avg_order', { op: 'mean', column: 'amount', where: PURCHASE }],
  ['max_order', { op: 'max', column: 'amount', where: PURCHASE }],
  ['min_order', { op: 'min', column: 'amount', where: PURCHASE }],
  ['last_order', { op: 'last', column: 'amount', where: PURCHASE }],
  ['returned', { op: 'sum', column: 'amount', where: { event_type: ['return'] } }],
  ['cart_units', { op: 'sum', column: 'quantity', where: { event_type: ['add_to_cart'] } }],
  ['since_last_event', { op: 'time_since_last' }],
  ['since_last_view', { op: 'time_since_last', where: { event_type: ['product_view'] } }],
  ['since_last_purchase', { op: 'time_since_last', where: PURCHASE }],
  ['view_categories', { op: 'approx_distinct', column: 'category', where: { event_type: ['product_view'] } }],
  ['items_seen', { op: 'approx_distinct', column: 'item_id' }],
];
const WINDOWS = ['1h', '24h', '7d', '28d'] as const;

function benchDefinitions(): FeatureDefinitions {
  return defineFeatures({
    entities: [defineEntity({ name: 'user' })],
    views: [
      defineFeatureView({
        name: 'activity',
        entity: 'user',
        ttlSeconds: 28 * 86_400,
        source: { kind: 'stream', topic: TOPIC },
        features: AGGREGATIONS.flatMap(([name, a]) =>
          WINDOWS.map((window) => ({ name: `${name}_${window}`, aggregation: { ...a, window } })),
        ),
      }),
    ],
  });
}

// --- events ----------------------------------------------------------------------------------------------------
const TYPES = [
  ['session_start', 10],
  ['app_open', 10],
  ['page_view', 18],
  ['product_view', 30],
  ['add_to_cart', 8],
  ['purchase', 4],
  ['return', 0.5],
  ['email_open', 6],
  ['email_click', 3],
  ['push_open', 4],
  ['push_click', 2],
  ['in_app_click', 4],
  ['unsubscribe', 0.5],
] as const;
const TYPE_CDF = (() => {
  const total = TYPES.reduce((s, [, w]) => s + w, 0);
  let acc = 0;
  return TYPES.map(([, w]) => (acc += w / total));
})();
const CATEGORIES = ['books', 'toys', 'games', 'home', 'garden', 'beauty', 'sports', 'music', 'food', 'pets'];
const PLATFORMS = ['ios', 'android', 'web'] as const;

interface Envelope {
  arrival_ts: number;
  message: Record<string, string | number>;
}

/** One contract-v1 wire envelope; `seq` makes the event id unique within a run. */
function makeEnvelope(rng: Rng, users: number, seq: number, eventTs: number, arrivalTs: number, tag: string): Envelope {
  const u = rng.next();
  const userId = `u${Math.floor(u * u * users)}`; // skewed: low ids are the heavy users
  const r = rng.next();
  let t = 0;
  while (t < TYPE_CDF.length - 1 && r >= (TYPE_CDF[t] as number)) t++;
  const type = (TYPES[t] as (typeof TYPES)[number])[0];
  const m: Record<string, string | number> = {
    event_id: `${tag}${seq}`,
    user_id: userId,
    event_type: type,
    event_ts: eventTs,
    platform: PLATFORMS[rng.int(3)] as string,
    session_id: rng.int(1_000_000),
  };
  const category = CATEGORIES[rng.int(CATEGORIES.length)] as string;
  switch (type) {
    case 'page_view':
      m['category'] = category;
      break;
    case 'product_view':
      m['category'] = category;
      m['item_id'] = `i${rng.int(5000)}`;
      break;
    case 'add_to_cart':
      m['category'] = category;
      m['item_id'] = `i${rng.int(5000)}`;
      m['quantity'] = 1 + rng.int(3);
      break;
    case 'purchase':
    case 'return':
      m['amount'] = Math.round((5 + rng.next() * 200) * 100) / 100;
      m['order_id'] = `o${seq}`;
      break;
    case 'email_open':
    case 'email_click':
    case 'push_open':
    case 'push_click':
    case 'in_app_click': {
      const channel = type.startsWith('email') ? 'email' : type.startsWith('push') ? 'push' : 'in_app';
      m['channel'] = channel;
      m['campaign_id'] = `c${rng.int(50)}`;
      m['send_id'] = `s${rng.int(1_000_000)}`;
      break;
    }
    case 'unsubscribe':
      m['channel'] = 'email';
      break;
  }
  return { arrival_ts: arrivalTs, message: m };
}

/** `n` envelopes over 7 days of event time ending now, in arrival order, event times up to 3 minutes out of order. */
function historicEnvelopes(n: number, users: number, seed: number): Envelope[] {
  const rng = new Rng(seed);
  const end = Date.now() - 60_000;
  const span = 7 * DAY;
  const out = new Array<Envelope>(n);
  for (let i = 0; i < n; i++) {
    const arrival = end - span + Math.floor((i / n) * span);
    const eventTs = arrival - 500 - rng.int(rng.next() < 0.1 ? 180_000 : 5_000);
    out[i] = makeEnvelope(rng, users, i, eventTs, arrival, 'e');
  }
  return out;
}

// --- helpers ---------------------------------------------------------------------------------------------------
const fmtK = (x: number) => `${(x / 1000).toFixed(1)}K`;
const ratio = (x: number, target: number) => `${(x / target).toFixed(2)}x target`;

interface Rate {
  /** events per wall-clock second */
  wall: number;
  /** events per second of this process's CPU time (user + sys, all threads) */
  cpu: number;
}

async function timed(events: number, fn: () => Promise<void> | void): Promise<Rate> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wallS = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { wall: events / wallS, cpu: events / ((c.user + c.system) / 1e6) };
}

function medianRate(rs: readonly Rate[]): Rate {
  return { wall: median(rs.map((r) => r.wall)), cpu: median(rs.map((r) => r.cpu)) };
}

function rateLine(label: string, r: Rate, target?: number): string {
  const t = target === undefined ? '' : `  (${ratio(r.wall, target)})`;
  return `  ${label.padEnd(62)} ${fmtK(r.wall).padStart(8)} events/s  ${fmtK(r.cpu).padStart(8)} per CPU-s${t}`;
}

async function publishAll(bus: EventBus, topic: string, envelopes: readonly Envelope[]): Promise<void> {
  const batch = 1000;
  for (let i = 0; i < envelopes.length; i += batch) {
    const chunk: BusEventInput[] = envelopes
      .slice(i, i + batch)
      .map((e) => ({ key: e.message['user_id'] as string, payload: e }));
    await bus.publish(topic, chunk);
  }
}

interface IngestorSetup {
  bus: EventBus;
  topic: string;
  plan: AggregationPlan;
  features: FeatureSink;
  metrics?: MetricsRegistry;
  flushIntervalMs?: number;
}

async function startIngestor(s: IngestorSetup): Promise<StreamIngestor> {
  return StreamIngestor.start({
    bus: s.bus,
    topic: s.topic,
    group: 'bench',
    plan: s.plan,
    features: s.features,
    state: new MemoryAggregatorStateStore(),
    deadLetters: new MemoryDeadLetterSink(),
    lateEvents: new MemoryDeadLetterSink(),
    metrics: s.metrics ?? new MetricsRegistry(),
    pullMax: 1000,
    ...(s.flushIntervalMs !== undefined ? { flushIntervalMs: s.flushIntervalMs } : {}),
  });
}

/** Drains `n` pre-published messages and checkpoints; throws past the phase cap or on rejected events. */
async function drain(ingestor: StreamIngestor, n: number, waitMs: number): Promise<void> {
  const start = performance.now();
  while (ingestor.stats.received < n) {
    if (performance.now() - start > PHASE_CAP_MS) throw new Error(`drain over ${PHASE_CAP_MS} ms`);
    await ingestor.pollOnce(waitMs);
  }
  // the checkpoint too (state saved, every message acknowledged): the work a drain is not done without
  await ingestor.checkpoint();
  const s = ingestor.stats;
  if (s.invalid + s.late > 0) throw new Error(`bench events rejected: ${JSON.stringify(s)}`);
}

// --- 1a. aggregator alone --------------------------------------------------------------------------------------
async function benchAggregator(plan: AggregationPlan, envelopes: readonly Envelope[], runs: number): Promise<void> {
  const n = envelopes.length;
  const strings = envelopes.map((e) => JSON.stringify(e));
  const events: StreamEvent[] = envelopes.map((e) => {
    const r = validateEnvelope(e);
    if (!r.ok) throw new Error(`bench generator made an invalid event: ${r.reason}`);
    return r.event;
  });
  let sink = 0;
  const width = plan.features.length;
  const view = plan.views[0]!;
  const viewRef = { storageKey: view.storageKey, width, ttlMs: ttlMsOf(view.def) };
  // a flush's write: the users' vectors, created now
  const writeVectors = (store: MemoryOnlineStore, ids: string[], eventTs: Float64Array, values: Float32Array) =>
    store.write(viewRef, { entityIds: ids, eventTs, createdTs: new Float64Array(ids.length).fill(Date.now()), values });
  // what the ingestor does per flush minus the bus, metrics and checkpoints: parse and validate each wire envelope,
  // ingest, then write the changed users as of their newest event and (`aged`) the aged users (a tile left a
  // window) as of the stream time
  let agedRewrites = 0;
  const fromWire = (aged: boolean) => async (m: number) => {
    const agg = new WindowAggregator(plan);
    const store = new MemoryOnlineStore();
    const chunk: StreamEvent[] = [];
    const ids: string[] = [];
    for (let start = 0; start < m; start += 5000) {
      const end = Math.min(m, start + 5000);
      // in chunks of 32 with their users prefetched, as StreamIngestor.process does
      for (let c = start; c < end; c += 32) {
        const stop = Math.min(end, c + 32);
        chunk.length = 0;
        ids.length = 0;
        for (let i = c; i < stop; i++) {
          const r = validateEnvelope(JSON.parse(strings[i] as string));
          if (r.ok) {
            chunk.push(r.event);
            ids.push(r.event.userId);
          }
        }
        agg.prefetchUsers(ids);
        for (const e of chunk) agg.ingest(e);
      }
      const dirty = agg.takeDirty();
      const users = aged ? dirty.concat(agg.takeDue(agg.maxEventTs)) : dirty;
      const { eventTs, values } = agg.evaluateForWrite(users, dirty.length, agg.maxEventTs, aged);
      agedRewrites += users.length - dirty.length;
      await writeVectors(store, users, eventTs, values[0]!);
      if (end % 50_000 < 5000) agg.evict(); // the ingestor evicts on a timer, not per flush
    }
    sink += agg.userCount;
    await store.close();
  };
  const variants: Array<readonly [string, (m: number) => void | Promise<void>, number?]> = [
    [
      'baseline: JSON.parse of the wire envelopes',
      (m) => {
        for (let i = 0; i < m; i++) sink += (JSON.parse(strings[i] as string) as Envelope).arrival_ts;
      },
    ],
    [
      'baseline: validateEnvelope (contract v1), parsed input',
      (m) => {
        for (let i = 0; i < m; i++) sink += validateEnvelope(envelopes[i]).ok ? 1 : 0;
      },
    ],
    [
      'WindowAggregator.ingest, pre-validated events',
      (m) => {
        const agg = new WindowAggregator(plan);
        for (let i = 0; i < m; i++) agg.ingest(events[i] as StreamEvent);
        sink += agg.userCount;
      },
      100_000,
    ],
    [
      `ingest + evaluate changed users' ${width} features per 5,000`,
      (m) => {
        const agg = new WindowAggregator(plan);
        for (let start = 0; start < m; start += 5000) {
          const end = Math.min(m, start + 5000);
          for (let i = start; i < end; i++) agg.ingest(events[i] as StreamEvent);
          const dirty = agg.takeDirty();
          // what a flush does: each changed user's vector as of just after its newest event
          const { values } = agg.evaluateForWrite(dirty, dirty.length, Number.NaN, false);
          if (end % 50_000 < 5000) agg.evict(); // the ingestor evicts on a timer, not per flush
          sink += values[0]![0] ?? 0;
        }
      },
    ],
    [
      'processing into the in-memory store: + MemoryOnlineStore.write',
      async (m) => {
        const agg = new WindowAggregator(plan);
        const store = new MemoryOnlineStore();
        for (let start = 0; start < m; start += 5000) {
          const end = Math.min(m, start + 5000);
          for (let i = start; i < end; i++) agg.ingest(events[i] as StreamEvent);
          const dirty = agg.takeDirty();
          const { eventTs, values } = agg.evaluateForWrite(dirty, dirty.length, Number.NaN, false);
          await writeVectors(store, dirty, eventTs, values[0]!);
          if (end % 50_000 < 5000) agg.evict(); // the ingestor evicts on a timer, not per flush
        }
        sink += agg.userCount;
        await store.close();
      },
      100_000,
    ],
    ['baseline: the line below without aged rewrites', fromWire(false)],
    ['from the wire: + JSON.parse, validateEnvelope, aged rewrites', fromWire(true), 100_000],
  ];
  console.log(
    `\n1a. In-memory aggregation: ${n.toLocaleString('en-US')} events, ${width} features (${AGGREGATIONS.length} aggregations x ${WINDOWS.join('/')}), one thread, median of ${runs}`,
  );
  for (const [label, fn, target] of variants) {
    await fn(Math.min(n, 20_000)); // warm-up
    const rs: Rate[] = [];
    for (let r = 0; r < runs; r++) {
      agedRewrites = 0;
      rs.push(await timed(n, () => fn(n)));
    }
    console.log(rateLine(label, medianRate(rs), target));
  }
  console.log(
    `  (the last line writes ${(agedRewrites / n).toFixed(2)} aged vectors per event besides the changed users': event time runs ~${Math.round(((envelopes[n - 1]!.message['event_ts'] as number) - (envelopes[0]!.message['event_ts'] as number)) / 3_600_000)} h in ${n.toLocaleString('en-US')} events)`,
  );
  if (sink === 42) console.log('');
}

// --- 1b. StreamIngestor from a memory bus ----------------------------------------------------------------------
async function benchIngestorMemory(
  defs: FeatureDefinitions,
  plan: AggregationPlan,
  envelopes: readonly Envelope[],
  runs: number,
): Promise<void> {
  const n = envelopes.length;
  const root = mkdtempSync(join(process.env['BENCH_DIR'] ?? tmpdir(), 'adnova-stream-bench-'));
  const openStore = async (name: string) => {
    const store = await FeatureStore.open({ dir: join(root, name), online: new MemoryOnlineStore() });
    store.apply(defs);
    return store;
  };
  const variants: Array<{
    label: string;
    open: (run: string) => Promise<{ sink: FeatureSink; close: () => Promise<void> }>;
  }> = [
    {
      label: 'baseline: no store (a sink that drops the vectors)',
      open: async () => ({ sink: { ingest: async () => undefined }, close: async () => {} }),
    },
    {
      label: 'online only: FeatureStore.writeOnline, MemoryOnlineStore',
      open: async (run) => {
        const store = await openStore(run);
        return { sink: { ingest: (view, batch) => store.writeOnline(view, batch) }, close: () => store.close() };
      },
    },
    {
      label: 'FeatureStore.ingest: Parquet append + MemoryOnlineStore',
      open: async (run) => {
        const store = await openStore(run);
        return { sink: store, close: () => store.close() };
      },
    },
  ];
  console.log(
    `\n1b. StreamIngestor from a MemoryEventBus topic (parse, validate, metrics, aggregate, flush every 5,000 messages / 1 s, memory state save, ack), ${n.toLocaleString('en-US')} pre-published events, median of ${runs}`,
  );
  const publishRates: Rate[] = [];
  try {
    for (const [v, variant] of variants.entries()) {
      const rs: Rate[] = [];
      let flushes = 0;
      for (let r = 0; r < runs; r++) {
        const bus = new MemoryEventBus();
        const { sink, close } = await variant.open(`v${v}r${r}`);
        try {
          publishRates.push(await timed(n, () => publishAll(bus, TOPIC, envelopes)));
          const ingestor = await startIngestor({ bus, topic: TOPIC, plan, features: sink });
          rs.push(await timed(n, () => drain(ingestor, n, 0)));
          flushes = ingestor.stats.flushes;
          await ingestor.close();
        } finally {
          await close();
          await bus.close();
        }
      }
      console.log(rateLine(variant.label, medianRate(rs), v === 0 ? undefined : 100_000));
      if (v === 0) console.log(`  (${flushes} flushes per run)`);
    }
    console.log(rateLine('(publish into the MemoryEventBus, not in the figures above)', medianRate(publishRates)));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

// --- 2. end to end through Redis Streams / NATS JetStream into the RedisOnlineStore -----------------------------
interface Backend {
  readonly name: 'redis' | 'nats';
  readonly label: string;
  readonly open: (ns: string) => Promise<EventBus>;
}

const BACKENDS: Readonly<Record<Backend['name'], Backend>> = {
  redis: {
    name: 'redis',
    label: 'Redis Streams',
    open: (ns) => RedisStreamsEventBus.connect({ url: REDIS_URL, keyPrefix: `bench-stream-${ns}:` }),
  },
  nats: {
    name: 'nats',
    label: 'NATS JetStream',
    open: (ns) => NatsEventBus.connect({ url: NATS_URL, streamPrefix: `benchstream-${ns}` }),
  },
};

/** The online half of FeatureStore.ingest, on Redis: no offline append, no registry lookup. */
function redisOnlineSink(defs: FeatureDefinitions, online: RedisOnlineStore): FeatureSink {
  const view = defs.views[0];
  if (view === undefined) throw new Error('no view');
  const ref = { storageKey: storageKeyOf(view), width: view.features.length, ttlMs: ttlMsOf(view) };
  return { ingest: (_view, batch) => online.write(ref, batch) };
}

/** Delegates to a bus, recording each pulled event's event_ts per user until a flush makes it visible. */
class ReceiveTrackingBus implements EventBus {
  readonly kind: EventBus['kind'];
  readonly pending = new Map<string, number[]>();
  constructor(readonly inner: EventBus) {
    this.kind = inner.kind;
  }
  publish(topic: string, events: readonly BusEventInput[]) {
    return this.inner.publish(topic, events);
  }
  async consumer(topic: string, options: ConsumerOptions): Promise<BusConsumer> {
    const c = await this.inner.consumer(topic, options);
    const pending = this.pending;
    return {
      topic: c.topic,
      group: c.group,
      name: c.name,
      async pull(o) {
        const ms: BusMessage[] = await c.pull(o);
        for (const m of ms) {
          const msg = (m.payload as Envelope).message;
          const id = msg['user_id'] as string;
          let list = pending.get(id);
          if (list === undefined) pending.set(id, (list = []));
          list.push(msg['event_ts'] as number);
        }
        return ms;
      },
      ack: (ms) => c.ack(ms),
      close: () => c.close(),
    };
  }
  deleteTopic(topic: string) {
    return this.inner.deleteTopic(topic);
  }
  close() {
    return this.inner.close();
  }
}

/** After the inner write resolves, every received event of each written user is visible: latency = now - event_ts. */
class VisibleLatencySink implements FeatureSink {
  readonly eventTs: number[] = [];
  readonly latenciesMs: number[] = [];
  constructor(
    readonly inner: FeatureSink,
    readonly pending: Map<string, number[]>,
  ) {}
  async ingest(viewName: string, batch: OfflineRowBatch): Promise<unknown> {
    const r = await this.inner.ingest(viewName, batch);
    const visible = Date.now();
    for (const id of batch.entityIds) {
      const list = this.pending.get(id);
      if (list === undefined) continue;
      for (const ts of list) {
        this.eventTs.push(ts);
        this.latenciesMs.push(visible - ts);
      }
      this.pending.delete(id);
    }
    return r;
  }
}

function histogramQuantiles(
  snap: Awaited<ReturnType<MetricsRegistry['snapshot']>>,
  name: string,
  qs: readonly number[],
): string[] {
  const m = snap.find((x) => x.name === name);
  const buckets = (m?.values ?? [])
    .map((v) => ({ le: (v.labels as { le?: number | string }).le, value: v.value }))
    .filter((b): b is { le: number | string; value: number } => b.le !== undefined)
    .map((b) => ({ le: b.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(b.le), value: b.value }))
    .sort((a, b) => a.le - b.le);
  const total = buckets.at(-1)?.value ?? 0;
  return qs.map((q) => {
    if (total === 0) return 'n/a';
    const b = buckets.find((x) => x.value >= q * total);
    return b === undefined ? 'n/a' : `<= ${b.le} s`;
  });
}

async function benchEndToEnd(
  backend: Backend,
  defs: FeatureDefinitions,
  plan: AggregationPlan,
  envelopes: readonly Envelope[],
  runs: number,
  users: number,
  seconds: number,
  rate: number,
): Promise<void> {
  const n = envelopes.length;
  console.log(
    `\n2. ${backend.label} -> StreamIngestor -> RedisOnlineStore (online-only sink; memory state store), loopback`,
  );
  const publishRates: Rate[] = [];
  const drainRates: Rate[] = [];
  // run -1 warms up (JIT of the bus client and the ingestor's paths, connections): a long-running ingestor is warm,
  // and the first drain of a process ran 15-25% slower than the rest here; it is not counted
  for (let r = -1; r < runs; r++) {
    const ns = randomUUID().slice(0, 8);
    const bus = await backend.open(ns);
    const online = new RedisOnlineStore({ url: REDIS_URL, keyPrefix: `bench-stream-${ns}:online:` });
    try {
      const published = await timed(n, () => publishAll(bus, TOPIC, envelopes));
      const ingestor = await startIngestor({ bus, topic: TOPIC, plan, features: redisOnlineSink(defs, online) });
      const drained = await timed(n, () => drain(ingestor, n, 200));
      if (r >= 0) {
        publishRates.push(published);
        drainRates.push(drained);
      } else
        console.log(`  warm-up run (not counted): publish ${fmtK(published.wall)}/s, drain ${fmtK(drained.wall)}/s`);
      await ingestor.close();
    } finally {
      await bus.deleteTopic(TOPIC).catch(() => undefined);
      await online.clear().catch(() => undefined);
      await online.close();
      await bus.close();
    }
  }
  console.log(
    rateLine(
      `publish ${n.toLocaleString('en-US')} events, batches of 1,000 (median of ${runs})`,
      medianRate(publishRates),
    ),
  );
  console.log(rateLine(`drain: pull, ingest, flush to Redis, ack (median of ${runs})`, medianRate(drainRates), 30_000));
  if (drainRates.length > 1) console.log(`  drain runs: ${drainRates.map((r) => fmtK(r.wall)).join(', ')} events/s`);
  if (flag('skip-latency')) return;

  // paced latency: a separate publisher process, so its work does not share the ingestor's thread
  const ns = randomUUID().slice(0, 8);
  const inner = await backend.open(ns);
  const bus = new ReceiveTrackingBus(inner);
  const online = new RedisOnlineStore({ url: REDIS_URL, keyPrefix: `bench-stream-${ns}:online:` });
  const metrics = new MetricsRegistry();
  const warmupMs = 1000;
  const sink = new VisibleLatencySink(redisOnlineSink(defs, online), bus.pending);
  const flushIntervalMs = 200;
  try {
    const ingestor = await startIngestor({ bus, topic: TOPIC, plan, features: sink, metrics, flushIntervalMs });
    const child = fork(
      process.argv[1] as string,
      [
        '--publisher',
        '--backend',
        backend.name,
        '--ns',
        ns,
        '--rate',
        String(rate),
        '--seconds',
        String(seconds),
        '--users',
        String(users),
      ],
      { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    );
    let sent = -1;
    let finished = false;
    let failed: Error | undefined;
    child.on('message', (m) => {
      sent = (m as { sent: number }).sent;
    });
    child.on('exit', (code) => {
      finished = true;
      if (code !== 0 || sent < 0) failed = new Error(`publisher exited with code ${code}`);
    });
    const start = performance.now();
    while (!finished || ingestor.stats.received < sent) {
      if (failed !== undefined) throw failed;
      if (performance.now() - start > seconds * 1000 + PHASE_CAP_MS) throw new Error('latency phase over its cap');
      await ingestor.pollOnce(50);
    }
    if (failed !== undefined) throw failed;
    await ingestor.close();
    // the first second after the first event is warm-up (JIT, connections)
    const fromTs = sink.eventTs.reduce((a, b) => Math.min(a, b), Number.POSITIVE_INFINITY) + warmupMs;
    const lat = Float64Array.from(sink.latenciesMs.filter((_, i) => (sink.eventTs[i] as number) >= fromTs)).sort();
    const [h50, h99] = histogramQuantiles(await metrics.snapshot(), 'adnova_stream_freshness_lag_seconds', [0.5, 0.99]);
    console.log(
      `  paced ${fmtK(rate)}/s for ${seconds} s from another process: ${sent.toLocaleString('en-US')} sent (${fmtK(sent / seconds)}/s), ${ingestor.stats.received.toLocaleString('en-US')} received, flushIntervalMs ${flushIntervalMs}`,
    );
    console.log(
      `  event-to-visible (Redis write resolved - event_ts), ${lat.length.toLocaleString('en-US')} events after ${warmupMs} ms warm-up: p50 ${quantile(lat, 0.5).toFixed(0)} ms  p99 ${quantile(lat, 0.99).toFixed(0)} ms  max ${(lat.at(-1) ?? Number.NaN).toFixed(0)} ms  (p99 ${ratio(quantile(lat, 0.99), 1000).replace('target', 'of the 1 s target')})`,
    );
    console.log(
      `  adnova_stream_freshness_lag_seconds histogram (receive -> visible + arrival - event; excludes bus transit): p50 ${h50}, p99 ${h99}`,
    );
  } finally {
    await inner.deleteTopic(TOPIC).catch(() => undefined);
    await online.clear().catch(() => undefined);
    await online.close();
    await bus.close();
  }
}

/** Child process: publishes fresh envelopes (event_ts = arrival_ts = now) at a steady rate, then reports the count. */
async function runPublisher(): Promise<void> {
  const backend = BACKENDS[str('backend', 'redis') as Backend['name']];
  const rate = num('rate', 10_000);
  const seconds = num('seconds', 5);
  const users = num('users', 50_000);
  const bus = await backend.open(str('ns', 'x'));
  const rng = new Rng(7);
  let sent = 0;
  try {
    const start = Date.now();
    const endAt = start + seconds * 1000;
    for (;;) {
      const now = Date.now();
      if (now >= endAt) break;
      const due = Math.floor(((now - start) * rate) / 1000) - sent;
      if (due <= 0) {
        await new Promise((resolve) => setTimeout(resolve, 2));
        continue;
      }
      const k = Math.min(due, 1000);
      const batch: BusEventInput[] = new Array(k);
      for (let i = 0; i < k; i++) {
        const ts = Date.now();
        const e = makeEnvelope(rng, users, sent + i, ts, ts, 'p');
        batch[i] = { key: e.message['user_id'] as string, payload: e };
      }
      await bus.publish(TOPIC, batch);
      sent += k;
    }
  } finally {
    await bus.close();
  }
  process.send?.({ sent });
}

// --- main ------------------------------------------------------------------------------------------------------
if (flag('publisher')) {
  await runPublisher();
} else {
  const events = num('events', quick ? 50_000 : 300_000);
  const users = num('users', quick ? 5_000 : 30_000);
  const ingestEvents = Math.min(events, num('ingest-events', quick ? 50_000 : 60_000));
  const e2eEvents = Math.min(events, num('e2e-events', quick ? 20_000 : 40_000));
  const seconds = num('seconds', quick ? 3 : 5);
  const runs = num('runs', quick ? 1 : 3);
  console.log(machineLine());
  console.log(
    `events ${events.toLocaleString('en-US')} (1a; the first ${ingestEvents.toLocaleString('en-US')} in 1b, ${e2eEvents.toLocaleString('en-US')} in 2), users ${users.toLocaleString('en-US')}; per-core targets: 100K events/s in memory, 30K events/s end to end, p99 <= 1 s at 10K/s`,
  );
  console.log(
    'note: the ingestor runs on one Node thread; "per CPU-s" divides by this process CPU time (user+sys, all threads)',
  );
  const defs = benchDefinitions();
  const plan = compileAggregationPlan(defs);
  const envelopes = historicEnvelopes(events, users, 1);
  if (flag('skip-memory')) console.log('\n1. in-memory sections: skipped (--skip-memory)');
  else {
    await benchAggregator(plan, envelopes, 3);
    await benchIngestorMemory(defs, plan, envelopes.slice(0, ingestEvents), runs);
  }
  const e2e = envelopes.slice(0, e2eEvents);
  for (const backend of [BACKENDS.redis, BACKENDS.nats]) {
    if (flag(`skip-${backend.name}`)) {
      console.log(`\n2. ${backend.label}: skipped (--skip-${backend.name})`);
      continue;
    }
    const [url, port] = backend.name === 'redis' ? [REDIS_URL, 6379] : [NATS_URL, 4222];
    // the online store is Redis in both cases
    if (!(await reachable(url, port)) || !(await reachable(REDIS_URL, 6379))) {
      console.log(`\n2. ${backend.label}: skipped, not reachable at ${url} (or Redis at ${REDIS_URL})`);
      continue;
    }
    await benchEndToEnd(backend, defs, plan, e2e, runs, users, seconds, 10_000);
  }
}
