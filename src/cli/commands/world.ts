import { createWriteStream } from 'node:fs';
import type { Command } from 'commander';
// registering the commands loads only import-free modules; each action imports the world code it runs
import { parseTimestampMs } from '../../core/clock.js';
import { InvalidInputError } from '../../core/errors.js';
import type { ReplayTarget, WorldManifest } from '../../world/index.js';
import { type CliIo, printJson } from '../io.js';
import { finiteNumber, nonNegativeInt } from '../options.js';
import { startProgress } from '../progress.js';

const IMPORT_SOURCES = ['hillstrom', 'online-retail'] as const;
const REPLAY_TARGETS = ['stdout', 'file', 'memory', 'redis', 'nats'] as const;

function requireOption(name: string, value: string | undefined): string {
  if (value === undefined || value === '') throw new InvalidInputError(`--${name} is required`);
  return value;
}

function summarize(m: WorldManifest, dir: string, ms?: number): Record<string, unknown> {
  const rows: Record<string, number> = {};
  for (const [name, t] of Object.entries(m.tables)) if (t) rows[name] = t.rows;
  return {
    dir,
    kind: m.kind,
    ...(ms === undefined ? {} : { durationMs: Math.round(ms) }),
    scenarios: m.timeline.map((e) => e.scenario),
    dates: m.dates.length > 0 ? `${m.dates[0]}..${m.dates[m.dates.length - 1]}` : '',
    rows,
  };
}

function printSummary(io: CliIo, s: Record<string, unknown>, json: boolean | undefined): void {
  if (json) {
    printJson(io, s);
    return;
  }
  io.out(
    `world ${String(s['kind'])} at ${String(s['dir'])}${s['durationMs'] === undefined ? '' : ` in ${s['durationMs']} ms`}`,
  );
  io.out(`  days ${String(s['dates'])}; scenarios ${(s['scenarios'] as string[]).join(', ') || 'none'}`);
  for (const [name, n] of Object.entries(s['rows'] as Record<string, number>)) {
    io.out(`  ${name.padEnd(13)} ${n.toLocaleString('en-US')} rows`);
  }
}

