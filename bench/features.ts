/**
 * Feature store benchmarks: `npx tsx bench/features.ts [--quick] [--pit-labels N] [--pit-features PER_VIEW]
 * [--skip-pit] [--skip-wide] [--skip-baseline] [--skip-redis] [--skip-memory]`.
 *
 * 1. Redis online read, 2,500 features over 10 views: 1 entity and 100 entities, p50/p99 (baseline: a 1-field HMGET;
 *    100 entities read into lent ReadBuffers, then with a new matrix per read, then baselines: the same store reading
 *    through ioredis (`directReads: false`) timed alternately with the bare ioredis pipeline of the same HMGETs).
 * 2. Memory online read, 200-feature service: entity reads per second on one core (baseline: copying the same
 *    floats from one flat array, the memory-bandwidth floor).
 * 3. Point-in-time training set (1M labels x 10 views x 500 features; 100K labels x 10 views x 250 = 2,500
 *    features): seconds, process CPU seconds and peak RSS (VmHWM: DuckDB runs in this process). Baseline: the same
 *    labels joined to each view's newest row by entity only (no time travel), written the same way.
 */

import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { Rng } from '../src/core/index.js';
import {
  DuckDbOfflineStore,
  defineEntity,
  defineFeatureService,
  defineFeatures,
  defineFeatureView,
  type FeatureDefinitions,
  type FeatureViewDef,
  MemoryOnlineStore,
  ReadBuffers,
  RedisOnlineStore,
  resolveService,
  storageKeyOf,
  ttlMsOf,
} from '../src/features/index.js';
import { readPlanOf } from '../src/features/online-store.js';
import { cliArgs, machineLine, quantile } from './lib.js';

const { flag, num } = cliArgs();
const quick = flag('quick');

function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** CPU seconds (user + system, all threads: DuckDB runs in this process) since `start`. */
function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1e6;
}

function wideDefs(views: number, featuresPerView: number): FeatureDefinitions {
  const vs: FeatureViewDef[] = Array.from({ length: views }, (_, v) =>
    defineFeatureView({
      name: `v${v}`,
      entity: 'user',
      ttlSeconds: 7 * 86_400,
      features: Array.from({ length: featuresPerView }, (_, k) => ({ name: `f${k}` })),
    }),
  );
  return defineFeatures({
    entities: [defineEntity({ name: 'user' })],
    views: vs,
    services: [
      defineFeatureService({ name: 'wide', features: vs.flatMap((v) => v.features.map((f) => `${v.name}.${f.name}`)) }),
    ],
  });
}

