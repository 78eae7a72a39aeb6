import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError, MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, Rng } from '../core/index.js';
import {
  BASE_VERTICAL_CUM,
  BASE_VERTICALS,
  CAMPAIGN_WEEKDAY_FACTOR,
  CLICK_DELAY,
  CONVERSION_DELAY,
  CONVERSION_DELAY_LATE,
  COUNTRY_UTC_OFFSET_H,
  DAILY_DELETION_RATE,
  distributions,
  EMERGING_VERTICALS,
  EXPLORE_SHARE,
  exponential,
  FREQUENCY_CAP_PER_DAY,
  fastNormal,
  HOUR_CUM,
  LAUNCH_HOUR_CUM,
  N_TOPICS,
  N_TRAITS,
  NORMAL_TABLE,
  OPEN_DELAY,
  Population,
  pickWeighted,
  poisson,
  type SendProbabilities,
  STREAM,
  sampleDelay,
  sendProbabilities,
  streamSeed,
  TOPIC_PRICE,
  VERTICAL_TOPICS,
  WEEKDAY_FACTOR,
  weekdayOf,
} from './behaviour.js';
import { type StagingColumn, sqlList, WorldDb } from './duckdb-world-db.js';
import { ET, EVENT_STAGING, EVENT_TYPE_VOCAB, EventSink, eventsProjection, NONE } from './event-sink.js';
import { type ManifestTable, type WorldManifest, writeManifest } from './manifest.js';
import { parseScenarios, ScenarioEffects } from './scenarios.js';
import {
  AGE_BANDS,
  BATCH_NAMED_FEATURES,
  CHANNELS,
  COUNTRIES,
  EVENT_DEFECTS,
  fillerColumnName,
  GOALS,
  PLAN_TIERS,
  PLATFORMS,
  SEGMENTS,
  SELECTIONS,
  TABLES,
  type TableName,
  TOPICS,
  tableColumns,
  VERTICAL_NAMES,
  VERTICALS,
  WORLD_FORMAT,
  WORLD_SCHEMA_VERSION,
} from './schema.js';
import { TableBuffer } from './table-buffer.js';
import { type GenerateWorldOptions, type ResolvedWorldOptions, resolveWorldOptions } from './world-options.js';

export const GENERATOR_VERSION = '1.0.0';
const CHANNEL_PRICE_USD = [0.001, 0.002, 0.004] as const;
/** Target messages per user and day across all campaigns (before consent and targeting). */
const SENDS_PER_USER_DAY = 0.3;
/**
 * Share of the per-user target that campaigns actually deliver (targeting rules, frequency caps, consent), so the
 * week of messages before the world matches the simulated weeks. Measured on five baseline worlds of 1,200-6,000
 * users: `sends_7d` on day 0 was 1.02-1.13x (mean 1.09) its mean over the simulated days without this factor,
 * 0.91-1.03x with it (campaign volume is random per day, so single worlds scatter by about 5%).
 */
const PRIOR_WEEK_SEND_SCALE = 0.91;
const PRIMES = [1_299_709, 15_485_863, 104_729, 7_919] as const;

const L = {
  topics: sqlList(TOPICS),
  platforms: sqlList(PLATFORMS),
  channels: sqlList(CHANNELS),
  countries: sqlList(COUNTRIES.map((c) => c[0])),
  languages: sqlList(COUNTRIES.map((c) => c[2])),
  ages: sqlList(AGE_BANDS),
  verticals: sqlList(VERTICAL_NAMES),
  goals: sqlList(GOALS),
  tiers: sqlList(PLAN_TIERS),
  segments: sqlList(SEGMENTS),
  selections: sqlList(SELECTIONS),
};
const uid = (col: string) => `'u' || lpad(CAST(${col} AS VARCHAR), 8, '0')`;
const cid = (col: string) => `'c' || lpad(CAST(${col} AS VARCHAR), 7, '0')`;
const sid = (col: string) => `'s' || lpad(CAST(CAST(${col} AS BIGINT) AS VARCHAR), 10, '0')`;
const big = (col: string) => `CAST(${col} AS BIGINT)`;

function isoDate(ts: number): string {
  return new Date(ts).toISOString().slice(0, 10);
}

function prepareOutDir(dir: string, overwrite: boolean): void {
  if (existsSync(dir)) {
    const entries = readdirSync(dir);
    if (entries.length > 0) {
      if (!overwrite) {
        throw new InvalidInputError(
          `output directory ${dir} is not empty; expected an empty or new directory (or --overwrite)`,
        );
      }
      // only ever empty something that is a world (a typo must not wipe an unrelated directory)
      if (!entries.includes('manifest.json') && !entries.every((e) => e.startsWith('.staging') || e === 'batch')) {
        throw new InvalidInputError(`refusing to overwrite ${dir}: it holds files but no manifest.json (not a world)`);
      }
      for (const e of entries) rmSync(join(dir, e), { recursive: true, force: true });
    }
  }
  mkdirSync(join(dir, 'batch'), { recursive: true });
}

/** Mutable per-user state: typed arrays indexed by user (x ring slot). */
class UserState {
  readonly lifetimeOrders: Int32Array;
  readonly lifetimeValue: Float64Array;
  readonly lastPurchaseTs: Float64Array;
  readonly lastActiveTs: Float64Array;
  readonly consent: Uint8Array;
  readonly sessRing: Uint16Array;
  readonly orderRing: Uint8Array;
  readonly sendRing: Uint8Array;
  readonly cartTs: Float64Array;
  readonly deletedTs: Float64Array;
  readonly sendsToday: Uint8Array;
  readonly stamp: Int32Array;

