import { existsSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Command } from 'commander';
// registering loads only import-free modules; each action imports the decision code it runs
import { InvalidInputError, NotFoundError } from '../../core/errors.js';
import type { Campaign, CampaignStatus, FileCampaignRegistry } from '../../decision/index.js';
import { type CliIo, printJson } from '../io.js';

const CAMPAIGN_STATUSES = ['active', 'paused'] as const; // = decision's CAMPAIGN_STATUSES (checked in a test)

async function registryFor(cmd: Command, dir: string | undefined): Promise<FileCampaignRegistry> {
  const { FileCampaignRegistry } = await import('../../decision/index.js');
  if (dir) return new FileCampaignRegistry(dir);
  const { loadConfig } = await import('../../core/index.js');
  const { config } = loadConfig({ file: (cmd.optsWithGlobals() as { config?: string }).config });
  return new FileCampaignRegistry(join(config.storeDir, 'campaigns'));
}

/** A spec file: JSON or YAML, one campaign or a list. */
async function readSpecs(file: string): Promise<unknown[]> {
  const { parse: parseYaml } = await import('yaml');
  if (!existsSync(file)) throw new NotFoundError(`campaign spec file ${file} does not exist`);
  const text = readFileSync(file, 'utf8');
  let raw: unknown;
  try {
    raw = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new InvalidInputError(
      `${file} is not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return Array.isArray(raw) ? raw : [raw];
}

const isoUtc = (ms: number): string => new Date(ms).toISOString();

function line(c: Campaign): string {
  const t = c.targeting;
  const rules = [
    t.countries ? `countries ${t.countries.join(',')}` : '',
    t.platforms ? `platforms ${t.platforms.join(',')}` : '',
    t.ageBands ? `ages ${t.ageBands.join(',')}` : '',
    t.segments ? `segments ${t.segments.join(',')}` : '',
    t.activeWithinDays !== undefined ? `active ${t.activeWithinDays}d` : '',
    ...t.features.map((f) => f.text),
  ].filter(Boolean);
  return `${c.id}  ${c.status.padEnd(6)}  v${c.version}  ${c.advertiserId}  ${c.channel}/${c.goal}/${c.vertical}  size ${c.desiredAudienceSize}  launch ${isoUtc(c.launchTs)}${rules.length ? `  [${rules.join('; ')}]` : ''}`;
}

/** Registers `adnova campaign create|import|list|describe|pause|resume`. */
export function registerCampaignCommands(program: Command, io: CliIo): void {
  const campaign = program.command('campaign').description('campaign specs and their registry (docs/decision.md)');
  const registryOption = ['--registry <dir>', 'campaign registry directory (default <storeDir>/campaigns)'] as const;

  campaign
    .command('create')
    .description('validate and store campaigns from a JSON or YAML spec file (one campaign or a list)')
    .requiredOption('--file <path>', 'spec file (.json, .yaml, .yml)')
    .option(...registryOption)
    .option('--json', 'machine-readable output')
    .action(async (opts: { file: string; registry?: string; json?: boolean }, cmd: Command) => {
      const registry = await registryFor(cmd, opts.registry);
      const specs = await readSpecs(opts.file);
      const created: Campaign[] = [];
      for (const [i, spec] of specs.entries())
        created.push(await registry.create(spec, specs.length > 1 ? `${opts.file}[${i}]` : opts.file));
      if (opts.json) printJson(io, { created: created.map((c) => ({ id: c.id, version: c.version })) });
      else for (const c of created) io.out(`created ${line(c)}`);
    });

  campaign
    .command('import')
    .description("import a World's campaigns (campaigns.parquet); campaigns already present are skipped")
    .requiredOption('--world <dir>', 'World directory')
    .option(...registryOption)
    .option('--json', 'machine-readable output')
    .action(async (opts: { world: string; registry?: string; json?: boolean }, cmd: Command) => {
      const registry = await registryFor(cmd, opts.registry);
      const { worldCampaignSpecs } = await import('../../decision/index.js');
      const result = await registry.createMany(await worldCampaignSpecs(opts.world), `${opts.world}/campaigns.parquet`);
      if (opts.json) printJson(io, result);
      else io.out(`imported ${result.created} campaigns (${result.skipped} already present) into ${registry.dir}`);
    });

  campaign
    .command('list')
    .description('list campaigns (current versions), in launch order')
    .option('--advertiser <id>', 'only this advertiser')
    .option('--status <status>', `only this status: ${CAMPAIGN_STATUSES.join(' | ')}`)
    .option('--live-at <time>', 'only campaigns live at this time (ISO-8601 or epoch ms)')
    .option(...registryOption)
    .option('--json', 'machine-readable output')
    .action(
      async (
        opts: { advertiser?: string; status?: string; liveAt?: string; registry?: string; json?: boolean },
        cmd: Command,
      ) => {
        if (opts.status !== undefined && !(CAMPAIGN_STATUSES as readonly string[]).includes(opts.status))
          throw new InvalidInputError(`--status must be one of ${CAMPAIGN_STATUSES.join(', ')}, got "${opts.status}"`);
        const { parseTimestampMs } = await import('../../core/index.js');
        const liveAt = opts.liveAt === undefined ? undefined : parseTimestampMs(opts.liveAt);
        if (liveAt !== undefined && Number.isNaN(liveAt))
          throw new InvalidInputError(`--live-at expects an ISO-8601 time or epoch ms, got "${opts.liveAt}"`);
        const list = await (await registryFor(cmd, opts.registry)).list({
          ...(opts.advertiser ? { advertiserId: opts.advertiser } : {}),
          ...(opts.status ? { status: opts.status as CampaignStatus } : {}),
          ...(liveAt !== undefined ? { liveAt } : {}),
        });
        const { campaignToSpec } = await import('../../decision/index.js');
        if (opts.json)
          printJson(io, {
            campaigns: list.map((c) => ({ ...campaignToSpec(c), status: c.status, version: c.version })),
          });
        else if (list.length === 0) io.out('no campaigns');
        else for (const c of list) io.out(line(c));
      },
    );

  campaign
    .command('describe')
    .description('the current spec of a campaign and its version history')
    .argument('<id>', 'campaign id')
    .option(...registryOption)
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { registry?: string; json?: boolean }, cmd: Command) => {
      const registry = await registryFor(cmd, opts.registry);
      const c = await registry.getOrThrow(id);
      const { campaignToSpec } = await import('../../decision/index.js');
      const history = await registry.history(id);
      const out = {
        ...campaignToSpec(c),
        status: c.status,
        version: c.version,
        specVersion: c.specVersion,
        history: history.map((h) => ({ version: h.version, status: h.status })),
      };
      if (opts.json) printJson(io, out);
      else {
        io.out(line(c));
        io.out(JSON.stringify(campaignToSpec(c), null, 2));
        io.out(`history: ${history.map((h) => `v${h.version} ${h.status}`).join(', ')}`);
      }
    });

  for (const [name, status] of [
    ['pause', 'paused'],
    ['resume', 'active'],
  ] as const) {
    campaign
      .command(name)
      .description(
        `${name} a campaign (a new version; ${name === 'pause' ? 'no decision includes it until resumed' : 'it is decided again'})`,
      )
      .argument('<id>', 'campaign id')
      .option(...registryOption)
      .option('--json', 'machine-readable output')
      .action(async (id: string, opts: { registry?: string; json?: boolean }, cmd: Command) => {
        const c = await (await registryFor(cmd, opts.registry)).setStatus(id, status);
        if (opts.json) printJson(io, { id: c.id, status: c.status, version: c.version });
        else io.out(`${c.id} is ${c.status} (version ${c.version})`);
      });
  }
}
