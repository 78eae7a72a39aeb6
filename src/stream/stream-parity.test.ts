import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureStatusCode, ManualClock, MetricsRegistry } from '../core/index.js';
import { FeatureStore, loadDefinitionsFile, MemoryOnlineStore } from '../features/index.js';
import { generateWorld, readManifest, replayEvents, tableFiles } from '../world/index.js';
import { compileAggregationPlan } from './aggregation-plan.js';
import { MemoryDeadLetterSink } from './dead-letter.js';
import { MemoryEventBus } from './memory-event-bus.js';
import { MemoryDirtyUserFeed } from './stream-ingestor.js';
import { dailyCheckpoints, replayAndCompare } from './stream-parity.js';

const definitions = join(import.meta.dirname, '../features/examples/world-features.yaml');

describe('stream/batch parity on a World with schema-change and stream-outage', () => {
  const root = mkdtempSync(join(tmpdir(), 'adnova-stream-parity-'));
  const worldDir = join(root, 'world');
  beforeAll(async () => {
    await generateWorld({
      outDir: worldDir,
      users: 400,
      days: 6,
      seed: 11,
      features: 20,
      scenarios: ['schema-change', 'stream-outage'],
      driftDay: 3,
    });
  }, 60_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('replays through the memory bus and matches DuckDB over the event log exactly', async () => {
    const manifest = readManifest(worldDir);
    const plan = compileAggregationPlan(loadDefinitionsFile(definitions));
    const bus = new MemoryEventBus();
    const deadLetters = new MemoryDeadLetterSink();
    const lateEvents = new MemoryDeadLetterSink();
    const dirty = new MemoryDirtyUserFeed();
    const metrics = new MetricsRegistry();
    const result = await replayAndCompare({
      bus,
      topic: 'events',
      plan,
      replay: (target) => replayEvents({ dir: worldDir, target }),
      eventFiles: tableFiles(worldDir, manifest, 'events'),
      checkpoints: dailyCheckpoints(manifest.startTs, manifest.endTs),
      deadLetters,
      lateEvents,
      dirtyFeed: dirty,
      metrics,
    });
    await bus.close();
    const events = manifest.tables.events?.rows ?? 0;
    expect(result.published).toBe(events);
    expect(result.ingest.received).toBe(events);
    expect(result.ingest.accepted + result.ingest.invalid + result.ingest.late + result.ingest.duplicates).toBe(events);
    expect(result.parity.checkpoints.length).toBeGreaterThanOrEqual(5);
    expect(result.parity.compared).toBeGreaterThan(400 * 5 * 20 * 0.5);
    expect(result.parity.mismatches).toEqual([]);
    expect(result.parity.mismatchCount).toBe(0);

    // schema-change: v2 messages are dead-lettered with their reason, and the detector names the change
    const v2 = deadLetters.letters().filter((l) => /amount/.test(l.reason));
    expect(v2.length).toBeGreaterThan(20);
    const kinds = result.schemaChanges.map((s) => `${s.kind}:${s.field}`);
    expect(kinds).toContain('retyped:amount');
    expect(kinds.some((k) => k.startsWith('renamed:category'))).toBe(true);
    const changeTs = manifest.timeline.find((t) => t.scenario === 'schema-change')!.fromTs;
    for (const s of result.schemaChanges) expect(s.firstSeenTs).toBeGreaterThanOrEqual(changeTs);

    // stream-outage: the burst after the gap holds events later than the allowed lateness: counted, kept aside
    expect(result.ingest.late).toBeGreaterThan(0);
    expect(lateEvents.letters().length).toBe(result.ingest.late);
    expect(lateEvents.letters()[0]!.reason).toMatch(/more than the allowed lateness/);

    // every accepted change reached the dirty-user feed, and the lag histogram saw it
    expect(new Set(dirty.users.map((u) => u.userId)).size).toBeGreaterThan(300);
    const lag = (await metrics.snapshot()).find((m) => m.name === 'adnova_stream_freshness_lag_seconds');
    const count = lag?.values.find((v) => (v.labels as { view?: string }).view === 'user_activity' && v.value > 0);
    expect(count).toBeDefined();
  }, 120_000);

  it('writes stream views through the feature store so that offline point-in-time reads equal online reads', async () => {
    const manifest = readManifest(worldDir);
    const store = await FeatureStore.open({
      dir: join(root, 'store'),
      clock: new ManualClock(manifest.endTs),
      online: new MemoryOnlineStore(),
    });
    const bus = new MemoryEventBus();
    try {
      store.apply(loadDefinitionsFile(definitions));
      await store.importSource('user_batch', worldDir);
      await store.materialize();
      const plan = compileAggregationPlan(store.definitions());
      const result = await replayAndCompare({
        bus,
        topic: 'events',
        plan,
        replay: (target) => replayEvents({ dir: worldDir, target }),
        eventFiles: tableFiles(worldDir, manifest, 'events'),
        checkpoints: dailyCheckpoints(manifest.startTs, manifest.endTs),
        features: store,
      });
      expect(result.parity.mismatchCount).toBe(0);
      // online: most users have a present stream vector at the end
      const users = Array.from({ length: 50 }, (_, i) => `u${String(i + 1).padStart(8, '0')}`);
      // read after the stream's last event (some lie after the World's end): the online store holds the newest
      // record only, and a read before it finds nothing
      const readAt = result.streamTimeMs + 1;
      expect(readAt).toBeGreaterThan(manifest.endTs - 3_600_000);
      const online = await store.readOnline('activity_scoring', users, { atMs: readAt });
      const view = online.views.findIndex((v) => v.name === 'user_activity');
      const present = users.filter((_, row) => online.status[view * users.length + row] === FeatureStatusCode.present);
      expect(
        present.length,
        `statuses ${[...online.status.subarray(view * users.length, (view + 1) * users.length)].join(',')} ages ${[...online.ageMs.subarray(view * users.length, view * users.length + 5)].join(',')}`,
      ).toBeGreaterThan(35);
      // offline: the same vectors at the same time, for every column of the mixed service
      for (const atMs of [readAt]) {
        const report = await store.parity({ service: 'activity_scoring', atMs, entityIds: users });
        expect(
          report.examples,
          `at ${atMs}: ${JSON.stringify(report.examples)} ${JSON.stringify(report.views)}`,
        ).toEqual([]);
        expect(report.totalMismatches).toBe(0);
      }
    } finally {
      await bus.close();
      await store.close();
    }
  }, 120_000);
});