  constructor(pop: Population, seed: number, startTs: number) {
    const n = pop.n;
    this.lifetimeOrders = new Int32Array(n);
    this.lifetimeValue = new Float64Array(n);
    this.lastPurchaseTs = new Float64Array(n).fill(Number.NaN);
    this.lastActiveTs = new Float64Array(n).fill(Number.NaN);
    this.consent = pop.consent0.slice();
    this.sessRing = new Uint16Array(n * 7);
    this.orderRing = new Uint8Array(n * 30);
    this.sendRing = new Uint8Array(n * 7);
    this.cartTs = new Float64Array(n).fill(Number.NaN);
    this.deletedTs = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
    this.sendsToday = new Uint8Array(n);
    this.stamp = new Int32Array(n).fill(-1);
    // history before the world, drawn from the same rates the simulation uses
    for (let i = 0; i < n; i++) {
      const signup = pop.signupTs[i] as number;
      if (signup >= startTs) continue;
      const rng = new Rng(streamSeed(seed, STREAM.user, i, 1));
      const act = pop.activity[i] as number;
      const tenureDays = (startTs - signup) / MS_PER_DAY;
      const buyRate = dailyPurchaseRate(pop, i);
      const orders = poisson(rng, buyRate * tenureDays);
      this.lifetimeOrders[i] = orders;
      let value = 0;
      for (let k = 0; k < Math.min(orders, 50); k++) value += orderAmount(pop, i, pop.topic(i, rng), 1, rng);
      this.lifetimeValue[i] = orders > 50 ? (value / 50) * orders : value;
      if (orders > 0) {
        const age = Math.min(tenureDays, exponential(rng, 1 / Math.max(buyRate, 1e-4)));
        this.lastPurchaseTs[i] = startTs - Math.floor(age * MS_PER_DAY);
      }
      this.lastActiveTs[i] = startTs - Math.floor(Math.min(tenureDays, exponential(rng, 1 / act)) * MS_PER_DAY);
      for (let s = 0; s < 7; s++) this.sessRing[i * 7 + s] = poisson(rng, act * 1.1);
      for (let s = 0; s < 30; s++) this.orderRing[i * 30 + s] = rng.next() < buyRate ? 1 : 0;
      // messages of the week before the world, at the rate the baseline policy sends (measured per consent mix)
      const c = this.consent;
      const sendRate = Math.min(
        FREQUENCY_CAP_PER_DAY,
        PRIOR_WEEK_SEND_SCALE *
          SENDS_PER_USER_DAY *
          (0.7 + 0.35 * (1 - Math.exp(-3 * act)) - 0.05) *
          (0.67 * (c[i * 3] as number) + 0.6 * (c[i * 3 + 1] as number) + 0.18 * (c[i * 3 + 2] as number)),
      );
      for (let s = 0; s < 7; s++) this.sendRing[i * 7 + s] = poisson(rng, sendRate);
    }
  }
}

const P_CART_BASE = 0.12;
const P_BUY_BASE = 0.35;
const PRODUCT_VIEWS_MEAN = 1.5;

function pCart(pop: Population, i: number): number {
  return P_CART_BASE * (1.3 - (pop.priceSens[i] as number));
}
function pBuy(pop: Population, i: number, mult: number): number {
  return Math.min(0.95, P_BUY_BASE * (1.2 - (pop.priceSens[i] as number)) * mult);
}
/** Expected purchases per day (sessions x product views x cart x buy), used for history before the world. */
function dailyPurchaseRate(pop: Population, i: number): number {
  return (pop.activity[i] as number) * 1.1 * PRODUCT_VIEWS_MEAN * pCart(pop, i) * pBuy(pop, i, 1);
}
function orderAmount(pop: Population, i: number, topic: number, qty: number, rng: Rng): number {
  const unit = (TOPIC_PRICE[topic] as number) * (pop.aovScale[i] as number) * Math.exp(0.4 * rng.normal() - 0.08);
  return Math.round(unit * qty * 100) / 100;
}

/** Generates a world directory; see docs/world.md. Memory is bounded by per-user typed arrays and fixed buffers. */
export async function generateWorld(options: GenerateWorldOptions): Promise<WorldManifest> {
  const o = resolveWorldOptions(options);
  parseScenarios(o.scenarios.join(','));
  const fx = new ScenarioEffects(o.scenarios, { startTs: o.startTs, days: o.days, driftDay: o.driftDay });
  prepareOutDir(o.outDir, o.overwrite);
  const tempDir = join(o.outDir, '.staging.tmp');
  // Appending a row group pins one 256 KiB block per column: wide snapshots need ~0.75 MB per feature column.
  // A 1 GB floor peaked at 2,122 MB RSS for 100K x 200 x 14 days; 640 MB gave 1,230 MB at the same speed.
  const memoryLimitMb = Math.max(640, 384 + Math.ceil(o.features * 0.75));
  // Staging is in memory, uncompressed (appends measured ~3x faster than into a file); DuckDB spills beyond the
  // limit. Parquet uses snappy: zstd measured ~6x slower to write for ~1% smaller files.
  const db = await WorldDb.open({ path: ':memory:', memoryLimit: `${memoryLimitMb}MB`, tempDirectory: tempDir });
  try {
    await db.exec("SET force_compression = 'uncompressed'");
    const manifest = await simulate(db, o, fx, options.onProgress);
    db.close();
    rmSync(tempDir, { recursive: true, force: true });
    writeManifest(o.outDir, manifest);
    return manifest;
  } finally {
    db.close();
  }
}

