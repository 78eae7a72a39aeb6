/**
 * Event bus throughput and latency, per implementation, on loopback.
 *   npx tsx bench/stream-bus.ts [--events 50000] [--rate 10000] [--seconds 3] [--only memory,redis,nats]
 * Throughput: publish in batches of 1000 while one consumer pulls (1000) and acks; events/s from first publish
 * to last ack, median of 3 runs. Drain: the same events pre-published, then pulled 1000 at a time and acknowledged
 * all at once at the end, as StreamIngestor's checkpoint does (bench/stream.ts section 2 without the ingestor):
 * events/s from first pull to the ack confirmed, the ack's ms of it, and this process's CPU us per event (the
 * bus's own cost; broker CPU not included). Latency: publish 100-event batches every 10 ms (the rate) for a few
 * seconds while a consumer pulls; publish-call-to-receive time per event, p50/p99. Redis and NATS run only when
 * reachable (REDIS_URL, NATS_URL). Everything is bounded by event count and a time cap per phase.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { BusMessage, EventBus } from '../src/stream/event-bus.js';
import { MemoryEventBus } from '../src/stream/memory-event-bus.js';
import { NatsEventBus } from '../src/stream/nats-event-bus.js';
import { RedisStreamsEventBus } from '../src/stream/redis-streams-event-bus.js';
import { machineLine, median, quantile, reachable } from './lib.js';

const args = parseArgs(process.argv.slice(2));
const EVENTS = Number(args['events'] ?? 50_000);
const RATE = Number(args['rate'] ?? 10_000);
const SECONDS = Number(args['seconds'] ?? 3);
const ONLY = (args['only'] ?? 'memory,redis,nats').split(',');
const RUNS = 3;
const BATCH = 1000;
const PHASE_CAP_MS = 60_000;
const REDIS_URL = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const NATS_URL = process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222';

interface Impl {
  readonly name: string;
  readonly open: () => Promise<EventBus>;
}

const impls: Impl[] = [];
if (ONLY.includes('memory')) impls.push({ name: 'memory', open: async () => new MemoryEventBus() });
if (ONLY.includes('redis')) {
  if (await reachable(REDIS_URL, 6379))
    impls.push({
      name: 'redis',
      open: () => RedisStreamsEventBus.connect({ url: REDIS_URL, keyPrefix: `bench-${randomUUID()}:` }),
    });
  else console.log(`redis: skipped, not reachable at ${REDIS_URL}`);
}
if (ONLY.includes('nats')) {
  if (await reachable(NATS_URL, 4222))
    impls.push({
      name: 'nats',
      open: () => NatsEventBus.connect({ url: NATS_URL, streamPrefix: `bench-${randomUUID()}` }),
    });
  else console.log(`nats: skipped, not reachable at ${NATS_URL}`);
}

console.log(machineLine());
console.log(`events per throughput run: ${EVENTS}, runs: ${RUNS}; latency: ${RATE} events/s for ${SECONDS} s`);

interface Row {
  name: string;
  publishPerSec: number;
  endToEndPerSec: number;
  drainPerSec: number;
  drainAckMs: number;
  drainCpuUsPerEvent: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  received: number;
  sent: number;
}
const rows: Row[] = [];
for (const impl of impls) {
  const publishRates: number[] = [];
  const e2eRates: number[] = [];
  const drains: Drain[] = [];
  for (let run = 0; run < RUNS; run++) {
    publishRates.push(await publishOnly(impl));
    e2eRates.push(await throughput(impl));
    drains.push(await drain(impl));
  }
  const latency = await fixedRateLatency(impl);
  rows.push({
    name: impl.name,
    publishPerSec: median(publishRates),
    endToEndPerSec: median(e2eRates),
    drainPerSec: median(drains.map((d) => d.perSec)),
    drainAckMs: median(drains.map((d) => d.ackMs)),
    drainCpuUsPerEvent: median(drains.map((d) => d.cpuUsPerEvent)),
    ...latency,
  });
}

const base = rows.find((r) => r.name === 'memory');
console.log('');
console.log(
  '| bus | publish events/s | publish+consume+ack events/s | vs memory | drain events/s (ack ms, CPU us/event) | p50 ms | p99 ms | max ms | received/sent |',
);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const ratio = base ? (r.endToEndPerSec / base.endToEndPerSec).toFixed(2) : 'n/a';
  const drained = `${fmt(r.drainPerSec)} (${r.drainAckMs.toFixed(0)}, ${r.drainCpuUsPerEvent.toFixed(1)})`;
  console.log(
    `| ${r.name} | ${fmt(r.publishPerSec)} | ${fmt(r.endToEndPerSec)} | ${ratio}x | ${drained} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.maxMs.toFixed(1)} | ${r.received}/${r.sent} |`,
  );
}

function events(from: number, count: number): Array<{ key: string; payload: { n: number; t: number; user: string } }> {
  const out = new Array(count);
  for (let i = 0; i < count; i++) {
    const n = from + i;
    const user = `user-${n % 10_007}`;
    out[i] = { key: user, payload: { n, t: 0, user } };
  }
  return out;
}

async function publishOnly(impl: Impl): Promise<number> {
  const bus = await impl.open();
  const topic = `bench-${randomUUID().slice(0, 8)}`;
  try {
    const all = events(0, EVENTS);
    const start = performance.now();
    for (let i = 0; i < EVENTS; i += BATCH) {
      await bus.publish(topic, all.slice(i, i + BATCH));
      if (performance.now() - start > PHASE_CAP_MS)
        throw new Error(`${impl.name}: publish phase over ${PHASE_CAP_MS} ms`);
    }
    return EVENTS / ((performance.now() - start) / 1000);
  } finally {
    await bus.deleteTopic(topic);
    await bus.close();
  }
}

async function throughput(impl: Impl): Promise<number> {
  const bus = await impl.open();
  const topic = `bench-${randomUUID().slice(0, 8)}`;
  try {
    const consumer = await bus.consumer(topic, { group: 'bench', name: 'c1' });
    const all = events(0, EVENTS);
    const start = performance.now();
    const producing = (async () => {
      for (let i = 0; i < EVENTS; i += BATCH) await bus.publish(topic, all.slice(i, i + BATCH));
    })();
    let received = 0;
    while (received < EVENTS) {
      if (performance.now() - start > PHASE_CAP_MS)
        throw new Error(`${impl.name}: throughput phase over ${PHASE_CAP_MS} ms`);
      const batch = await consumer.pull({ maxMessages: BATCH, waitMs: 200 });
      if (batch.length > 0) await consumer.ack(batch);
      received += batch.length;
    }
    await producing;
    return EVENTS / ((performance.now() - start) / 1000);
  } finally {
    await bus.deleteTopic(topic);
    await bus.close();
  }
}

interface Drain {
  perSec: number;
  ackMs: number;
  cpuUsPerEvent: number;
}

async function drain(impl: Impl): Promise<Drain> {
  const bus = await impl.open();
  const topic = `bench-${randomUUID().slice(0, 8)}`;
  try {
    const consumer = await bus.consumer(topic, { group: 'bench', name: 'c1' });
    const all = events(0, EVENTS);
    for (let i = 0; i < EVENTS; i += BATCH) await bus.publish(topic, all.slice(i, i + BATCH));
    const taken: BusMessage[] = [];
    const cpu = process.cpuUsage();
    const start = performance.now();
    while (taken.length < EVENTS) {
      if (performance.now() - start > PHASE_CAP_MS)
        throw new Error(`${impl.name}: drain phase over ${PHASE_CAP_MS} ms`);
      for (const m of await consumer.pull({ maxMessages: BATCH, waitMs: 200 })) taken.push(m);
    }
    const acking = performance.now();
    await consumer.ack(taken);
    const end = performance.now();
    const used = process.cpuUsage(cpu);
    return {
      perSec: EVENTS / ((end - start) / 1000),
      ackMs: end - acking,
      cpuUsPerEvent: (used.user + used.system) / EVENTS,
    };
  } finally {
    await bus.deleteTopic(topic);
    await bus.close();
  }
}

async function fixedRateLatency(
  impl: Impl,
): Promise<
  Omit<Row, 'name' | 'publishPerSec' | 'endToEndPerSec' | 'drainPerSec' | 'drainAckMs' | 'drainCpuUsPerEvent'>
> {
  const bus = await impl.open();
  const topic = `bench-${randomUUID().slice(0, 8)}`;
  const tickMs = 10;
  const perTick = Math.max(1, Math.round((RATE * tickMs) / 1000));
  const ticks = Math.round((SECONDS * 1000) / tickMs);
  const sent = perTick * ticks;
  const latencies = new Float64Array(sent);
  try {
    const consumer = await bus.consumer(topic, { group: 'bench', name: 'c1' });
    const start = performance.now();
    let stop = false;
    let received = 0;
    const consuming = (async () => {
      while (!stop && received < sent) {
        const batch = await consumer.pull({ maxMessages: BATCH, waitMs: 100 });
        const now = performance.now();
        for (const m of batch) {
          const p = m.payload as { t: number };
          if (received < sent) latencies[received++] = now - p.t;
        }
        if (batch.length > 0) await consumer.ack(batch);
      }
    })();
    for (let k = 0; k < ticks; k++) {
      const due = start + k * tickMs;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const batch = events(k * perTick, perTick);
      const t = performance.now();
      for (const e of batch) e.payload.t = t;
      await bus.publish(topic, batch);
    }
    const deadline = performance.now() + 10_000;
    while (received < sent && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    stop = true;
    await consuming;
    const got = latencies.subarray(0, received).sort();
    return {
      p50Ms: quantile(got, 0.5),
      p99Ms: quantile(got, 0.99),
      maxMs: got.length > 0 ? (got[got.length - 1] as number) : Number.NaN,
      received,
      sent,
    };
  } finally {
    await bus.deleteTopic(topic);
    await bus.close();
  }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a.startsWith('--')) out[a.slice(2)] = argv[++i] ?? '';
  }
  return out;
}
