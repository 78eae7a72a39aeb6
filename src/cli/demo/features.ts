import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '../../core/clock.js';
import { Rng } from '../../core/random.js';
import { worldDefinitionsPath } from '../../features/world-definitions.js';
import type { DemoContext, DemoStage } from './stage.js';

/** The features stage of `adnova demo`: hand-built history, a training set, materialization and a parity check. */
export const featuresDemoStage: DemoStage = {
  name: 'features',
  description: 'apply feature definitions, build a point-in-time training set, materialize, check parity',
  run: async (ctx) =>
    typeof ctx.state.worldDir === 'string' ? worldDemo(ctx, ctx.state.worldDir) : syntheticDemo(ctx),
};

/** With a World from the previous stage: the example YAML over its batch snapshots, labels from its sends. */
async function worldDemo(ctx: DemoContext, worldDir: string): Promise<Record<string, unknown>> {
  const dir = join(ctx.workDir, 'features');
  const manifest = JSON.parse(readFileSync(join(worldDir, 'manifest.json'), 'utf8')) as { endTs: number };
  const { FeatureStore, loadDefinitionsFile, MemoryOnlineStore } = await import('../../features/index.js');
  const store = await FeatureStore.open({
    dir,
    clock: new ManualClock(manifest.endTs),
    online: new MemoryOnlineStore(),
  });
  try {
    store.apply(loadDefinitionsFile(worldDefinitionsPath()));
    const imported = await store.importSource('user_batch', worldDir);
    const labels = join(dir, 'labels.parquet');
    await store.offline.execute(
      `COPY (SELECT user_id, send_ts AS ts, hour(epoch_ms(send_ts)) AS hour_of_day, send_id FROM read_parquet('${join(worldDir, 'sends.parquet').replaceAll("'", "''")}')) TO '${labels.replaceAll("'", "''")}' (FORMAT parquet)`,
    );
    const trainingSetPath = join(dir, 'training-set.parquet');
    const ts = await store.trainingSet({ service: 'audience_scoring', labelsPath: labels, outPath: trainingSetPath });
    const mat = await store.materialize();
    const parity = await store.parity({ service: 'audience_scoring', atMs: manifest.endTs, sample: 500 });
    ctx.state.featureStoreDir = dir;
    ctx.state.trainingSetPath = trainingSetPath;
    return {
      source: 'world',
      offlineRows: imported,
      trainingRows: ts.rows,
      columns: ts.columns,
      materialized: mat.reduce((s, r) => s + r.written, 0),
      parityMismatches: parity.totalMismatches,
    };
  } finally {
    await store.close();
  }
}

async function syntheticDemo(ctx: DemoContext): Promise<Record<string, unknown>> {
  const dir = join(ctx.workDir, 'features');
  const day = 86_400_000;
  const start = Date.UTC(2026, 2, 2);
  const clock = new ManualClock(start + 7 * day);
  const {
    defineEntity,
    defineFeatureService,
    defineFeatures,
    defineFeatureView,
    defineTransform,
    FeatureStore,
    MemoryOnlineStore,
  } = await import('../../features/index.js');
  const store = await FeatureStore.open({ dir, clock, online: new MemoryOnlineStore() });
  try {
    store.apply(
      defineFeatures({
        entities: [defineEntity({ name: 'user' })],
        views: [
          defineFeatureView({
            name: 'user_activity',
            entity: 'user',
            ttlSeconds: 2 * 86_400,
            features: [{ name: 'sessions_7d', dtype: 'int' }, { name: 'spend_30d' }, { name: 'ctr', default: 0.02 }],
          }),
        ],
        transforms: [
          defineTransform({
            name: 'derived',
            outputs: [{ name: 'log_spend', expression: 'log(user_activity.spend_30d + 1)' }],
          }),
        ],
        services: [
          defineFeatureService({
            name: 'demo_scoring',
            features: ['user_activity.sessions_7d', 'user_activity.ctr', 'derived.log_spend'],
          }),
        ],
      }),
    );
    const rng = new Rng(11);
    const users = 2000;
    const ids: string[] = [];
    const ev: number[] = [];
    const vals: number[] = [];
    for (let u = 0; u < users; u++)
      for (let d = 0; d < 7; d++) {
        if (rng.next() < 0.3) continue;
        ids.push(`u${String(u).padStart(6, '0')}`);
        ev.push(start + d * day + rng.int(day));
        vals.push(rng.int(30), rng.next() * 200, rng.next() / 10);
      }
    await store.writeOffline('user_activity', {
      entityIds: ids,
      eventTs: Float64Array.from(ev),
      createdTs: Float64Array.from(ev, (e) => e + 60_000),
      values: Float32Array.from(vals),
    });
    const labels = join(dir, 'labels.parquet');
    await store.offline.execute(
      `COPY (SELECT 'u' || lpad((i % ${users})::VARCHAR, 6, '0') AS user_id, ${start} + (i * 7919) % ${7 * day} AS ts, (i % 3 = 0)::INTEGER AS label FROM range(20000) r(i)) TO '${labels}' (FORMAT parquet)`,
    );
    const trainingSetPath = join(dir, 'training-set.parquet');
    const ts = await store.trainingSet({ service: 'demo_scoring', labelsPath: labels, outPath: trainingSetPath });
    const mat = await store.materialize();
    const parity = await store.parity({ service: 'demo_scoring', atMs: clock.now(), sample: 500 });
    ctx.state.featureStoreDir = dir;
    ctx.state.trainingSetPath = trainingSetPath;
    return {
      source: 'synthetic',
      offlineRows: ids.length,
      trainingRows: ts.rows,
      materialized: mat.reduce((s, r) => s + r.written, 0),
      parityMismatches: parity.totalMismatches,
    };
  } finally {
    await store.close();
  }
}
