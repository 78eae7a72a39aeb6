import type { AudienceSummary } from '../../audience/index.js';
import { ensureDemoDeployment } from './deployment.js';
import type { DemoStage } from './stage.js';

/** A clock that runs in real time from `startMs`: the demo's events are stamped now, on the World's calendar. */
class LiveClockFrom {
  readonly #wall0 = Date.now();
  constructor(readonly startMs: number) {}
  now(): number {
    return this.startMs + (Date.now() - this.#wall0);
  }
}

/**
 * The demo's audience stage: a deployment from the demo World, an audience built for a campaign at launch, an
 * hour of the World's events streamed again as if happening now (through the bus, the ingestor, the online store
 * and the segment index), the changed users refreshed into the audience, and the event -> membership latency.
 */
export const audienceDemoStage: DemoStage = {
  name: 'audience',
  description: 'deploy the World, build an audience at launch, stream events, refresh it, event -> membership',
  run: async (ctx) => {
    const started = performance.now();
    const dir = await ensureDemoDeployment(ctx);
    const deployMs = performance.now() - started;
    const [core, decision, stream, audience] = await Promise.all([
      import('../../core/index.js'),
      import('../../decision/index.js'),
      import('../../stream/index.js'),
      import('../../audience/index.js'),
    ]);
    const manifest = decision.readDeploymentManifest(dir);
    const clock = new LiveClockFrom(manifest.asOfMs);
    const d = await decision.openDeployment({ dir, clock });
    const bus = new stream.MemoryEventBus();
    try {
      const metrics = new core.MetricsRegistry();
      const service = new audience.AudienceService({ deployment: d, metrics });
      const vertical = (await d.campaigns.list())[0]?.vertical ?? 'fashion';
      const c = await d.campaigns.create({
        id: 'demo-launch',
        advertiserId: 'demo',
        channel: 'push',
        goal: 'click',
        vertical,
        desiredAudienceSize: Math.max(10, Math.round(d.index.users.size / 10)),
        holdoutShare: 0.1,
        explorationShare: 0.1,
        schedule: { launch: manifest.asOfMs - 3_600_000 },
      });
      const built = await service.build(c.id);
      const refresher = new audience.AudienceRefresher(service);
      const ingestor = await stream.StreamIngestor.start({
        bus,
        topic: 'events',
        plan: stream.compileAggregationPlan(d.store.definitions()),
        features: d.store,
        state: new stream.MemoryAggregatorStateStore(),
        deadLetters: new stream.MemoryDeadLetterSink(),
        lateEvents: new stream.MemoryDeadLetterSink(),
        dirtyFeed: refresher,
        eventObserver: new decision.SegmentIndexUpdater(d.index),
        clock,
        flushIntervalMs: 100,
      });
      // the World's last hour of events, happening again now
      const published = await audience.publishWorldEvents({
        worldDir: ctx.state.worldDir as string,
        bus,
        topic: 'events',
        fromArrivalTs: manifest.asOfMs - 3_600_000,
        toArrivalTs: manifest.asOfMs,
        limit: 3000,
        restamp: (env) => {
          const now = clock.now();
          env.arrival_ts = now;
          env.message['event_ts'] = now;
        },
      });
      await ingestor.runUntilIdle(200);
      await ingestor.close();
      const r = await refresher.flush();
      const cr = r?.campaigns.find((x) => x.campaignId === c.id);
      const cur = (await service.store.current(c.id)) as AudienceSummary;
      return {
        deployMs: Math.round(deployMs),
        campaign: c.id,
        stageCounts: built.summary.stages.map((s) => `${s.rule} ${s.remaining}`).join(' > '),
        members: built.summary.members,
        buildMs: Math.round(built.timingsMs.total),
        events: published,
        changedUsers: cr?.changedUsers ?? 0,
        rescored: cr?.rescored ?? 0,
        added: cr?.added ?? 0,
        removed: cr?.removed ?? 0,
        version: cur.version,
        eventToMembershipP99Ms: cr?.freshness ? Math.round(cr.freshness.p99Ms) : null,
      };
    } finally {
      await bus.close();
      await d.close();
    }
  },
};