async function simulate(
  db: WorldDb,
  o: ResolvedWorldOptions,
  fx: ScenarioEffects,
  onProgress: ((done: number, total: number) => void) | undefined,
): Promise<WorldManifest> {
  const n = o.users;
  const pop = new Population(n, o.seed, o.startTs, o.days);
  const st = new UserState(pop, o.seed, o.startTs);
  const tables: Partial<Record<TableName, ManifestTable>> = {};
  const columnsOf = (name: TableName) => tableColumns(name, o.features).map((c) => ({ name: c.name, type: c.type }));
  const role = (name: TableName) => (TABLES.find((t) => t.name === name) as { role: 'data' | 'truth' }).role;
  const copyOut = async (name: TableName, staging: string, projection: string, order = ''): Promise<void> => {
    const file = `${name}.parquet`;
    await db.exec(
      `COPY (SELECT ${projection} FROM "${staging}" ${order}) TO '${join(o.outDir, file).replaceAll("'", "''")}' (FORMAT parquet, COMPRESSION snappy)`,
    );
    const rows = await db.query(`SELECT count(*)::DOUBLE AS n FROM "${staging}"`);
    tables[name] = { role: role(name), files: [file], rows: Number(rows[0]?.['n'] ?? 0), columns: columnsOf(name) };
    await db.exec(`DROP TABLE "${staging}"`);
  };

  await writeUsers(db, pop);
  await copyOut(
    'users',
    'st_users',
    `${uid('user_idx')} AS user_id, ${L.countries}[country::INTEGER + 1] AS country, ${L.languages}[language::INTEGER + 1] AS language,
     ${L.platforms}[platform::INTEGER + 1] AS platform, ${L.ages}[age::INTEGER + 1] AS age_band, ${big('signup')} AS signup_ts,
     consent_email, consent_push, consent_in_app, ${big('signup')} AS event_ts, ${big('signup')} AS created_ts`,
  );
  await writeTraits(db, pop);
  await copyOut(
    'user_traits',
    'st_traits',
    `${uid('user_idx')} AS user_id, activity, price_sensitivity, fatigue_sensitivity, responsiveness, ${TOPICS.map((t) => `interest_${t}`).join(', ')}`,
  );

  const eventWriter = await db.createStaging('st_events', EVENT_STAGING);
  const [outageStart, outageEnd] = fx.outage;
  const sink = new EventSink(eventWriter, {
    defectShare: o.defectShare,
    schemaChangeTs: fx.schemaChangeTs,
    outageStart,
    outageEnd,
  });
  const campaignsW = await db.createStaging('st_campaigns', [
    { name: 'campaign', type: 'INTEGER' },
    { name: 'advertiser', type: 'INTEGER' },
    { name: 'vertical', type: 'UTINYINT' },
    { name: 'channel', type: 'UTINYINT' },
    { name: 'goal', type: 'UTINYINT' },
    { name: 'countries_mask', type: 'INTEGER' },
    { name: 'platforms_mask', type: 'INTEGER' },
    { name: 'max_inactive', type: 'DOUBLE' },
    { name: 'segment', type: 'UTINYINT' },
    { name: 'desired', type: 'INTEGER' },
    { name: 'budget', type: 'DOUBLE' },
    { name: 'launch', type: 'DOUBLE' },
    { name: 'created', type: 'DOUBLE' },
  ]);
  const campaigns = new TableBuffer(campaignsW);
  const sendsW = await db.createStaging('st_sends', [
    { name: 'send', type: 'DOUBLE' },
    { name: 'campaign', type: 'INTEGER' },
    { name: 'user_idx', type: 'INTEGER' },
    { name: 'send_ts', type: 'DOUBLE' },
    { name: 'channel', type: 'UTINYINT' },
    { name: 'vertical', type: 'UTINYINT' },
    { name: 'goal', type: 'UTINYINT' },
    { name: 'selection', type: 'UTINYINT' },
  ]);
  const sends = new TableBuffer(sendsW);
  const oracleW = await db.createStaging('st_oracle', [
    { name: 'user_idx', type: 'INTEGER' },
    { name: 'day', type: 'INTEGER' },
    { name: 'last_active', type: 'DOUBLE' },
    { name: 'lifetime_orders', type: 'INTEGER' },
    { name: 'sends_prior', type: 'INTEGER' },
  ]);
  const oracleIdx = Int32Array.from({ length: n }, (_, i) => i);
  const oracleDay = new Int32Array(n);
  const oracleSends = new Int32Array(n);
  const outcomesW = await db.createStaging('st_outcomes', [
    { name: 'send', type: 'DOUBLE' },
    { name: 'campaign', type: 'INTEGER' },
    { name: 'user_idx', type: 'INTEGER' },
    { name: 'kind', type: 'UTINYINT' },
    { name: 'ts', type: 'DOUBLE' },
    { name: 'value', type: 'DOUBLE' },
  ]);
  const outcomes = new TableBuffer(outcomesW);
  const truthW = await db.createStaging('st_truth', [
    { name: 'send', type: 'DOUBLE' },
    { name: 'p_open', type: 'DOUBLE' },
    { name: 'p_click', type: 'DOUBLE' },
    { name: 'p_convert', type: 'DOUBLE' },
    { name: 'p_goal', type: 'DOUBLE' },
  ]);
  const truth = new TableBuffer(truthW);
  const deletionsW = await db.createStaging('st_deletions', [
    { name: 'request', type: 'INTEGER' },
    { name: 'user_idx', type: 'INTEGER' },
    { name: 'ts', type: 'DOUBLE' },
  ]);
  const deletions = new TableBuffer(deletionsW);

  const batchFiles: string[] = [];
  const dates: string[] = [];
  let batchRows = 0;
  let campaignCount = 0;
  let sendCount = 0;
  let deletionCount = 0;
  const stats = { opens: 0, clicks: 0, conversions: 0, unsubscribes: 0, exploreSends: 0 };
  const probs: SendProbabilities = { pOpen: 0, pClickGivenOpen: 0, pConvertGivenClick: 0 };
  const [waveStart, waveEnd] = fx.deletionWave;
  const strideFor = PRIMES.find((p) => n % p !== 0) ?? 1;
  const sessionTimes = new Float64Array(256);

  for (let d = 0; d < o.days; d++) {
    const dayStart = o.startTs + d * MS_PER_DAY;
    const dayEnd = dayStart + MS_PER_DAY;
    const dow = weekdayOf(dayStart);
    dates.push(isoDate(dayStart));

    // 1. deletion requests of the day (one sequential stream per day)
    const delRng = new Rng(streamSeed(o.seed, STREAM.day, d, 1));
    const inWave = waveStart >= dayStart && waveStart < dayEnd;
    for (let i = 0; i < n; i++) {
      const u = delRng.next();
      if (st.deletedTs[i] !== Number.POSITIVE_INFINITY || (pop.signupTs[i] as number) >= dayEnd) continue;
      let ts = Number.NaN;
      if (u < DAILY_DELETION_RATE) ts = dayStart + Math.floor(delRng.next() * MS_PER_DAY);
      else if (inWave && u < DAILY_DELETION_RATE + 0.03)
        ts = waveStart + Math.floor(delRng.next() * (waveEnd - waveStart));
      if (!Number.isNaN(ts) && ts > (pop.signupTs[i] as number)) {
        st.deletedTs[i] = ts;
        deletions.row(deletionCount++, i, ts);
      }
    }

    // 2. the nightly snapshot describing the state at dayStart
    const file = `batch/day=${isoDate(dayStart)}.parquet`;
    const delayRng = new Rng(streamSeed(o.seed, STREAM.day, d, 2));
    const createdTs = dayStart + 2 * MS_PER_HOUR + Math.floor(delayRng.next() * 4 * MS_PER_HOUR);
    batchRows += await writeSnapshot(db, o, pop, st, fx, d, dayStart, createdTs, join(o.outDir, file));
    batchFiles.push(file);

    // rotate the rings: today's slot starts empty (snapshot above saw the previous 7 / 30 days)
    for (let i = 0; i < n; i++) {
      st.sessRing[i * 7 + (d % 7)] = 0;
      st.sendRing[i * 7 + (d % 7)] = 0;
      st.orderRing[i * 30 + (d % 30)] = 0;
      st.sendsToday[i] = 0;
    }
    // the oracle's view of the state every send of the day starts from (today's slot is empty here)
    oracleDay.fill(d);
    for (let i = 0; i < n; i++) {
      let prior = 0;
      for (let s = 0; s < 7; s++) prior += st.sendRing[i * 7 + s] as number;
      oracleSends[i] = prior;
    }
    oracleW.append([oracleIdx, oracleDay, st.lastActiveTs, st.lifetimeOrders, oracleSends], n);

    // 3. campaigns launched today and their sends
    const cRng = new Rng(streamSeed(o.seed, STREAM.campaignDay, d));
    // launches follow the weekly curve closely (aggregate counts of many advertisers barely vary)
    const count = Math.max(
      1,
      Math.round(o.campaignsPerDay * (CAMPAIGN_WEEKDAY_FACTOR[dow] as number)) + cRng.int(3) - 1,
    );
    const launches = new Float64Array(count);
    for (let k = 0; k < count; k++) {
      launches[k] =
        dayStart + pickWeighted(cRng, LAUNCH_HOUR_CUM) * MS_PER_HOUR + Math.floor(cRng.next() * MS_PER_HOUR);
    }
    launches.sort();
    // audience sizes: log-normal weights sharing a stable daily volume (~SENDS_PER_USER_DAY per user and day)
    const weights = new Float64Array(count);
    let weightSum = 0;
    for (let k = 0; k < count; k++) weightSum += weights[k] = Math.exp(0.6 * cRng.normal());
    const dailyVolume = (SENDS_PER_USER_DAY * n * count) / o.campaignsPerDay;
    const emerging = fx.emergingShare(d);
    for (let k = 0; k < count; k++) {
      const campaign = campaignCount++;
      const launch = launches[k] as number;
      const rng = new Rng(streamSeed(o.seed, STREAM.campaignDay, d, campaign + 1));
      const vertical =
        rng.next() < emerging
          ? (EMERGING_VERTICALS[rng.int(EMERGING_VERTICALS.length)] as { i: number }).i
          : (BASE_VERTICALS[pickWeighted(rng, BASE_VERTICAL_CUM)] as { i: number }).i;
      const advertiser = vertical * 10_000 + rng.int(40);
      const cu = rng.next();
      const channel = cu < 0.5 ? 0 : cu < 0.8 ? 1 : 2;
      const gu = rng.next();
      const goal = gu < 0.2 ? 0 : gu < 0.55 ? 1 : 2;
      let countriesMask = 0;
      if (rng.next() < 0.5) {
        const m = 1 + rng.int(3);
        for (let j = 0; j < m; j++) countriesMask |= 1 << rng.int(COUNTRIES.length);
      }
      let platformsMask = 0;
      if (rng.next() < 0.3) {
        platformsMask = 1 << rng.int(3);
        if (rng.next() < 0.5) platformsMask |= 1 << rng.int(3);
      }
      const maxInactive = rng.next() < 0.6 ? ([7, 14, 30][rng.int(3)] as number) : Number.NaN;
      const segment = rng.next() < 0.6 ? 0 : 1 + rng.int(SEGMENTS.length - 1);
      const desired = Math.min(
        Math.floor(n * 0.2),
        Math.max(10, Math.round((dailyVolume * (weights[k] as number)) / weightSum)),
      );
      const budget = Math.round(desired * (CHANNEL_PRICE_USD[channel] as number) * 100) / 100;
      const created = launch - Math.floor(MS_PER_HOUR * (1 + 47 * rng.next()));
      campaigns.row(
        campaign,
        advertiser,
        vertical,
        channel,
        goal,
        countriesMask,
        platformsMask,
        maxInactive,
        segment,
        desired,
        budget,
        launch,
        created,
      );

      const qualifies = (i: number, rules: boolean): boolean => {
        if ((pop.signupTs[i] as number) >= launch || (st.deletedTs[i] as number) <= launch) return false;
        if (st.consent[i * 3 + channel] === 0 || (st.sendsToday[i] as number) >= FREQUENCY_CAP_PER_DAY) return false;
        if (st.stamp[i] === campaign) return false;
        if (!rules) return true;
        if (countriesMask !== 0 && (countriesMask & (1 << (pop.country[i] as number))) === 0) return false;
        if (platformsMask !== 0 && (platformsMask & (1 << (pop.platform[i] as number))) === 0) return false;
        const lastActive = st.lastActiveTs[i] as number;
        const inactiveDays = Number.isNaN(lastActive) ? Number.POSITIVE_INFINITY : (dayStart - lastActive) / MS_PER_DAY;
        if (!Number.isNaN(maxInactive) && inactiveDays > maxInactive) return false;
        switch (segment) {
          case 1:
            return (st.lifetimeValue[i] as number) >= 500;
          case 2:
            return !Number.isNaN(st.cartTs[i] as number) && dayStart - (st.cartTs[i] as number) <= 3 * MS_PER_DAY;
          case 3:
            return dayStart - (pop.signupTs[i] as number) < 30 * MS_PER_DAY;
          case 4:
            return inactiveDays >= 14;
          default:
            return true;
        }
      };
      const ruleTarget = Math.round(desired * (1 - EXPLORE_SHARE));
      const exploreTarget = desired - ruleTarget;
      const offset = rng.int(n);
      const maxScan = Math.min(n, desired * 50);
      let picked = 0;
      const doSend = (i: number, selection: number): boolean => {
        const tRng = new Rng(streamSeed(o.seed, STREAM.sendTime, campaign, i));
        const spread = channel === 0 ? 20 * MS_PER_MINUTE : channel === 1 ? 5 * MS_PER_MINUTE : 30 * MS_PER_MINUTE;
        const sendTs = launch + Math.floor(exponential(tRng, spread));
        if (sendTs >= (st.deletedTs[i] as number)) return false; // asked to be forgotten meanwhile: suppressed
        st.stamp[i] = campaign;
        const send = sendCount++;
        const sRng = new Rng(streamSeed(o.seed, STREAM.send, send, 1));
        sends.row(send, campaign, i, sendTs, channel, vertical, goal, selection);
        let sends7 = 0;
        for (let s = 0; s < 7; s++) sends7 += st.sendRing[i * 7 + s] as number;
        const lastActive = st.lastActiveTs[i] as number;
        sendProbabilities(
          pop,
          i,
          {
            channel,
            vertical,
            recencyDays: Number.isNaN(lastActive) ? 30 : Math.max(0, (dayStart - lastActive) / MS_PER_DAY),
            sends7,
            lifetimeOrders: st.lifetimeOrders[i] as number,
            purchaseMultiplier: fx.purchaseMultiplier(d),
            conceptDrift: sendTs >= fx.conceptDriftTs,
          },
          probs,
        );
        const pClick = probs.pOpen * probs.pClickGivenOpen;
        const pConvert = pClick * probs.pConvertGivenClick;
        truth.row(send, probs.pOpen, pClick, pConvert, goal === 0 ? probs.pOpen : goal === 1 ? pClick : pConvert);
        st.sendRing[i * 7 + (d % 7)] = (st.sendRing[i * 7 + (d % 7)] as number) + 1;
        st.sendsToday[i] = (st.sendsToday[i] as number) + 1;
        if (selection === 1) stats.exploreSends++;
        const gone = st.deletedTs[i] as number;
        const uOpen = sRng.next();
        const uClick = sRng.next();
        const uConv = sRng.next();
        if (uOpen < probs.pOpen) {
          const openTs = sendTs + Math.floor(sampleDelay(sRng, OPEN_DELAY));
          if (openTs < gone) {
            outcomes.row(send, campaign, i, 0, openTs, Number.NaN);
            stats.opens++;
            if (channel !== 2) {
              const type = channel === 0 ? ET.email_open : ET.push_open;
              sink.emit(
                sRng,
                i,
                type,
                openTs,
                Number.NaN,
                pop.platform[i] as number,
                NONE,
                -1,
                Number.NaN,
                0,
                channel,
                campaign,
                send,
              );
            }
            if (uClick < probs.pClickGivenOpen) {
              const clickTs = openTs + Math.floor(sampleDelay(sRng, CLICK_DELAY));
              if (clickTs < gone) {
                outcomes.row(send, campaign, i, 1, clickTs, Number.NaN);
                stats.clicks++;
                const type = channel === 0 ? ET.email_click : channel === 1 ? ET.push_click : ET.in_app_click;
                sink.emit(
                  sRng,
                  i,
                  type,
                  clickTs,
                  Number.NaN,
                  pop.platform[i] as number,
                  NONE,
                  -1,
                  Number.NaN,
                  0,
                  channel,
                  campaign,
                  send,
                );
                if (uConv < probs.pConvertGivenClick) {
                  const delay = sendTs >= fx.labelDelayTs ? CONVERSION_DELAY_LATE : CONVERSION_DELAY;
                  const convTs = clickTs + Math.floor(sampleDelay(sRng, delay));
                  if (convTs < gone) {
                    const aov = (VERTICALS[vertical] as { aov: number }).aov;
                    const value = Math.round(aov * Math.exp(0.5 * sRng.normal() - 0.125) * 100) / 100;
                    outcomes.row(send, campaign, i, 2, convTs, value);
                    stats.conversions++;
                    const topic = (VERTICAL_TOPICS[vertical] as readonly number[])[0] as number;
                    sink.emit(
                      sRng,
                      i,
                      ET.purchase,
                      convTs,
                      Number.NaN,
                      pop.platform[i] as number,
                      topic,
                      -1,
                      value,
                      1,
                      NONE,
                      campaign,
                      send,
                    );
                  }
                }
              }
            }
          }
        }
        const pUnsub = 0.002 * (1 + 2 * (pop.fatigueSens[i] as number) * sends7);
        if (sRng.next() < pUnsub) {
          const ts = sendTs + Math.floor(sampleDelay(sRng, OPEN_DELAY));
          if (ts < gone) {
            st.consent[i * 3 + channel] = 0;
            stats.unsubscribes++;
            sink.emit(
              sRng,
              i,
              ET.unsubscribe,
              ts,
              Number.NaN,
              pop.platform[i] as number,
              NONE,
              -1,
              Number.NaN,
              0,
              channel,
              campaign,
              send,
            );
          }
        }
        return true;
      };
      for (let j = 0; j < maxScan && picked < ruleTarget; j++) {
        const i = (offset + j * strideFor) % n;
        if (qualifies(i, true) && doSend(i, 0)) picked++;
      }
      let explored = 0;
      for (let tries = 0; tries < exploreTarget * 5 && explored < exploreTarget; tries++) {
        const i = rng.int(n);
        if (qualifies(i, false) && doSend(i, 1)) explored++;
      }
    }

    // 4. organic behaviour of the day
    const actMult = fx.activityMultiplier(d) * (WEEKDAY_FACTOR[dow] as number);
    const buyMult = fx.purchaseMultiplier(d);
    for (let i = 0; i < n; i++) {
      const signup = pop.signupTs[i] as number;
      const gone = st.deletedTs[i] as number;
      if (signup >= dayEnd || gone <= dayStart) continue;
      const rng = new Rng(streamSeed(o.seed, STREAM.userDay, i, d));
      const burst = rng.next() < 0.03 ? 4 : 1;
      const sessions = Math.min(sessionTimes.length, poisson(rng, (pop.activity[i] as number) * actMult * burst));
      if (sessions === 0) continue;
      const offsetH = COUNTRY_UTC_OFFSET_H[pop.country[i] as number] as number;
      for (let s = 0; s < sessions; s++) {
        const localHour = pickWeighted(rng, HOUR_CUM);
        const utcHour = (((localHour - offsetH) % 24) + 24) % 24;
        sessionTimes[s] = dayStart + (Math.floor((utcHour + rng.next()) * MS_PER_HOUR) % MS_PER_DAY);
      }
      const times = sessionTimes.subarray(0, sessions).sort();
      const platform = pop.platform[i] as number;
      sessionLoop: for (let s = 0; s < sessions; s++) {
        let t = times[s] as number;
        if (t < signup) continue;
        if (t >= gone) break;
        const sessionId = (d * n + i) * 64 + s;
        const evPlatform = platform !== 2 && rng.next() < 0.15 ? 2 : platform;
        sink.emit(rng, i, ET.session_start, t, sessionId, evPlatform, NONE, -1, Number.NaN, 0, NONE, -1, Number.NaN);
        if (evPlatform !== 2) {
          sink.emit(rng, i, ET.app_open, t + 200, sessionId, evPlatform, NONE, -1, Number.NaN, 0, NONE, -1, Number.NaN);
        }
        const pages = 1 + Math.floor(exponential(rng, 4));
        for (let p = 0; p < pages; p++) {
          t += Math.floor(exponential(rng, 40_000)) + 500;
          if (t >= gone) break sessionLoop;
          const topic = rng.next() < 0.85 ? pop.topic(i, rng) : rng.int(N_TOPICS);
          sink.emit(rng, i, ET.page_view, t, sessionId, evPlatform, topic, -1, Number.NaN, 0, NONE, -1, Number.NaN);
        }
        const products = poisson(rng, PRODUCT_VIEWS_MEAN);
        for (let p = 0; p < products; p++) {
          t += Math.floor(exponential(rng, 30_000)) + 500;
          if (t >= gone) break sessionLoop;
          const topic = pop.topic(i, rng);
          const r = rng.next();
          const item = topic * 1000 + Math.floor(1000 * r * r);
          sink.emit(
            rng,
            i,
            ET.product_view,
            t,
            sessionId,
            evPlatform,
            topic,
            item,
            Number.NaN,
            0,
            NONE,
            -1,
            Number.NaN,
          );
          if (rng.next() < pCart(pop, i)) {
            t += Math.floor(exponential(rng, 20_000)) + 500;
            if (t >= gone) break sessionLoop;
            const qty = rng.next() < 0.8 ? 1 : 2 + rng.int(3);
            sink.emit(
              rng,
              i,
              ET.add_to_cart,
              t,
              sessionId,
              evPlatform,
              topic,
              item,
              Number.NaN,
              qty,
              NONE,
              -1,
              Number.NaN,
            );
            if (rng.next() < pBuy(pop, i, buyMult)) {
              t += Math.floor(exponential(rng, 60_000)) + 1000;
              if (t >= gone) break sessionLoop;
              const amount = orderAmount(pop, i, topic, qty, rng);
              sink.emit(rng, i, ET.purchase, t, sessionId, evPlatform, topic, item, amount, qty, NONE, -1, Number.NaN);
              st.lifetimeOrders[i] = (st.lifetimeOrders[i] as number) + 1;
              st.lifetimeValue[i] = (st.lifetimeValue[i] as number) + amount;
              st.lastPurchaseTs[i] = t;
              st.orderRing[i * 30 + (d % 30)] = Math.min(255, (st.orderRing[i * 30 + (d % 30)] as number) + 1);
              st.cartTs[i] = Number.NaN;
            } else {
              st.cartTs[i] = t;
            }
          }
        }
        st.sessRing[i * 7 + (d % 7)] = (st.sessRing[i * 7 + (d % 7)] as number) + 1;
        st.lastActiveTs[i] = Math.max(
          t,
          Number.isNaN(st.lastActiveTs[i] as number) ? t : (st.lastActiveTs[i] as number),
        );
      }
    }
    sink.flush();
    campaigns.flush();
    sends.flush();
    outcomes.flush();
    truth.flush();
    deletions.flush();
    onProgress?.(d + 1, o.days);
  }

  for (const w of [eventWriter, campaignsW, sendsW, outcomesW, truthW, deletionsW, oracleW]) {
    w.flush();
    w.close();
  }
  const maskList = (mask: string, list: string) =>
    `CASE WHEN ${mask} = 0 THEN NULL ELSE array_to_string(list_filter(list_transform(range(${list.split(',').length}), x -> CASE WHEN (${mask} >> x) & 1 = 1 THEN ${list}[x::INTEGER + 1] END), x -> x IS NOT NULL), ',') END`;
  await copyOut('events', 'st_events', eventsProjection(L));
  await copyOut(
    'campaigns',
    'st_campaigns',
    `${cid('campaign')} AS campaign_id, 'a' || lpad(CAST(advertiser AS VARCHAR), 6, '0') AS advertiser_id,
     ${L.verticals}[vertical::INTEGER + 1] AS vertical, ${L.channels}[channel::INTEGER + 1] AS channel, ${L.goals}[goal::INTEGER + 1] AS goal,
     ${maskList('countries_mask', L.countries)} AS target_countries, ${maskList('platforms_mask', L.platforms)} AS target_platforms,
     CAST(max_inactive AS INTEGER) AS max_inactive_days, ${L.segments}[segment::INTEGER + 1] AS target_segment,
     desired AS desired_audience_size, budget AS budget_usd, ${big('launch')} AS launch_ts, ${big('launch')} AS event_ts,
     ${big('created')} AS created_ts`,
  );
  await copyOut(
    'sends',
    'st_sends',
    `${sid('send')} AS send_id, ${cid('campaign')} AS campaign_id, ${uid('user_idx')} AS user_id, ${big('send_ts')} AS send_ts,
     ${L.channels}[channel::INTEGER + 1] AS channel, ${L.verticals}[vertical::INTEGER + 1] AS vertical, ${L.goals}[goal::INTEGER + 1] AS goal,
     ${L.selections}[selection::INTEGER + 1] AS selection, ${big('send_ts')} AS event_ts`,
  );
  await copyOut(
    'outcomes',
    'st_outcomes',
    `${sid('send')} AS send_id, ${cid('campaign')} AS campaign_id, ${uid('user_idx')} AS user_id,
     ${L.goals}[kind::INTEGER + 1] AS kind, ${big('ts')} AS outcome_ts, value, ${big('ts')} AS event_ts`,
  );
  await copyOut('ground_truth', 'st_truth', `${sid('send')} AS send_id, p_open, p_click, p_convert, p_goal`);
  await copyOut(
    'deletions',
    'st_deletions',
    `'d' || lpad(CAST(request AS VARCHAR), 8, '0') AS request_id, ${uid('user_idx')} AS user_id, ${big('ts')} AS request_ts, ${big('ts')} AS event_ts`,
    'ORDER BY ts, request',
  );
  await copyOut(
    'oracle_state',
    'st_oracle',
    `${uid('user_idx')} AS user_id, day, CASE WHEN isnan(last_active) THEN NULL ELSE last_active END AS last_active_ts, lifetime_orders, sends_prior AS sends_prior_6d`,
    'ORDER BY day, user_idx',
  );
  tables.batch = { role: 'data', files: batchFiles, rows: batchRows, columns: columnsOf('batch') };

  const ordered: Partial<Record<TableName, ManifestTable>> = {};
  for (const t of TABLES) if (tables[t.name]) ordered[t.name] = tables[t.name];
  const defectStats: Record<string, number> = {};
  EVENT_DEFECTS.forEach((name, k) => {
    defectStats[`defect_${name}`] = sink.defectCounts[k] as number;
  });
  return {
    format: WORLD_FORMAT,
    schemaVersion: WORLD_SCHEMA_VERSION,
    kind: 'simulated',
    generatorVersion: GENERATOR_VERSION,
    params: {
      users: o.users,
      days: o.days,
      seed: o.seed,
      scenarios: o.scenarios,
      features: o.features,
      startTs: o.startTs,
      driftDay: o.driftDay,
      campaignsPerDay: o.campaignsPerDay,
      defectShare: o.defectShare,
    },
    startTs: o.startTs,
    endTs: o.startTs + o.days * MS_PER_DAY,
    dates,
    timeline: fx.timeline,
    tables: ordered,
    vocabularies: {
      event_types: EVENT_TYPE_VOCAB,
      topics: TOPICS,
      verticals: VERTICAL_NAMES,
      channels: CHANNELS,
      platforms: PLATFORMS,
      age_bands: AGE_BANDS,
      countries: COUNTRIES.map((c) => c[0]),
      goals: GOALS,
      segments: SEGMENTS,
      plan_tiers: PLAN_TIERS,
      defects: EVENT_DEFECTS,
    },
    distributions: distributions(o.defectShare, fx.has('label-delay')),
    stats: {
      ...stats,
      events: sink.count,
      sends: sendCount,
      campaigns: campaignCount,
      deletions: deletionCount,
      ...defectStats,
    },
  };
}

