import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorldDb } from '../../src/world/duckdb-world-db.js';
import { importHillstrom, importOnlineRetail, readManifest } from '../../src/world/index.js';

// The full public datasets (read-only, outside the project). CI has them; elsewhere the suites skip, saying why.
const DATASETS = process.env['ADNOVA_DATASETS'] ?? join(import.meta.dirname, '../../../shared/datasets');
const HILLSTROM = join(DATASETS, 'hillstrom/hillstrom.csv.gz');
const RETAIL = join(DATASETS, 'online-retail/online-retail.csv.gz');
const skipNote = (f: string) => (existsSync(f) ? '' : ` [skipped: ${f} not found; set ADNOVA_DATASETS to run]`);
if (!existsSync(HILLSTROM) || !existsSync(RETAIL)) console.warn(`[skip] real datasets not found under ${DATASETS}`);

const root = mkdtempSync(join(tmpdir(), 'adnova-world-import-'));
let db: WorldDb;
const one = async (sql: string) => (await db.query(sql))[0] ?? {};
beforeAll(async () => {
  db = await WorldDb.open({ path: ':memory:' });
});
afterAll(() => {
  db.close();
  rmSync(root, { recursive: true, force: true });
});

describe.skipIf(!existsSync(HILLSTROM))(`Hillstrom import on the full file${skipNote(HILLSTROM)}`, () => {
  const dir = join(root, 'hillstrom');
  beforeAll(async () => {
    await importHillstrom({ file: HILLSTROM, outDir: dir });
  }, 60_000);

  it('has every customer, one send each, and the published segment sizes', async () => {
    const m = readManifest(dir);
    expect(m.kind).toBe('hillstrom');
    expect(m.tables.users?.rows).toBe(64_000);
    expect(m.tables.sends?.rows).toBe(64_000);
    expect(m.tables.batch?.rows).toBe(64_000);
    const r = await one(
      `SELECT count(*) FILTER (WHERE campaign_id = 'c_mens')::INT mens, count(*) FILTER (WHERE campaign_id = 'c_womens')::INT womens,
              count(*) FILTER (WHERE campaign_id = 'c_control' AND selection = 'holdout' AND channel = 'none')::INT control
       FROM '${dir}/sends.parquet'`,
    );
    expect(r).toEqual({ mens: 21_307, womens: 21_387, control: 21_306 });
  });

  it('reproduces the published visit, conversion and spend figures per segment from the output files', async () => {
    const rows = await db.query(
      `SELECT s.campaign_id,
              round(100 * count(o.send_id) FILTER (WHERE o.kind = 'click') / count(DISTINCT s.send_id), 2) AS visit_pct,
              round(100 * count(o.send_id) FILTER (WHERE o.kind = 'convert') / count(DISTINCT s.send_id), 2) AS conv_pct,
              round(coalesce(sum(o.value), 0) / count(DISTINCT s.send_id), 2) AS spend
       FROM '${dir}/sends.parquet' s LEFT JOIN '${dir}/outcomes.parquet' o USING (send_id) GROUP BY 1 ORDER BY 1`,
    );
    const by = Object.fromEntries(rows.map((r) => [String(r['campaign_id']), r]));
    const pick = (k: string) => [by['c_mens']?.[k], by['c_womens']?.[k], by['c_control']?.[k]];
    expect(pick('visit_pct')).toEqual([18.28, 15.14, 10.62]);
    expect(pick('conv_pct')).toEqual([1.25, 0.88, 0.57]);
    expect(pick('spend')).toEqual([1.42, 1.08, 0.65]);
  });

  it('keeps the customer attributes as a batch snapshot on the send day', async () => {
    const r = await one(
      `SELECT count(*) FILTER (WHERE zip_code = 'Surburban')::INT suburban, round(avg(history_usd), 2) AS history,
              min(event_ts) = max(event_ts) AS one_asof FROM read_parquet('${dir}/batch/*.parquet')`,
    );
    expect(r['one_asof']).toBe(true);
    expect(Number(r['suburban'])).toBeGreaterThan(25_000);
    expect(Number(r['history'])).toBeGreaterThan(200);
  });
});

