import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type {
  AudienceDescription,
  AudienceDiff,
  AudienceService,
  AudienceSummary,
  ChangedUser,
  RefreshResult,
} from '../../audience/index.js';
// registering loads only import-free modules; each action imports the decision code it runs
import { InvalidInputError } from '../../core/errors.js';
import type { CaptureFigures, Deployment, WorldEvaluation } from '../../decision/index.js';
import { worldDefinitionsPath } from '../../features/world-definitions.js';
import type { DemoStage } from '../demo.js';
import { type CliIo, printJson } from '../io.js';
import { nonNegativeInt, openFraction, positiveInt } from '../options.js';
import { startProgress } from '../progress.js';
import { deploymentDirFor } from './deploy.js';
import { timeOption } from './features.js';

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
    `IPS from the World's ${r.ips.loggedSends} exploration sends (${r.ips.matched} in adnova's audiences): ${r.ips.estimate.toFixed(1)} [${r.ips.ci95[0].toFixed(1)}, ${r.ips.ci95[1].toFixed(1)}] vs oracle ${r.ips.oracle.toFixed(1)}`,
  ];
  return lines.join('\n');
}

const isoUtc = (ms: number) => new Date(ms).toISOString();

interface DeploymentOpts {
  deployment?: string;
  at?: string;
}

/** The deployment a command works on (clock at `--at` when given) and an audience service over it. */
async function openAudiences(
  cmd: Command,
  opts: DeploymentOpts,
): Promise<{ deployment: Deployment; service: AudienceService; atMs: number | undefined }> {
  const dir = await deploymentDirFor(cmd, opts.deployment);
  const [core, decision, audience] = await Promise.all([
    import('../../core/index.js'),
    import('../../decision/index.js'),
    import('../../audience/index.js'),
  ]);
  const atMs = opts.at === undefined ? undefined : timeOption('at', opts.at);
  const { config } = core.loadConfig({ file: (cmd.optsWithGlobals() as { config?: string }).config });
  const deployment = await decision.openDeployment({
    dir,
    config,
    clock: atMs === undefined ? core.systemClock : new core.ManualClock(atMs),
  });
  return { deployment, service: new audience.AudienceService({ deployment }), atMs };
}

/** Stage counts as one line each: "estimated 604K, sent 346K" explained. */
export function stageLines(s: AudienceSummary): string[] {
  const lines = [`  ${'population'.padEnd(24)} ${String(s.stages[0]?.remaining ?? s.candidates).padStart(9)}`];
  for (const st of s.stages.slice(1))
    lines.push(`  ${`${st.stage}: ${st.rule}`.padEnd(24)} ${String(st.remaining).padStart(9)}`);
  lines.push(
    `  ${'members'.padEnd(24)} ${String(s.members).padStart(9)} (${s.counts.exploit} by score, ${s.counts.explore} exploration)`,
  );
  return lines;
}

function summaryLine(s: AudienceSummary): string {
  const o = s.origin;
  const how =
    o.kind === 'build'
      ? `build${o.shards && o.shards > 1 ? ` in ${o.shards} shards` : ''}`
      : `refresh of v${o.parent} (${o.changedUsers} changed, ${o.rescored} re-scored, +${o.added} -${o.removed})`;
  return `${s.campaignId} v${s.version}  ${s.members} members of ${s.candidates} candidates  decided ${isoUtc(s.decidedTs)} (hour ${s.hourOfDay})  ${how}  models ${s.models.join(', ')}`;
}

/** A summary for `--json`: maps keyed by outcome names become lists (keys stay camelCase). */
function summaryJson(s: AudienceSummary) {
  const { counts, ...rest } = s;
  return { ...rest, outcomes: Object.entries(counts).map(([outcome, users]) => ({ outcome, users })) };
}