async function writeUsers(db: WorldDb, pop: Population): Promise<void> {
  const w = await db.createStaging('st_users', [
    { name: 'user_idx', type: 'INTEGER' },
    { name: 'country', type: 'UTINYINT' },
    { name: 'language', type: 'UTINYINT' },
    { name: 'platform', type: 'UTINYINT' },
    { name: 'age', type: 'UTINYINT' },
    { name: 'signup', type: 'DOUBLE' },
    { name: 'consent_email', type: 'BOOLEAN' },
    { name: 'consent_push', type: 'BOOLEAN' },
    { name: 'consent_in_app', type: 'BOOLEAN' },
  ]);
  const B = 65_536;
  const idx = new Int32Array(B);
  const ce = new Uint8Array(B);
  const cp = new Uint8Array(B);
  const ci = new Uint8Array(B);
  for (let s = 0; s < pop.n; s += B) {
    const m = Math.min(B, pop.n - s);
    for (let k = 0; k < m; k++) {
      idx[k] = s + k;
      ce[k] = pop.consent0[(s + k) * 3] as number;
      cp[k] = pop.consent0[(s + k) * 3 + 1] as number;
      ci[k] = pop.consent0[(s + k) * 3 + 2] as number;
    }
    w.append(
      [
        idx,
        pop.country.subarray(s),
        pop.language.subarray(s),
        pop.platform.subarray(s),
        pop.ageBand.subarray(s),
        pop.signupTs.subarray(s),
        ce,
        cp,
        ci,
      ],
      m,
    );
  }
  w.flush();
  w.close();
}