async function benchRedis(): Promise<void> {
  const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
  const defs = wideDefs(10, 250);
  const layout = resolveService(defs, 'wide');
  const store = new RedisOnlineStore({ url, keyPrefix: `bench:${process.pid}:` });
  const entities = quick ? 2_000 : 20_000;
  const rng = new Rng(1);
  const now = Date.now();
  try {
    for (const v of defs.views) {
      const chunk = 1000;
      for (let start = 0; start < entities; start += chunk) {
        const ids = Array.from({ length: chunk }, (_, i) => `u${start + i}`);
        const values = Float32Array.from({ length: chunk * 250 }, () => rng.next());
        const ts = new Float64Array(chunk).fill(now - 1000);
        await store.write(
          { storageKey: storageKeyOf(v), width: 250, ttlMs: ttlMsOf(v) },
          { entityIds: ids, eventTs: ts, createdTs: ts, values },
        );
      }
    }
    // the network floor: one round trip for a 1-field HMGET of an absent key through the same client path
    const pingStore = new RedisOnlineStore({ url, keyPrefix: `bench:${process.pid}:ping:` });
    const tiny = resolveService(wideDefs(1, 1), 'wide');
    const floor = await timeIt(quick ? 500 : 3000, async () => {
      await pingStore.read(tiny, ['nobody'], now);
    });
    await pingStore.close();
    const one = await timeIt(quick ? 500 : 3000, async (i) => {
      await store.read(layout, [`u${(i * 7919) % entities}`], now);
    });
    // the 100-entity read alone first: the ioredis variants below allocate ~2 MB outside the heap per read, and the
    // full collections that brings would land in this one's timings too if they were interleaved
    const idsOf = (i: number) => Array.from({ length: 100 }, (_, k) => `u${(i * 100 + k * 131) % entities}`);
    // as a serving loop reads: into lent buffers (ReadBuffers), so no 1 MB matrix is allocated per request
    const buffers = new ReadBuffers();
    const gc = gcCounter();
    const hundred = await timeIt(quick ? 100 : 2000, async (i) => {
      await store.read(layout, idsOf(i), now, buffers);
    });
    const hundredGc = gc.stop();
    const hundredFresh = await timeIt(quick ? 100 : 1000, async (i) => {
      await store.read(layout, idsOf(i), now);
    });
    // baselines: the same store reading through ioredis's pipeline, and that pipeline alone (not decoded),
    // timed alternately with each other
    const viaIoredis = new RedisOnlineStore({ url, keyPrefix: `bench:${process.pid}:`, directReads: false });
    const raw = new Redis(url, { enableAutoPipelining: false });
    const fields = readPlanOf(layout).fields as string[];
    const [hundredIoredis, pipelined] = await timeAlternately(
      quick ? 100 : 1000,
      async (i) => {
        await viaIoredis.read(layout, idsOf(i), now);
      },
      async (i) => {
        const pipeline = raw.pipeline();
        for (const id of idsOf(i)) pipeline.hmgetBuffer(store.keyOf(id), ...fields);
        await pipeline.exec();
      },
    );
    await viaIoredis.close();
    raw.disconnect();
    console.log('\nRedis online read, 2,500 features over 10 views (loopback)');
    console.log(
      `  baseline: 1-field HMGET of an absent key  p50 ${floor.p50.toFixed(3)} ms  p99 ${floor.p99.toFixed(3)} ms`,
    );
    console.log(
      `  1 entity     p50 ${one.p50.toFixed(3)} ms  p99 ${one.p99.toFixed(3)} ms  (${(one.p99 / floor.p99).toFixed(1)}x baseline p99; target p99 <= 1 ms)`,
    );
    console.log(
      `  100 entities (lent buffers) p50 ${hundred.p50.toFixed(3)} ms  p99 ${hundred.p99.toFixed(3)} ms  (${(hundred.p99 / floor.p99).toFixed(1)}x baseline p99; target p99 <= 5 ms); ${hundredGc.count} collections during its warm-up and timed reads, ${hundredGc.ms.toFixed(1)} ms in all`,
    );
    console.log(
      `  100 entities, a new matrix per read  p50 ${hundredFresh.p50.toFixed(3)} ms  p99 ${hundredFresh.p99.toFixed(3)} ms`,
    );
    console.log(
      `  100 entities through ioredis's pipeline (directReads: false)  p50 ${hundredIoredis.p50.toFixed(3)} ms  p99 ${hundredIoredis.p99.toFixed(3)} ms  (the first line's p99 is ${(hundred.p99 / hundredIoredis.p99).toFixed(2)}x this)`,
    );
    console.log(
      `  100 entities, bare ioredis pipeline of the same HMGETs (no decode, alternated with the line above)  p50 ${pipelined.p50.toFixed(3)} ms  p99 ${pipelined.p99.toFixed(3)} ms`,
    );
  } finally {
    await store.clear();
    await store.close();
  }
}

/** Counts V8 collections (and their pause time) until `stop()`. */
function gcCounter(): { stop(): { count: number; ms: number } } {
  let count = 0;
  let ms = 0;
  const add = (entries: readonly PerformanceEntry[]) => {
    for (const e of entries) {
      count++;
      ms += e.duration;
    }
  };
  const observer = new PerformanceObserver((list) => add(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop: () => {
      add(observer.takeRecords()); // entries not yet delivered to the callback
      observer.disconnect();
      return { count, ms };
    },
  };
}

async function timeIt(n: number, fn: (i: number) => Promise<void>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < Math.min(200, n); i++) await fn(i); // warm-up
  const t = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    await fn(i);
    t[i] = performance.now() - s;
  }
  t.sort();
  return { p50: quantile(t, 0.5), p99: quantile(t, 0.99) };
}

/** Two variants timed in alternation (same load on both when the machine is shared). */
async function timeAlternately(
  n: number,
  a: (i: number) => Promise<void>,
  b: (i: number) => Promise<void>,
): Promise<[{ p50: number; p99: number }, { p50: number; p99: number }]> {
  for (let i = 0; i < Math.min(200, n); i++) {
    await a(i);
    await b(i);
  }
  const ta = new Float64Array(n);
  const tb = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = performance.now();
    await a(i);
    ta[i] = performance.now() - s;
    s = performance.now();
    await b(i);
    tb[i] = performance.now() - s;
  }
  ta.sort();
  tb.sort();
  return [
    { p50: quantile(ta, 0.5), p99: quantile(ta, 0.99) },
    { p50: quantile(tb, 0.5), p99: quantile(tb, 0.99) },
  ];
}

