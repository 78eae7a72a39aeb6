import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { isoUtc } from '../../core/clock.js';
import { InvalidInputError } from '../../core/errors.js';
import type { AdnovaConfig } from '../../core/index.js';
import type { ReplayParityResult, worldStreamParity } from '../../stream/index.js';

type WorldStreamParity = typeof worldStreamParity;

import { type CliIo, printJson } from '../io.js';
import { positiveInt } from '../options.js';
import { timeOption } from './features.js';

const BUS_CHOICES = ['memory', 'redis', 'nats'] as const;

/** What the stream commands run, imported when one runs: registering them loads none of it (bench/cli.ts). */
async function streamModules() {
  const [core, features, stream, world] = await Promise.all([
    import('../../core/index.js'),
    import('../../features/index.js'),
    import('../../stream/index.js'),
    import('../../world/index.js'),
  ]);
  return { ...core, ...features, ...stream, ...world };
}

async function configOf(cmd: Command): Promise<AdnovaConfig> {
  const { loadConfig } = await import('../../core/index.js');
  return loadConfig({ file: (cmd.optsWithGlobals() as { config?: string }).config }).config;
}

function busConfig(config: AdnovaConfig, kind: string | undefined): AdnovaConfig {
  if (kind === undefined) return config;
  if (!(BUS_CHOICES as readonly string[]).includes(kind))
    throw new InvalidInputError(`--bus expects one of ${BUS_CHOICES.join(', ')}, got "${kind}"`);
  return { ...config, bus: { kind: kind as (typeof BUS_CHOICES)[number] } };
}

async function latenessMs(text: string | undefined): Promise<number | undefined> {
  if (text === undefined) return undefined;
  const { parseWindowMs } = await import('../../features/index.js');
  try {
    return parseWindowMs(text);
  } catch {
    throw new InvalidInputError(`--lateness expects a duration such as 30m, 1h or 6h, got "${text}"`);
  }
}

function parityLines(r: ReplayParityResult): string[] {
  const i = r.ingest;
  const lines = [
    `events    published ${r.published}, received ${i.received}: accepted ${i.accepted}, invalid ${i.invalid} (dead letters ${r.deadLetters}), late ${i.late} (correction path), duplicates ${i.duplicates}`,
    `parity    ${r.parity.compared} values compared (${r.parity.users} users x ${r.parity.checkpoints.length} checkpoints ${r.parity.checkpoints.map((t) => isoUtc(t).slice(0, 10)).join(', ')}): ${r.parity.mismatchCount} mismatches`,
  ];
  for (const m of r.parity.mismatches)
    lines.push(`  mismatch ${m.userId} ${isoUtc(m.atMs)} ${m.feature}: stream ${m.stream} vs batch ${m.batch}`);
  for (const s of r.schemaChanges) lines.push(`schema    ${s.kind} ${s.eventType}.${s.field}: ${s.description}`);
  return lines;
}

