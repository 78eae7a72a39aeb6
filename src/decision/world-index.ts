import { InvalidInputError, MS_PER_DAY, MS_PER_HOUR } from '../core/index.js';
import type { FeatureStore } from '../features/index.js';
import { CrossFeatures, readTable } from '../model/index.js';
import { backfillStreamViews, compileAggregationPlan, STREAM_EVENT_TYPES } from '../stream/index.js';
import { readManifest, tableFiles, VERTICALS, type WorldManifest } from '../world/index.js';
import type { CampaignSpecInput } from './campaign.js';
import { INDEX_KEYS, SegmentIndex } from './segment-index.js';

/** Anything that answers SQL over files (the offline store's DuckDB is one). */
export interface SqlQuery {
  query(sql: string): Promise<Array<Record<string, unknown>>>;
}

/** The platform's segments over World data, as the World's campaigns name them (src/world/schema.ts SEGMENTS). */
export const WORLD_SEGMENTS = ['all', 'high_value', 'cart_abandoner', 'new_user', 'lapsed'] as const;

/** The feature service the World's send models read (src/features/examples/world-features.yaml). */
export const WORLD_SCORING_SERVICE = 'campaign_scoring';

/**
 * The cross features of World runs: the World's catalogue (its schema's verticals, their topics and order values)
 * as the vertical -> categories taxonomy, over the per-category views of `user_interests`.
 */
export function worldCrossFeatures(): CrossFeatures {
  return new CrossFeatures({
    taxonomy: Object.fromEntries(VERTICALS.map((v) => [v.name, { categories: v.topics, orderValueUsd: v.aov }])),
    categoryCountColumn: 'user_interests.views_{category}_28d',
    orderValueColumn: 'user_batch.avg_order_value',
  });
}

/** Whether the World's batch snapshots carry the trait scores `user_warehouse` reads (its first 4 filler columns). */
export const hasWarehouseScores = (m: WorldManifest): boolean =>
  ['f_0001', 'f_0002', 'f_0003', 'f_0004'].every((n) => m.tables.batch?.columns.some((c) => c.name === n) === true);

/**
 * A World's batch views into the feature store: the nightly snapshot, its 7-day score means, and the warehouse
 * trait scores when its snapshots carry them. Returns the names imported.
 */
export async function importWorldBatchViews(store: FeatureStore, worldDir: string): Promise<string[]> {
  const views = [
    'user_batch',
    'user_batch_trends',
    ...(hasWarehouseScores(readManifest(worldDir)) ? ['user_warehouse'] : []),
  ];
  for (const v of views) await store.importSource(v, worldDir);
  return views;
}

/**
 * A World's stream views every 6 hours from its start to `untilMs`, computed by their batch twin (DuckDB over the
 * event log, equal to the stream's tiles: src/stream/stream-parity.test.ts) into the offline store, and with
 * `online` into the online store too (as the stream ingestor writes both). Returns the rows written per view.
 */
export async function backfillWorldStreamViews(
  store: FeatureStore,
  worldDir: string,
  untilMs: number,
  options: { online?: boolean } = {},
): Promise<Record<string, number>> {
  const manifest = readManifest(worldDir);
  const checkpoints: number[] = [];
  for (let t = manifest.startTs + 6 * MS_PER_HOUR; t <= untilMs; t += 6 * MS_PER_HOUR) checkpoints.push(t);
  const sink = options.online
    ? {
        writeOffline: async (view: string, batch: Parameters<FeatureStore['ingest']>[1]) => {
          await store.ingest(view, batch);
          return batch.entityIds.length;
        },
      }
    : store;
  const result = await backfillStreamViews(
    compileAggregationPlan(store.definitions()),
    {
      files: tableFiles(worldDir, manifest, 'events'),
      atMs: checkpoints,
      eventTypes: STREAM_EVENT_TYPES,
      skipRawRows: true,
    },
    sink,
    untilMs,
  );
  return result.rows;
}

const lit = (path: string) => `'${path.replaceAll("'", "''")}'`;
const files = (worldDir: string, table: 'users' | 'batch' | 'events' | 'campaigns') =>
  `[${tableFiles(worldDir, readManifest(worldDir), table).map(lit).join(', ')}]`;

/**
 * The segment index of a World as of `atMs`, from what a production system would have then: the users table,
 * the newest batch snapshot written before `atMs` (point in time: created_ts <= atMs), and the events that
 * arrived before `atMs` (activity, carts, unsubscribes). Segments: high_value (lifetime value >= 500 USD),
 * cart_abandoner (an add to cart in the 3 days before the day starts and no purchase after it), new_user (signed up
 * less than 30 days before), lapsed (inactive 14 days or more), all.
 */