async function benchMemory(): Promise<void> {
  const defs = wideDefs(2, 100);
  const layout = resolveService(defs, 'wide');
  const store = new MemoryOnlineStore();
  const entities = 100_000;
  const rng = new Rng(2);
  const now = Date.now();
  for (const v of defs.views) {
    const ids = Array.from({ length: entities }, (_, i) => `u${i}`);
    const ts = new Float64Array(entities).fill(now - 1000);
    await store.write(
      { storageKey: storageKeyOf(v), width: 100 },
      {
        entityIds: ids,
        eventTs: ts,
        createdTs: ts,
        values: Float32Array.from({ length: entities * 100 }, () => rng.next()),
      },
    );
  }
  const batch = 100;
  const batches = Array.from({ length: 1000 }, (_, b) =>
    Array.from({ length: batch }, (_, k) => `u${(b * 7919 + k * 104_729) % entities}`),
  );
  const rounds = quick ? 3 : 10;
  let sink = 0;
  const run = () => {
    const s = performance.now();
    for (const ids of batches) sink += store.readSync(layout, ids, now).values[0] as number;
    return (batches.length * batch) / ((performance.now() - s) / 1000);
  };
  const buffers = new ReadBuffers();
  const runLent = () => {
    const s = performance.now();
    for (const ids of batches) sink += store.readSync(layout, ids, now, buffers).values[0] as number;
    return (batches.length * batch) / ((performance.now() - s) / 1000);
  };
  run();
  runLent();
  // alternated, so both see the same machine load
  const rates: number[] = [];
  const lentRates: number[] = [];
  for (let i = 0; i < rounds; i++) {
    rates.push(run());
    lentRates.push(runLent());
  }
  rates.sort((a, b) => a - b);
  lentRates.sort((a, b) => a - b);
  // baseline: the same float copies into a column-major matrix from one flat row-major array, no lookup, no TTL
  const flat = Float32Array.from({ length: entities * 200 }, () => rng.next());
  const rowsOf = batches.map((ids) => Int32Array.from(ids, (id) => Number(id.slice(1))));
  const base = () => {
    const s = performance.now();
    for (const rowIdx of rowsOf) {
      const out = new Float32Array(batch * 200).fill(Number.NaN);
      for (let r = 0; r < batch; r++) {
        const src = (rowIdx[r] as number) * 200;
        for (let c = 0; c < 200; c++) out[c * batch + r] = flat[src + c] as number;
      }
      sink += out[0] as number;
    }
    return (batches.length * batch) / ((performance.now() - s) / 1000);
  };
  base();
  const baseRates = Array.from({ length: rounds }, base).sort((a, b) => a - b);
  const med = rates[Math.floor(rates.length / 2)] as number;
  const baseMed = baseRates[Math.floor(baseRates.length / 2)] as number;
  console.log('\nMemory online read, 200-feature service (2 views), batches of 100 entities, one core');
  console.log(`  baseline: flat-array copy into column-major  ${(baseMed / 1e6).toFixed(2)} M entities/s`);
  console.log(
    `  MemoryOnlineStore.readSync                   ${(med / 1e6).toFixed(2)} M entities/s  (${(med / baseMed).toFixed(2)}x baseline; target >= 1 M/s)`,
  );
  const lentMed = lentRates[Math.floor(lentRates.length / 2)] as number;
  console.log(
    `  readSync into lent ReadBuffers               ${(lentMed / 1e6).toFixed(2)} M entities/s  (${(lentMed / baseMed).toFixed(2)}x baseline)`,
  );
  if (sink === 42) console.log('');
}

