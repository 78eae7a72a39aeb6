import { existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { BackendUnavailableError, describeError } from '../core/index.js';
import type { AudienceMember, ExportFormat } from './audience.js';

/** The only file in src/audience that knows DuckDB: member files written, filtered and read back. */

/** Columns of an exported audience, in order, with their SQL types. */
export const EXPORT_COLUMNS = [
  ['user_id', 'VARCHAR'],
  ['position', 'INTEGER'],
  ['score', 'DOUBLE'],
  ['rank', 'INTEGER'],
  ['reason', 'VARCHAR'],
  ['propensity', 'DOUBLE'],
  ['model_id', 'VARCHAR'],
  ['features_ts', 'BIGINT'],
  ['scored_ts', 'BIGINT'],
] as const;

const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;

async function withDb<T>(fn: (run: (sql: string) => Promise<Record<string, unknown>[]>) => Promise<T>): Promise<T> {
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(':memory:');
  } catch (err) {
    throw new BackendUnavailableError(`could not start DuckDB: ${describeError(err)}`, { cause: err });
  }
  const conn = await instance.connect();
  try {
    return await fn(async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[]);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

function csvText(members: readonly AudienceMember[]): string {
  const lines = [EXPORT_COLUMNS.map(([n]) => n).join(',')];
  for (const m of members)
    lines.push(
      [
        csvField(m.userId),
        m.position,
        m.score,
        m.rank,
        m.reason,
        m.propensity,
        csvField(m.modelId),
        Math.round(m.featuresTs),
        Math.round(m.scoredTs),
      ].join(','),
    );
  return `${lines.join('\n')}\n`;
}

const columnsSpec = `{${EXPORT_COLUMNS.map(([n, t]) => `${lit(n)}: ${lit(t)}`).join(', ')}}`;
const readSql = (path: string, format: ExportFormat) =>
  format === 'parquet' ? `read_parquet(${lit(path)})` : `read_csv(${lit(path)}, header=true, columns=${columnsSpec})`;

/** Writes members to `path` (atomically: a temporary file renamed), as CSV or, through DuckDB, Parquet. */
export async function writeMembersFile(
  path: string,
  format: ExportFormat,
  members: readonly AudienceMember[],
): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    if (format === 'csv') writeFileSync(tmp, csvText(members));
    else {
      const csv = `${path}.tmp-${process.pid}.csv`;
      writeFileSync(csv, csvText(members));
      try {
        await withDb((run) => run(`COPY (SELECT * FROM ${readSql(csv, 'csv')}) TO ${lit(tmp)} (FORMAT parquet)`));
      } finally {
        rmSync(csv, { force: true });
      }
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

/** Reads an exported member file back (tests, `diff` of exports). */
export async function readMembersFile(path: string, format: ExportFormat): Promise<AudienceMember[]> {
  return withDb(async (run) => {
    const rows = await run(`SELECT * FROM ${readSql(path, format)} ORDER BY position`);
    return rows.map((r) => ({
      userId: String(r['user_id']),
      position: Number(r['position']),
      score: Number(r['score']),
      rank: Number(r['rank']),
      reason: String(r['reason']) as AudienceMember['reason'],
      propensity: Number(r['propensity']),
      modelId: String(r['model_id']),
      featuresTs: Number(r['features_ts']),
      scoredTs: Number(r['scored_ts']),
    }));
  });
}

/** How many rows of an exported file belong to these users. */
export async function countUsersInFile(
  path: string,
  format: ExportFormat,
  userIds: readonly string[],
): Promise<number> {
  if (!existsSync(path) || userIds.length === 0) return 0;
  return withDb(async (run) => {
    await run('CREATE TABLE ids (user_id VARCHAR)');
    await insertIds(run, userIds);
    const r = await run(`SELECT count(*) AS n FROM ${readSql(path, format)} f JOIN ids USING (user_id)`);
    return Number(r[0]?.['n'] ?? 0);
  });
}

/** Rewrites an exported file without these users' rows; returns how many were removed. */
export async function removeUsersFromFile(
  path: string,
  format: ExportFormat,
  userIds: readonly string[],
): Promise<number> {
  if (!existsSync(path) || userIds.length === 0) return 0;
  const tmp = `${path}.tmp-${process.pid}`;
  return withDb(async (run) => {
    await run('CREATE TABLE ids (user_id VARCHAR)');
    await insertIds(run, userIds);
    await run(`CREATE TABLE f AS SELECT * FROM ${readSql(path, format)}`);
    const r = await run('SELECT count(*) AS n FROM f JOIN ids USING (user_id)');
    const n = Number(r[0]?.['n'] ?? 0);
    if (n === 0) return 0;
    const opts = format === 'parquet' ? '(FORMAT parquet)' : '(FORMAT csv, HEADER true)';
    await run(
      `COPY (SELECT * FROM f WHERE user_id NOT IN (SELECT user_id FROM ids) ORDER BY position) TO ${lit(tmp)} ${opts}`,
    );
    renameSync(tmp, path);
    return n;
  });
}

async function insertIds(run: (sql: string) => Promise<unknown>, userIds: readonly string[]): Promise<void> {
  for (let i = 0; i < userIds.length; i += 1000)
    await run(
      `INSERT INTO ids VALUES ${userIds
        .slice(i, i + 1000)
        .map((u) => `(${lit(u)})`)
        .join(', ')}`,
    );
}