export async function buildWorldSegmentIndex(sql: SqlQuery, worldDir: string, atMs: number): Promise<SegmentIndex> {
  const dayStart = Math.floor(atMs / MS_PER_DAY) * MS_PER_DAY;
  const users = files(worldDir, 'users');
  const batch = files(worldDir, 'batch');
  const events = files(worldDir, 'events');
  const rows = await sql.query(`
    WITH snap AS (
      SELECT user_id, arg_max(lifetime_value, event_ts) AS ltv, arg_max(days_since_last_active, event_ts) AS dsla,
             max(event_ts) AS asof
      FROM read_parquet(${batch}) WHERE created_ts <= ${atMs} GROUP BY user_id),
    ev AS (
      SELECT user_id,
             max(event_ts) FILTER (WHERE channel IS NULL) AS last_active,
             max(event_ts) FILTER (WHERE event_type = 'add_to_cart') AS last_cart,
             max(event_ts) FILTER (WHERE event_type = 'purchase') AS last_purchase,
             bool_or(event_type = 'unsubscribe' AND channel = 'email') AS unsub_email,
             bool_or(event_type = 'unsubscribe' AND channel = 'push') AS unsub_push,
             bool_or(event_type = 'unsubscribe' AND channel = 'in_app') AS unsub_in_app
      FROM read_parquet(${events})
      WHERE user_id IS NOT NULL AND event_ts IS NOT NULL AND arrival_ts <= ${atMs} AND event_ts <= ${atMs}
      GROUP BY user_id)
    SELECT u.user_id, u.country, u.platform, u.age_band, u.signup_ts,
           u.consent_email AND NOT coalesce(ev.unsub_email, false) AS email,
           u.consent_push AND NOT coalesce(ev.unsub_push, false) AS push,
           u.consent_in_app AND NOT coalesce(ev.unsub_in_app, false) AS in_app,
           snap.ltv, greatest(ev.last_active, snap.asof - snap.dsla::BIGINT * ${MS_PER_DAY}) AS last_active,
           ev.last_cart, ev.last_purchase
    FROM read_parquet(${users}) u LEFT JOIN snap USING (user_id) LEFT JOIN ev USING (user_id)
    WHERE u.signup_ts <= ${atMs}
    ORDER BY u.user_id`);
  const index = new SegmentIndex();
  for (const r of rows) {
    const num = (v: unknown) => (v === null || v === undefined ? Number.NaN : Number(v));
    const lastActive = num(r.last_active);
    const cart = num(r.last_cart);
    const purchase = num(r.last_purchase);
    const inactiveDays = Number.isNaN(lastActive) ? Number.POSITIVE_INFINITY : (dayStart - lastActive) / MS_PER_DAY;
    index.upsertUser(String(r.user_id), {
      country: (r.country as string | null) ?? null,
      platform: (r.platform as string | null) ?? null,
      ageBand: (r.age_band as string | null) ?? null,
      consent: { email: r.email === true, push: r.push === true, in_app: r.in_app === true },
      segments: {
        all: true,
        high_value: num(r.ltv) >= 500,
        cart_abandoner:
          !Number.isNaN(cart) && dayStart - cart <= 3 * MS_PER_DAY && (Number.isNaN(purchase) || purchase < cart),
        new_user: dayStart - num(r.signup_ts) < 30 * MS_PER_DAY,
        lapsed: inactiveDays >= 14,
      },
      ...(Number.isNaN(lastActive) ? {} : { lastActiveTs: lastActive }),
    });
  }
  for (const s of WORLD_SEGMENTS) if (!index.has(INDEX_KEYS.segment(s))) index.set(INDEX_KEYS.segment(s), []);
  return index;
}

/** The World's campaigns (campaigns.parquet) as campaign specs, in launch order. */
export async function worldCampaignSpecs(worldDir: string): Promise<CampaignSpecInput[]> {
  const [file] = tableFiles(worldDir, readManifest(worldDir), 'campaigns');
  const t = await readTable(file as string);
  const col = (name: string) => {
    const c = t.columns.find((x) => x.name === name);
    if (!c) throw new InvalidInputError(`${file} has no column "${name}"; is it a World's campaigns table?`);
    return c;
  };
  const text = (name: string) => {
    const c = col(name);
    return (r: number): string | null => (c.texts ? (c.texts[r] ?? null) : String(c.numbers?.[r]));
  };
  const num = (name: string) => {
    const c = col(name);
    return (r: number): number => (c.numbers ? (c.numbers[r] as number) : Number(c.texts?.[r]));
  };
  const [id, adv, vertical, channel, goal, countries, platforms, segment] = [
    'campaign_id',
    'advertiser_id',
    'vertical',
    'channel',
    'goal',
    'target_countries',
    'target_platforms',
    'target_segment',
  ].map(text) as ((r: number) => string | null)[];
  const [inactive, desired, budget, launch] = [
    'max_inactive_days',
    'desired_audience_size',
    'budget_usd',
    'launch_ts',
  ].map(num) as ((r: number) => number)[];
  const list = (v: string | null): string[] | undefined => (v ? v.split(',').map((s) => s.trim()) : undefined);
  const specs: CampaignSpecInput[] = [];
  for (let r = 0; r < t.rows; r++) {
    const cs = list(countries?.(r) ?? null);
    const ps = list(platforms?.(r) ?? null) as ('ios' | 'android' | 'web')[] | undefined;
    const seg = segment?.(r) ?? 'all';
    const size = desired?.(r) as number;
    const usd = budget?.(r) as number;
    const maxInactive = inactive?.(r) as number;
    specs.push({
      id: id?.(r) as string,
      advertiserId: adv?.(r) as string,
      channel: channel?.(r) as CampaignSpecInput['channel'],
      goal: goal?.(r) as CampaignSpecInput['goal'],
      vertical: vertical?.(r) as string,
      targeting: {
        ...(cs ? { countries: cs } : {}),
        ...(ps ? { platforms: ps } : {}),
        ...(seg !== 'all' ? { segments: [seg] } : {}),
        ...(Number.isFinite(maxInactive) ? { activeWithinDays: maxInactive } : {}),
      },
      desiredAudienceSize: size,
      // the World prices a send per channel and sets the budget to desired x price
      ...(usd > 0 ? { budgetUsd: usd, pricePerSendUsd: usd / size } : {}),
      schedule: { launch: launch?.(r) as number },
    });
  }
  return specs.sort(
    (a, b) => Number(a.schedule.launch) - Number(b.schedule.launch) || (a.id as string).localeCompare(b.id as string),
  );
}
