import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
// registering loads only import-free modules; the action imports the serving code it runs
import { InvalidInputError } from '../../core/errors.js';
import type { Deployment } from '../../decision/index.js';
import { worldDefinitionsPath } from '../../features/world-definitions.js';
import type { FileKeyStore } from '../../serving/index.js';
import type { CliIo } from '../io.js';
import { nonNegativeInt, positiveInt, share } from '../options.js';
import { deploymentDirFor } from './deploy.js';

/** The advertiser the demo's keys and campaigns belong to. */
export const DEMO_ADVERTISER = 'demo-advertiser';
const DEMO_CAMPAIGNS = 20;

/**
 * Demo access to a deployment: campaigns of the demo advertiser (copies of the newest live campaigns, created once)
 * and a fresh advertiser key and admin key.
 */
export async function demoAccess(
  deployment: Deployment,
  keys: FileKeyStore,
): Promise<{ advertiserId: string; advertiserKey: string; adminKey: string; campaignIds: string[] }> {
  const { campaignToSpec } = await import('../../decision/index.js');
  const atMs = deployment.clock.now();
  let mine = await deployment.campaigns.list({ advertiserId: DEMO_ADVERTISER });
  if (mine.length === 0) {
    const live = (await deployment.campaigns.list({ liveAt: atMs })).slice(-DEMO_CAMPAIGNS);
    for (const c of live)
      await deployment.campaigns.create({ ...campaignToSpec(c), id: `demo-${c.id}`, advertiserId: DEMO_ADVERTISER });
    mine = await deployment.campaigns.list({ advertiserId: DEMO_ADVERTISER });
  }
  return {
    advertiserId: DEMO_ADVERTISER,
    advertiserKey: keys.create({ role: 'advertiser', advertiserId: DEMO_ADVERTISER, label: 'demo' }).key,
    adminKey: keys.create({ role: 'admin', label: 'demo' }).key,
    campaignIds: mine.filter((c) => c.launchTs <= atMs).map((c) => c.id),
  };
}

/** `serve --demo`'s deployment: a small World deployed under the store directory, built when missing. */
async function demoDeploymentDir(storeDir: string, io: CliIo, quiet: boolean): Promise<string> {
  const root = resolve(join(storeDir, 'serve-demo'));
  const dir = join(root, 'deployment');
  if (existsSync(join(dir, 'deployment.json'))) return dir;
  const [{ generateWorld }, { deployWorld }] = await Promise.all([
    import('../../world/index.js'),
    import('../../decision/index.js'),
  ]);
  if (!quiet) io.err(`serve --demo: building the demo deployment in ${dir} (once)`);
  await generateWorld({ outDir: join(root, 'world'), users: 2000, days: 7, seed: 42, features: 200, overwrite: true });
  await deployWorld({
    worldDir: join(root, 'world'),
    dir,
    definitionsPath: worldDefinitionsPath(),
    gbdt: { trees: 40 },
  });
  return dir;
}

interface ServeOpts {
  deployment?: string;
  host?: string;
  port?: string;
  workers: string;
  demo?: boolean;
  json?: boolean;
  deadlineMs: string;
  sampleRate: string;
  asOf?: string;
  rateLimit: string;
}

/** Registers `adnova serve`: the HTTP API on a deployment, one process or one per core (node:cluster). */
/** The audience and deletion services beside the API, on the process's deployment, with the tombstone ledger. */
async function withServices(dir: string, options: { applyDeletions?: boolean } = {}) {
  const [{ deploymentLayout }, { openTombstoneLedger }, { servingServices }] = await Promise.all([
    import('../../decision/index.js'),
    import('../../privacy/index.js'),
    import('../wiring.js'),
  ]);
  const ledger = await openTombstoneLedger({ dir: deploymentLayout(dir).privacy });
  return {
    tombstones: ledger,
    services: (ctx: Parameters<typeof servingServices>[0]) => servingServices(ctx, ledger, options),
  };
}