/** Registers `adnova world generate|import|replay|info`. */
export function registerWorldCommands(program: Command, io: CliIo): void {
  const world = program.command('world').description('the simulated AdNova world and real-dataset importers');

  world
    .command('generate')
    .description('simulate users, events, batch snapshots, campaigns, sends and outcomes into DIR (Parquet)')
    .requiredOption('--out <dir>', 'output directory (new or empty)')
    .option('--users <n>', 'number of users', '10000')
    .option('--days <n>', 'number of days', '14')
    .option('--seed <n>', 'random seed (same seed, same world)', '1')
    .option('--scenario <names>', 'comma-separated scenarios (see docs/world.md)', 'baseline')
    .option('--features <n>', 'batch feature width per user', '200')
    .option('--start <date>', 'first day, a UTC midnight (ISO date or epoch ms)')
    .option('--drift-day <n>', 'day index of the drift events (default days/2)')
    .option('--campaigns-per-day <n>', 'mean campaign launches per day')
    .option('--defect-share <x>', 'share of events with an injected defect', '0.005')
    .option('--overwrite', 'empty DIR first if it is not empty')
    .option('--json', 'machine-readable summary')
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      const start = opts['start'] as string | undefined;
      let startTs: number | undefined;
      if (start !== undefined) {
        startTs = parseTimestampMs(start);
        if (Number.isNaN(startTs))
          throw new InvalidInputError(`--start expects an ISO date or epoch ms, got "${start}"`);
      }
      const days = nonNegativeInt('days', opts['days'] as string) as number;
      const { generateWorld, parseScenarios } = await import('../../world/index.js');
      const progress = startProgress(io, 'world', { json: opts['json'] === true });
      const began = performance.now();
      const out = requireOption('out', opts['out'] as string);
      const manifest = await generateWorld({
        outDir: out,
        users: nonNegativeInt('users', opts['users'] as string),
        days,
        seed: nonNegativeInt('seed', opts['seed'] as string),
        scenarios: parseScenarios(opts['scenario'] as string),
        features: nonNegativeInt('features', opts['features'] as string),
        startTs,
        driftDay: nonNegativeInt('drift-day', opts['driftDay'] as string | undefined),
        campaignsPerDay: nonNegativeInt('campaigns-per-day', opts['campaignsPerDay'] as string | undefined),
        defectShare: finiteNumber('defect-share', opts['defectShare'] as string),
        overwrite: opts['overwrite'] === true,
        onProgress: (done) => progress.onProgress(done, days),
      }).finally(() => progress.stop());
      printSummary(io, summarize(manifest, out, performance.now() - began), opts['json'] as boolean | undefined);
    });

  world
    .command('import')
    .description(`turn a real dataset into the world layout: ${IMPORT_SOURCES.join(' | ')}`)
    .argument('<source>', IMPORT_SOURCES.join(' | '))
    .requiredOption('--file <path>', 'the source CSV (plain or .gz)')
    .requiredOption('--out <dir>', 'output directory (new or empty)')
    .option('--overwrite', 'empty DIR first if it is not empty')
    .option('--json', 'machine-readable summary')
    .action(async (source: string, opts: { file: string; out: string; overwrite?: boolean; json?: boolean }) => {
      if (!(IMPORT_SOURCES as readonly string[]).includes(source)) {
        throw new InvalidInputError(`unknown import source "${source}"; expected one of ${IMPORT_SOURCES.join(', ')}`);
      }
      const { importHillstrom, importOnlineRetail } = await import('../../world/index.js');
      const began = performance.now();
      const run = source === 'hillstrom' ? importHillstrom : importOnlineRetail;
      const manifest = await run({ file: opts.file, outDir: opts.out, overwrite: opts.overwrite === true });
      printSummary(io, summarize(manifest, opts.out, performance.now() - began), opts.json);
    });

  world
    .command('replay')
    .description('write the events in arrival order as NDJSON ({"arrival_ts", "message"}) to stdout or a file')
    .requiredOption('--dir <dir>', 'a world directory')
    .option('--to <target>', `${REPLAY_TARGETS.join(' | ')} (redis, nats: publish to the event bus)`, 'stdout')
    .option('--topic <name>', 'bus topic for --to redis|nats', 'events')
    .option('--out <file>', 'output file for --to file')
    .option('--speed <x>', 'pace by arrival time at x times real time (default: as fast as possible)')
    .option('--limit <n>', 'stop after n events')
    .action(
      async (
        opts: { dir: string; to: string; out?: string; speed?: string; limit?: string; topic: string },
        cmd: Command,
      ) => {
        if (!(REPLAY_TARGETS as readonly string[]).includes(opts.to)) {
          throw new InvalidInputError(`--to expects one of ${REPLAY_TARGETS.join(', ')}, got "${opts.to}"`);
        }
        if (opts.to === 'memory') {
          throw new InvalidInputError(
            '--to memory: the memory bus lives inside one process, so a replay into it ends with the command; `adnova stream parity --bus memory` replays and ingests in one process. Use --to redis or --to nats to feed `adnova stream run`',
          );
        }
        const speed = finiteNumber('speed', opts.speed);
        const limit = nonNegativeInt('limit', opts.limit);
        const { replayEvents } = await import('../../world/index.js');
        if (opts.to === 'redis' || opts.to === 'nats') {
          const [{ loadConfig }, { BusReplayTarget, createEventBus }] = await Promise.all([
            import('../../core/index.js'),
            import('../../stream/index.js'),
          ]);
          const { config } = loadConfig({ file: (cmd.optsWithGlobals() as { config?: string }).config });
          const bus = await createEventBus({ ...config, bus: { kind: opts.to } });
          try {
            const target = new BusReplayTarget(bus, opts.topic);
            const s = await replayEvents({ dir: opts.dir, target, speed, limit });
            await target.flush();
            io.err(`replayed ${s.events} events to ${opts.to} topic ${opts.topic}`);
          } finally {
            await bus.close();
          }
          return;
        }
        if (opts.to === 'file') {
          const file = requireOption('out', opts.out);
          const stream = createWriteStream(file);
          const target: ReplayTarget = {
            write: (line) =>
              stream.write(`${line}\n`) ? undefined : new Promise<void>((r) => stream.once('drain', () => r())),
          };
          try {
            const s = await replayEvents({ dir: opts.dir, target, speed, limit });
            io.err(`replayed ${s.events} events to ${file}`);
          } finally {
            await new Promise<void>((r) => stream.end(() => r()));
          }
          return;
        }
        await replayEvents({ dir: opts.dir, target: { write: (line) => io.out(line) }, speed, limit });
      },
    );

  world
    .command('info')
    .description("print a world's manifest summary")
    .requiredOption('--dir <dir>', 'a world directory')
    .option('--json', 'print the whole manifest')
    .action(async (opts: { dir: string; json?: boolean }) => {
      const { readManifest } = await import('../../world/index.js');
      const m = readManifest(opts.dir);
      if (opts.json) printJson(io, m);
      else printSummary(io, summarize(m, opts.dir), false);
    });
}