function describeText(d: AudienceDescription): string {
  const s = d.summary;
  const f = d.freshness;
  const rule = d.majorChange;
  return [
    summaryLine(s),
    ...stageLines(s),
    `versions stored: ${d.versions.join(', ')}`,
    `major change: ${rule.kind === 'model-inputs' ? 'any model input' : rule.kind === 'features' ? `features ${rule.features.join(', ')}` : `score change >= ${rule.minDelta}`}`,
    f
      ? `event -> membership: ${f.refreshes} refreshes, ${f.users} users; last (v${f.last.version}) p50 ${(f.last.p50Ms / 1000).toFixed(2)} s, p99 ${(f.last.p99Ms / 1000).toFixed(2)} s, max ${(f.last.maxMs / 1000).toFixed(2)} s; worst p99 ${(f.worstP99Ms / 1000).toFixed(2)} s`
      : 'event -> membership: no refresh yet',
  ].join('\n');
}

function diffText(d: AudienceDiff, limit: number): string {
  const tally = (t: Readonly<Record<string, number>>) =>
    Object.entries(t)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || 'none';
  const fmt = (x: number | null) => (x === null ? 'n/a' : x.toFixed(4));
  return [
    `${d.campaignId} v${d.from} -> v${d.to}: +${d.added.length} added, -${d.removed.length} removed, ${d.kept} kept`,
    `added, from: ${tally(d.addedFrom)}`,
    `removed, because: ${tally(d.removedBecause)}`,
    ...d.added
      .slice(0, limit)
      .map((e) => `  + ${e.userId}  ${e.before} -> ${e.after}  score ${fmt(e.scoreBefore)} -> ${fmt(e.scoreAfter)}`),
    ...d.removed
      .slice(0, limit)
      .map((e) => `  - ${e.userId}  ${e.before} -> ${e.after}  score ${fmt(e.scoreBefore)} -> ${fmt(e.scoreAfter)}`),
  ].join('\n');
}

function refreshText(r: RefreshResult): string {
  return [
    `refresh at ${isoUtc(r.atMs)}: ${r.users} changed users, ${r.rescored} re-scored over ${r.campaigns.length} live audiences in ${r.timingsMs.toFixed(0)} ms`,
    ...r.campaigns.map(
      (c) =>
        `  ${c.campaignId}  ${c.version === null ? 'unchanged' : `v${c.version}`}  ${c.changedUsers} changed, ${c.rescored} re-scored, +${c.added} -${c.removed}${c.freshness ? `  event -> membership p99 ${(c.freshness.p99Ms / 1000).toFixed(2)} s` : ''}`,
    ),
  ].join('\n');
}

/** `--users a,b` or `--users-file F` (one id a line, or the stream's dirty-user JSON lines). */
function changedUsersOf(opts: { users?: string; usersFile?: string }): ChangedUser[] {
  if (opts.users === undefined && opts.usersFile === undefined)
    throw new InvalidInputError('refresh needs --users <id,id,...> or --users-file <file>');
  const out: ChangedUser[] = [];
  if (opts.users !== undefined)
    for (const u of opts.users.split(',').map((x) => x.trim())) if (u) out.push({ userId: u });
  if (opts.usersFile !== undefined) {
    if (!existsSync(opts.usersFile)) throw new InvalidInputError(`--users-file ${opts.usersFile} does not exist`);
    readFileSync(opts.usersFile, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        const t = line.trim();
        if (!t) return;
        if (!t.startsWith('{')) {
          out.push({ userId: t });
          return;
        }
        let v: { userId?: unknown; eventTs?: unknown; views?: unknown };
        try {
          v = JSON.parse(t) as typeof v;
        } catch {
          throw new InvalidInputError(
            `--users-file line ${i + 1}: expected a user id or a JSON object, got "${t.slice(0, 60)}"`,
          );
        }
        if (typeof v.userId !== 'string')
          throw new InvalidInputError(
            `--users-file line ${i + 1}: userId: expected a string, got ${JSON.stringify(v.userId)}`,
          );
        out.push({
          userId: v.userId,
          ...(typeof v.eventTs === 'number' ? { eventTs: v.eventTs } : {}),
          ...(Array.isArray(v.views) ? { views: v.views.map(String) } : {}),
        });
      });
  }
  if (out.length === 0) throw new InvalidInputError('refresh: no user ids given');
  return out;
}

function versionOpt(text: string | undefined): number | undefined {
  return positiveInt('version', text);
}

