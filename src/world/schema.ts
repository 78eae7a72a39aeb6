/**
 * The published layout of a world directory: every table, its file(s) and its columns. Consumers (features,
 * model, monitor) rely on these names; `WORLD_SCHEMA_VERSION` changes whenever a column is added or changes.
 * All timestamps are UTC epoch milliseconds (BIGINT).
 */
export const WORLD_FORMAT = 'adnova-world';
export const WORLD_SCHEMA_VERSION = 2;

export type ColumnType = 'VARCHAR' | 'BIGINT' | 'INTEGER' | 'SMALLINT' | 'DOUBLE' | 'FLOAT' | 'BOOLEAN';

export interface ColumnSpec {
  readonly name: string;
  readonly type: ColumnType;
  /** Unit or encoding: `epoch-ms`, `USD`, `seconds`, `count`, `probability`, `code`, `id`, ... */
  readonly unit: string;
  readonly nullable: boolean;
  readonly description: string;
}

export const TABLE_NAMES = [
  'users',
  'batch',
  'events',
  'campaigns',
  'sends',
  'outcomes',
  'ground_truth',
  'user_traits',
  'deletions',
  'oracle_state',
] as const;
export type TableName = (typeof TABLE_NAMES)[number];

/** `data` tables are what a production system would see; `truth` tables are answer keys for evaluation only. */
export type TableRole = 'data' | 'truth';

// the simulator writes the system's own vocabularies (src/core/vocabulary.ts)
export { AGE_BANDS, CHANNELS, type Channel, GOALS, type Goal, PLATFORMS } from '../core/index.js';
export const OUTCOME_KINDS = ['open', 'click', 'convert'] as const;
export const PLAN_TIERS = ['free', 'plus', 'premium'] as const;
export const SEGMENTS = ['all', 'high_value', 'cart_abandoner', 'new_user', 'lapsed'] as const;
export const SELECTIONS = ['rule', 'explore', 'treatment', 'holdout'] as const;

/** Countries with their population weight and main language (ISO 3166-1 alpha-2, ISO 639-1). */
export const COUNTRIES = [
  ['US', 0.3, 'en'],
  ['GB', 0.1, 'en'],
  ['DE', 0.12, 'de'],
  ['FR', 0.1, 'fr'],
  ['ES', 0.07, 'es'],
  ['IT', 0.07, 'it'],
  ['BR', 0.08, 'pt'],
  ['MX', 0.05, 'es'],
  ['JP', 0.06, 'ja'],
  ['IN', 0.05, 'en'],
] as const;

/** The ~20 interest topics; product and page categories are these topics. */
export const TOPICS = [
  'fashion',
  'beauty',
  'electronics',
  'home',
  'garden',
  'sports',
  'outdoors',
  'toys',
  'books',
  'music',
  'movies',
  'games',
  'food',
  'grocery',
  'travel',
  'automotive',
  'health',
  'pets',
  'finance',
  'jewelry',
] as const;

/**
 * Campaign verticals. The last three are `emerging`: they launch campaigns only under the `mix-shift` scenario.
 * Each vertical's audience affinity comes from the listed topics, its conversion value from `aov` (USD).
 */
export const VERTICALS = [
  { name: 'apparel', topics: ['fashion'], aov: 60, emerging: false },
  { name: 'beauty', topics: ['beauty', 'health'], aov: 35, emerging: false },
  { name: 'consumer_electronics', topics: ['electronics', 'games'], aov: 180, emerging: false },
  { name: 'home_garden', topics: ['home', 'garden'], aov: 90, emerging: false },
  { name: 'sporting_goods', topics: ['sports', 'outdoors'], aov: 70, emerging: false },
  { name: 'toys_kids', topics: ['toys'], aov: 40, emerging: false },
  { name: 'books_media', topics: ['books', 'movies', 'music'], aov: 25, emerging: false },
  { name: 'gaming', topics: ['games'], aov: 45, emerging: false },
  { name: 'food_delivery', topics: ['food'], aov: 30, emerging: false },
  { name: 'grocery', topics: ['grocery', 'food'], aov: 55, emerging: false },
  { name: 'travel', topics: ['travel', 'outdoors'], aov: 400, emerging: false },
  { name: 'automotive', topics: ['automotive'], aov: 120, emerging: false },
  { name: 'health_wellness', topics: ['health', 'sports'], aov: 50, emerging: false },
  { name: 'pet_supplies', topics: ['pets'], aov: 45, emerging: false },
  { name: 'financial_services', topics: ['finance'], aov: 150, emerging: false },
  { name: 'jewelry_luxury', topics: ['jewelry', 'fashion'], aov: 250, emerging: false },
  { name: 'streaming', topics: ['movies', 'music'], aov: 15, emerging: false },
  { name: 'crypto_exchange', topics: ['finance', 'electronics'], aov: 200, emerging: true },
  { name: 'ai_tools', topics: ['electronics', 'books'], aov: 20, emerging: true },
  { name: 'quick_commerce', topics: ['grocery', 'food'], aov: 25, emerging: true },
] as const;
export const VERTICAL_NAMES = VERTICALS.map((v) => v.name);

