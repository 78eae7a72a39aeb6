import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError, ManualClock } from '../core/index.js';
import { FeatureStore, loadDefinitionsFile, MemoryOnlineStore } from '../features/index.js';
import { buildSendTrainingSet, type GbdtParams, ModelRegistry, readTable, trainModel } from '../model/index.js';
import { readManifest, tableFiles } from '../world/index.js';
import { CAMPAIGN_GOALS } from './campaign.js';
import { FileCampaignRegistry } from './campaign-registry.js';
import { deploymentLayout, writeDeploymentManifest } from './deployment.js';
import { DEFAULT_CAPS_PER_DAY } from './policy.js';
import { WORLD_GBDT } from './world-evaluation.js';
import {
  backfillWorldStreamViews,
  buildWorldSegmentIndex,
  hasWarehouseScores,
  WORLD_SCORING_SERVICE,
  worldCampaignSpecs,
  worldCrossFeatures,
} from './world-index.js';

export interface DeployWorldOptions {
  readonly worldDir: string;
  /** The deployment directory (created; must be empty or absent). */
  readonly dir: string;
  /** The feature definitions (the World example). */
  readonly definitionsPath: string;
  /** The time the deployment is current to; default the World's end. Models train on the sends before it. */
  readonly asOfMs?: number;
  readonly gbdt?: Partial<GbdtParams>;
  readonly controlShare?: number;
  readonly onProgress?: (step: string) => void;
}

export interface WorldDeployment {
  readonly dir: string;
  readonly asOfMs: number;
  readonly campaigns: number;
  readonly users: number;
  readonly models: Readonly<Record<string, { champion: string; fallback: string; testAuc: number | null }>>;
}

const lit = (p: string) => `'${p.replaceAll("'", "''")}'`;

/**
 * Builds a deployment from a simulated World, as a production system would hold it at `asOfMs`: the batch views
 * imported and materialized, the stream views computed up to then into both stores (as the ingestor writes them),
 * a champion per goal trained on the sends before it and a fallback per goal trained on batch-only features, the
 * World's campaigns in the registry, and the segment index of that time.
 */
export async function deployWorld(opts: DeployWorldOptions): Promise<WorldDeployment> {
  const layout = deploymentLayout(opts.dir);
  if (existsSync(layout.root) && readdirSync(layout.root).length > 0)
    throw new InvalidInputError(`deployment directory ${layout.root} is not empty; choose a new one`);
  mkdirSync(layout.root, { recursive: true });
  const manifest = readManifest(opts.worldDir);
  const asOfMs = opts.asOfMs ?? manifest.endTs;
  if (!(asOfMs > manifest.startTs && asOfMs <= manifest.endTs))
    throw new InvalidInputError(
      `asOf must be within the World (${new Date(manifest.startTs).toISOString()} .. ${new Date(manifest.endTs).toISOString()}), got ${new Date(asOfMs).toISOString()}`,
    );
  const step = opts.onProgress ?? (() => {});
  const store = await FeatureStore.open({
    dir: layout.features,
    clock: new ManualClock(asOfMs),
    online: new MemoryOnlineStore({ snapshotPath: join(layout.features, 'online-snapshot.json') }),
  });
  try {
    step('features');
    store.apply(loadDefinitionsFile(opts.definitionsPath));
    await store.importSource('user_batch', opts.worldDir);
    if (hasWarehouseScores(manifest)) await store.importSource('user_warehouse', opts.worldDir);
    await backfillWorldStreamViews(store, opts.worldDir, asOfMs, { online: true });
    await store.materialize({ asOfMs });

    step('models');
    const sendsPath = tableFiles(opts.worldDir, manifest, 'sends')[0] as string;
    const scratch = join(layout.root, 'tmp');
    mkdirSync(scratch, { recursive: true });
    const labels = join(scratch, 'train-labels.parquet');
    await store.offline.execute(
      `COPY (SELECT user_id, send_ts AS ts, hour(epoch_ms(send_ts)) AS hour_of_day, send_id FROM read_parquet(${lit(sendsPath)}) WHERE send_ts < ${asOfMs}) TO ${lit(labels)} (FORMAT parquet)`,
    );
    const tsPath = join(scratch, 'train-set.parquet');
    await store.trainingSet({ service: WORLD_SCORING_SERVICE, labelsPath: labels, outPath: tsPath });
    const trainingSet = await readTable(tsPath);
    const sends = await readTable(sendsPath);
    const outcomes = await readTable(tableFiles(opts.worldDir, manifest, 'outcomes')[0] as string);
    const crossFeatures = worldCrossFeatures();
    const batchViews = new Set(
      store
        .definitions()
        .views.filter((v) => v.source.kind === 'batch')
        .map((v) => v.name),
    );
    // the fallback serves while the online store is down: only what the newest batch snapshot holds
    const streamColumns = trainingSet.columns
      .map((c) => c.name)
      .filter((n) => n.includes('.') && !batchViews.has(n.slice(0, n.indexOf('.'))));
    const registry = new ModelRegistry(layout.models);
    const models: Record<string, { champion: string; fallback: string; testAuc: number | null }> = {};
    for (const goal of CAMPAIGN_GOALS) {
      const train = (fallback: boolean) => {
        const exclude = fallback
          ? [...streamColumns, 'vertical', 'goal']
          : [...crossFeatures.inputsOf('vertical_affinity'), 'vertical', 'goal'];
        const set = buildSendTrainingSet(trainingSet, sends, outcomes, {
          goal,
          asOfMs,
          immature: 'weight',
          ...(fallback ? {} : { crossFeatures }),
          exclude,
        });
        let positives = 0;
        for (const y of set.labels) positives += y;
        const name = fallback ? `world-${goal}-batch` : `world-${goal}`;
        const trained = trainModel(set.matrix, set.labels, set.columns, {
          gbdt: { ...WORLD_GBDT, minChildWeight: Math.min(10, Math.max(1, positives / 8)), ...opts.gbdt },
          time: set.time,
          name,
          goal,
        });
        const entry = registry.register(trained.artifact, name, goal);
        registry.promote(entry.id, fallback ? 'fallback' : 'champion');
        return { id: entry.id, testAuc: trained.test?.rocAuc ?? null };
      };
      const champion = train(false);
      const fallback = train(true);
      models[goal] = { champion: champion.id, fallback: fallback.id, testAuc: champion.testAuc };
    }

    step('campaigns');
    const campaigns = new FileCampaignRegistry(layout.campaigns, () => asOfMs);
    const imported = await campaigns.createMany(await worldCampaignSpecs(opts.worldDir), 'world');

    step('index');
    const index = await buildWorldSegmentIndex(store.offline, opts.worldDir, asOfMs);
    index.save(layout.index);

    writeDeploymentManifest(layout.root, {
      format: 'adnova-deployment',
      version: 1,
      service: WORLD_SCORING_SERVICE,
      createdAt: new Date().toISOString(),
      asOfMs,
      crossFeatures: crossFeatures.spec,
      capsPerDay: DEFAULT_CAPS_PER_DAY,
      controlShare: opts.controlShare ?? 0,
      source: { kind: 'world', worldDir: opts.worldDir, seed: Number(manifest.params['seed'] ?? Number.NaN) },
    });
    rmSync(scratch, { recursive: true, force: true });
    return { dir: layout.root, asOfMs, campaigns: imported.created, users: index.users.size, models };
  } finally {
    await store.close();
  }
}
