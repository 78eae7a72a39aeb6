import { MS_PER_DAY } from '../core/index.js';
import {
  checkHeader,
  describeFiles,
  type ImportOptions,
  openImportDb,
  prepareImport,
  sqlPath,
  writeTable,
} from './import-common.js';
import { type ManifestTable, type WorldManifest, writeManifest } from './manifest.js';
import { type TableName, WORLD_FORMAT, WORLD_SCHEMA_VERSION } from './schema.js';
import { GENERATOR_VERSION } from './simulator.js';

export type { ImportOptions } from './import-common.js';

export const HILLSTROM_COLUMNS = [
  'recency',
  'history_segment',
  'history',
  'mens',
  'womens',
  'zip_code',
  'newbie',
  'channel',
  'segment',
  'visit',
  'conversion',
  'spend',
] as const;

/** The challenge gives no dates: the e-mails are placed here, outcomes at the end of the two-week window. */
export const HILLSTROM_SEND_TS = Date.UTC(2008, 2, 3);
const WINDOW_MS = 14 * MS_PER_DAY;

/**
 * Imports the MineThatData e-mail experiment (Kevin Hillstrom, 2008) into the world layout; see docs/world.md
 * for the column mapping.
 */
export async function importHillstrom(o: ImportOptions): Promise<WorldManifest> {
  prepareImport(o);
  const db = await openImportDb();
  try {
    await checkHeader(db, o.file, HILLSTROM_COLUMNS);
    await db.exec(
      `CREATE TABLE h AS SELECT row_number() OVER () AS rn, * FROM read_csv(${sqlPath(o.file)}, header = true,
        columns = {'recency': 'INTEGER', 'history_segment': 'VARCHAR', 'history': 'DOUBLE', 'mens': 'INTEGER',
                   'womens': 'INTEGER', 'zip_code': 'VARCHAR', 'newbie': 'INTEGER', 'channel': 'VARCHAR',
                   'segment': 'VARCHAR', 'visit': 'INTEGER', 'conversion': 'INTEGER', 'spend': 'DOUBLE'})`,
    );
    const send = HILLSTROM_SEND_TS;
    const date = new Date(send).toISOString().slice(0, 10);
    const user = `'h' || lpad(CAST(rn AS VARCHAR), 5, '0')`;
    const campaign = `CASE segment WHEN 'Mens E-Mail' THEN 'c_mens' WHEN 'Womens E-Mail' THEN 'c_womens' ELSE 'c_control' END`;
    const treated = `segment <> 'No E-Mail'`;
    const dir = o.outDir;
    const tables: Partial<Record<TableName, ManifestTable>> = {};
    tables.users = await writeTable(
      db,
      dir,
      'users.parquet',
      `SELECT ${user} AS user_id, 'US' AS country, CAST(NULL AS VARCHAR) AS language, CAST(NULL AS VARCHAR) AS platform,
        CAST(NULL AS VARCHAR) AS age_band, CAST(${send - 365 * MS_PER_DAY} AS BIGINT) AS signup_ts,
        true AS consent_email, false AS consent_push, false AS consent_in_app,
        CAST(${send - 365 * MS_PER_DAY} AS BIGINT) AS event_ts, CAST(${send - 365 * MS_PER_DAY} AS BIGINT) AS created_ts
       FROM h ORDER BY rn`,
    );
    const batchFile = `batch/day=${date}.parquet`;
    await writeTable(
      db,
      dir,
      batchFile,
      `SELECT ${user} AS user_id, '${date}' AS snapshot_date, CAST(${send} AS BIGINT) AS event_ts,
        CAST(${send} AS BIGINT) AS created_ts, recency AS recency_months, history_segment, history AS history_usd,
        mens, womens, zip_code, newbie, channel AS purchase_channel
       FROM h ORDER BY rn`,
    );
    tables.batch = await describeFiles(db, dir, [batchFile], 'data');
    tables.campaigns = await writeTable(
      db,
      dir,
      'campaigns.parquet',
      `SELECT campaign_id, 'a_hillstrom' AS advertiser_id, 'apparel' AS vertical, channel, 'click' AS goal,
        CAST(NULL AS VARCHAR) AS target_countries, CAST(NULL AS VARCHAR) AS target_platforms,
        CAST(NULL AS INTEGER) AS max_inactive_days, 'all' AS target_segment, CAST(n AS INTEGER) AS desired_audience_size,
        0.0 AS budget_usd, CAST(${send} AS BIGINT) AS launch_ts, CAST(${send} AS BIGINT) AS event_ts,
        CAST(${send} AS BIGINT) AS created_ts
       FROM (SELECT ${campaign} AS campaign_id, CASE WHEN ${treated} THEN 'email' ELSE 'none' END AS channel,
                    count(*) AS n FROM h GROUP BY ALL) ORDER BY campaign_id`,
    );
    tables.sends = await writeTable(
      db,
      dir,
      'sends.parquet',
      `SELECT 's' || lpad(CAST(rn AS VARCHAR), 10, '0') AS send_id, ${campaign} AS campaign_id, ${user} AS user_id,
        CAST(${send} AS BIGINT) AS send_ts, CASE WHEN ${treated} THEN 'email' ELSE 'none' END AS channel,
        'apparel' AS vertical, 'click' AS goal, CASE WHEN ${treated} THEN 'treatment' ELSE 'holdout' END AS selection,
        CAST(${send} AS BIGINT) AS event_ts
       FROM h ORDER BY rn`,
    );
    tables.outcomes = await writeTable(
      db,
      dir,
      'outcomes.parquet',
      `SELECT 's' || lpad(CAST(rn AS VARCHAR), 10, '0') AS send_id, ${campaign} AS campaign_id, ${user} AS user_id,
        kind, CAST(${send + WINDOW_MS} AS BIGINT) AS outcome_ts, value, CAST(${send + WINDOW_MS} AS BIGINT) AS event_ts
       FROM (SELECT rn, segment, 'click' AS kind, CAST(NULL AS DOUBLE) AS value, 1 AS k FROM h WHERE visit = 1
             UNION ALL SELECT rn, segment, 'convert', spend, 2 FROM h WHERE conversion = 1)
       ORDER BY rn, k`,
    );
    const statsRows = await db.query(
      `SELECT segment, count(*)::DOUBLE n, avg(visit)::DOUBLE visit, avg(conversion)::DOUBLE conv, avg(spend)::DOUBLE spend
       FROM h GROUP BY 1 ORDER BY 1`,
    );
    const stats: Record<string, number> = {};
    for (const r of statsRows) {
      const key = String(r['segment'])
        .toLowerCase()
        .replace(/[^a-z]+/g, '_');
      stats[`${key}_customers`] = Number(r['n']);
      stats[`${key}_visit_rate`] = Number(r['visit']);
      stats[`${key}_conversion_rate`] = Number(r['conv']);
      stats[`${key}_mean_spend`] = Number(r['spend']);
    }
    const manifest: WorldManifest = {
      format: WORLD_FORMAT,
      schemaVersion: WORLD_SCHEMA_VERSION,
      kind: 'hillstrom',
      generatorVersion: GENERATOR_VERSION,
      params: {
        source: 'MineThatData E-Mail Analytics and Data Mining Challenge (Kevin Hillstrom, 2008)',
        file: o.file.split('/').pop() ?? o.file,
        sendTs: send,
        windowDays: 14,
      },
      startTs: send,
      endTs: send + WINDOW_MS,
      dates: [date],
      timeline: [],
      tables,
      vocabularies: {
        campaigns: ['c_mens', 'c_womens', 'c_control'],
        zip_code: ['Urban', 'Surburban', 'Rural'],
        purchase_channel: ['Phone', 'Web', 'Multichannel'],
      },
      distributions: null,
      stats,
    };
    writeManifest(dir, manifest);
    return manifest;
  } finally {
    db.close();
  }
}
