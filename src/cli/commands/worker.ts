import type { Command } from 'commander';
// registering loads only import-free modules; the action imports the job code it runs
import { InvalidInputError } from '../../core/errors.js';
import type { CliIo } from '../io.js';
import { positiveInt } from '../options.js';

const QUEUES = ['audience'] as const;

/** Registers `adnova worker --queue audience`: a process that runs shard jobs from BullMQ until stopped. */
export function registerWorkerCommands(program: Command, io: CliIo): void {
  program
    .command('worker')
    .description('run queued jobs (audience build shards) from BullMQ on Redis until SIGINT or SIGTERM')
    .requiredOption('--queue <name>', `queue to work on: ${QUEUES.join(', ')}`)
    .option('--redis <url>', 'Redis URL (default: the configured redis.url)')
    .option('--queue-prefix <p>', 'BullMQ key prefix (as given to `audience build --queue-prefix`)', 'adnova')
    .option('--concurrency <n>', 'jobs at once in this process', '1')
    .option('--lock-ms <n>', 'a job whose worker is silent this long is taken by another', '10000')
    .action(
      async (
        opts: { queue: string; redis?: string; queuePrefix: string; concurrency: string; lockMs: string },
        cmd: Command,
      ) => {
        if (!(QUEUES as readonly string[]).includes(opts.queue))
          throw new InvalidInputError(`--queue expects one of ${QUEUES.join(', ')}, got "${opts.queue}"`);
        const concurrency = positiveInt('concurrency', opts.concurrency) as number;
        const lockDurationMs = positiveInt('lock-ms', opts.lockMs) as number;
        const [core, decision, audience] = await Promise.all([
          import('../../core/index.js'),
          import('../../decision/index.js'),
          import('../../audience/index.js'),
        ]);
        const { config } = core.loadConfig({ file: (cmd.optsWithGlobals() as { config?: string }).config });
        const url = opts.redis ?? config.redis.url;
        const worker = await audience.startAudienceWorker({
          url,
          prefix: opts.queuePrefix,
          concurrency,
          lockDurationMs,
          openDeployment: (dir) => decision.openDeployment({ dir, config }),
          onStart: (t, attempt) =>
            io.err(
              `worker ${process.pid}: ${t.campaignId} shard ${t.shard + 1}/${t.shards} of ${t.buildId} started (attempt ${attempt})`,
            ),
          onShard: (t, r) =>
            io.err(
              `worker ${process.pid}: ${t.campaignId} shard ${t.shard + 1}/${t.shards} of ${t.buildId}: ${r.candidates} candidates in ${r.ms.toFixed(0)} ms`,
            ),
        });
        io.err(`worker ${process.pid}: waiting for ${opts.queue} jobs on ${url} (prefix ${opts.queuePrefix})`);
        await new Promise<void>((resolve) => {
          const stop = () => resolve();
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        await worker.close();
        io.err(`worker ${process.pid}: stopped after ${worker.completed()} jobs`);
      },
    );
}