async function writeTraits(db: WorldDb, pop: Population): Promise<void> {
  const cols: StagingColumn[] = [
    { name: 'user_idx', type: 'INTEGER' },
    { name: 'activity', type: 'FLOAT' },
    { name: 'price_sensitivity', type: 'FLOAT' },
    { name: 'fatigue_sensitivity', type: 'FLOAT' },
    { name: 'responsiveness', type: 'FLOAT' },
    ...TOPICS.map((t) => ({ name: `interest_${t}`, type: 'FLOAT' as const })),
  ];
  const w = await db.createStaging('st_traits', cols);
  const B = 16_384;
  const idx = new Int32Array(B);
  const interests = Array.from({ length: N_TOPICS }, () => new Float32Array(B));
  for (let s = 0; s < pop.n; s += B) {
    const m = Math.min(B, pop.n - s);
    for (let k = 0; k < m; k++) {
      idx[k] = s + k;
      for (let t = 0; t < N_TOPICS; t++)
        (interests[t] as Float32Array)[k] = pop.interest[(s + k) * N_TOPICS + t] as number;
    }
    w.append(
      [
        idx,
        pop.activity.subarray(s),
        pop.priceSens.subarray(s),
        pop.fatigueSens.subarray(s),
        pop.responsiveness.subarray(s),
        ...interests,
      ],
      m,
    );
  }
  w.flush();
  w.close();
}