async function benchPit(
  labels: number,
  views: number,
  featuresPerView: number,
  entities: number,
  rowsPerEntity: number,
): Promise<void> {
  const dir = join(process.env['BENCH_DIR'] ?? tmpdir(), `adnova-pit-bench-${process.pid}-${labels}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const defs = wideDefs(views, featuresPerView);
  const layout = resolveService(defs, 'wide');
  const store = await DuckDbOfflineStore.open({
    dir,
    memoryLimit: process.env['BENCH_DUCKDB_MEMORY'] ?? '5GB',
    threads: cpus().length,
  });
  const day = 86_400_000;
  const start = Date.UTC(2026, 9, 1);
  const span = 30 * day;
  try {
    const tGen = performance.now();
    for (const v of defs.views) {
      // counts-like values (few distinct per column) so the files compress the way real feature tables do
      const feats = v.features.map((f, k) => `((hash(i, ${k}) % 97) / 8.0)::FLOAT AS ${f.name}`).join(', ');
      await store.appendFromQuery(
        v,
        `SELECT 'u' || (i % ${entities}) AS entity_id, ${start} + (hash(i, 'e') % ${span})::BIGINT AS event_ts, ${start} + (hash(i, 'e') % ${span})::BIGINT + 3600000 AS created_ts, ${feats} FROM range(${entities * rowsPerEntity}) r(i)`,
      );
    }
    const labelsPath = join(dir, 'labels.parquet');
    await store.execute(
      `COPY (SELECT 'u' || (hash(i, 'u') % ${entities}) AS user_id, ${start} + 7 * ${day} + (hash(i, 't') % ${span - 7 * day})::BIGINT AS ts, (i % 2)::INTEGER AS label FROM range(${labels}) r(i)) TO '${labelsPath}' (FORMAT parquet)`,
    );
    const genS = (performance.now() - tGen) / 1000;
    const rssBefore = peakRssMb();
    const out = join(dir, 'train.parquet');
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const res = await store.trainingSet({
      layout,
      labelsPath,
      outPath: out,
      timestampColumn: 'ts',
      joinKeyOf: () => 'user_id',
    });
    const pitS = (performance.now() - t0) / 1000;
    const pitCpuS = cpuSecondsSince(c0);
    const peak = peakRssMb();
    console.log(
      `\nPoint-in-time training set: ${labels.toLocaleString('en-US')} labels x ${views} views x ${featuresPerView} features (${(views * featuresPerView).toLocaleString('en-US')} columns), ${entities.toLocaleString('en-US')} entities x ${rowsPerEntity} rows per view`,
    );
    console.log(`  data generation ${genS.toFixed(1)} s (not timed below)`);
    console.log(
      `  PIT join streamed to Parquet                    ${pitS.toFixed(1)} s (process CPU ${pitCpuS.toFixed(1)} s), ${res.rows.toLocaleString('en-US')} rows`,
    );
    console.log(
      `  peak RSS ${(peak / 1024).toFixed(2)} GB (before: ${(rssBefore / 1024).toFixed(2)} GB; process VmHWM, DuckDB in-process, memory_limit ${process.env['BENCH_DUCKDB_MEMORY'] ?? '5GB'})`,
    );
    if (flag('skip-baseline')) return;
    // baseline: equality join to each view's newest row (what a non-PIT "latest snapshot" join costs)
    const latest = defs.views.map(
      (v, i) =>
        `LEFT JOIN (SELECT * FROM read_parquet('${join(dir, 'offline', storageKeyOf(v))}/*/*.parquet') QUALIFY row_number() OVER (PARTITION BY entity_id ORDER BY event_ts DESC) = 1) b${i} ON l.user_id = b${i}.entity_id`,
    );
    const cols = defs.views.flatMap((v, i) => v.features.map((f) => `b${i}.${f.name} AS "${v.name}.${f.name}"`));
    const t1 = performance.now();
    const c1 = process.cpuUsage();
    await store.execute(
      `COPY (SELECT l.*, ${cols.join(', ')} FROM read_parquet('${labelsPath}') l ${latest.join(' ')}) TO '${join(dir, 'baseline.parquet')}' (FORMAT parquet, ROW_GROUP_SIZE 100000)`,
    );
    const baseS = (performance.now() - t1) / 1000;
    const baseCpuS = cpuSecondsSince(c1);
    console.log(
      `  baseline: latest-row equality join, same output ${baseS.toFixed(1)} s (process CPU ${baseCpuS.toFixed(1)} s)  (PIT = ${(pitS / baseS).toFixed(2)}x baseline wall, ${(pitCpuS / baseCpuS).toFixed(2)}x CPU)`,
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(machineLine());
if (!flag('skip-redis'))
  await benchRedis().catch((err: unknown) => console.log(`\nRedis benchmark skipped: ${String(err)}`));
if (!flag('skip-memory')) await benchMemory();
if (!flag('skip-pit')) {
  const labels = num('pit-labels', quick ? 100_000 : 1_000_000);
  await benchPit(
    labels,
    10,
    num('pit-features', 50), // per view: 10 x 50 = 500 features
    num('pit-entities', quick ? 20_000 : 100_000),
    num('pit-rows', 2),
  );
  if (!flag('skip-wide')) await benchPit(quick ? 10_000 : 100_000, 10, 250, quick ? 5_000 : 50_000, 2);
}
