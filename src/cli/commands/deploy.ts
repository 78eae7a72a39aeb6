import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidInputError } from '../../core/errors.js';
// registering loads only import-free modules; the action imports the decision code it runs
import { worldDefinitionsPath } from '../../features/world-definitions.js';
import type { DemoContext } from '../demo.js';
import { type CliIo, printJson } from '../io.js';
import { positiveInt, share } from '../options.js';

/** The deployment directory a command works on: `--deployment`, else the configured store directory. */
export async function deploymentDirFor(cmd: Command, dir: string | undefined): Promise<string> {
  if (dir) return resolve(dir);
  const { loadConfig } = await import('../../core/index.js');
  const { config } = loadConfig({ file: (cmd.optsWithGlobals() as { config?: string }).config });
  return resolve(config.storeDir);
}

/** Registers `adnova deploy`: a deployment (features, models, campaigns, index) built from a World. */
export function registerDeployCommands(program: Command, io: CliIo): void {
  program
    .command('deploy')
    .description(
      'build a deployment from a simulated World: features imported and materialized, a champion and a batch-only fallback model per goal, its campaigns, the segment index (what audiences, serving and privacy open)',
    )
    .requiredOption('--world <dir>', 'a simulated World directory (adnova world generate)')
    .option('--out <dir>', 'the deployment directory, new or empty (default: the configured store directory)')
    .option('--trees <n>', 'trees per model', '100')
    .option('--control-share <x>', 'share of users in the global control group', '0')
    .option('--json', 'machine-readable output')
    .action(async (opts: { world: string; out?: string; trees: string; controlShare: string; json?: boolean }, cmd) => {
      const trees = positiveInt('trees', opts.trees) as number;
      const controlShare = share('control-share', opts.controlShare) ?? 0;
      const dir = await deploymentDirFor(cmd as Command, opts.out);
      const { deployWorld } = await import('../../decision/index.js');
      const r = await deployWorld({
        worldDir: resolve(opts.world),
        dir,
        definitionsPath: worldDefinitionsPath(),
        gbdt: { trees },
        controlShare,
        ...(opts.json ? {} : { onProgress: (step: string) => io.err(`deploy: ${step}`) }),
      });
      if (opts.json) printJson(io, r);
      else
        io.out(
          [
            `deployment ${r.dir} as of ${new Date(r.asOfMs).toISOString()}: ${r.users} users, ${r.campaigns} campaigns`,
            ...Object.entries(r.models).map(
              ([goal, m]) =>
                `  ${goal.padEnd(8)} champion ${m.champion} (test AUC ${m.testAuc === null ? 'n/a' : m.testAuc.toFixed(4)}), fallback ${m.fallback}`,
            ),
          ].join('\n'),
        );
    });
}

/**
 * The demo's deployment: built once from the demo World (small trees, to stay within a stage's time) into
 * `<workDir>/deployment`, shared by the audience, serving and privacy stages through `state.deploymentDir`.
 */
export async function ensureDemoDeployment(ctx: DemoContext): Promise<string> {
  if (typeof ctx.state.deploymentDir === 'string') return ctx.state.deploymentDir;
  if (typeof ctx.state.worldDir !== 'string')
    throw new InvalidInputError('the demo deployment needs the world stage first');
  const { deployWorld } = await import('../../decision/index.js');
  const dir = join(ctx.workDir, 'deployment');
  await deployWorld({
    worldDir: ctx.state.worldDir,
    dir,
    definitionsPath: worldDefinitionsPath(),
    gbdt: { trees: 20 },
  });
  ctx.state.deploymentDir = dir;
  return dir;
}
