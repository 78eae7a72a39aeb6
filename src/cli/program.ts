import { mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
// errors.js has no imports: the program and every command's registration load nothing heavy (DuckDB, zod,
// pino, ioredis, nats); each action imports what it runs (bench/cli.ts measures the start-up).
import { describeError, exitCodeFor, isAdnovaError } from '../core/errors.js';
import type { AdnovaConfig, loadConfig } from '../core/index.js';
import { registerAudienceCommands } from './commands/audience.js';
import { registerCampaignCommands } from './commands/campaign.js';
import { registerDeployCommands } from './commands/deploy.js';
import { registerFeaturesCommands } from './commands/features.js';
import { registerKeysCommands } from './commands/keys.js';
import { registerModelCommands } from './commands/model.js';
import { registerMonitorCommands } from './commands/monitor.js';
import { registerPrivacyCommands } from './commands/privacy.js';
import { registerServeCommands } from './commands/serve.js';
import { registerStreamCommands } from './commands/stream.js';
import { registerWorkerCommands } from './commands/worker.js';
import { registerWorldCommands } from './commands/world.js';
import { type CliIo, printJson, processIo } from './io.js';
import { versionInfo } from './version.js';

interface GlobalOptions {
  config?: string;
}

export interface BuildProgramOptions {
  /** `--json` was given: commander's own error text is held back (runCli prints the error as JSON). */
  readonly jsonErrors?: boolean;
}

/** Builds the `adnova` command tree. Commands stay thin: parse, call a module API, print. */
export function buildProgram(io: CliIo, options: BuildProgramOptions = {}): Command {
  const program = new Command('adnova')
    .description('campaign-audience targeting: features, models, decisions and drift monitoring')
    .addOption(new Option('-c, --config <file>', 'config file (JSON); default $ADNOVA_CONFIG or ./adnova.config.json'))
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => (options.jsonErrors ? undefined : io.err(s)) })
    .exitOverride();

  const loadEffectiveConfig = async (cmd: Command): Promise<ReturnType<typeof loadConfig>> =>
    (await import('../core/index.js')).loadConfig({ file: (cmd.optsWithGlobals() as GlobalOptions).config });

  program
    .command('version')
    .description('print the adnova version and runtime')
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) => {
      const info = versionInfo();
      if (opts.json) printJson(io, info);
      else io.out(`${info.name} ${info.version} (node ${info.node}, ${info.platform})`);
    });

  const config = program.command('config').description('inspect the effective configuration');
  config
    .command('show')
    .description('print the effective config: defaults, then the config file, then ADNOVA_* environment variables')
    .option('--json', 'print the effective config as JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const loaded = await loadEffectiveConfig(cmd);
      if (opts.json) {
        printJson(io, loaded.config);
        return;
      }
      for (const [key, source] of Object.entries(loaded.sources)) {
        io.out(`${key} = ${JSON.stringify(valueAt(loaded.config, key))}  (${source})`);
      }
    });

  program
    .command('demo')
    .description('run the whole loop on embedded defaults (no services needed)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { config: cfg } = await loadEffectiveConfig(cmd);
      const [{ createLogger }, { formatDemoResults, runDemo }] = await Promise.all([
        import('../core/index.js'),
        import('./demo/index.js'),
      ]);
      const logger = createLogger({ level: cfg.log.level === 'info' ? 'warn' : cfg.log.level });
      const workDir = resolve(join(cfg.storeDir, 'demo'));
      rmSync(workDir, { recursive: true, force: true });
      mkdirSync(workDir, { recursive: true });
      const results = await runDemo({ config: cfg, io, logger, workDir, state: {} });
      if (opts.json) printJson(io, { stages: results });
      else io.out(formatDemoResults(results));
    });

  registerWorldCommands(program, io);
  registerFeaturesCommands(program, io);
  registerStreamCommands(program, io);
  registerDeployCommands(program, io);
  registerCampaignCommands(program, io);
  registerAudienceCommands(program, io);
  registerModelCommands(program, io);
  registerMonitorCommands(program, io);
  registerWorkerCommands(program, io);
  registerPrivacyCommands(program, io);
  registerServeCommands(program, io);
  registerKeysCommands(program, io);

  return program;
}

/**
 * Runs the CLI and returns its exit code: 0 ok, 1 failed, 2 bad usage or bad input. With `--json` an error is one
 * JSON object on stderr, `{ "error": { "code", "message", "details"? } }`, and the exit code is the same.
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const end = argv.indexOf('--');
  const json = (end < 0 ? argv : argv.slice(0, end)).includes('--json');
  const program = buildProgram(io, { jsonErrors: json });
  if (argv.length === 0) {
    program.outputHelp();
    return 2;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version displays are not failures; every other commander error is bad usage
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version')
        return 0;
      if (json)
        printJsonError(io, { code: 'INVALID_USAGE', message: usageMessage(err), details: { reason: err.code } });
      return 2;
    }
    if (json) {
      printJsonError(io, isAdnovaError(err) ? err.toJSON() : { code: 'INTERNAL_ERROR', message: describeError(err) });
      return exitCodeFor(err);
    }
    io.err(isAdnovaError(err) ? `adnova: ${err.code}: ${err.message}` : `adnova: ${describeError(err)}`);
    if (!isAdnovaError(err) && err instanceof Error && err.stack) io.err(err.stack);
    return exitCodeFor(err);
  }
}

function printJsonError(io: CliIo, error: Record<string, unknown>): void {
  io.err(JSON.stringify({ error }, null, 2));
}

/** Commander's message without its `error: ` prefix. */
function usageMessage(err: CommanderError): string {
  return err.message.replace(/^error: /, '');
}

function valueAt(config: AdnovaConfig, dotted: string): unknown {
  let cur: unknown = config;
  for (const part of dotted.split('.')) cur = (cur as Record<string, unknown>)[part];
  return cur;
}
