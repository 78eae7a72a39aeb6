import { join, resolve } from 'node:path';
import type { Command } from 'commander';
// registering the commands loads only import-free modules; each action imports the store code it runs
import { isoUtc, parseTimestampMs } from '../../core/clock.js';
import { InvalidInputError } from '../../core/errors.js';
import type { AdnovaConfig } from '../../core/index.js';
import { DEFINITION_KINDS } from '../../features/choices.js';
import type { DefinitionKind, FeatureStore } from '../../features/index.js';
import { type CliIo, printJson } from '../io.js';
import { positiveInt } from '../options.js';
import { startProgress } from '../progress.js';

interface StoreOptions {
  store?: string;
  json?: boolean;
}

function storeDirOf(config: AdnovaConfig, opts: StoreOptions): string {
  return resolve(opts.store ?? join(config.storeDir, 'features'));
}

async function withStore<T>(cmd: Command, opts: StoreOptions, fn: (store: FeatureStore) => Promise<T>): Promise<T> {
  const [{ loadConfig, MetricsRegistry }, { FeatureStore }] = await Promise.all([
    import('../../core/index.js'),
    import('../../features/index.js'),
  ]);
  const { config } = loadConfig({ file: (cmd.optsWithGlobals() as { config?: string }).config });
  const dir = storeDirOf(config, opts);
  const online = (await import('../../features/index.js')).openOnlineStore(config, dir);
  const store = await FeatureStore.open({ dir, online, metrics: new MetricsRegistry() });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export function timeOption(name: string, text: string | undefined, fallback?: number): number {
  if (text === undefined) {
    if (fallback !== undefined) return fallback;
    throw new InvalidInputError(`--${name} is required (ISO-8601 time or epoch milliseconds)`);
  }
  const ms = parseTimestampMs(text);
  if (Number.isNaN(ms))
    throw new InvalidInputError(`--${name} expects an ISO-8601 time or epoch milliseconds, got "${text}"`);
  return ms;
}

/** Registers `adnova features ...`: definitions, offline/online stores, training sets and consistency checks. */
export function registerFeaturesCommands(program: Command, io: CliIo): void {
  const features = program.command('features').description('feature definitions, training sets, online stores');
  const storeOpt = (c: Command) =>
    c
      .option('--store <dir>', 'feature store directory (default <storeDir>/features)')
      .option('--json', 'machine-readable output');

  storeOpt(features.command('apply').description('register definitions from a YAML or JSON file'))
    .requiredOption('-f, --file <file>', 'definitions file (.yaml, .yml, .json)')
    .action(async (opts: StoreOptions & { file: string }, cmd: Command) => {
      const { loadDefinitionsFile } = await import('../../features/index.js');
      const defs = loadDefinitionsFile(resolve(opts.file));
      const outcomes = await withStore(cmd, opts, async (store) => store.apply(defs));
      if (opts.json) printJson(io, { outcomes });
      else
        for (const o of outcomes)
          io.out(
            `${o.action.padEnd(11)} ${o.kind} ${o.name} v${o.version}${o.changes.length ? ` (${o.changes.join(', ')})` : ''}`,
          );
    });

  storeOpt(features.command('list').description('list registered entities, views, transforms and services')).action(
    async (opts: StoreOptions, cmd: Command) => {
      const defs = await withStore(cmd, opts, async (store) => store.definitions());
      const rows = [
        ...defs.entities.map((e) => ({ kind: 'entity', name: e.name, version: 1, detail: `joinKey=${e.joinKey}` })),
        ...defs.views.map((v) => ({
          kind: 'view',
          name: v.name,
          version: v.version,
          detail: `${v.source.kind} entity=${v.entity} features=${v.features.length} ttl=${v.ttlSeconds === 'none' ? 'none' : `${v.ttlSeconds}s`} owner=${v.owner}${v.tags.length ? ` tags=${v.tags.join(',')}` : ''}`,
        })),
        ...defs.transforms.map((t) => ({
          kind: 'transform',
          name: t.name,
          version: t.version,
          detail: `outputs=${t.outputs.map((o) => o.name).join(',')}`,
        })),
        ...defs.services.map((s) => ({
          kind: 'service',
          name: s.name,
          version: s.version,
          detail: `features=${s.features.length}`,
        })),
      ];
      if (opts.json) printJson(io, rows);
      else if (rows.length === 0) io.out('no definitions registered; run `adnova features apply --file defs.yaml`');
      else for (const r of rows) io.out(`${r.kind.padEnd(9)} ${`${r.name} v${r.version}`.padEnd(28)} ${r.detail}`);
    },
  );

  storeOpt(features.command('describe').description('show one definition and its version history'))
    .argument('<name>', 'entity, view, transform or service name')
    .option('--kind <kind>', `one of ${DEFINITION_KINDS.join(', ')} (when a name is ambiguous)`)
    .action(async (name: string, opts: StoreOptions & { kind?: string }, cmd: Command) => {
      if (opts.kind !== undefined && !(DEFINITION_KINDS as readonly string[]).includes(opts.kind))
        throw new InvalidInputError(`--kind expects one of ${DEFINITION_KINDS.join(', ')}, got "${opts.kind}"`);
      const found = await withStore(cmd, opts, async (store) => {
        const kinds = (opts.kind ? [opts.kind] : DEFINITION_KINDS) as DefinitionKind[];
        const hits = kinds.flatMap((k) => store.registry.entries().filter((e) => e.kind === k && e.name === name));
        const rowCounts: Record<string, number> = {};
        for (const e of hits)
          if (e.kind === 'view') rowCounts[`v${e.version}`] = await store.offline.rowCount(e.definition as never);
        return { hits, rowCounts };
      });
      if (found.hits.length === 0)
        throw new InvalidInputError(`nothing named "${name}" is registered; run \`adnova features list\``);
      const latest = found.hits[found.hits.length - 1];
      const out = {
        kind: latest?.kind,
        name,
        current: latest?.definition,
        offlineRows: found.rowCounts,
        history: found.hits.map((h) => ({
          version: h.version,
          revision: h.revision,
          appliedAt: isoUtc(h.appliedAtMs),
        })),
      };
      if (opts.json) printJson(io, out);
      else io.out(JSON.stringify(out, null, 2));
    });

  storeOpt(features.command('import').description("append a view's declared Parquet/CSV source to the offline store"))
    .requiredOption('--view <name>', 'feature view with a source path')
    .option('--source-root <dir>', 'directory relative source paths start from', '.')
    .action(async (opts: StoreOptions & { view: string; sourceRoot: string }, cmd: Command) => {
      const rows = await withStore(cmd, opts, async (store) => store.importSource(opts.view, resolve(opts.sourceRoot)));
      if (opts.json) printJson(io, { view: opts.view, rows });
      else io.out(`imported ${rows} rows into ${opts.view}`);
    });

  storeOpt(features.command('training-set').description('point-in-time training set, streamed from DuckDB to Parquet'))
    .requiredOption(
      '--labels <file>',
      'label rows (Parquet or CSV): entity join keys, a timestamp, labels, extra columns',
    )
    .requiredOption('--service <name>', 'feature service (the column layout)')
    .requiredOption('--out <file>', 'output Parquet file')
    .option('--timestamp-column <name>', 'label time column (epoch ms or TIMESTAMP)', 'ts')
    .option(
      '--lookback-days <n>',
      'skip partitions older than TTL + this many days (old rows read as missing, not expired)',
    )
    .option(
      '--known-at-label-time',
      'leakage guard: each label reads only feature rows written (created_ts) at or before its time; backfills and late corrections are ignored',
    )
    .action(
      async (
        opts: StoreOptions & {
          labels: string;
          service: string;
          out: string;
          timestampColumn: string;
          lookbackDays?: string;
          knownAtLabelTime?: boolean;
        },
        cmd: Command,
      ) => {
        const lookbackMs =
          opts.lookbackDays === undefined
            ? undefined
            : (positiveInt('lookback-days', opts.lookbackDays) ?? 1) * 86_400_000;
        const progress = startProgress(io, 'training set (stages)', { json: opts.json === true });
        const res = await withStore(cmd, opts, (store) =>
          store.trainingSet({
            service: opts.service,
            labelsPath: resolve(opts.labels),
            outPath: resolve(opts.out),
            timestampColumn: opts.timestampColumn,
            ...(lookbackMs ? { lookbackMs } : {}),
            ...(opts.knownAtLabelTime ? { knownAtLabelTime: true } : {}),
            onProgress: progress.onProgress,
          }),
        ).finally(() => progress.stop());
        if (opts.json) printJson(io, res);
        else
          io.out(
            `wrote ${res.rows} rows x ${res.columns} features to ${res.outPath} in ${Math.round(res.durationMs)} ms`,
          );
      },
    );

  storeOpt(
    features.command('materialize').description('copy the newest offline values of batch views to the online store'),
  )
    .option('--incremental', "only rows written after each view's high-water mark")
    .option('--as-of <time>', 'values with event time up to this instant (default now)')
    .option('--view <name...>', 'only these views')
    .action(async (opts: StoreOptions & { incremental?: boolean; asOf?: string; view?: string[] }, cmd: Command) => {
      const results = await withStore(cmd, opts, (store) =>
        store.materialize({
          incremental: opts.incremental,
          asOfMs: timeOption('as-of', opts.asOf, Date.now()),
          views: opts.view,
        }),
      );
      if (opts.json) printJson(io, { results });
      else
        for (const r of results)
          io.out(
            `${r.view.padEnd(20)} ${r.mode.padEnd(11)} read=${r.entitiesRead} written=${r.written} skipped=${r.skipped} mark=${r.highWaterCreatedTs === null ? '-' : isoUtc(r.highWaterCreatedTs)}`,
          );
    });

  storeOpt(
    features.command('parity').description('online vs offline point-in-time values at the same instant, per feature'),
  )
    .requiredOption('--service <name>', 'feature service')
    .requiredOption('--at <time>', 'the instant both sides answer for (ISO-8601 or epoch ms)')
    .option('--sample <n>', 'entities to compare', '100')
    .option('--seed <n>', 'sampling seed', '1')
    .action(
      async (opts: StoreOptions & { service: string; at: string; sample: string; seed: string }, cmd: Command) => {
        const atMs = timeOption('at', opts.at);
        const sample = positiveInt('sample', opts.sample) ?? 100;
        const seed = positiveInt('seed', opts.seed) ?? 1;
        const report = await withStore(cmd, opts, (store) =>
          store.parity({ service: opts.service, atMs, sample, seed }),
        );
        if (opts.json) printJson(io, report);
        else {
          io.out(
            `parity ${report.service} at ${isoUtc(report.atMs)}: ${report.entities} entities, ${report.totalMismatches} mismatching cells (rate ${report.mismatchRate.toFixed(6)})`,
          );
          for (const f of report.features)
            io.out(`  ${f.feature.padEnd(40)} ${f.mismatches} (${(f.mismatchRate * 100).toFixed(2)}%)`);
          for (const v of report.views)
            if (v.statusMismatches > 0) io.out(`  status of ${v.view}: ${v.statusMismatches} mismatches`);
        }
      },
    );

  storeOpt(
    features.command('freshness').description('per view: age of the newest value and share of entities past the SLA'),
  )
    .option('--at <time>', 'as of this instant (default now)')
    .option('--sample <n>', 'online entities to look at per view where the store samples (Redis)', '10000')
    .action(async (opts: StoreOptions & { at?: string; sample: string }, cmd: Command) => {
      const sample = positiveInt('sample', opts.sample) ?? 10_000;
      const report = await withStore(cmd, opts, (store) =>
        store.freshness(timeOption('at', opts.at, Date.now()), { sample }),
      );
      if (opts.json) printJson(io, report);
      else
        for (const r of report) {
          const age = (s: number | null) => (s === null ? '-' : `${Math.round(s)}s`);
          io.out(
            `${r.view.padEnd(20)} offline: entities=${r.entities} newest_age=${age(r.newestAgeSeconds)} stale=${(r.staleRatio * 100).toFixed(1)}% (sla ${r.slaSeconds}s)`,
          );
          io.out(
            `${''.padEnd(20)} online:  entities=${r.online.entities}${r.online.sampled ? ' (sampled)' : ''} newest_age=${age(r.online.newestAgeSeconds)} stale=${(r.online.staleRatio * 100).toFixed(1)}%`,
          );
        }
    });
}
