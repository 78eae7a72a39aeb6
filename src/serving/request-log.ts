import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DOUBLE, DuckDBInstance, FLOAT, LIST } from '@duckdb/node-api';
import { BackendUnavailableError, describeError, type MetricsRegistry } from '../core/index.js';
import type { OnlineDecision } from './online.js';

export interface RequestLogOptions {
  /** The directory (a deployment's `layout.requestLog`). */
  readonly dir: string;
  /** Share of decision requests logged (default 1: all). */
  readonly sampleRate?: number;
  /** Most (user, campaign) rows waiting to be written; past it rows are dropped and counted. */
  readonly queueCapacity?: number;
  /** A file is written when this many rows wait, or every `flushIntervalMs`. */
  readonly rowsPerFile?: number;
  readonly flushIntervalMs?: number;
  readonly metrics?: MetricsRegistry;
  readonly random?: () => number;
}

export interface RequestLogStats {
  readonly queued: number;
  readonly written: number;
  readonly dropped: number;
  readonly files: number;
  readonly sampledOut: number;
}

/** One (user, campaign) evaluation as served. */
interface Row {
  requestId: string;
  keyId: string;
  atMs: number;
  userId: string;
  campaignId: string;
  modelVersion: string | null;
  featureSource: string;
  score: number | null;
  included: boolean;
  rule: string;
  degraded: string;
  /** The user's served feature values, in the feature service's column order (shared by its campaigns' rows). */
  features: Float32Array | null;
  /** Age of each view as served (ms, -1 unknown), in view order. */
  viewAgesMs: Float64Array | null;
}

const TABLE_SQL = `CREATE TABLE rows (
  request_id VARCHAR, key_id VARCHAR, at_ms DOUBLE, user_id VARCHAR, campaign_id VARCHAR, model_version VARCHAR,
  feature_source VARCHAR, score DOUBLE, included BOOLEAN, rule VARCHAR, degraded VARCHAR,
  features FLOAT[], view_ages_ms DOUBLE[])`;

const sql = (s: string): string => `'${s.replaceAll("'", "''")}'`;

/**
 * The request log the monitor reads: every logged decision's (user, campaign) rows with the features as served,
 * their ages, the model version, the score and the policy's outcome, in Parquet files under `dir` (one file per
 * flush: `part-<epoch ms>-<seq>.parquet`, with `columns.json` naming the feature and view columns). Decisions only
 * enqueue (a bounded queue: when full, rows are dropped and counted, never waited for); a timer writes the files.
 */
export class RequestLog {
  readonly dir: string;
  readonly #sampleRate: number;
  readonly #capacity: number;
  readonly #rowsPerFile: number;
  readonly #random: () => number;
  #queue: Row[] = [];
  #written = 0;
  #dropped = 0;
  #sampledOut = 0;
  #seq = 0;
  #writing: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #columns: { columns: readonly string[]; views: readonly string[] } | null = null;
  readonly #droppedMetric;
  readonly #writtenMetric;

