import { join } from 'node:path';
import { Rng } from '../../core/random.js';
import type { ArtifactColumn, ModelMatrix, trainModel } from '../../model/index.js';
import type { DemoStage } from './stage.js';

/**
 * The model stage of `adnova demo`. With the World and the features stages before it: labels for the `open` goal
 * from the World's sends and outcomes as of its end (immature sends excluded), features from the feature store's
 * point-in-time training set plus campaign features, a temporal split. Without them: synthetic data.
 */
export const modelDemoStage: DemoStage = {
  name: 'model',
  description: 'train, calibrate, evaluate and register a GBDT',
  run: async ({ workDir, state }) => {
    const [{ buildSendTrainingSet, ModelRegistry, readTable, saveArtifact, trainModel }, { readManifest }] =
      await Promise.all([import('../../model/index.js'), import('../../world/index.js')]);
    const dir = join(workDir, 'model');
    let result: ReturnType<typeof trainModel>;
    let source: string;
    if (state.worldDir && state.trainingSetPath) {
      const worldDir = state.worldDir;
      const manifest = readManifest(worldDir);
      const set = buildSendTrainingSet(
        await readTable(state.trainingSetPath),
        await readTable(join(worldDir, 'sends.parquet')),
        await readTable(join(worldDir, 'outcomes.parquet')),
        { goal: 'open', asOfMs: manifest.endTs },
      );
      result = trainModel(set.matrix, set.labels, set.columns, {
        gbdt: { trees: 60, maxDepth: 4 },
        time: set.time,
        segments: set.segments,
        name: 'demo',
        goal: 'open',
      });
      source = `world sends (${set.labelStats.mature} mature, ${set.labelStats.immatureExcluded} immature excluded) + training set`;
    } else {
      const [matrix, labels, columns] = syntheticDemoData();
      result = trainModel(matrix, labels, columns, { gbdt: { trees: 40, maxDepth: 4 }, name: 'demo', goal: 'open' });
      source = 'synthetic';
    }
    saveArtifact(dir, result.artifact);
    const registry = new ModelRegistry(join(workDir, 'models'));
    const entry = registry.register(dir, 'demo', 'open');
    registry.promote(entry.id, 'champion');
    state.modelDir = dir;
    return {
      source,
      rows: result.rows.train + result.rows.validation + result.rows.test,
      features: result.artifact.header.columns.length,
      trees: result.artifact.trees.length,
      testAuc: Number((result.test?.rocAuc ?? Number.NaN).toFixed(4)),
      calibration: result.artifact.header.calibration.method,
      champion: entry.id,
    };
  },
};

function syntheticDemoData(): [ModelMatrix, Uint8Array, ArtifactColumn[]] {
  const n = 6000;
  const rng = new Rng(42);
  const columns = ['recency_days', 'opens_30d', 'channel'];
  const values = new Float32Array(n * columns.length);
  const labels = new Uint8Array(n);
  for (let r = 0; r < n; r++) {
    const recency = rng.int(60);
    const opens = rng.int(12);
    const channel = rng.int(3);
    values[r] = rng.next() < 0.05 ? Number.NaN : recency;
    values[n + r] = opens;
    values[2 * n + r] = channel;
    const z = -1.5 - 0.04 * recency + 0.25 * opens + (channel === 2 ? 0.8 : 0);
    labels[r] = rng.next() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return [
    { rows: n, columns, values },
    labels,
    [
      { name: 'recency_days', kind: 'numeric' },
      { name: 'opens_30d', kind: 'numeric' },
      { name: 'channel', kind: 'categorical', vocabulary: ['email', 'push', 'in-app'] },
    ],
  ];
}