/** Registers `adnova audience build|refresh|list|describe|export|diff|evaluate`. */
export function registerAudienceCommands(program: Command, io: CliIo): void {
  const audience = program
    .command('audience')
    .description('audiences of campaigns: batch builds, refresh on behaviour change (docs/audience.md)');
  const deploymentOpt = [
    '--deployment <dir>',
    'deployment directory (default: the configured store directory)',
  ] as const;
  const atOpt = ['--at <time>', 'decision time, ISO-8601 or epoch ms (default: now)'] as const;

  audience
    .command('build')
    .description('run the decision over every candidate of a campaign and store the audience as a new version')
    .requiredOption('--campaign <id>', 'campaign id')
    .option(...deploymentOpt)
    .option(...atOpt)
    .option('--hour <h>', 'hour of day the scores use (default: the UTC hour of --at)')
    .option('--shards <n>', 'score in this many user-id shards', '1')
    .option('--redis <url>', 'run the shards on BullMQ workers (`adnova worker --queue audience`) through this Redis')
    .option('--queue-prefix <p>', 'BullMQ key prefix', 'adnova')
    .option(
      '--major-change <rule>',
      'what re-scores a member on refresh: model-inputs (default), features:<view.f,...>, score:<min change>',
    )
    .option('--json', 'machine-readable output')
    .action(
      async (
        opts: DeploymentOpts & {
          campaign: string;
          hour?: string;
          shards: string;
          redis?: string;
          queuePrefix: string;
          majorChange?: string;
          json?: boolean;
        },
        cmd: Command,
      ) => {
        const shards = positiveInt('shards', opts.shards) as number;
        const hour = nonNegativeInt('hour', opts.hour);
        if (hour !== undefined && hour > 23) throw new InvalidInputError(`--hour expects 0 to 23, got "${opts.hour}"`);
        const { parseMajorChange, AudienceService, BullmqShardRunner } = await import('../../audience/index.js');
        const majorChange = opts.majorChange === undefined ? undefined : parseMajorChange(opts.majorChange);
        const { deployment, service: local, atMs } = await openAudiences(cmd, opts);
        const runner = opts.redis ? new BullmqShardRunner({ url: opts.redis, prefix: opts.queuePrefix }) : undefined;
        const service = runner ? new AudienceService({ deployment, runner }) : local;
        const progress = startProgress(io, 'shards', { json: opts.json === true });
        try {
          const r = await service.build(opts.campaign, {
            ...(atMs !== undefined ? { atMs } : {}),
            ...(hour !== undefined ? { hourOfDay: hour } : {}),
            shards,
            ...(majorChange ? { majorChange } : {}),
            onProgress: progress.onProgress,
          });
          progress.stop();
          if (opts.json) printJson(io, { ...summaryJson(r.summary), runner: r.runner, timingsMs: r.timingsMs });
          else
            io.out(
              [
                summaryLine(r.summary),
                ...stageLines(r.summary),
                `built in ${r.timingsMs.total.toFixed(0)} ms (${r.runner})`,
              ].join('\n'),
            );
        } finally {
          progress.stop();
          await runner?.close();
          await deployment.close();
        }
      },
    );

  audience
    .command('refresh')
    .description(
      're-decide changed users against every live audience (or --campaign) and store the changes as new versions',
    )
    .option('--users <ids>', 'changed user ids, comma separated')
    .option('--users-file <file>', 'changed users: one id a line, or JSON lines {userId, eventTs, views}')
    .option('--campaign <id...>', 'only these campaigns')
    .option(...deploymentOpt)
    .option(...atOpt)
    .option('--json', 'machine-readable output')
    .action(
      async (
        opts: DeploymentOpts & { users?: string; usersFile?: string; campaign?: string[]; json?: boolean },
        cmd: Command,
      ) => {
        const changed = changedUsersOf(opts);
        const { deployment, service, atMs } = await openAudiences(cmd, opts);
        try {
          const r = await service.refresh(changed, {
            ...(atMs !== undefined ? { atMs } : {}),
            ...(opts.campaign ? { campaignIds: opts.campaign } : {}),
          });
          if (opts.json) printJson(io, r);
          else io.out(refreshText(r));
        } finally {
          await deployment.close();
        }
      },
    );

  audience
    .command('list')
    .description('the current audience of every campaign, or every stored version of one')
    .option('--campaign <id>', 'versions of this campaign')
    .option(...deploymentOpt)
    .option('--json', 'machine-readable output')
    .action(async (opts: DeploymentOpts & { campaign?: string; json?: boolean }, cmd: Command) => {
      const { deployment, service } = await openAudiences(cmd, opts);
      try {
        const list = await service.store.list(opts.campaign);
        if (opts.json) printJson(io, { audiences: list.map(summaryJson) });
        else io.out(list.length ? list.map(summaryLine).join('\n') : 'no audiences stored');
      } finally {
        await deployment.close();
      }
    });

  audience
    .command('describe')
    .description('one audience version: stage counts, models, how it was made, its refresh rule and freshness')
    .requiredOption('--campaign <id>', 'campaign id')
    .option('--version <n>', 'version (default: current)')
    .option(...deploymentOpt)
    .option('--json', 'machine-readable output')
    .action(async (opts: DeploymentOpts & { campaign: string; version?: string; json?: boolean }, cmd: Command) => {
      const version = versionOpt(opts.version);
      const { deployment, service } = await openAudiences(cmd, opts);
      try {
        const d = await service.describe(opts.campaign, version);
        if (opts.json) printJson(io, { ...d, summary: summaryJson(d.summary) });
        else io.out(describeText(d));
      } finally {
        await deployment.close();
      }
    });

  audience
    .command('export')
    .description("write an audience version's members (best first) to Parquet or CSV")
    .requiredOption('--campaign <id>', 'campaign id')
    .requiredOption('--out <file>', 'output file')
    .option('--format <f>', 'parquet or csv (default: from the file extension)')
    .option('--version <n>', 'version (default: current)')
    .option(...deploymentOpt)
    .option('--json', 'machine-readable output')
    .action(
      async (
        opts: DeploymentOpts & { campaign: string; out: string; format?: string; version?: string; json?: boolean },
        cmd: Command,
      ) => {
        const version = versionOpt(opts.version);
        const format = opts.format ?? (opts.out.toLowerCase().endsWith('.parquet') ? 'parquet' : 'csv');
        if (format !== 'parquet' && format !== 'csv')
          throw new InvalidInputError(`--format expects parquet or csv, got "${format}"`);
        const { deployment, service } = await openAudiences(cmd, opts);
        try {
          const r = await service.export(opts.campaign, {
            out: resolve(opts.out),
            format,
            ...(version !== undefined ? { version } : {}),
          });
          if (opts.json) printJson(io, r);
          else io.out(`${r.rows} members of ${r.campaignId} v${r.version} written to ${r.path} (${r.format})`);
        } finally {
          await deployment.close();
        }
      },
    );

  audience
    .command('diff')
    .description('who joined and who left between two versions, and why (default: the current one and its parent)')
    .requiredOption('--campaign <id>', 'campaign id')
    .option('--from <n>', 'older version (default: the parent of --to)')
    .option('--to <n>', 'newer version (default: current)')
    .option('--limit <n>', 'users listed per side', '20')
    .option(...deploymentOpt)
    .option('--json', 'machine-readable output')
    .action(
      async (
        opts: DeploymentOpts & { campaign: string; from?: string; to?: string; limit: string; json?: boolean },
        cmd: Command,
      ) => {
        const from = positiveInt('from', opts.from);
        const to = positiveInt('to', opts.to);
        const limit = nonNegativeInt('limit', opts.limit) as number;
        const { deployment, service } = await openAudiences(cmd, opts);
        try {
          const d = await service.diff(opts.campaign, from, to);
          if (opts.json)
            printJson(io, {
              ...d,
              added: d.added.slice(0, limit),
              removed: d.removed.slice(0, limit),
              addedCount: d.added.length,
              removedCount: d.removed.length,
              removedBecause: Object.entries(d.removedBecause).map(([outcome, users]) => ({ outcome, users })),
              addedFrom: Object.entries(d.addedFrom).map(([outcome, users]) => ({ outcome, users })),
            });
          else io.out(diffText(d, limit));
        } finally {
          await deployment.close();
        }
      },
    );

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

/** A clock that runs in real time from `startMs`: the demo's events are stamped now, on the World's calendar. */
class LiveClockFrom {
  readonly #wall0 = Date.now();
  constructor(readonly startMs: number) {}
  now(): number {
    return this.startMs + (Date.now() - this.#wall0);
  }
}

/**
 * The demo's audience stage: a deployment from the demo World, an audience built for a campaign at launch, an
 * hour of the World's events streamed again as if happening now (through the bus, the ingestor, the online store
 * and the segment index), the changed users refreshed into the audience, and the event -> membership latency.
 */
export const audienceDemoStage: DemoStage = {
  name: 'audience',
  description: 'deploy the World, build an audience at launch, stream events, refresh it, event -> membership',
  run: async (ctx) => {
    const { ensureDemoDeployment } = await import('./deploy.js');
    const started = performance.now();
    const dir = await ensureDemoDeployment(ctx);
    const deployMs = performance.now() - started;
    const [core, decision, stream, audience] = await Promise.all([
      import('../../core/index.js'),
      import('../../decision/index.js'),
      import('../../stream/index.js'),
      import('../../audience/index.js'),
    ]);
    const manifest = decision.readDeploymentManifest(dir);
    const clock = new LiveClockFrom(manifest.asOfMs);
    const d = await decision.openDeployment({ dir, clock });
    const bus = new stream.MemoryEventBus();
    try {
      const metrics = new core.MetricsRegistry();
      const service = new audience.AudienceService({ deployment: d, metrics });
      const vertical = (await d.campaigns.list())[0]?.vertical ?? 'fashion';
      const c = await d.campaigns.create({
        id: 'demo-launch',
        advertiserId: 'demo',
        channel: 'push',
        goal: 'click',
        vertical,
        desiredAudienceSize: Math.max(10, Math.round(d.index.users.size / 10)),
        holdoutShare: 0.1,
        explorationShare: 0.1,
        schedule: { launch: manifest.asOfMs - 3_600_000 },
      });
      const built = await service.build(c.id);
      const refresher = new audience.AudienceRefresher(service);
      const ingestor = await stream.StreamIngestor.start({
        bus,
        topic: 'events',
        plan: stream.compileAggregationPlan(d.store.definitions()),
        features: d.store,
        state: new stream.MemoryAggregatorStateStore(),
        deadLetters: new stream.MemoryDeadLetterSink(),
        lateEvents: new stream.MemoryDeadLetterSink(),
        dirtyFeed: refresher,
        eventObserver: new decision.SegmentIndexUpdater(d.index),
        clock,
        flushIntervalMs: 100,
      });
      // the World's last hour of events, happening again now
      const published = await audience.publishWorldEvents({
        worldDir: ctx.state.worldDir as string,
        bus,
        topic: 'events',
        fromArrivalTs: manifest.asOfMs - 3_600_000,
        toArrivalTs: manifest.asOfMs,
        limit: 3000,
        restamp: (env) => {
          const now = clock.now();
          env.arrival_ts = now;
          env.message['event_ts'] = now;
        },
      });
      await ingestor.runUntilIdle(200);
      await ingestor.close();
      const r = await refresher.flush();
      const cr = r?.campaigns.find((x) => x.campaignId === c.id);
      const cur = (await service.store.current(c.id)) as AudienceSummary;
      return {
        deployMs: Math.round(deployMs),
        campaign: c.id,
        stageCounts: built.summary.stages.map((s) => `${s.rule} ${s.remaining}`).join(' > '),
        members: built.summary.members,
        buildMs: Math.round(built.timingsMs.total),
        events: published,
        changedUsers: cr?.changedUsers ?? 0,
        rescored: cr?.rescored ?? 0,
        added: cr?.added ?? 0,
        removed: cr?.removed ?? 0,
        version: cur.version,
        eventToMembershipP99Ms: cr?.freshness ? Math.round(cr.freshness.p99Ms) : null,
      };
    } finally {
      await bus.close();
      await d.close();
    }
  },
};
