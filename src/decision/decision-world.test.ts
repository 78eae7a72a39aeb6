import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, MS_PER_DAY } from '../core/index.js';
import { FeatureStore, loadDefinitionsFile, MemoryOnlineStore } from '../features/index.js';
import { buildSendTrainingSet, ModelRegistry, readTable, trainModel } from '../model/index.js';
import { generateWorld, type WorldManifest } from '../world/index.js';
import type { Campaign } from './campaign.js';
import { FileCampaignRegistry } from './campaign-registry.js';
import { type CampaignDecision, candidateReason, type DecisionDeps, decide } from './decide.js';
import { offlineFeatureSource, onlineFeatureSource } from './feature-sources.js';
import { inControlGroup, OUTCOME } from './policy.js';
import { RegistryModelResolver } from './scoring.js';
import type { SegmentIndex } from './segment-index.js';
import {
  backfillWorldStreamViews,
  buildWorldSegmentIndex,
  importWorldBatchViews,
  WORLD_SCORING_SERVICE,
  worldCampaignSpecs,
  worldCrossFeatures,
} from './world-index.js';

const DEFINITIONS = join(import.meta.dirname, '..', 'features', 'examples', 'world-features.yaml');

describe('the decision on a simulated World', () => {
  let dir: string;
  let manifest: WorldManifest;
  let store: FeatureStore;
  let index: SegmentIndex;
  let campaigns: Campaign[];
  let deps: DecisionDeps;
  let atMs: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'adnova-decision-world-'));
    const worldDir = join(dir, 'w');
    manifest = await generateWorld({ outDir: worldDir, users: 1200, days: 8, seed: 9, features: 24 });
    atMs = manifest.endTs - MS_PER_DAY + 9 * 3_600_000; // 09:00 on the last day
    store = await FeatureStore.open({
      dir: join(dir, 'fs'),
      clock: new ManualClock(manifest.endTs),
      online: new MemoryOnlineStore(),
    });
    store.apply(loadDefinitionsFile(DEFINITIONS));
    expect(await importWorldBatchViews(store, worldDir)).toEqual(['user_batch', 'user_batch_trends', 'user_warehouse']);
    // the stream views up to the decision, into both stores as the stream ingestor writes them
    const streamRows = await backfillWorldStreamViews(store, worldDir, atMs, { online: true });
    expect(streamRows['user_interests']).toBeGreaterThan(1000);
    const labels = join(dir, 'labels.parquet');
    await store.offline.execute(
      `COPY (SELECT user_id, send_ts AS ts, hour(epoch_ms(send_ts)) AS hour_of_day, send_id FROM read_parquet('${join(worldDir, 'sends.parquet')}') WHERE send_ts < ${atMs}) TO '${labels}' (FORMAT parquet)`,
    );
    const tsPath = join(dir, 'training-set.parquet');
    await store.trainingSet({ service: WORLD_SCORING_SERVICE, labelsPath: labels, outPath: tsPath });
    await store.materialize({ asOfMs: atMs });
    const crossFeatures = worldCrossFeatures();
    const set = buildSendTrainingSet(
      await readTable(tsPath),
      await readTable(join(worldDir, 'sends.parquet')),
      await readTable(join(worldDir, 'outcomes.parquet')),
      { goal: 'open', asOfMs: atMs, crossFeatures },
    );
    expect(set.columns.map((c) => c.name)).toContain('vertical_affinity');
    const trained = trainModel(set.matrix, set.labels, set.columns, {
      gbdt: { trees: 30, maxDepth: 4 },
      time: set.time,
      name: 'w',
      goal: 'open',
    });
    const models = new ModelRegistry(join(dir, 'models'));
    const entry = models.register(trained.artifact, 'open-model', 'open');
    models.promote(entry.id, 'champion');
    const registry = new FileCampaignRegistry(join(dir, 'campaigns'));
    await registry.createMany(await worldCampaignSpecs(worldDir));
    campaigns = (await registry.list()).filter((c) => c.launchTs >= manifest.endTs - 2 * MS_PER_DAY).slice(0, 8);
    index = await buildWorldSegmentIndex(store.offline, worldDir, atMs);
    deps = {
      index,
      features: onlineFeatureSource(store, WORLD_SCORING_SERVICE),
      models: new RegistryModelResolver(models, { fallbackGoal: 'open', crossFeatures }),
    };
  }, 240_000);
  afterAll(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const same = (a: CampaignDecision, b: CampaignDecision) => {
    expect(b.userIds).toEqual(a.userIds);
    let mismatches = 0;
    for (let r = 0; r < a.userIds.length; r++) {
      const sa = a.scores[r] as number;
      const sb = b.scores[r] as number;
      if (!(sa === sb || (Number.isNaN(sa) && Number.isNaN(sb)))) mismatches++;
      if (a.outcome[r] !== b.outcome[r]) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect([...b.members]).toEqual([...a.members]);
  };

  it('imports the World campaigns and finds candidates for them', () => {
    expect(campaigns.length).toBeGreaterThan(3);
    expect(index.users.size).toBeGreaterThan(1000);
  });

  it('decides identically user by user (online path) and over the bitmaps (batch path)', async () => {
    const batch = await decide(campaigns, deps, { atMs, commit: false });
    const everyone = index.users.usersOf(Uint32Array.from({ length: index.users.size }, (_, i) => i));
    const online = await decide(campaigns, deps, { atMs, commit: false, userIds: everyone });
    batch.campaigns.forEach((d, k) => {
      same(d, online.campaigns[k] as CampaignDecision);
      expect(d.members.length).toBeGreaterThan(0);
      const last = d.stages[d.stages.length - 1];
      expect(last?.remaining).toBe(d.members.length);
    });
  });

  it('keeps the global control group out identically on both paths', async () => {
    const withControl = { ...deps, controlShare: 0.1 };
    const batch = await decide(campaigns, withControl, { atMs, commit: false });
    const everyone = index.users.usersOf(Uint32Array.from({ length: index.users.size }, (_, i) => i));
    const online = await decide(campaigns, withControl, { atMs, commit: false, userIds: everyone });
    const plain = await decide(campaigns, deps, { atMs, commit: false });
    batch.campaigns.forEach((d, k) => {
      same(d, online.campaigns[k] as CampaignDecision);
      const all = (plain.campaigns[k] as CampaignDecision).userIds;
      expect(d.userIds).toEqual(all.filter((u) => !inControlGroup(u, 0.1)));
      expect(d.userIds.length).toBeLessThan(all.length);
      expect(d.stages.find((s) => s.rule === 'control_group')?.remaining).toBe(d.userIds.length);
    });
  });

  it('scores a user the same in a small request as in the whole launch', async () => {
    const batch = await decide(campaigns, deps, { atMs, commit: false });
    const d = batch.campaigns[0] as CampaignDecision;
    const sample = d.userIds.filter((_, i) => i % 7 === 0);
    const small = (await decide([d.campaign], deps, { atMs, commit: false, userIds: sample })).campaigns[0];
    expect(small?.userIds).toEqual(sample);
    sample.forEach((u, i) => {
      expect(small?.scores[i]).toBe(d.scores[d.userIds.indexOf(u)]);
    });
    // a request of one to three users is scored row by row: the same numbers
    for (const n of [1, 2, 3]) {
      const few = sample.slice(n, 2 * n);
      const got = (await decide([d.campaign], deps, { atMs, commit: false, userIds: few })).campaigns[0];
      few.forEach((u, i) => {
        expect(got?.scores[i]).toBe(d.scores[d.userIds.indexOf(u)]);
      });
    }
  });

  it('scores each campaign as decided alone, with campaigns that share a model and its inputs among them', async () => {
    const base = campaigns[0] as Campaign;
    const other = campaigns.find((c) => c.vertical !== base.vertical) as Campaign;
    // a twin shares the model and every input with base (scored once for both); other differs in its vertical
    const twin = { ...base, id: `${base.id}-twin` };
    const moved = { ...base, id: `${base.id}-moved`, vertical: other.vertical };
    const together = await decide([base, twin, moved, ...campaigns.slice(1)], deps, { atMs, commit: false });
    const [b, t, m] = together.campaigns as CampaignDecision[];
    for (const [d, c] of [
      [b, base],
      [t, twin],
      [m, moved],
      ...campaigns.slice(1).map((c, k) => [together.campaigns[k + 3], c] as const),
    ] as const) {
      const alone = (await decide([c], deps, { atMs, commit: false })).campaigns[0] as CampaignDecision;
      expect(d?.userIds).toEqual(alone.userIds);
      expect([...(d as CampaignDecision).scores]).toEqual([...alone.scores]);
    }
    expect([...(t as CampaignDecision).scores]).toEqual([...(b as CampaignDecision).scores]);
    expect((t as CampaignDecision).scores).not.toBe((b as CampaignDecision).scores); // a copy, not shared
    let differ = 0;
    (b as CampaignDecision).scores.forEach((v, i) => {
      if (v !== (m as CampaignDecision).scores[i]) differ++;
    });
    expect(differ).toBeGreaterThan(0);
  });

  it('gives the same scores from the offline store as of the launch as from the online store', async () => {
    const online = await decide(campaigns.slice(0, 3), deps, { atMs, commit: false });
    const offline = await decide(
      campaigns.slice(0, 3),
      { ...deps, features: offlineFeatureSource(store, WORLD_SCORING_SERVICE) },
      { atMs, commit: false },
    );
    online.campaigns.forEach((d, k) => {
      same(d, offline.campaigns[k] as CampaignDecision);
    });
    // the stream views came through both sources (not defaults): most candidates have a present interest vector
    for (const m of [online.features, offline.features]) {
      const v = m.views.findIndex((x) => x.name === 'user_interests');
      const rows = m.entityIds.length;
      let present = 0;
      for (let r = 0; r < rows; r++) if (m.status[v * rows + r] === 0) present++;
      expect(present / rows).toBeGreaterThan(0.8);
    }
  });

  it('gives every candidate a reason; members carry score, rank, contributions and freshness', async () => {
    const result = await decide(campaigns.slice(0, 2), deps, { atMs, commit: false });
    for (const d of result.campaigns) {
      for (let r = 0; r < d.userIds.length; r++) {
        const why = candidateReason(result, d, r);
        expect(why.detail.length).toBeGreaterThan(0);
        expect(why.included).toBe(d.outcome[r] === OUTCOME.exploit || d.outcome[r] === OUTCOME.explore);
        if (why.included) {
          expect(why.score).not.toBeNull();
          expect(why.contributions.length).toBeGreaterThan(0);
          expect(why.contributions.length).toBeLessThanOrEqual(3);
          expect(Object.keys(why.featureAgesMs)).toEqual(expect.arrayContaining(['user_batch', 'user_interests']));
        }
      }
    }
  });
});
