import type { AdnovaConfig, Logger } from '../core/index.js';
import { decisionDemoStage } from './commands/audience.js';
import { featuresDemoStage } from './commands/features.js';
import { modelDemoStage } from './commands/model.js';
import { monitorDemoStage } from './commands/monitor.js';
import { servingDemoStage } from './commands/serve.js';
import { streamDemoStage } from './commands/stream.js';
import { worldDemoStage } from './commands/world.js';
import type { CliIo } from './io.js';

/**
 * What stages hand to later stages (paths, names). Each stage reads what it needs and fails with a clear
 * message when an earlier stage did not provide it.
 */
export interface DemoState {
  /** A generated World dataset directory. */
  worldDir?: string;
  /** The feature store directory (offline + registry). */
  featureStoreDir?: string;
  /** A point-in-time training set file. */
  trainingSetPath?: string;
  /** A trained model artifact directory. */
  modelDir?: string;
  [key: string]: unknown;
}

export interface DemoContext {
  readonly config: AdnovaConfig;
  readonly io: CliIo;
  readonly logger: Logger;
  /** A fresh directory for this run's files (under the store directory). */
  readonly workDir: string;
  readonly state: DemoState;
}

/** One step of the end-to-end loop. A stage that is not built yet names the issue that builds it. */
export interface DemoStage {
  readonly name: string;
  readonly description: string;
  readonly run?: (ctx: DemoContext) => Promise<Record<string, unknown>>;
  readonly notBuiltYet?: string;
}

export interface DemoStageResult {
  readonly stage: string;
  readonly status: 'ok' | 'not-built';
  readonly durationMs: number;
  readonly summary: Record<string, unknown>;
}

/** The whole loop, in order. Later issues replace `notBuiltYet` with `run`. */
export const DEMO_STAGES: readonly DemoStage[] = [
  {
    name: 'config',
    description: 'load the embedded defaults (no services needed)',
    run: async ({ config }) => ({
      storeDir: config.storeDir,
      onlineStore: config.onlineStore.kind,
      bus: config.bus.kind,
    }),
  },
  worldDemoStage ?? {
    name: 'world',
    description: 'simulate users, events, campaigns and outcomes',
    notBuiltYet: 'issue #3',
  },
  featuresDemoStage ?? {
    name: 'features',
    description: 'apply feature definitions, build training sets, materialize',
    notBuiltYet: 'issue #4',
  },
  streamDemoStage ?? { name: 'stream', description: 'ingest events into windowed aggregates', notBuiltYet: 'issue #5' },
  modelDemoStage ?? {
    name: 'model',
    description: 'train, calibrate, evaluate and register a GBDT',
    notBuiltYet: 'issue #6',
  },
  monitorDemoStage ?? {
    name: 'monitor',
    description: 'profile serving windows and detect drift',
    notBuiltYet: 'issue #7',
  },
  decisionDemoStage,
  { name: 'audience', description: 'batch audiences and incremental refresh', notBuiltYet: 'issue #18' },
  servingDemoStage,
  { name: 'privacy', description: 'deletion requests and tombstones', notBuiltYet: 'issue #20' },
];

export async function runDemo(
  ctx: DemoContext,
  stages: readonly DemoStage[] = DEMO_STAGES,
): Promise<DemoStageResult[]> {
  const results: DemoStageResult[] = [];
  for (const stage of stages) {
    const started = performance.now();
    if (!stage.run) {
      results.push({ stage: stage.name, status: 'not-built', durationMs: 0, summary: { builtBy: stage.notBuiltYet } });
      continue;
    }
    ctx.logger.debug({ stage: stage.name }, 'demo stage start');
    const summary = await stage.run(ctx);
    results.push({ stage: stage.name, status: 'ok', durationMs: Math.round(performance.now() - started), summary });
  }
  return results;
}

export function formatDemoResults(results: readonly DemoStageResult[]): string {
  const lines = results.map((r) => {
    const mark = r.status === 'ok' ? 'ok ' : '-- ';
    const detail =
      r.status === 'ok'
        ? Object.entries(r.summary)
            .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
            .join(' ')
        : `not built yet (${String(r.summary['builtBy'])})`;
    return `${mark} ${r.stage.padEnd(9)} ${r.status === 'ok' ? `${r.durationMs} ms  ` : ''}${detail}`;
  });
  const built = results.filter((r) => r.status === 'ok').length;
  lines.push(`${built} of ${results.length} stages ran; the others are listed with the issue that builds them.`);
  return lines.join('\n');
}