  constructor(options: RequestLogOptions) {
    this.dir = resolve(options.dir);
    this.#sampleRate = options.sampleRate ?? 1;
    this.#capacity = options.queueCapacity ?? 50_000;
    this.#rowsPerFile = options.rowsPerFile ?? 20_000;
    this.#random = options.random ?? Math.random;
    const every = options.flushIntervalMs ?? 1000;
    if (every > 0) {
      this.#timer = setInterval(() => void this.#drain(), every);
      this.#timer.unref();
    }
    this.#droppedMetric = options.metrics?.counter({
      name: 'adnova_serving_request_log_dropped_total',
      help: 'Request log rows dropped because the queue was full',
    });
    this.#writtenMetric = options.metrics?.counter({
      name: 'adnova_serving_request_log_rows_total',
      help: 'Request log rows written to Parquet',
    });
  }

  stats(): RequestLogStats {
    return {
      queued: this.#queue.length,
      written: this.#written,
      dropped: this.#dropped,
      files: this.files().length,
      sampledOut: this.#sampledOut,
    };
  }

  files(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir)
      .filter((f) => f.startsWith('part-') && f.endsWith('.parquet'))
      .sort()
      .map((f) => join(this.dir, f));
  }

  /** Enqueues a decision's rows (synchronous, bounded): the hot path's only cost is copying one row per user. */
  record(d: OnlineDecision, meta: { requestId: string; keyId: string }): void {
    if (this.#sampleRate < 1 && this.#random() >= this.#sampleRate) {
      this.#sampledOut++;
      return;
    }
    const m = d.result.features;
    this.#columns ??= { columns: [...m.columns], views: m.views.map((v) => v.name) };
    const total = m.entityIds.length;
    const rowOf = new Map<string, number>();
    for (let i = 0; i < m.entityIds.length; i++) rowOf.set(m.entityIds[i] as string, i);
    for (const u of d.users) {
      if (this.#queue.length + u.campaigns.length > this.#capacity) {
        this.#dropped += u.campaigns.length;
        this.#droppedMetric?.inc(undefined, u.campaigns.length);
        continue;
      }
      const r = rowOf.get(u.userId);
      let features: Float32Array | null = null;
      let ages: Float64Array | null = null;
      if (r !== undefined) {
        features = new Float32Array(m.columns.length);
        for (let c = 0; c < features.length; c++) features[c] = m.values[c * total + r] as number;
        ages = new Float64Array(m.views.length);
        for (let v = 0; v < ages.length; v++) ages[v] = m.ageMs[v * total + r] as number;
      }
      for (const c of u.campaigns)
        this.#queue.push({
          requestId: meta.requestId,
          keyId: meta.keyId,
          atMs: d.atMs,
          userId: u.userId,
          campaignId: c.campaignId,
          modelVersion: c.modelVersion,
          featureSource: u.featureSource,
          score: c.score,
          included: c.included,
          rule: c.rule,
          degraded: c.degraded.join(','),
          features,
          viewAgesMs: ages,
        });
    }
    if (this.#queue.length >= this.#rowsPerFile) void this.#drain();
  }

  /** Writes everything queued so far. */
  async flush(): Promise<void> {
    await this.#drain();
    await this.#writing;
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }

  #drain(): Promise<void> {
    if (this.#queue.length === 0) return this.#writing;
    const rows = this.#queue;
    this.#queue = [];
    this.#writing = this.#writing.then(() => this.#writeFile(rows)).catch(() => {});
    return this.#writing;
  }

  async #writeFile(rows: Row[]): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    if (this.#columns) writeFileSync(join(this.dir, 'columns.json'), `${JSON.stringify(this.#columns)}\n`);
    const name = `part-${String(Date.now()).padStart(15, '0')}-${String(this.#seq++).padStart(6, '0')}-${process.pid}.parquet`;
    const tmp = join(this.dir, `.${name}.tmp`);
    try {
      await withDb(async (run, conn) => {
        await run(TABLE_SQL);
        const a = await conn.createAppender('rows');
        const floatList = LIST(FLOAT);
        const doubleList = LIST(DOUBLE);
        try {
          for (const r of rows) {
            a.appendVarchar(r.requestId);
            a.appendVarchar(r.keyId);
            a.appendDouble(r.atMs);
            a.appendVarchar(r.userId);
            a.appendVarchar(r.campaignId);
            if (r.modelVersion === null) a.appendNull();
            else a.appendVarchar(r.modelVersion);
            a.appendVarchar(r.featureSource);
            if (r.score === null) a.appendNull();
            else a.appendDouble(r.score);
            a.appendBoolean(r.included);
            a.appendVarchar(r.rule);
            a.appendVarchar(r.degraded);
            if (r.features === null) a.appendNull();
            else a.appendList(Array.from(r.features), floatList);
            if (r.viewAgesMs === null) a.appendNull();
            else a.appendList(Array.from(r.viewAgesMs), doubleList);
            a.endRow();
          }
          a.flushSync();
        } finally {
          a.closeSync();
        }
        await run(`COPY rows TO ${sql(tmp)} (FORMAT parquet)`);
      });
      renameSync(tmp, join(this.dir, name));
      this.#written += rows.length;
      this.#writtenMetric?.inc(undefined, rows.length);
    } catch (err) {
      rmSync(tmp, { force: true });
      this.#dropped += rows.length;
      this.#droppedMetric?.inc(undefined, rows.length);
      throw new BackendUnavailableError(`request log: could not write ${name}: ${describeError(err)}`, { cause: err });
    }
  }

  /** Every user the written files hold (a privacy scan), after writing what is queued. */
  async *userIds(): AsyncIterableIterator<string> {
    await this.flush();
    const files = this.files();
    if (files.length === 0) return;
    const ids = await withDb(async (run) => {
      const r = await run(`SELECT DISTINCT user_id FROM read_parquet([${files.map(sql).join(', ')}])`);
      return r.map((x) => String(x['user_id']));
    });
    yield* ids;
  }

  /** How many of these users appear in the log (written files, after writing what is queued). */
  async countUsers(userIds: readonly string[]): Promise<number> {
    await this.flush();
    const files = this.files();
    if (files.length === 0 || userIds.length === 0) return 0;
    return withDb(async (run) => {
      await run('CREATE TABLE ids (id VARCHAR)');
      await insertIds(run, userIds);
      const r = await run(
        `SELECT count(DISTINCT user_id) AS n FROM read_parquet([${files.map(sql).join(', ')}]) WHERE user_id IN (SELECT id FROM ids)`,
      );
      return Number(r[0]?.['n'] ?? 0);
    });
  }

  /** Rewrites every file holding one of these users without their rows; returns how many rows went. */
  async removeUsers(userIds: readonly string[]): Promise<{ removed: number }> {
    await this.flush();
    if (userIds.length === 0) return { removed: 0 };
    let removed = 0;
    await withDb(async (run) => {
      await run('CREATE TABLE ids (id VARCHAR)');
      await insertIds(run, userIds);
      for (const f of this.files()) {
        const r = await run(`SELECT count(*) AS n FROM read_parquet(${sql(f)}) WHERE user_id IN (SELECT id FROM ids)`);
        const n = Number(r[0]?.['n'] ?? 0);
        if (n === 0) continue;
        const tmp = `${f}.tmp`;
        await run(
          `COPY (SELECT * FROM read_parquet(${sql(f)}) WHERE user_id NOT IN (SELECT id FROM ids)) TO ${sql(tmp)} (FORMAT parquet)`,
        );
        renameSync(tmp, f);
        removed += n;
      }
    });
    return { removed };
  }
}

async function insertIds(run: (q: string) => Promise<unknown>, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 500)
    await run(
      `INSERT INTO ids VALUES ${ids
        .slice(i, i + 500)
        .map((id) => `(${sql(id)})`)
        .join(', ')}`,
    );
}

async function withDb<T>(
  fn: (
    run: (q: string) => Promise<Record<string, unknown>[]>,
    conn: Awaited<ReturnType<DuckDBInstance['connect']>>,
  ) => Promise<T>,
): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    return await fn(async (q) => (await conn.runAndReadAll(q)).getRowObjectsJS() as Record<string, unknown>[], conn);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}