/** Filler column j: correlated with trait (j-1) mod N_TRAITS at strength rho_j, shaped by family (j-1) mod 5. */
function fillerSpec(features: number): {
  trait: Int32Array;
  rho: Float32Array;
  rest: Float32Array;
  family: Uint8Array;
} {
  const f = Math.max(0, features - BATCH_NAMED_FEATURES.length);
  const trait = new Int32Array(f);
  const rho = new Float32Array(f);
  const rest = new Float32Array(f);
  const family = new Uint8Array(f);
  for (let j = 0; j < f; j++) {
    trait[j] = j % N_TRAITS;
    const frac = (((j + 1) * 0.6180339887) % 1) as number;
    const r = 0.9 * frac;
    rho[j] = r;
    rest[j] = Math.sqrt(1 - r * r);
    family[j] = Math.floor(j / N_TRAITS) % 5;
  }
  return { trait, rho, rest, family };
}

async function writeSnapshot(
  db: WorldDb,
  o: ResolvedWorldOptions,
  pop: Population,
  st: UserState,
  fx: ScenarioEffects,
  d: number,
  asOf: number,
  createdTs: number,
  file: string,
): Promise<number> {
  const fillers = Math.max(0, o.features - BATCH_NAMED_FEATURES.length);
  const named: StagingColumn[] = [
    { name: 'user_idx', type: 'INTEGER' },
    { name: 'lifetime_orders', type: 'INTEGER' },
    { name: 'lifetime_value', type: 'DOUBLE' },
    { name: 'avg_order_value', type: 'DOUBLE' },
    { name: 'tenure_days', type: 'INTEGER' },
    { name: 'last_purchase_age_s', type: 'DOUBLE' },
    { name: 'days_since_last_active', type: 'DOUBLE' },
    { name: 'orders_30d', type: 'INTEGER' },
    { name: 'sessions_7d', type: 'INTEGER' },
    { name: 'sends_7d', type: 'INTEGER' },
    { name: 'plan_tier', type: 'UTINYINT' },
    { name: 'email_consent', type: 'BOOLEAN' },
    { name: 'push_consent', type: 'BOOLEAN' },
    { name: 'in_app_consent', type: 'BOOLEAN' },
    { name: 'churn_score_ext', type: 'FLOAT' },
    { name: 'ltv_score_ext', type: 'FLOAT' },
    { name: 'engagement_score_ext', type: 'FLOAT' },
  ];
  const fillerCols: StagingColumn[] = Array.from({ length: fillers }, (_, j) => ({
    name: fillerColumnName(j + 1),
    type: 'FLOAT' as const,
  }));
  const stagingCols = [...named, ...fillerCols];
  let w = await db.createStaging('st_batch', stagingCols);
  // Very wide days (1M users x 2,500 features = 10 GB) go through Parquet parts of one block each, merged at the
  // end: an in-memory table that size cannot be checkpointed within the memory limit.
  const partMode = o.users * o.features > 100_000_000;
  const parts: string[] = [];
  const B = Math.max(1024, Math.min(16_384, Math.floor(8_000_000 / Math.max(1, o.features))));
  const idx = new Int32Array(B);
  const lo = new Int32Array(B);
  const lv = new Float64Array(B);
  const aov = new Float64Array(B);
  const tenure = new Int32Array(B);
  const lpa = new Float64Array(B);
  const dsla = new Float64Array(B);
  const o30 = new Int32Array(B);
  const s7 = new Int32Array(B);
  const snd7 = new Int32Array(B);
  const tier = new Uint8Array(B);
  const ce = new Uint8Array(B);
  const cp = new Uint8Array(B);
  const ci = new Uint8Array(B);
  const churn = new Float32Array(B);
  const ltv = new Float32Array(B);
  const eng = new Float32Array(B);
  const fill = new Float32Array(B * fillers);
  const fillViews = Array.from({ length: fillers }, (_, j) => fill.subarray(j * B, (j + 1) * B));
  const spec = fillerSpec(o.features);
  const unit = fx.unitFactor(d);
  let rows = 0;
  let m = 0;
  const date = isoDate(asOf);
  const rowGroup = Math.max(2048, Math.min(122_880, Math.floor(2 ** 26 / (4 * (o.features + 4)))));
  const copySnapshot = async (target: string): Promise<void> => {
    await db.exec(
      `COPY (SELECT ${uid('user_idx')} AS user_id, '${date}' AS snapshot_date, CAST(${asOf} AS BIGINT) AS event_ts,
      CAST(${createdTs} AS BIGINT) AS created_ts, lifetime_orders, lifetime_value, avg_order_value, tenure_days,
      last_purchase_age_s, CAST(days_since_last_active AS INTEGER) AS days_since_last_active, orders_30d, sessions_7d,
      sends_7d, ${L.tiers}[plan_tier::INTEGER + 1] AS plan_tier, email_consent, push_consent, in_app_consent, churn_score_ext,
      ltv_score_ext, engagement_score_ext${fillerCols.map((c) => `, ${c.name}`).join('')}
      FROM st_batch) TO '${target.replaceAll("'", "''")}' (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${rowGroup})`,
    );
  };
  const flush = async (): Promise<void> => {
    if (m === 0) return;
    w.append([idx, lo, lv, aov, tenure, lpa, dsla, o30, s7, snd7, tier, ce, cp, ci, churn, ltv, eng, ...fillViews], m);
    rows += m;
    m = 0;
    if (partMode) {
      w.flush();
      w.close();
      const part = `${file}.part-${String(parts.length).padStart(5, '0')}`;
      await copySnapshot(part);
      parts.push(part);
      w = await db.createStaging('st_batch', stagingCols);
    }
  };
  for (let i = 0; i < pop.n; i++) {
    const signup = pop.signupTs[i] as number;
    if (signup >= asOf || (st.deletedTs[i] as number) <= asOf) continue;
    const rng = new Rng(streamSeed(o.seed, STREAM.fillerDaily, i, d));
    idx[m] = i;
    const orders = st.lifetimeOrders[i] as number;
    lo[m] = orders;
    lv[m] = Math.round((st.lifetimeValue[i] as number) * 100) / 100;
    aov[m] = orders > 0 ? Math.round(((st.lifetimeValue[i] as number) / orders) * 100) / 100 : Number.NaN;
    tenure[m] = Math.floor((asOf - signup) / MS_PER_DAY);
    const lp = st.lastPurchaseTs[i] as number;
    lpa[m] = Number.isNaN(lp) ? Number.NaN : Math.round((asOf - lp) / 1000) * unit;
    const la = st.lastActiveTs[i] as number;
    const inactiveDays = Number.isNaN(la) ? Number.NaN : Math.floor((asOf - la) / MS_PER_DAY);
    dsla[m] = inactiveDays;
    let a = 0;
    for (let s = 0; s < 30; s++) a += st.orderRing[i * 30 + s] as number;
    o30[m] = a;
    let b = 0;
    let c = 0;
    for (let s = 0; s < 7; s++) {
      b += st.sessRing[i * 7 + s] as number;
      c += st.sendRing[i * 7 + s] as number;
    }
    s7[m] = b;
    snd7[m] = c;
    tier[m] = pop.tier[i] as number;
    ce[m] = st.consent[i * 3] as number;
    cp[m] = st.consent[i * 3 + 1] as number;
    ci[m] = st.consent[i * 3 + 2] as number;
    const act = pop.activity[i] as number;
    const idle = Number.isNaN(inactiveDays) ? 30 : Math.min(30, inactiveDays);
    churn[m] = 1 / (1 + Math.exp(-(-Math.log(act) + 0.15 * idle - 1 + 0.5 * fastNormal(rng))));
    ltv[m] = 1 / (1 + Math.exp(-((Math.log1p(st.lifetimeValue[i] as number) - 5) / 1.5 + 0.3 * fastNormal(rng))));
    eng[m] = 1 / (1 + Math.exp(-((pop.responsiveness[i] as number) + Math.log(act) + 0.5 * fastNormal(rng))));
    if (fillers > 0) {
      // Two inline xorshift32 streams (per user; per user and day) feeding the normal table: billions of draws at
      // 1M x 2,500, where Rng method calls measured ~4x slower. Filler noise needs no better generator.
      let a = streamSeed(o.seed, STREAM.fillerStable, i) | 1;
      let b = streamSeed(o.seed, STREAM.fillerDaily, i, d + 1_000_000) | 1;
      const tz = i * N_TRAITS;
      for (let j = 0; j < fillers; j++) {
        a ^= a << 13;
        a ^= a >>> 17;
        a ^= a << 5;
        b ^= b << 13;
        b ^= b >>> 17;
        b ^= b << 5;
        const x =
          (spec.rho[j] as number) * (pop.traitZ[tz + (spec.trait[j] as number)] as number) +
          (spec.rest[j] as number) * (NORMAL_TABLE[(a >>> 16) & 0xffff] as number) +
          0.05 * (NORMAL_TABLE[(b >>> 16) & 0xffff] as number);
        let v: number;
        switch (spec.family[j]) {
          case 1:
            v = Math.exp(x);
            break;
          case 2:
            v = x > 0.5 ? 1 : 0;
            break;
          case 3:
            v = Math.round(Math.exp(x + 1));
            break;
          case 4:
            v = 50 + 10 * x;
            break;
          default:
            v = x;
        }
        fill[j * B + m] = v;
      }
    }
    m++;
    if (m === B) await flush();
  }
  await flush();
  w.flush();
  w.close();
  if (partMode) {
    await db.exec(
      `COPY (SELECT * FROM read_parquet([${parts.map((p) => `'${p.replaceAll("'", "''")}'`).join(', ')}])) TO '${file.replaceAll("'", "''")}' (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE ${rowGroup})`,
    );
    for (const p of parts) rmSync(p, { force: true });
  } else {
    await copySnapshot(file);
  }
  await db.exec('DROP TABLE st_batch');
  return rows;
}
