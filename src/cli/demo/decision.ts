import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError } from '../../core/errors.js';
import { worldDefinitionsPath } from '../../features/world-definitions.js';
import type { DemoStage } from './stage.js';

/** The demo's decision stage: the demo World's later campaigns decided and judged by its oracle. */
export const decisionDemoStage: DemoStage = {
  name: 'decision',
  description: 'retrieve, score and apply policy for World campaigns; judge the audiences by the oracle',
  run: async ({ workDir, state }) => {
    if (!state.worldDir) throw new InvalidInputError('the decision stage needs the world stage first');
    const { evaluateOnWorld } = await import('../../decision/index.js');
    const dir = join(workDir, 'decision');
    mkdirSync(dir, { recursive: true });
    const r = await evaluateOnWorld({
      worldDir: state.worldDir,
      workDir: dir,
      definitionsPath: worldDefinitionsPath(),
      gbdt: { trees: 40 },
      maxCampaigns: 30,
    });
    return {
      campaigns: r.campaigns,
      oracleCapture: Number(r.oracleCapture.toFixed(3)),
      ruleCapture: Number(r.ruleCapture.toFixed(3)),
      expectedOutcomes: Object.fromEntries(
        Object.entries(r.expectedOutcomes).map(([k, v]) => [k, Number(v.toFixed(1))]),
      ),
    };
  },
};
