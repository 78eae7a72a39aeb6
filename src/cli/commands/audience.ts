import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { CaptureFigures, WorldEvaluation } from '../../decision/index.js';
import { worldDefinitionsPath } from '../../features/world-definitions.js';
import { type CliIo, printJson } from '../io.js';
import { openFraction, positiveInt } from '../options.js';
import { startProgress } from '../progress.js';

const pct = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');

function captureLine(name: string, f: CaptureFigures): string {
  const e = f.expectedOutcomes;
  return `${name.padEnd(10)} ${String(f.campaigns).padStart(5)}  ${e.adnova.toFixed(1).padStart(9)} ${e.rule.toFixed(1).padStart(9)} ${e.random.toFixed(1).padStart(9)} ${e.oracle.toFixed(1).padStart(9)}  ${pct(f.oracleCapture).padStart(8)} ${pct(f.ruleCapture).padStart(8)}`;
}

function formatEvaluation(r: WorldEvaluation): string {
  const lines = [
    `campaigns launched after ${new Date(r.trainEndTs).toISOString()} (models trained on the sends before): ${r.campaigns}`,
    `models: ${Object.entries(r.models)
      .map(([g, m]) => `${g} ${m.id} (test AUC ${m.testAuc === null ? 'n/a' : m.testAuc.toFixed(4)})`)
      .join(', ')}`,
    'expected goal outcomes by the World oracle, audiences at each campaign size:',
    `${'group'.padEnd(10)} ${'camp.'.padStart(5)}  ${'adnova'.padStart(9)} ${'rule'.padStart(9)} ${'random'.padStart(9)} ${'oracle'.padStart(9)}  ${'capture'.padStart(8)} ${'rule cap'.padStart(8)}`,
    captureLine('all', r),
    ...Object.entries(r.byChannel).map(([k, f]) => captureLine(k, f)),
    ...Object.entries(r.byGoal).map(([k, f]) => captureLine(k, f)),
    'capture = (adnova - random) / (oracle - random); rule = the World’s own rule-based selection',
    `IPS (self-normalised) from the World's ${r.ips.loggedSends} exploration sends of ${r.ips.campaigns} campaigns with final labels (${r.ips.immatureCampaigns} left out), ${r.ips.matched} in adnova's audiences (${r.ips.hits} with the goal): ${r.ips.estimate.toFixed(1)} [${r.ips.ci95[0].toFixed(1)}, ${r.ips.ci95[1].toFixed(1)}] vs oracle ${r.ips.oracle.toFixed(1)} (the ${r.ips.audienceInPools} audience users inside the exploration pools)${r.ips.covered ? '' : ' - outside the interval'}`,
  ];
  return lines.join('\n');
}

/** Registers `adnova audience evaluate` (audience builds come with the Audiences issue). */
export function registerAudienceCommands(program: Command, io: CliIo): void {
  const audience = program.command('audience').description('audiences of campaigns (docs/decision.md)');

  audience
    .command('evaluate')
    .description(
      "judge the decision by a simulated World's truth: train on its first part, build every later campaign's audience, and compare the oracle's expected outcomes with the World's rule selection, random and the oracle's top-k",
    )
    .requiredOption('--world <dir>', 'a simulated World directory (adnova world generate)')
    .option('--work-dir <dir>', 'scratch directory (default: a temporary one, removed at the end)')
    .option('--train-fraction <x>', "share of the World's days to train on", '0.667')
    .option('--max-campaigns <n>', 'evaluate at most this many campaigns')
    .option('--trees <n>', 'trees per model', '100')
    .option('--json', 'machine-readable output')
    .action(
      async (opts: {
        world: string;
        workDir?: string;
        trainFraction: string;
        maxCampaigns?: string;
        trees: string;
        json?: boolean;
      }) => {
        const fraction = openFraction('train-fraction', opts.trainFraction) as number;
        const max = positiveInt('max-campaigns', opts.maxCampaigns);
        const trees = positiveInt('trees', opts.trees) as number;
        const { evaluateOnWorld } = await import('../../decision/index.js');
        const temp = opts.workDir === undefined;
        const workDir = temp ? mkdtempSync(join(resolve('.'), '.adnova-evaluate-')) : resolve(opts.workDir as string);
        mkdirSync(workDir, { recursive: true });
        const progress = startProgress(io, 'campaigns', { json: opts.json === true });
        try {
          const r = await evaluateOnWorld({
            worldDir: resolve(opts.world),
            workDir,
            definitionsPath: worldDefinitionsPath(),
            trainFraction: fraction,
            gbdt: { trees },
            ...(max !== undefined ? { maxCampaigns: max } : {}),
            onProgress: progress.onProgress,
          });
          progress.stop();
          if (opts.json) printJson(io, r);
          else io.out(formatEvaluation(r));
        } finally {
          progress.stop();
          if (temp) rmSync(workDir, { recursive: true, force: true });
        }
      },
    );
}
