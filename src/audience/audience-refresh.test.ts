import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, MetricsRegistry, MS_PER_DAY, MS_PER_HOUR } from '../core/index.js';
import {
  type Campaign,
  type Deployment,
  deployWorld,
  openDeployment,
  SegmentIndexUpdater,
  type WorldDeployment,
} from '../decision/index.js';
import {
  compileAggregationPlan,
  MemoryAggregatorStateStore,
  MemoryDeadLetterSink,
  MemoryEventBus,
  StreamIngestor,
} from '../stream/index.js';
import { generateWorld, type WorldManifest } from '../world/index.js';
import { AudienceRefresher } from './audience-refresher.js';
import { AudienceService, parseMajorChange } from './audience-service.js';
import { publishWorldEvents } from './world-stream.js';

const DEFINITIONS = join(import.meta.dirname, '..', 'features', 'examples', 'world-features.yaml');

describe('refresh from the stream', () => {
  let dir: string;
  let manifest: WorldManifest;
  let built: WorldDeployment;
  let d: Deployment;
  let clock: ManualClock;
  let t0: number;
  let campaigns: Campaign[];
  let service: AudienceService;
  let metrics: MetricsRegistry;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'adnova-audience-refresh-'));
    manifest = await generateWorld({ outDir: join(dir, 'w'), users: 900, days: 8, seed: 11, features: 24 });
    t0 = manifest.endTs - MS_PER_DAY;
    built = await deployWorld({
      worldDir: join(dir, 'w'),
      dir: join(dir, 'd'),
      definitionsPath: DEFINITIONS,
      asOfMs: t0,
      gbdt: { trees: 15 },
      controlShare: 0.03,
    });
    clock = new ManualClock(t0);
    d = await openDeployment({ dir: built.dir, clock });
    const vertical = (await d.campaigns.list())[0]?.vertical as string;
    const base = {
      advertiserId: 'adv1',
      vertical,
      desiredAudienceSize: 120,
      holdoutShare: 0.1,
      explorationShare: 0.1,
      schedule: { launch: t0 - MS_PER_HOUR },
    };
    campaigns = [
      await d.campaigns.create({ ...base, id: 'r-push', channel: 'push', goal: 'click' }),
      await d.campaigns.create({
        ...base,
        id: 'r-email-active',
        channel: 'email',
        goal: 'open',
        targeting: { activeWithinDays: 1 },
      }),
      await d.campaigns.create({
        ...base,
        id: 'r-inapp-viewers',
        channel: 'in_app',
        goal: 'convert',
        targeting: { features: ['user_activity.product_views_7d >= 1'] },
      }),
    ];
    metrics = new MetricsRegistry();
    service = new AudienceService({ deployment: d, metrics });
  }, 300_000);
  afterAll(async () => {
    await d?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('after a World event stream, equals a full rebuild at the same time: 0 membership differences', async () => {
    const hour = new Date(t0).getUTCHours();
    for (const c of campaigns) await service.build(c.id, { atMs: t0 });
    await service.store.saveSettings('r-push', { majorChange: parseMajorChange('model-inputs') });
    const before = new Map<string, number>();
    for (const c of campaigns) before.set(c.id, (await service.store.current(c.id))?.members ?? 0);

    // six hours of the World's events through the bus into the deployment's online store and index
    const t1 = t0 + 6 * MS_PER_HOUR;
    const bus = new MemoryEventBus();
    const refresher = new AudienceRefresher(service);
    const ingestor = await StreamIngestor.start({
      bus,
      topic: 'events',
      plan: compileAggregationPlan(d.store.definitions()),
      features: d.store,
      state: new MemoryAggregatorStateStore(),
      deadLetters: new MemoryDeadLetterSink(),
      lateEvents: new MemoryDeadLetterSink(),
      dirtyFeed: refresher,
      eventObserver: new SegmentIndexUpdater(d.index),
      clock,
    });
    const published = await publishWorldEvents({
      worldDir: join(dir, 'w'),
      bus,
      topic: 'events',
      fromArrivalTs: t0,
      toArrivalTs: t1,
    });
    expect(published).toBeGreaterThan(100);
    clock.set(t1);
    await ingestor.runUntilIdle(300);
    await ingestor.close();
    await bus.close();
    const changed = refresher.pending;
    expect(changed).toBeGreaterThan(20);
    const r = await refresher.flush(t1);
    expect(r?.campaigns.length).toBe(3);
    // only the changed users (and those retrieval newly keeps) were scored again
    const refreshed = new Map<string, number>();
    for (const cr of r?.campaigns ?? []) {
      const cur = await service.store.current(cr.campaignId);
      expect(cr.rescored).toBeLessThan(cur?.candidates as number);
      if (cr.version !== null) refreshed.set(cr.campaignId, cr.version);
    }
    expect(refreshed.size).toBeGreaterThan(0);
    expect(r?.campaigns.some((c) => c.added + c.removed > 0)).toBe(true);

    for (const c of campaigns) {
      const refreshedVersion = (await service.store.current(c.id))?.version as number;
      const rebuilt = await service.build(c.id, { atMs: t1, hourOfDay: hour });
      const diff = await service.diff(c.id, refreshedVersion, rebuilt.summary.version);
      expect({ campaign: c.id, added: diff.added.length, removed: diff.removed.length }).toEqual({
        campaign: c.id,
        added: 0,
        removed: 0,
      });
      const a = await service.store.get(c.id, refreshedVersion);
      const b = await service.store.get(c.id, rebuilt.summary.version);
      expect(a.candidates.userIds).toEqual(b.candidates.userIds);
      expect([...a.candidates.scores]).toEqual([...b.candidates.scores]);
      expect([...a.selection.outcome]).toEqual([...b.selection.outcome]);
      expect([...a.selection.members]).toEqual([...b.selection.members]);
      expect(a.summary.stages).toEqual(b.summary.stages);
    }

    // event -> membership: observed per audience, and kept for describe
    const snap = await metrics.snapshot();
    const h = snap.find((m) => m.name === 'adnova_audience_membership_freshness_seconds');
    expect(h?.values.some((v) => v.value > 0)).toBe(true);
    const described = await service.describe([...refreshed.keys()][0] as string);
    expect(described.freshness?.refreshes).toBe(1);
    expect(described.freshness?.last.p99Ms).toBeGreaterThan(0);
    expect(described.freshness?.last.p99Ms).toBeLessThanOrEqual(t1 - t0 + MS_PER_HOUR);
  }, 240_000);

  it('a score-threshold rule keeps stored scores that moved less than it', async () => {
    const c = campaigns[0] as Campaign;
    await service.store.saveSettings(c.id, { majorChange: { kind: 'score', minDelta: 0.5 } });
    const cur = await service.store.get(c.id);
    const ids = cur.candidates.userIds.slice(0, 40);
    const atMs = clock.now();
    const r = await service.refresh(
      ids.map((userId) => ({ userId, eventTs: atMs })),
      { atMs, campaignIds: [c.id] },
    );
    // the scores are recomputed, but no probability moves by 0.5: nothing changes, no version is written
    expect(r.campaigns[0]?.rescored).toBe(40);
    expect(r.campaigns[0]?.version).toBeNull();
  });
});