export function registerServeCommands(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('serve online decisions, campaigns, audiences and deletions over HTTP (docs/serving.md)')
    .option('--deployment <dir>', 'the deployment (default: the configured store directory)')
    .option('--host <host>', 'address to listen on (default: config serving.host)')
    .option('--port <n>', 'port (default: config serving.port; 0: a free one)')
    .option('--workers <n>', 'serving processes sharing the port (node:cluster)', '1')
    .option('--demo', "serve the demo's deployment (built if missing) and print a demo advertiser key and an admin key")
    .option('--deadline-ms <n>', 'deadline of a one-user decision', '100')
    .option('--rate-limit <n>', 'requests per key per minute (0: no limit)', '6000')
    .option('--sample-rate <x>', 'share of decisions written to the request log (0 turns it off)', '1')
    .option(
      '--as-of <when>',
      "decision time: 'now' or 'deployment' (from the deployment's as-of time; default with --demo)",
    )
    .option('--json', 'one JSON line: url, advertiserKey, adminKey (with --demo)')
    .action(async (opts: ServeOpts, cmd: Command) => {
      const workers = positiveInt('workers', opts.workers) as number;
      const deadlineMs = positiveInt('deadline-ms', opts.deadlineMs) as number;
      const sampleRate = share('sample-rate', opts.sampleRate) ?? 1;
      const perMinute = nonNegativeInt('rate-limit', opts.rateLimit) as number;
      const rateLimit = perMinute === 0 ? (false as const) : { max: perMinute, windowMs: 60_000 };
      const port = opts.port === undefined ? undefined : Number(opts.port);
      if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535))
        throw new InvalidInputError(`--port: expected 0..65535, got ${JSON.stringify(opts.port)}`);
      const [{ loadConfig }, cluster] = await Promise.all([import('../../core/index.js'), import('node:cluster')]);
      const { config } = loadConfig({ file: (cmd.optsWithGlobals() as { config?: string }).config });
      const host = opts.host ?? config.serving.host;
      const listenPort = port ?? config.serving.port;
      const c = cluster.default;
      const asOf = opts.asOf ?? (opts.demo ? 'deployment' : 'now');
      if (asOf !== 'now' && asOf !== 'deployment')
        throw new InvalidInputError(`--as-of: expected now or deployment, got ${JSON.stringify(asOf)}`);
      const clock = asOf === 'deployment' ? ('deployment' as const) : undefined;
      // what every serving process of this command starts with, one process or each of --workers N
      const serving = async (dir: string, logger: false | { level: string }, applyDeletions: boolean) => {
        const { startServing } = await import('../../serving/index.js');
        return startServing({
          dir,
          config,
          host,
          port: listenPort,
          decisionDeadlineMs: deadlineMs,
          sampleRate,
          rateLimit,
          ...(clock ? { clock } : {}),
          logger,
          ...(await withServices(dir, { applyDeletions })),
        });
      };

      if (c.isWorker) {
        // a forked serving process: the primary prepared the deployment and the keys
        const srv = await serving(
          process.env['ADNOVA_SERVE_DIR'] as string,
          { level: config.log.level },
          c.worker?.id === 1,
        );
        process.send?.({ listening: srv.url });
        await untilSignal();
        await srv.close();
        return;
      }

      const dir = opts.demo
        ? await demoDeploymentDir(config.storeDir, io, Boolean(opts.json))
        : await deploymentDirFor(cmd, opts.deployment);
      let access: Awaited<ReturnType<typeof demoAccess>> | undefined;
      if (opts.demo) {
        const [{ openDeployment, readDeploymentManifest }, { FileKeyStore }] = await Promise.all([
          import('../../decision/index.js'),
          import('../../serving/index.js'),
        ]);
        const d = await openDeployment({
          dir,
          config,
          ...(asOf === 'deployment' ? { clock: { now: () => readDeploymentManifest(dir).asOfMs } } : {}),
        });
        try {
          access = await demoAccess(d, new FileKeyStore(d.layout.keys));
        } finally {
          await d.close();
        }
      }
      const announce = (url: string) => {
        const shown = { url, workers, deployment: dir, ...(access ?? {}) };
        if (opts.json) io.out(JSON.stringify(shown));
        else {
          io.out(`serving ${dir} at ${url} (${workers} process${workers > 1 ? 'es' : ''}); OpenAPI at ${url}/docs`);
          if (access)
            io.out(
              [
                `advertiser ${access.advertiserId} key: ${access.advertiserKey}`,
                `admin key: ${access.adminKey}`,
                `try: curl -s ${url}/v1/decisions -H 'authorization: Bearer ${access.advertiserKey}' -H 'content-type: application/json' -d '{"userId":"<a user id>","campaignIds":${JSON.stringify(access.campaignIds.slice(0, 3))}}'`,
              ].join('\n'),
            );
        }
      };

      if (workers === 1) {
        const srv = await serving(dir, opts.json ? false : { level: config.log.level }, true);
        announce(srv.url);
        await untilSignal();
        await srv.close();
        return;
      }
      // one process per worker sharing the port; each opens the deployment read-mostly (decisions do not commit)
      c.setupPrimary({ env: { ...process.env, ADNOVA_SERVE_DIR: dir } } as never);
      const urls: string[] = [];
      await new Promise<void>((res, rej) => {
        for (let i = 0; i < workers; i++) {
          const w = c.fork({ ADNOVA_SERVE_DIR: dir });
          w.on('message', (m: { listening?: string }) => {
            if (m.listening) urls.push(m.listening);
            if (urls.length === workers) res();
          });
          w.on('exit', (code) => {
            if (urls.length < workers)
              rej(new Error(`serving worker ${w.process.pid} exited with ${code} before listening`));
          });
        }
      });
      announce(urls[0] as string);
      await untilSignal();
      for (const w of Object.values(c.workers ?? {})) w?.process.kill('SIGTERM');
    });
}

function untilSignal(): Promise<void> {
  return new Promise((res) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      res();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}