describe.skipIf(!existsSync(RETAIL))(`Online Retail import on the full file${skipNote(RETAIL)}`, () => {
  const dir = join(root, 'retail');
  beforeAll(async () => {
    await importOnlineRetail({ file: RETAIL, outDir: dir });
  }, 120_000);

  it('turns every invoice line into an event, with the published counts', async () => {
    const r = await one(
      `SELECT count(*)::INT lines, count(DISTINCT order_id)::INT invoices, count(DISTINCT user_id)::INT customers,
              count(*) FILTER (WHERE user_id IS NULL AND defect = 'missing_user_id')::INT no_customer,
              count(*) FILTER (WHERE quantity < 0)::INT negative_quantity,
              count(*) FILTER (WHERE event_type = 'return' AND order_id LIKE 'C%' AND amount <= 0)::INT n_returns,
              count(*) FILTER (WHERE arrival_ts <> event_ts)::INT arrival_differs
       FROM '${dir}/events.parquet'`,
    );
    expect(r).toEqual({
      lines: 541_909,
      invoices: 25_900,
      customers: 4_372,
      no_customer: 135_080,
      negative_quantity: 10_624,
      n_returns: 9_288,
      arrival_differs: 0,
    });
    expect(readManifest(dir).tables.users?.rows).toBe(4_372);
  });

  it('writes a daily RFM snapshot that agrees with the events before it', async () => {
    const m = readManifest(dir);
    expect(m.dates).toHaveLength(374);
    expect(m.dates[0]).toBe('2010-12-02');
    const date = '2011-06-01';
    const asOf = Date.parse(`${date}T00:00:00Z`);
    const snap = await one(
      `SELECT count(*)::INT users, sum(frequency_invoices)::INT invoices, round(sum(monetary_usd), 0) AS monetary
       FROM '${dir}/batch/day=${date}.parquet'`,
    );
    const truth = await one(
      `SELECT count(DISTINCT user_id)::INT users,
              count(DISTINCT order_id) FILTER (WHERE event_type = 'purchase')::INT invoices, round(sum(amount), 0) AS monetary
       FROM '${dir}/events.parquet' WHERE user_id IS NOT NULL AND event_ts < ${asOf}`,
    );
    expect(snap['users']).toBe(truth['users']);
    expect(snap['invoices']).toBe(truth['invoices']);
    expect(Math.abs(Number(snap['monetary']) - Number(truth['monetary']))).toBeLessThanOrEqual(5); // per-row rounding
  });

  it('labels weekly sends with a purchase within 14 days, and the Nov-Dec peak is in the labels', async () => {
    const r = await one(
      `SELECT count(*)::INT n, count(*) FILTER (WHERE o.outcome_ts <= s.send_ts OR o.outcome_ts > s.send_ts + 14 * 86400000)::INT outside
       FROM '${dir}/outcomes.parquet' o JOIN '${dir}/sends.parquet' s USING (send_id)`,
    );
    expect(Number(r['n'])).toBeGreaterThan(10_000);
    expect(r['outside']).toBe(0);
    const months = await db.query(
      `SELECT strftime(make_timestamp(s.send_ts * 1000), '%Y-%m') AS month, count(o.send_id)::INT AS conversions
       FROM '${dir}/sends.parquet' s LEFT JOIN '${dir}/outcomes.parquet' o USING (send_id) GROUP BY 1 ORDER BY 1`,
    );
    const conversions = (mo: string) => Number(months.find((x) => x['month'] === mo)?.['conversions']);
    expect(conversions('2011-11')).toBeGreaterThan(1.5 * conversions('2011-02'));
  });
});
