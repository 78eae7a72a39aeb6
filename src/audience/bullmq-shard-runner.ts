import { type Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { BackendUnavailableError, describeError, sleep } from '../core/index.js';
import type { Deployment } from '../decision/index.js';
import { AudienceJobError } from './errors.js';
import { AUDIENCE_QUEUE, runShardTask, type ShardRunner, type ShardTask } from './shard-jobs.js';

/** The only file in src/audience that knows BullMQ and ioredis. */

export interface BullmqShardOptions {
  readonly url: string;
  /** Key prefix of the queue (one per deployment or test). Default `adnova`. */
  readonly prefix?: string;
  /** Tries per shard before the build fails. Default 3. */
  readonly attempts?: number;
  /** The whole build's deadline. Default 10 minutes. */
  readonly timeoutMs?: number;
}

function connect(url: string): Redis {
  // BullMQ's blocking commands need maxRetriesPerRequest null on the workers' connection
  return new Redis(url, { maxRetriesPerRequest: null, lazyConnect: false });
}

/**
 * Shard tasks as BullMQ jobs on the `audience` queue, run by `adnova worker --queue audience` processes. The job
 * id is the build and the shard, so adding a build twice queues each shard once; a failed shard is retried with
 * backoff; a worker that dies mid-shard loses its lock and another takes the job again. The results are the shard
 * files (written by rename, the same bytes whoever writes them), so the build resolves when every job completed.
 */
export class BullmqShardRunner implements ShardRunner {
  readonly name = 'bullmq';
  readonly #queue: Queue;
  readonly #conn: Redis;
  readonly #attempts: number;
  readonly #timeoutMs: number;
  #closed = false;

  constructor(options: BullmqShardOptions) {
    this.#conn = connect(options.url);
    this.#queue = new Queue(AUDIENCE_QUEUE, { connection: this.#conn, prefix: options.prefix ?? 'adnova' });
    this.#attempts = options.attempts ?? 3;
    this.#timeoutMs = options.timeoutMs ?? 600_000;
  }

  async run(tasks: readonly ShardTask[]): Promise<void> {
    const ids = tasks.map((t) => `${t.buildId}.${t.shard}`);
    try {
      await this.#queue.addBulk(
        tasks.map((t, k) => ({
          name: 'shard',
          data: t,
          opts: {
            jobId: ids[k] as string,
            attempts: this.#attempts,
            backoff: { type: 'exponential', delay: 500 },
            removeOnComplete: { age: 3600 },
            removeOnFail: { age: 86_400 },
          },
        })),
      );
    } catch (err) {
      throw new BackendUnavailableError(`could not queue the audience build on Redis: ${describeError(err)}`, {
        cause: err,
      });
    }
    const deadline = Date.now() + this.#timeoutMs;
    const pending = new Set(ids);
    while (pending.size > 0) {
      for (const id of [...pending]) {
        const job = await this.#queue.getJob(id);
        const state = job ? await job.getState() : 'unknown';
        if (state === 'completed') pending.delete(id);
        else if (state === 'failed')
          throw new AudienceJobError(
            `audience shard job ${id} failed after ${job?.attemptsMade ?? '?'} attempts: ${job?.failedReason ?? 'unknown reason'}`,
          );
      }
      if (pending.size === 0) break;
      if (Date.now() > deadline)
        throw new AudienceJobError(
          `audience build timed out after ${this.#timeoutMs} ms with ${pending.size} of ${ids.length} shards unfinished: are workers running (\`adnova worker --queue audience\`)?`,
        );
      await sleep(100);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#queue.close();
    this.#conn.disconnect();
  }
}

export interface AudienceWorkerOptions {
  readonly url: string;
  readonly prefix?: string;
  /** Shards processed at once by this process. Default 1. */
  readonly concurrency?: number;
  /** A job whose worker stops renewing its lock this long is taken by another worker. Default 10 s. */
  readonly lockDurationMs?: number;
  /** Opens the deployment a shard names (once per build: a later build sees the deployment as it is then). */
  readonly openDeployment: (dir: string) => Promise<Deployment>;
  readonly onStart?: (t: ShardTask, attempt: number) => void;
  readonly onShard?: (t: ShardTask, result: { candidates: number; ms: number }) => void;
}

export interface AudienceWorker {
  /** Shards this process completed. */
  readonly completed: () => number;
  close(): Promise<void>;
}

/** A worker process's side of the queue: shard jobs run with `runShardTask`. */
export async function startAudienceWorker(options: AudienceWorkerOptions): Promise<AudienceWorker> {
  const conn = connect(options.url);
  let open: { key: string; deployment: Deployment } | null = null;
  let done = 0;
  const lockDuration = options.lockDurationMs ?? 10_000;
  const worker = new Worker(
    AUDIENCE_QUEUE,
    async (job: Job<ShardTask>) => {
      const t = job.data;
      options.onStart?.(t, job.attemptsMade + 1);
      const key = `${t.deploymentDir}\u0000${t.buildId}`;
      if (open?.key !== key) {
        await open?.deployment.close();
        open = null;
        open = { key, deployment: await options.openDeployment(t.deploymentDir) };
      }
      const started = performance.now();
      const r = await runShardTask(open.deployment, t);
      done++;
      options.onShard?.(t, { candidates: r.candidates, ms: performance.now() - started });
      return r;
    },
    {
      connection: conn,
      prefix: options.prefix ?? 'adnova',
      concurrency: options.concurrency ?? 1,
      lockDuration,
      stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)),
      maxStalledCount: 3,
    },
  );
  await worker.waitUntilReady();
  let closed = false;
  return {
    completed: () => done,
    close: async () => {
      if (closed) return;
      closed = true;
      await worker.close();
      await open?.deployment.close();
      conn.disconnect();
    },
  };
}
