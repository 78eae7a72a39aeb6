import type { MetricsRegistry } from '../core/index.js';
import { loadDefinitionsFile, worldDefinitionsPath } from '../features/index.js';
import { readManifest, replayEvents, tableFiles } from '../world/index.js';
import { compileAggregationPlan } from './aggregation-plan.js';
import type { EventBus } from './event-bus.js';
import { MemoryDirtyUserFeed } from './stream-ingestor.js';
import { dailyCheckpoints, type ReplayParityResult, replayAndCompare } from './stream-parity.js';

/**
 * Replays a World's events through a bus, ingests them, and compares the stream aggregates with DuckDB's batch
 * execution of the same definitions over the same events, at the last `checkpoints` day boundaries (the
 * `adnova stream parity` check). The topic is the caller's for the run and deleted afterwards.
 */
export async function worldStreamParity(options: {
  readonly worldDir: string;
  readonly bus: EventBus;
  readonly definitionsPath?: string;
  readonly views?: readonly string[];
  readonly allowedLatenessMs?: number;
  readonly checkpoints?: number;
  readonly metrics?: MetricsRegistry;
}): Promise<ReplayParityResult & { topic: string }> {
  const manifest = readManifest(options.worldDir);
  const plan = compileAggregationPlan(
    loadDefinitionsFile(options.definitionsPath ?? worldDefinitionsPath()),
    options.views,
  );
  const topic = `parity-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
  try {
    const result = await replayAndCompare({
      bus: options.bus,
      topic,
      plan,
      replay: (target) => replayEvents({ dir: options.worldDir, target }),
      eventFiles: tableFiles(options.worldDir, manifest, 'events'),
      checkpoints: dailyCheckpoints(manifest.startTs, manifest.endTs, options.checkpoints ?? 7),
      dirtyFeed: new MemoryDirtyUserFeed(),
      ...(options.allowedLatenessMs !== undefined ? { allowedLatenessMs: options.allowedLatenessMs } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
    });
    return { ...result, topic };
  } finally {
    await options.bus.deleteTopic(topic).catch(() => {});
  }
}
