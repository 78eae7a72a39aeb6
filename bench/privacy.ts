/**
 * Privacy deletion benchmarks (issue #20):
 *   npx tsx bench/privacy.ts [--users N] [--days D] [--deletions K] [--labels L] [--quick] [--check-only]
 * Defaults: 1,000,000 users, 14 days of offline history (one row per user and day, 8 features), 10,000 deletions,
 * a 200,000-row training set; --quick: 100,000 users, 1,000 deletions, 20,000 labels.
 *
 * 1. Tombstone check on the ingest path (TombstoneLedger.isDeleted): ns per event over 1M distinct user ids (fresh
 *    strings, as parsed from the wire), with 10K tombstones, none of them hit (the common case) and with 1% of the
 *    events from deleted users (a replay); baseline: a Set<string> of the raw ids (what a ledger that kept ids
 *    would cost). Target <= 200 ns.
 * 2. Propagation: K deletion requests (one user each, as a World's deletions.parquet asks) submitted (each durable:
 *    ledger append fsynced, pending ids, receipt) and applied as one batch over a store of N users: offline Parquet
 *    (N x D rows in D day partitions, every file rewritten once), a training set, the memory online store, the
 *    aggregator state (N users), dead letters, the segment index (N users) and the cap ledger. Per store: wall time
 *    of erase + verify; then verify --all (scan of every store). Target: all receipts within 10 minutes.
 *    Audiences and request logs belong to other modules (not on this branch): not measured.
 * 3. Full scale (120M users at the World's daily deletion rate 0.0002, one batch a day): the day's work in
 *    core-hours, extrapolated from the measured CPU time per store (linear in the store's size: a random batch
 *    touches every offline file, so the whole history is rewritten once per batch).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../src/core/index.js';
import { MemoryCapLedger, SegmentIndex } from '../src/decision/index.js';
import {
  defineEntity,
  defineFeatureService,
  defineFeatures,
  defineFeatureView,
  FeatureStore,
  MemoryOnlineStore,
} from '../src/features/index.js';
import {
  aggregatorStateEraser,
  capLedgerEraser,
  DeletionService,
  deadLetterEraser,
  offlineStoreEraser,
  onlineStoreEraser,
  openTombstoneLedger,
  type StoreEraser,
  segmentIndexEraser,
  trainingSetEraser,
} from '../src/privacy/index.js';
import { MemoryAggregatorStateStore } from '../src/stream/index.js';
import { cliArgs, machineLine, median } from './lib.js';

const args = cliArgs();
const quick = args.flag('quick');
const USERS = args.num('users', quick ? 100_000 : 1_000_000);
const DAYS = args.num('days', 14);
const DELETIONS = args.num('deletions', quick ? 1_000 : 10_000);
const LABELS = args.num('labels', quick ? 20_000 : 200_000);
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 10, 1);

const uid = (i: number) => `u${String(i).padStart(8, '0')}`;
const cpuS = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1e6;

async function benchCheck(): Promise<void> {
  console.log('\n1. tombstone check on the ingest path (10K tombstones, 1M distinct ids per pass, 5 passes)');
  const dir = mkdtempSync(join(tmpdir(), 'adnova-privacy-check-'));
  try {
    const ledger = await openTombstoneLedger({ dir });
    const deleted: string[] = [];
    for (let i = 0; i < 10_000; i++) deleted.push(uid(i * 100));
    await ledger.add(deleted, 'del_bench', T0);
    const raw = new Set(deleted);
    const fresh = (prefix: string, n: number, hitEvery: number) =>
      Array.from(
        { length: n },
        (_, i) =>
          // JSON.parse: a new string per event, its hash not cached, as the ingestor gets them
          JSON.parse(`"${i % hitEvery === 0 ? uid(((i / hitEvery) % 10_000) * 100) : `${prefix}${i}`}"`) as string,
      );
    const run = (ids: string[], f: (id: string) => boolean) => {
      const ns: number[] = [];
      let hits = 0;
      for (let r = 0; r < 5; r++) {
        const t = process.hrtime.bigint();
        for (const id of ids) if (f(id)) hits++;
        ns.push(Number(process.hrtime.bigint() - t) / ids.length);
      }
      return { ns: median(ns.slice(1)), hits: hits / 5 };
    };
    const misses = fresh('x', 1_000_000, Number.POSITIVE_INFINITY);
    const replay = fresh('x', 1_000_000, 100);
    const a = run(misses, (id) => ledger.isDeleted(id));
    const b = run(misses, (id) => raw.has(id));
    const c = run(replay, (id) => ledger.isDeleted(id));
    const d = run(replay, (id) => raw.has(id));
    console.log(
      `  no deleted user:  ledger ${a.ns.toFixed(0)} ns/event, raw-id Set ${b.ns.toFixed(0)} ns (${(a.ns / b.ns).toFixed(2)}x)`,
    );
    console.log(
      `  1% deleted users: ledger ${c.ns.toFixed(0)} ns/event, raw-id Set ${d.ns.toFixed(0)} ns (${(c.ns / d.ns).toFixed(2)}x), hits ${c.hits}`,
    );
    console.log(`  target <= 200 ns: ${Math.max(a.ns, c.ns) <= 200 ? 'met' : 'NOT met'}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function benchPropagation(): Promise<void> {
  console.log(`\n2. ${DELETIONS} deletions against ${USERS} users (${DAYS} days offline)`);
  const dir = join(process.env['BENCH_DIR'] ?? tmpdir(), `adnova-privacy-bench-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const clock = new ManualClock(T0 + DAYS * DAY);
  const online = new MemoryOnlineStore();
  const store = await FeatureStore.open({ dir: join(dir, 'features'), online, clock });
  try {
    const view = defineFeatureView({
      name: 'user_daily',
      entity: 'user',
      ttlSeconds: 30 * 86_400,
      features: Array.from({ length: 8 }, (_, k) => ({ name: `f${k}` })),
    });
    store.apply(
      defineFeatures({
        entities: [defineEntity({ name: 'user', joinKey: 'user_id' })],
        views: [view],
        services: [defineFeatureService({ name: 'svc', features: view.features.map((f) => `user_daily.${f.name}`) })],
      }),
    );
    const tGen = performance.now();
    const feats = view.features.map((f, k) => `((hash(i, ${k}) % 97) / 8.0)::FLOAT AS ${f.name}`).join(', ');
    for (let d = 0; d < DAYS; d++)
      await store.offline.appendFromQuery(
        store.view('user_daily'),
        `SELECT 'u' || lpad(i::VARCHAR, 8, '0') AS entity_id, ${T0 + d * DAY} + (hash(i) % ${DAY})::BIGINT AS event_ts, ${T0 + (d + 1) * DAY} AS created_ts, ${feats} FROM range(${USERS}) r(i)`,
      );
    await store.materialize({ asOfMs: T0 + DAYS * DAY });
    const labels = join(dir, 'labels.parquet');
    await store.offline.execute(
      `COPY (SELECT 'u' || lpad((hash(i, 'u') % ${USERS})::VARCHAR, 8, '0') AS user_id, ${T0 + DAY} + (hash(i, 't') % ${(DAYS - 1) * DAY})::BIGINT AS ts FROM range(${LABELS}) r(i)) TO '${labels}' (FORMAT parquet)`,
    );
    await store.trainingSet({ service: 'svc', labelsPath: labels, outPath: join(dir, 'train.parquet') });
    const index = new SegmentIndex();
    const ledger = new MemoryCapLedger();
    const state = new MemoryAggregatorStateStore();
    const changed = new Map<string, Uint8Array>();
    const bytes = new Uint8Array(96);
    for (let i = 0; i < USERS; i++) {
      const u = uid(i);
      index.upsertUser(u, { country: i % 3 ? 'US' : 'DE', consent: { email: i % 2 === 0 }, lastActiveTs: T0 });
      if (i % 4 === 0) ledger.add(u, 'email', T0 + DAYS * DAY);
      changed.set(u, bytes);
    }
    await state.save('bench-plan', { maxEventTs: T0, counters: { accepted: 0, duplicates: 0, late: 0 } }, changed);
    changed.clear();
    const letters = join(dir, 'dead-letters.ndjson');
    writeFileSync(
      letters,
      Array.from({ length: 10_000 }, (_, i) =>
        JSON.stringify({ reason: 'bench', event: { message: { user_id: uid(i * 37) } } }),
      ).join('\n'),
    );
    const indexDir = join(dir, 'index');
    console.log(
      `  store built in ${((performance.now() - tGen) / 1000).toFixed(1)} s: ${USERS * DAYS} offline rows, ${online.kind} online ${USERS} entities, ${LABELS}-row training set`,
    );

    const erasers: StoreEraser[] = [
      offlineStoreEraser(store.offline),
      trainingSetEraser(store),
      onlineStoreEraser(online),
      aggregatorStateEraser('aggregatorState', state),
      deadLetterEraser(() => [letters]),
      segmentIndexEraser(index, () => index.save(indexDir)),
      capLedgerEraser(ledger, async () => {}),
    ];
    const privacyDir = join(dir, 'privacy');
    const tomb = await openTombstoneLedger({ dir: privacyDir });
    const service = new DeletionService({ dir: privacyDir, ledger: tomb, erasers, clock, batchUsers: DELETIONS });
    // users spread over the whole id range, as real deletions are
    const victims = Array.from({ length: DELETIONS }, (_, k) => uid(Math.floor((k * USERS) / DELETIONS) + (k % 7)));
    const tSubmit = performance.now();
    const ids = (await service.submitMany(victims.map((u) => ({ userIds: [u], requestedBy: 'bench' })))).map(
      (r) => r.id,
    );
    const submitS = (performance.now() - tSubmit) / 1000;
    console.log(
      `  submit: ${DELETIONS} requests in ${submitS.toFixed(1)} s (submitMany: one ledger append, the pending ids and receipts synced as a group)`,
    );

    const c0 = process.cpuUsage();
    const tApply = performance.now();
    const storeCpu: Record<string, number> = {};
    const timed = erasers.map((e) => ({
      ...e,
      erase: async (u: readonly string[]) => {
        const c = process.cpuUsage();
        const r = await e.erase(u);
        storeCpu[e.name] = cpuS(process.cpuUsage(c));
        return r;
      },
    }));
    const timedService = new DeletionService({
      dir: privacyDir,
      ledger: tomb,
      erasers: timed,
      clock,
      batchUsers: DELETIONS,
    });
    const applied = await timedService.apply();
    const applyS = (performance.now() - tApply) / 1000;
    const applyCpu = cpuS(process.cpuUsage(c0));
    const complete = ids.filter((id) => timedService.status(id)?.status === 'complete').length;
    console.log(
      `  apply: one batch of ${applied.users} users in ${applyS.toFixed(1)} s wall, ${applyCpu.toFixed(1)} CPU-s; ${complete}/${ids.length} receipts complete`,
    );
    for (const [name, ms] of Object.entries(applied.storeMs))
      console.log(
        `    ${name.padEnd(16)} ${(ms / 1000).toFixed(2).padStart(7)} s wall  ${(storeCpu[name] ?? 0).toFixed(2).padStart(7)} CPU-s (erase)`,
      );
    const total = submitS + applyS;
    console.log(
      `  all receipts complete ${total.toFixed(1)} s after the first request (target <= 600 s: ${total <= 600 ? 'met' : 'NOT met'})`,
    );
    const tVerify = performance.now();
    const v = await timedService.verify();
    console.log(
      `  verify --all: ${v.leftovers} leftovers over ${v.checked} tombstones in ${((performance.now() - tVerify) / 1000).toFixed(1)} s`,
    );

    // 3. full scale: a day's deletions at 120M users, one batch a day; each store's erase CPU scales with its size
    const scale = 120_000_000 / USERS;
    const perDay = 120_000_000 * 0.0002;
    let coreS = 0;
    for (const [name, s] of Object.entries(storeCpu)) {
      // offline, training sets and the aggregator/index scans are linear in the store; per-id stores in the batch
      const linear =
        name === 'offline' || name === 'trainingSets' || name === 'aggregatorState' || name === 'deadLetters';
      coreS += linear ? s * scale : s * (perDay / DELETIONS);
    }
    coreS += (submitS * perDay) / DELETIONS;
    console.log(
      `\n3. full scale (120M users, ${perDay} deletions a day, one batch): about ${(coreS / 3600).toFixed(1)} core-hours a day (the offline rewrite of ${DAYS} days of history dominates)`,
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(machineLine());
await benchCheck();
if (!args.flag('check-only')) await benchPropagation();
