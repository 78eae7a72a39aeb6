import { MS_PER_DAY, MS_PER_HOUR } from '../core/index.js';
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

export const ONLINE_RETAIL_COLUMNS = [
  'InvoiceNo',
  'StockCode',
  'Description',
  'Quantity',
  'InvoiceDate',
  'UnitPrice',
  'CustomerID',
  'Country',
] as const;

/** Re-engagement e-mails go out every Monday at this UTC hour; the label window is 14 days. */
export const RETAIL_SEND_HOUR = 10;
const WINDOW_MS = 14 * MS_PER_DAY;
const SNAPSHOT_DELAY_MS = 4 * MS_PER_HOUR;

/**
 * Imports UCI Online Retail (Chen, Sain, Guo 2012; CC BY 4.0) into the world layout: invoice lines as purchase /
 * return events, customers as users, daily RFM snapshots, weekly re-engagement sends labelled "purchased within 14
 * days". See docs/world.md.
 */
export async function importOnlineRetail(o: ImportOptions): Promise<WorldManifest> {
  prepareImport(o);
  const db = await openImportDb();
  const dir = o.outDir;
  try {
    await checkHeader(db, o.file, ONLINE_RETAIL_COLUMNS);
    await db.exec(
      `CREATE TABLE r AS SELECT row_number() OVER () - 1 AS rn, *,
              epoch_ms(InvoiceDate) AS ts, CAST(CAST(CustomerID AS BIGINT) AS VARCHAR) AS cust,
              InvoiceNo LIKE 'C%' AS is_return
       FROM read_csv(${sqlPath(o.file)}, header = true, quote = '"', escape = '"',
         columns = {'InvoiceNo': 'VARCHAR', 'StockCode': 'VARCHAR', 'Description': 'VARCHAR', 'Quantity': 'INTEGER',
                    'InvoiceDate': 'TIMESTAMP', 'UnitPrice': 'DOUBLE', 'CustomerID': 'DOUBLE', 'Country': 'VARCHAR'})`,
    );
    const tables: Partial<Record<TableName, ManifestTable>> = {};
    const uid = (c: string) => `CASE WHEN ${c} IS NULL THEN NULL ELSE 'r' || ${c} END`;
    tables.events = await writeTable(
      db,
      dir,
      'events.parquet',
      `SELECT CAST(rn AS BIGINT) AS event_id, ${uid('cust')} AS user_id,
        CASE WHEN is_return THEN 'return' ELSE 'purchase' END AS event_type, ts AS event_ts, ts AS arrival_ts,
        CAST(NULL AS BIGINT) AS session_id, 'web' AS platform, CAST(NULL AS VARCHAR) AS category, StockCode AS item_id,
        round(Quantity * UnitPrice, 2) AS amount, Quantity AS quantity, CAST(NULL AS VARCHAR) AS channel,
        CAST(NULL AS VARCHAR) AS campaign_id, CAST(NULL AS VARCHAR) AS send_id, InvoiceNo AS order_id,
        CAST(1 AS SMALLINT) AS schema_version, CAST(NULL AS VARCHAR) AS raw,
        CASE WHEN cust IS NULL THEN 'missing_user_id' END AS defect
       FROM r ORDER BY rn`,
    );
    await db.exec(
      `CREATE TABLE cust AS SELECT cust, arg_min(Country, rn) AS country, min(ts) AS first_ts
       FROM r WHERE cust IS NOT NULL GROUP BY cust`,
    );
    tables.users = await writeTable(
      db,
      dir,
      'users.parquet',
      `SELECT 'r' || cust AS user_id, country, CAST(NULL AS VARCHAR) AS language, 'web' AS platform,
        CAST(NULL AS VARCHAR) AS age_band, first_ts AS signup_ts, true AS consent_email, false AS consent_push,
        false AS consent_in_app, first_ts AS event_ts, first_ts AS created_ts
       FROM cust ORDER BY CAST(cust AS BIGINT)`,
    );

    // Per customer and day, then cumulative; each snapshot day takes the latest earlier day (ASOF JOIN).
    const [span] = await db.query(
      `SELECT (min(ts) // ${MS_PER_DAY})::DOUBLE AS d0, (max(ts) // ${MS_PER_DAY})::DOUBLE AS d1 FROM r`,
    );
    const d0 = Number(span?.['d0']);
    const d1 = Number(span?.['d1']);
    await db.exec(
      `CREATE TABLE cd AS
       SELECT cust, ts // ${MS_PER_DAY} AS day,
              count(DISTINCT InvoiceNo) FILTER (WHERE NOT is_return) AS invoices,
              count(DISTINCT InvoiceNo) FILTER (WHERE is_return) AS returns,
              sum(Quantity * UnitPrice) AS net, sum(Quantity * UnitPrice) FILTER (WHERE NOT is_return) AS gross,
              count(*) FILTER (WHERE NOT is_return) AS lines,
              max(ts) FILTER (WHERE NOT is_return) AS last_purchase_ts
       FROM r WHERE cust IS NOT NULL GROUP BY ALL`,
    );
    await db.exec(
      `CREATE TABLE cum AS
       SELECT cust, day,
              sum(invoices) OVER w AS frequency_invoices, sum(returns) OVER w AS returns_count,
              sum(net) OVER w AS monetary_usd, sum(coalesce(gross, 0)) OVER w AS gross_usd,
              sum(lines) OVER w AS lines_total, max(last_purchase_ts) OVER w AS last_purchase_ts
       FROM cd WINDOW w AS (PARTITION BY cust ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`,
    );
    await db.exec(
      `CREATE TABLE snap AS
       SELECT g.day, g.cust, c.frequency_invoices, c.returns_count, c.monetary_usd, c.gross_usd, c.lines_total,
              c.last_purchase_ts, g.first_ts
       FROM (SELECT d.day, u.cust, u.first_ts FROM range(${d0 + 1}, ${d1 + 2}) d(day) JOIN cust u
             ON u.first_ts < d.day * ${MS_PER_DAY}) g
       ASOF JOIN cum c ON g.cust = c.cust AND g.day > c.day
       ORDER BY g.day, CAST(g.cust AS BIGINT)`,
    );
    const batchFiles: string[] = [];
    const dates: string[] = [];
    for (let day = d0 + 1; day <= d1 + 1; day++) {
      const asOf = day * MS_PER_DAY;
      const date = new Date(asOf).toISOString().slice(0, 10);
      const file = `batch/day=${date}.parquet`;
      await db.exec(
        `COPY (SELECT 'r' || cust AS user_id, '${date}' AS snapshot_date, CAST(${asOf} AS BIGINT) AS event_ts,
                 CAST(${asOf + SNAPSHOT_DELAY_MS} AS BIGINT) AS created_ts,
                 CAST(CASE WHEN last_purchase_ts IS NULL THEN NULL ELSE (${asOf} - last_purchase_ts) // ${MS_PER_DAY} END AS INTEGER) AS recency_days,
                 CAST(frequency_invoices AS INTEGER) AS frequency_invoices, round(monetary_usd, 2) AS monetary_usd,
                 CAST(returns_count AS INTEGER) AS returns_count, CAST(lines_total AS INTEGER) AS lines_total,
                 CAST((${asOf} - first_ts) // ${MS_PER_DAY} AS INTEGER) AS tenure_days,
                 CASE WHEN frequency_invoices > 0 THEN round(gross_usd / frequency_invoices, 2) END AS avg_invoice_usd
               FROM snap WHERE day = ${day}) TO ${sqlPath(`${dir}/${file}`)} (FORMAT parquet, COMPRESSION snappy)`,
      );
      batchFiles.push(file);
      dates.push(date);
    }
    tables.batch = await describeFiles(db, dir, batchFiles, 'data');

    // Weekly re-engagement e-mails: every Monday 10:00 UTC to every customer already seen.
    const firstMonday = (() => {
      let day = d0 + 1;
      while (new Date(day * MS_PER_DAY).getUTCDay() !== 1) day++;
      return day;
    })();
    await db.exec(
      `CREATE TABLE weeks AS SELECT row_number() OVER (ORDER BY day) AS week, day * ${MS_PER_DAY} + ${RETAIL_SEND_HOUR * MS_PER_HOUR} AS send_ts
       FROM range(${firstMonday}, ${d1 + 1}, 7) t(day)`,
    );
    await db.exec(
      `CREATE TABLE s AS SELECT row_number() OVER (ORDER BY w.week, CAST(u.cust AS BIGINT)) AS send, w.week, w.send_ts, u.cust
       FROM weeks w JOIN cust u ON u.first_ts < w.send_ts ORDER BY send`,
    );
    const campaignId = `'c' || lpad(CAST(week AS VARCHAR), 7, '0')`;
    tables.campaigns = await writeTable(
      db,
      dir,
      'campaigns.parquet',
      `SELECT ${campaignId} AS campaign_id, 'a_online_retail' AS advertiser_id, 'home_garden' AS vertical,
        'email' AS channel, 'convert' AS goal, CAST(NULL AS VARCHAR) AS target_countries,
        CAST(NULL AS VARCHAR) AS target_platforms, CAST(NULL AS INTEGER) AS max_inactive_days, 'all' AS target_segment,
        CAST((SELECT count(*) FROM s WHERE s.week = weeks.week) AS INTEGER) AS desired_audience_size, 0.0 AS budget_usd,
        send_ts AS launch_ts, send_ts AS event_ts, send_ts AS created_ts
       FROM weeks ORDER BY week`,
    );
    const sendId = `'s' || lpad(CAST(send AS VARCHAR), 10, '0')`;
    tables.sends = await writeTable(
      db,
      dir,
      'sends.parquet',
      `SELECT ${sendId} AS send_id, ${campaignId} AS campaign_id, 'r' || cust AS user_id, send_ts, 'email' AS channel,
        'home_garden' AS vertical, 'convert' AS goal, 'rule' AS selection, send_ts AS event_ts
       FROM s ORDER BY send`,
    );
    await db.exec(
      `CREATE TABLE inv AS SELECT cust, InvoiceNo, min(ts) AS ts, sum(Quantity * UnitPrice) AS value
       FROM r WHERE cust IS NOT NULL AND NOT is_return GROUP BY ALL`,
    );
    tables.outcomes = await writeTable(
      db,
      dir,
      'outcomes.parquet',
      `SELECT ${sendId} AS send_id, ${campaignId} AS campaign_id, 'r' || s.cust AS user_id, 'convert' AS kind,
        first_ts AS outcome_ts, round(value, 2) AS value, first_ts AS event_ts
       FROM (SELECT s.send, s.week, s.cust, arg_min(i.ts, i.ts) AS first_ts, arg_min(i.value, i.ts) AS value
             FROM s JOIN inv i ON i.cust = s.cust AND i.ts > s.send_ts AND i.ts <= s.send_ts + ${WINDOW_MS}
             GROUP BY ALL) s
       ORDER BY send`,
    );
    const [st] = await db.query(
      `SELECT count(*)::DOUBLE lines, count(DISTINCT InvoiceNo)::DOUBLE invoices, count(DISTINCT cust)::DOUBLE customers,
              count(*) FILTER (WHERE cust IS NULL)::DOUBLE no_customer, count(*) FILTER (WHERE Quantity < 0)::DOUBLE negative_quantity,
              count(*) FILTER (WHERE is_return)::DOUBLE return_lines, count(DISTINCT Country)::DOUBLE countries,
              min(ts)::DOUBLE first_ts, max(ts)::DOUBLE last_ts FROM r`,
    );
    const stats: Record<string, number> = {};
    for (const [k, v] of Object.entries(st ?? {})) stats[k] = Number(v);
    const manifest: WorldManifest = {
      format: WORLD_FORMAT,
      schemaVersion: WORLD_SCHEMA_VERSION,
      kind: 'online-retail',
      generatorVersion: GENERATOR_VERSION,
      params: {
        source: 'UCI Online Retail (Chen, Sain, Guo 2012), CC BY 4.0',
        file: o.file.split('/').pop() ?? o.file,
        sendWeekday: 'Monday',
        sendHourUtc: RETAIL_SEND_HOUR,
        labelWindowDays: 14,
      },
      startTs: d0 * MS_PER_DAY,
      endTs: (stats['last_ts'] ?? 0) + 1,
      dates,
      timeline: [],
      tables,
      vocabularies: { event_types: ['purchase', 'return'] },
      distributions: null,
      stats,
    };
    writeManifest(dir, manifest);
    return manifest;
  } finally {
    db.close();
  }
}