/** Registers `adnova stream parity|run`. */
export function registerStreamCommands(program: Command, io: CliIo): void {
  const stream = program
    .command('stream')
    .description('streaming ingestion: contracts, windowed aggregates (tiles), stream/batch parity');

  stream
    .command('parity')
    .description(
      "replay a World's events through a bus into the stream aggregator and compare with DuckDB over the same events; exit 1 on any mismatch",
    )
    .requiredOption('--world <dir>', 'a World directory (adnova world generate)')
    .option('--bus <kind>', `${BUS_CHOICES.join(' | ')} (default: config bus.kind)`)
    .option('--definitions <file>', 'feature definitions with stream views (default: the World example)')
    .option('--views <names>', 'comma-separated stream views (default: all)')
    .option('--lateness <duration>', 'allowed lateness, e.g. 1h (default 1h)')
    .option('--checkpoints <n>', 'compare at the last n day boundaries (default 7)')
    .option('--json', 'print the report as JSON')
    .action(async (opts, cmd: Command) => {
      const { createEventBus, ParityMismatchError, worldStreamParity } = await streamModules();
      const config = busConfig(await configOf(cmd), opts.bus);
      const allowed = await latenessMs(opts.lateness);
      const checkpoints = positiveInt('checkpoints', opts.checkpoints) ?? 7;
      const bus = await createEventBus(config);
      let result: Awaited<ReturnType<WorldStreamParity>>;
      try {
        result = await worldStreamParity({
          worldDir: resolve(opts.world),
          bus,
          definitionsPath: opts.definitions,
          views: opts.views?.split(',').map((s: string) => s.trim()),
          ...(allowed !== undefined ? { allowedLatenessMs: allowed } : {}),
          checkpoints,
        });
      } finally {
        await bus.close();
      }
      if (opts.json) printJson(io, { bus: config.bus.kind, ...result });
      else for (const line of [`bus       ${config.bus.kind}`, ...parityLines(result)]) io.out(line);
      if (result.parity.mismatchCount > 0)
        throw new ParityMismatchError(result.parity.mismatchCount, result.parity.compared);
    });

  stream
    .command('backfill')
    .description(
      'the batch path of stream views: evaluate them in DuckDB over an event log at given times and append the rows to the offline store (training sets, corrections with late events)',
    )
    .option('--world <dir>', "a World directory: its events table, leaving out rows the stream's contract rejects")
    .option('--events <files>', 'comma-separated event log files (Parquet or CSV with the World event columns)')
    .option('--at <times>', 'comma-separated ISO-8601 times or epoch ms (default with --world: each day boundary)')
    .option('--store <dir>', 'feature store directory (default <storeDir>/features)')
    .option('--definitions <file>', 'apply these definitions first (default: use the registry)')
    .option('--views <names>', 'comma-separated stream views (default: all)')
    .option('--json', 'print the result as JSON')
    .action(async (opts, cmd: Command) => {
      const {
        backfillStreamViews,
        compileAggregationPlan,
        dailyCheckpoints,
        FeatureStore,
        loadDefinitionsFile,
        MetricsRegistry,
        readManifest,
        STREAM_EVENT_TYPES,
        tableFiles,
      } = await streamModules();
      const config = await configOf(cmd);
      if ((opts.world === undefined) === (opts.events === undefined))
        throw new InvalidInputError('backfill needs exactly one of --world DIR or --events FILES');
      let files: string[];
      let atMs: number[];
      if (opts.world !== undefined) {
        const manifest = readManifest(resolve(opts.world));
        files = tableFiles(resolve(opts.world), manifest, 'events');
        atMs =
          opts.at === undefined ? dailyCheckpoints(manifest.startTs, manifest.endTs, 10_000) : timesOption(opts.at);
      } else {
        files = String(opts.events)
          .split(',')
          .map((f) => resolve(f.trim()));
        if (opts.at === undefined) throw new InvalidInputError('--events needs --at with the times to evaluate');
        atMs = timesOption(opts.at);
      }
      const dir = resolve(opts.store ?? join(config.storeDir, 'features'));
      const store = await FeatureStore.open({
        dir,
        online: (await import('../../features/index.js')).openOnlineStore(config, dir),
        metrics: new MetricsRegistry(),
      });
      try {
        if (opts.definitions) store.apply(loadDefinitionsFile(opts.definitions));
        const views = opts.views?.split(',').map((v: string) => v.trim());
        const plan = compileAggregationPlan(store.definitions(), views);
        const result = await backfillStreamViews(
          plan,
          {
            files,
            atMs,
            eventTypes: STREAM_EVENT_TYPES,
            ...(opts.world !== undefined ? { skipRawRows: true } : {}),
          },
          store,
          store.clock.now(),
        );
        if (opts.json) printJson(io, result);
        else
          io.out(
            `backfilled ${Object.entries(result.rows)
              .map(([v, n]) => `${v}: ${n} rows`)
              .join(
                ', ',
              )} at ${result.atMs.length} times (${isoUtc(Math.min(...atMs))} .. ${isoUtc(Math.max(...atMs))})`,
          );
      } finally {
        await store.close();
      }
    });

  stream
    .command('run')
    .description(
      'consume events from the configured bus into stream views: online + offline store, dirty-user feed, durable state',
    )
    .option('--store <dir>', 'feature store directory (default <storeDir>/features)')
    .option('--definitions <file>', 'apply these definitions first (default: use the registry)')
    .option('--topic <name>', 'bus topic of wire envelopes', 'events')
    .option('--group <name>', 'consumer group', 'stream-aggregates')
    .option('--name <name>', 'consumer name within the group', 'ingestor-1')
    .option('--bus <kind>', `${BUS_CHOICES.join(' | ')} (default: config bus.kind)`)
    .option('--lateness <duration>', 'allowed lateness, e.g. 1h (default 1h)')
    .option('--state <kind>', 'aggregator state: file (under the store) or redis', 'file')
    .option('--idle-exit <seconds>', 'stop after this long without a message (default: run until interrupted)')
    .option('--json', 'print the final stats as JSON')
    .action(async (opts, cmd: Command) => {
      const {
        BusDirtyUserFeed,
        compileAggregationPlan,
        createEventBus,
        FeatureStore,
        FileAggregatorStateStore,
        FileDeadLetterSink,
        loadDefinitionsFile,
        MetricsRegistry,
        RedisAggregatorStateStore,
        StreamIngestor,
      } = await streamModules();
      const config = busConfig(await configOf(cmd), opts.bus);
      if (config.bus.kind === 'memory')
        throw new InvalidInputError(
          'stream run consumes from a shared bus: use --bus redis or --bus nats (the memory bus lives in one process; `adnova stream parity --bus memory` runs a whole replay in one)',
        );
      if (opts.state !== 'file' && opts.state !== 'redis')
        throw new InvalidInputError(`--state expects file or redis, got "${opts.state}"`);
      const allowed = await latenessMs(opts.lateness);
      const dir = resolve(opts.store ?? join(config.storeDir, 'features'));
      const store = await FeatureStore.open({
        dir,
        online: (await import('../../features/index.js')).openOnlineStore(config, dir),
        metrics: new MetricsRegistry(),
      });
      const bus = await createEventBus(config);
      const state =
        opts.state === 'redis'
          ? await RedisAggregatorStateStore.connect({
              url: config.redis.url,
              prefix: `${config.redis.keyPrefix}stream-state:${opts.group}`,
            })
          : new FileAggregatorStateStore(join(dir, 'stream', `${opts.group}.state`));
      const deadLetters = await FileDeadLetterSink.open(join(dir, 'stream', 'dead-letters.ndjson'));
      const lateEvents = await FileDeadLetterSink.open(join(dir, 'stream', 'late-events.ndjson'));
      const controller = new AbortController();
      const stop = () => controller.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        if (opts.definitions) store.apply(loadDefinitionsFile(opts.definitions));
        const plan = compileAggregationPlan(store.definitions());
        const ingestor = await StreamIngestor.start({
          bus,
          topic: opts.topic,
          group: opts.group,
          consumerName: opts.name,
          plan,
          features: store,
          state,
          deadLetters,
          lateEvents,
          dirtyFeed: new BusDirtyUserFeed(bus),
          ...(allowed !== undefined ? { allowedLatenessMs: allowed } : {}),
        });
        const idle = opts.idleExit === undefined ? undefined : (positiveInt('idle-exit', opts.idleExit) ?? 1) * 1000;
        const stats = idle === undefined ? await ingestor.run(controller.signal) : await ingestor.runUntilIdle(idle);
        await ingestor.close();
        const summary = {
          ...stats,
          watermark: Number.isFinite(ingestor.aggregator.watermark) ? isoUtc(ingestor.aggregator.watermark) : null,
          schemaChanges: ingestor.schemaChanges(),
        };
        if (opts.json) printJson(io, summary);
        else
          io.out(
            `received ${stats.received}: accepted ${stats.accepted}, invalid ${stats.invalid} (${stats.undecodable} not JSON), late ${stats.late}, duplicates ${stats.duplicates}; ${stats.usersWritten} user vectors written in ${stats.flushes} flushes`,
          );
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        await deadLetters.close();
        await lateEvents.close();
        await state.close();
        await bus.close();
        await store.close();
      }
    });
}

function timesOption(text: string): number[] {
  return text.split(',').map((part) => timeOption('at', part.trim()));
}
