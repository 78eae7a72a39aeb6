import { join } from 'node:path';
import { ManualClock } from '../../core/clock.js';
import { InvalidInputError } from '../../core/errors.js';
import { worldDefinitionsPath } from '../../features/world-definitions.js';
import type { DemoStage } from './stage.js';

/** The stream stage of `adnova demo`: the World's events through the memory bus into the feature store, then parity. */
export const streamDemoStage: DemoStage = {
  name: 'stream',
  description: 'replay events through the bus into windowed aggregates (online + offline), check stream/batch parity',
  run: async (ctx) => {
    const worldDir = ctx.state.worldDir;
    if (typeof worldDir !== 'string') throw new InvalidInputError('the stream stage needs the world stage first');
    const [
      { MetricsRegistry },
      { FeatureStore, loadDefinitionsFile, MemoryOnlineStore },
      { compileAggregationPlan, createEventBus, dailyCheckpoints, replayAndCompare },
      { readManifest, replayEvents, tableFiles },
    ] = await Promise.all([
      import('../../core/index.js'),
      import('../../features/index.js'),
      import('../../stream/index.js'),
      import('../../world/index.js'),
    ]);
    const manifest = readManifest(worldDir);
    const dir =
      typeof ctx.state.featureStoreDir === 'string' ? ctx.state.featureStoreDir : join(ctx.workDir, 'features');
    const store = await FeatureStore.open({
      dir,
      clock: new ManualClock(manifest.endTs),
      online: new MemoryOnlineStore(),
    });
    const bus = await createEventBus({ ...ctx.config, bus: { kind: 'memory' } });
    try {
      store.apply(loadDefinitionsFile(worldDefinitionsPath()));
      if (ctx.state.featureStoreDir !== dir) await store.importSource('user_batch', worldDir);
      // batch views into this run's online store, so the mixed service reads both kinds
      await store.materialize();
      const plan = compileAggregationPlan(store.definitions());
      const metrics = new MetricsRegistry();
      const result = await replayAndCompare({
        bus,
        topic: 'events',
        plan,
        replay: (target) => replayEvents({ dir: worldDir, target }),
        eventFiles: tableFiles(worldDir, manifest, 'events'),
        checkpoints: dailyCheckpoints(manifest.startTs, manifest.endTs),
        features: store,
        metrics,
      });
      // training sees what serving saw: the offline point-in-time answer equals the online one, stream views included
      // read once the stream is done (some events, like late opens of the last sends, lie after the World's end):
      // the online store holds each user's newest vector, which a read before it does not see
      const served = await store.parity({ service: 'activity_scoring', atMs: result.streamTimeMs + 1, sample: 300 });
      return {
        events: result.ingest.received,
        accepted: result.ingest.accepted,
        deadLetters: result.deadLetters,
        late: result.lateEvents,
        usersWritten: result.ingest.usersWritten,
        parityCompared: result.parity.compared,
        parityMismatches: result.parity.mismatchCount,
        schemaChanges: result.schemaChanges.length,
        onlineOfflineMismatches: served.totalMismatches,
      };
    } finally {
      await bus.close();
      await store.close();
    }
  },
};