/** Event types the simulator emits (importers add `return`). */
export const EVENT_TYPES = [
  'session_start',
  'app_open',
  'page_view',
  'product_view',
  'add_to_cart',
  'purchase',
  'return',
  'email_open',
  'email_click',
  'push_open',
  'push_click',
  'in_app_click',
  'unsubscribe',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * Deliberate defects in the event stream (see `defect`). `missing_user_id`, `missing_event_ts`,
 * `amount_as_string` and `unknown_event_type` are malformed; `ts_in_seconds` is well-formed but wrong.
 */
export const EVENT_DEFECTS = [
  'missing_user_id',
  'missing_event_ts',
  'amount_as_string',
  'unknown_event_type',
  'ts_in_seconds',
] as const;
export type EventDefect = (typeof EVENT_DEFECTS)[number];

const c = (name: string, type: ColumnType, unit: string, nullable: boolean, description: string): ColumnSpec => ({
  name,
  type,
  unit,
  nullable,
  description,
});

const ROW_TIMES = [
  c('event_ts', 'BIGINT', 'epoch-ms', false, 'when the row became true (point-in-time key)'),
  c('created_ts', 'BIGINT', 'epoch-ms', false, 'when the row was written by its source system'),
] as const;

export const USERS_COLUMNS: readonly ColumnSpec[] = [
  c('user_id', 'VARCHAR', 'id', false, 'user id, `u` + 8 digits (simulated) or `h`/`r` + source id (imports)'),
  c('country', 'VARCHAR', 'ISO 3166-1 alpha-2', false, 'country of residence'),
  c('language', 'VARCHAR', 'ISO 639-1', true, 'preferred language; NULL when an import source does not say'),
  c('platform', 'VARCHAR', 'code', true, 'main platform: ios | android | web; NULL when an import source does not say'),
  c('age_band', 'VARCHAR', 'code', true, 'age band: 18-24 | 25-34 | 35-44 | 45-54 | 55-64 | 65+'),
  c('signup_ts', 'BIGINT', 'epoch-ms', false, 'account creation time (may fall inside the world window)'),
  c('consent_email', 'BOOLEAN', 'flag', false, 'e-mail consent at signup (changes later only via unsubscribe events)'),
  c('consent_push', 'BOOLEAN', 'flag', false, 'push consent at signup'),
  c('consent_in_app', 'BOOLEAN', 'flag', false, 'in-app message consent at signup'),
  c('event_ts', 'BIGINT', 'epoch-ms', false, '= signup_ts'),
  c('created_ts', 'BIGINT', 'epoch-ms', false, '= signup_ts'),
];

/** Named batch (warehouse/CRM) feature columns; filler columns `f_0001..` follow them up to `features`. */
export const BATCH_NAMED_FEATURES: readonly ColumnSpec[] = [
  c('lifetime_orders', 'INTEGER', 'count', false, 'orders since signup (history before the world included)'),
  c('lifetime_value', 'DOUBLE', 'USD', false, 'revenue since signup'),
  c('avg_order_value', 'DOUBLE', 'USD', true, 'lifetime_value / lifetime_orders; NULL without orders'),
  c('tenure_days', 'INTEGER', 'days', false, 'whole days since signup'),
  c(
    'last_purchase_age_s',
    'DOUBLE',
    'seconds',
    true,
    'seconds since the last purchase; NULL without purchases (unit-change: milliseconds from day k)',
  ),
  c('days_since_last_active', 'INTEGER', 'days', true, 'whole days since the last event; NULL if never active'),
  c('orders_30d', 'INTEGER', 'count', false, 'purchases in the 30 days before the snapshot'),
  c('sessions_7d', 'INTEGER', 'count', false, 'sessions in the 7 days before the snapshot'),
  c('sends_7d', 'INTEGER', 'count', false, 'campaign messages received in the 7 days before the snapshot'),
  c('plan_tier', 'VARCHAR', 'code', false, 'subscription tier: free | plus | premium'),
  c('email_consent', 'BOOLEAN', 'flag', false, 'current e-mail consent (after unsubscribes)'),
  c('push_consent', 'BOOLEAN', 'flag', false, 'current push consent'),
  c('in_app_consent', 'BOOLEAN', 'flag', false, 'current in-app consent'),
  c('churn_score_ext', 'FLOAT', 'probability', false, "another team's churn score (noisy, from activity)"),
  c('ltv_score_ext', 'FLOAT', 'score 0..1', false, "another team's value score (noisy, from spend)"),
  c('engagement_score_ext', 'FLOAT', 'score 0..1', false, "another team's engagement score (noisy)"),
];

export const BATCH_KEY_COLUMNS: readonly ColumnSpec[] = [
  c('user_id', 'VARCHAR', 'id', false, 'user id'),
  c('snapshot_date', 'VARCHAR', 'YYYY-MM-DD', false, 'the day this snapshot describes (UTC)'),
  c('event_ts', 'BIGINT', 'epoch-ms', false, 'as-of time: 00:00 UTC of snapshot_date; values use only earlier data'),
  c('created_ts', 'BIGINT', 'epoch-ms', false, 'when the nightly job wrote the row (as-of + 2..6 h)'),
];

/** Name of filler column `i` (1-based): `f_0001`. */
export function fillerColumnName(i: number): string {
  return `f_${String(i).padStart(4, '0')}`;
}

export function batchFeatureColumns(features: number): ColumnSpec[] {
  const named = [...BATCH_NAMED_FEATURES];
  for (let i = 1; i <= features - BATCH_NAMED_FEATURES.length; i++) {
    named.push(c(fillerColumnName(i), 'FLOAT', 'unitless', false, 'warehouse filler, correlated with a latent trait'));
  }
  return named;
}

export const EVENTS_COLUMNS: readonly ColumnSpec[] = [
  c('event_id', 'BIGINT', 'id', false, 'unique, increasing in generation order'),
  c('user_id', 'VARCHAR', 'id', true, 'NULL when the event arrived without one (defect missing_user_id)'),
  c('event_type', 'VARCHAR', 'code', true, 'one of EVENT_TYPES, or an unknown name (defect unknown_event_type)'),
  c('event_ts', 'BIGINT', 'epoch-ms', true, 'when it happened; NULL (missing_event_ts) or in seconds (ts_in_seconds)'),
  c('arrival_ts', 'BIGINT', 'epoch-ms', false, 'when the pipeline received it (>= event_ts); acts as created_ts'),
  c('session_id', 'BIGINT', 'id', true, 'session of on-site events; NULL for messaging events'),
  c('platform', 'VARCHAR', 'code', true, 'device platform of the event'),
  c('category', 'VARCHAR', 'topic', true, 'product/page category (a TOPICS name); NULL after schema-change'),
  c('item_id', 'VARCHAR', 'id', true, 'product id for product_view / add_to_cart / purchase / return'),
  c('amount', 'DOUBLE', 'USD', true, 'purchase (or return, negative) amount; NULL when it arrived as a string'),
  c('quantity', 'INTEGER', 'count', true, 'units for add_to_cart / purchase / return'),
  c('channel', 'VARCHAR', 'code', true, 'email | push | in_app for messaging events and unsubscribes'),
  c('campaign_id', 'VARCHAR', 'id', true, 'campaign of messaging events and attributed purchases'),
  c('send_id', 'VARCHAR', 'id', true, 'send of messaging events and attributed purchases'),
  c(
    'order_id',
    'VARCHAR',
    'id',
    true,
    'invoice / order of purchase and return lines (imports); NULL in simulated data',
  ),
  c('schema_version', 'SMALLINT', 'version', false, 'producer schema version: 1, or 2 after schema-change'),
  c('raw', 'VARCHAR', 'JSON', true, 'the message verbatim when it does not fit the typed columns, else NULL'),
  c('defect', 'VARCHAR', 'code', true, 'TRUTH: the injected defect (EVENT_DEFECTS); never use it to validate'),
];

export const CAMPAIGNS_COLUMNS: readonly ColumnSpec[] = [
  c('campaign_id', 'VARCHAR', 'id', false, 'campaign id, `c` + 7 digits'),
  c('advertiser_id', 'VARCHAR', 'id', false, 'advertiser id, `a` + 6 digits (an advertiser keeps one vertical)'),
  c('vertical', 'VARCHAR', 'code', false, 'one of VERTICALS'),
  c('channel', 'VARCHAR', 'code', false, 'email | push | in_app'),
  c('goal', 'VARCHAR', 'code', false, 'open | click | convert'),
  c('target_countries', 'VARCHAR', 'csv list', true, 'comma-separated countries; NULL = any'),
  c('target_platforms', 'VARCHAR', 'csv list', true, 'comma-separated platforms; NULL = any'),
  c('max_inactive_days', 'INTEGER', 'days', true, 'only users active within this many days; NULL = any'),
  c('target_segment', 'VARCHAR', 'code', false, 'all | high_value | cart_abandoner | new_user | lapsed'),
  c('desired_audience_size', 'INTEGER', 'count', false, 'how many users the advertiser wants to reach'),
  c('budget_usd', 'DOUBLE', 'USD', false, 'budget (desired size x channel price per send)'),
  c('launch_ts', 'BIGINT', 'epoch-ms', false, 'when sending starts'),
  ...ROW_TIMES,
];

export const SENDS_COLUMNS: readonly ColumnSpec[] = [
  c('send_id', 'VARCHAR', 'id', false, 'send id, `s` + 10 digits'),
  c('campaign_id', 'VARCHAR', 'id', false, 'campaign'),
  c('user_id', 'VARCHAR', 'id', false, 'recipient'),
  c('send_ts', 'BIGINT', 'epoch-ms', false, 'when the message was sent'),
  c('channel', 'VARCHAR', 'code', false, 'email | push | in_app (none for an import holdout)'),
  c('vertical', 'VARCHAR', 'code', false, "campaign's vertical (denormalized)"),
  c('goal', 'VARCHAR', 'code', false, "campaign's goal (denormalized)"),
  c('selection', 'VARCHAR', 'code', false, 'rule (matched targeting) | explore (random) | treatment | holdout'),
  c('event_ts', 'BIGINT', 'epoch-ms', false, '= send_ts'),
];

export const OUTCOMES_COLUMNS: readonly ColumnSpec[] = [
  c('send_id', 'VARCHAR', 'id', false, 'the send'),
  c('campaign_id', 'VARCHAR', 'id', false, 'campaign (denormalized)'),
  c('user_id', 'VARCHAR', 'id', false, 'recipient (denormalized)'),
  c('kind', 'VARCHAR', 'code', false, 'open | click | convert (at most one row per send and kind)'),
  c('outcome_ts', 'BIGINT', 'epoch-ms', false, 'when it happened; may fall after the world end'),
  c('value', 'DOUBLE', 'USD', true, 'conversion revenue; NULL for open and click'),
  c('event_ts', 'BIGINT', 'epoch-ms', false, '= outcome_ts'),
];

export const GROUND_TRUTH_COLUMNS: readonly ColumnSpec[] = [
  c('send_id', 'VARCHAR', 'id', false, 'the send'),
  c('p_open', 'DOUBLE', 'probability', false, 'true probability of an open within 48 h'),
  c('p_click', 'DOUBLE', 'probability', false, 'true probability of a click within 48 h (unconditional)'),
  c('p_convert', 'DOUBLE', 'probability', false, 'true probability of a conversion within 14 days (unconditional)'),
  c('p_goal', 'DOUBLE', 'probability', false, "the probability of the campaign's goal outcome"),
];

export const USER_TRAITS_COLUMNS: readonly ColumnSpec[] = [
  c('user_id', 'VARCHAR', 'id', false, 'user id'),
  c('activity', 'FLOAT', 'sessions/day', false, 'mean sessions per day (lognormal)'),
  c('price_sensitivity', 'FLOAT', '0..1', false, 'higher = buys less and cheaper'),
  c('fatigue_sensitivity', 'FLOAT', '0..1', false, 'higher = recent sends hurt response more'),
  c('responsiveness', 'FLOAT', 'logit', false, 'general response to messages'),
  ...TOPICS.map((t) => c(`interest_${t}`, 'FLOAT', 'share', false, `interest in ${t} (the 20 sum to 1)`)),
];

/**
 * TRUTH: each user's state at the start of each day's campaigns (after the nightly snapshot), the inputs of the
 * outcome model that change over time. With the traits (regenerated from the seed) and the day's scenario effects
 * it gives the true probability of any campaign's goal for any user at any time: the World's oracle.
 */
export const ORACLE_STATE_COLUMNS: readonly ColumnSpec[] = [
  c('user_id', 'VARCHAR', 'id', false, 'user id'),
  c('day', 'INTEGER', 'index', false, 'day index from the world start (0-based)'),
  c('last_active_ts', 'DOUBLE', 'epoch-ms', true, 'last organic session event before the day; NULL if never active'),
  c('lifetime_orders', 'INTEGER', 'count', false, 'organic orders before the day (history before the world included)'),
  c('sends_prior_6d', 'INTEGER', 'count', false, 'messages received in the 6 days before the day'),
];

export const DELETIONS_COLUMNS: readonly ColumnSpec[] = [
  c('request_id', 'VARCHAR', 'id', false, 'deletion request id, `d` + 8 digits'),
  c('user_id', 'VARCHAR', 'id', false, 'the user to forget'),
  c('request_ts', 'BIGINT', 'epoch-ms', false, 'when the request was made; the user is inactive afterwards'),
  c('event_ts', 'BIGINT', 'epoch-ms', false, '= request_ts'),
];

export interface TableSpec {
  readonly name: TableName;
  readonly role: TableRole;
  /** Relative path of the file, or of the directory of per-day files for `batch`. */
  readonly path: string;
  readonly description: string;
}

export const TABLES: readonly TableSpec[] = [
  { name: 'users', role: 'data', path: 'users.parquet', description: 'one row per user, ordered by user_id' },
  {
    name: 'batch',
    role: 'data',
    path: 'batch/day=YYYY-MM-DD.parquet',
    description: 'daily warehouse snapshot, one file per day, one row per signed-up, not-deleted user',
  },
  { name: 'events', role: 'data', path: 'events.parquet', description: 'the event stream, in generation order' },
  { name: 'campaigns', role: 'data', path: 'campaigns.parquet', description: 'campaigns in launch order' },
  { name: 'sends', role: 'data', path: 'sends.parquet', description: 'messages sent, in send order' },
  { name: 'outcomes', role: 'data', path: 'outcomes.parquet', description: 'opens, clicks, conversions per send' },
  { name: 'ground_truth', role: 'truth', path: 'ground_truth.parquet', description: 'true probabilities per send' },
  { name: 'user_traits', role: 'truth', path: 'user_traits.parquet', description: 'hidden latent traits per user' },
  { name: 'deletions', role: 'data', path: 'deletions.parquet', description: 'deletion requests in time order' },
  {
    name: 'oracle_state',
    role: 'truth',
    path: 'oracle_state.parquet',
    description: "each user's changing outcome-model inputs at the start of each day's campaigns",
  },
];

/** Columns of a table; `batch` needs the feature width. */
export function tableColumns(name: TableName, features = 200): readonly ColumnSpec[] {
  switch (name) {
    case 'users':
      return USERS_COLUMNS;
    case 'batch':
      return [...BATCH_KEY_COLUMNS, ...batchFeatureColumns(features)];
    case 'events':
      return EVENTS_COLUMNS;
    case 'campaigns':
      return CAMPAIGNS_COLUMNS;
    case 'sends':
      return SENDS_COLUMNS;
    case 'outcomes':
      return OUTCOMES_COLUMNS;
    case 'ground_truth':
      return GROUND_TRUTH_COLUMNS;
    case 'user_traits':
      return USER_TRAITS_COLUMNS;
    case 'deletions':
      return DELETIONS_COLUMNS;
    case 'oracle_state':
      return ORACLE_STATE_COLUMNS;
  }
}

/** `u00000042` */
export function userIdOf(index: number): string {
  return `u${String(index).padStart(8, '0')}`;
}
