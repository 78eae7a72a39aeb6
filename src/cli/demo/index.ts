import { audienceDemoStage } from './audience.js';
import { decisionDemoStage } from './decision.js';
import { featuresDemoStage } from './features.js';
import { modelDemoStage } from './model.js';
import { monitorDemoStage } from './monitor.js';
import { privacyDemoStage } from './privacy.js';
import { servingDemoStage } from './serving.js';
import type { DemoContext, DemoStage, DemoStageResult } from './stage.js';
import { streamDemoStage } from './stream.js';
import { worldDemoStage } from './world.js';

export type { DemoContext, DemoStage, DemoStageResult, DemoState } from './stage.js';

/** The whole loop, in order; a stage still to be built names its issue. */
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
  worldDemoStage,
  featuresDemoStage,
  streamDemoStage,
  modelDemoStage,
  monitorDemoStage,
  decisionDemoStage,
  audienceDemoStage,
  servingDemoStage,
  privacyDemoStage,
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
  lines.push(
    built === results.length
      ? `${built} of ${results.length} stages ran.`
      : `${built} of ${results.length} stages ran; the others are listed with the issue that builds them.`,
  );
  return lines.join('\n');
}
