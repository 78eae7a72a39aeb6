import { InvalidInputError, MS_PER_DAY, NotFoundError } from '../core/index.js';
import { FREQUENCY_CAP_PER_DAY, Population, type SendProbabilities, sendProbabilities } from './behaviour.js';
import { WorldDb } from './duckdb-world-db.js';
import { readManifest, tableFiles, type WorldManifest } from './manifest.js';
import { ScenarioEffects, type ScenarioName } from './scenarios.js';
import { CHANNELS, type Channel, GOALS, type Goal, VERTICAL_NAMES } from './schema.js';
import { resolveWorldOptions } from './world-options.js';

/** What the oracle needs to know of a campaign (a World campaign, or one that never ran). */
export interface OracleCampaign {
  /** A World campaign id (`c` + 7 digits) places the send among the day's campaigns exactly; else by launch time. */
  readonly id?: string;
  readonly channel: Channel;
  readonly vertical: string;
  readonly goal: Goal;
  readonly launchTs: number;
}

interface DayState {
  readonly lastActive: Float64Array;
  readonly lifetimeOrders: Int32Array;
  readonly sendsPrior: Int32Array;
  /** The day's World sends per user: launch time and campaign index of each, sorted. */
  readonly sendsToday: Map<number, Array<readonly [number, number]>>;
}

/**
 * The World's logging policy for one campaign's exploration sends: a uniform draw without replacement of `explored`
 * users from `userIds`, so each of them had the same chance explored / userIds.length of being sent.
 */
export interface ExplorationPool {
  readonly campaignId: string;
  /** The users the exploration could reach, sorted. */
  readonly userIds: readonly string[];
  /** Exploration sends the World made for the campaign. */
  readonly explored: number;
}

const USER_ID = /^u(\d{8})$/;
const CAMPAIGN_ID = /^c(\d{7})$/;

/**
 * The World's truth for any (campaign, user, time): the probability of the campaign's goal from the user's hidden
 * traits (regenerated from the seed, as the simulator drew them), their state at the start of that day's campaigns
 * (`oracle_state`), the messages they already got that day before this one, and the day's scenario effects. For
 * the sends the World made it equals `ground_truth.p_goal`. Simulated worlds only.
 */
export class WorldOracle {
  readonly manifest: WorldManifest;
  readonly #dir: string;
  readonly #pop: Population;
  readonly #fx: ScenarioEffects;
  readonly #db: WorldDb;
  readonly #days = new Map<number, DayState>();
  readonly #dayCount: number;
  readonly #probs: SendProbabilities = { pOpen: 0, pClickGivenOpen: 0, pConvertGivenClick: 0 };

  private constructor(dir: string, manifest: WorldManifest, db: WorldDb) {
    this.#dir = dir;
    this.manifest = manifest;
    this.#db = db;
    const p = manifest.params as {
      users: number;
      days: number;
      seed: number;
      scenarios: ScenarioName[];
      startTs: number;
      driftDay: number;
    };
    const o = resolveWorldOptions({
      outDir: dir,
      users: p.users,
      days: p.days,
      seed: p.seed,
      scenarios: p.scenarios,
      startTs: p.startTs,
      driftDay: p.driftDay,
    });
    this.#dayCount = o.days;
    this.#pop = new Population(o.users, o.seed, o.startTs, o.days);
    this.#fx = new ScenarioEffects(o.scenarios, { startTs: o.startTs, days: o.days, driftDay: o.driftDay });
  }

  static async open(dir: string): Promise<WorldOracle> {
    const manifest = readManifest(dir);
    if (manifest.kind !== 'simulated')
      throw new InvalidInputError(`world at ${dir} is ${manifest.kind}: only simulated worlds have an oracle`);
    if (!manifest.tables.oracle_state)
      throw new NotFoundError(
        `world at ${dir} has no oracle_state table (schema version ${manifest.schemaVersion}); generate it again`,
      );
    return new WorldOracle(dir, manifest, await WorldDb.open({ path: ':memory:', threads: 1 }));
  }

  async close(): Promise<void> {
    await this.#db.close();
  }

  #userIndex(userId: string): number {
    const m = USER_ID.exec(userId);
    const i = m ? Number(m[1]) : -1;
    if (i < 0 || i >= this.#pop.n)
      throw new InvalidInputError(`user ${JSON.stringify(userId)} is not a user of this world (u00000000..)`);
    return i;
  }

  async #day(d: number): Promise<DayState> {
    const cached = this.#days.get(d);
    if (cached) return cached;
    const n = this.#pop.n;
    const lit = (f: string) => `'${f.replaceAll("'", "''")}'`;
    const files = (t: 'oracle_state' | 'sends' | 'campaigns') =>
      `[${tableFiles(this.#dir, this.manifest, t).map(lit).join(', ')}]`;
    const lastActive = new Float64Array(n).fill(Number.NaN);
    const lifetimeOrders = new Int32Array(n);
    const sendsPrior = new Int32Array(n);
    for await (const rows of this.#db.stream(
      `SELECT CAST(substr(user_id, 2) AS INTEGER) AS i, last_active_ts, lifetime_orders, sends_prior_6d
       FROM read_parquet(${files('oracle_state')}) WHERE day = ${d}`,
    )) {
      for (const r of rows) {
        const i = Number(r.i);
        lastActive[i] = r.last_active_ts === null ? Number.NaN : Number(r.last_active_ts);
        lifetimeOrders[i] = Number(r.lifetime_orders);
        sendsPrior[i] = Number(r.sends_prior_6d);
      }
    }
    const dayStart = this.manifest.startTs + d * MS_PER_DAY;
    const sendsToday = new Map<number, Array<readonly [number, number]>>();
    for await (const rows of this.#db.stream(
      `SELECT CAST(substr(s.user_id, 2) AS INTEGER) AS i, c.launch_ts::DOUBLE AS launch,
              CAST(substr(s.campaign_id, 2) AS INTEGER) AS k
       FROM read_parquet(${files('sends')}) s JOIN read_parquet(${files('campaigns')}) c USING (campaign_id)
       WHERE c.launch_ts >= ${dayStart} AND c.launch_ts < ${dayStart + MS_PER_DAY}`,
    )) {
      for (const r of rows) {
        const i = Number(r.i);
        let list = sendsToday.get(i);
        if (!list) sendsToday.set(i, (list = []));
        list.push([Number(r.launch), Number(r.k)]);
      }
    }
    const state = { lastActive, lifetimeOrders, sendsPrior, sendsToday };
    this.#days.set(d, state);
    return state;
  }

  /**
   * The pool the World's exploration drew campaign `campaignId`'s random sends from, as the simulator's own rule
   * decided it: signed up before the launch and not deleted by then, consent to the channel (at signup, minus the
   * unsubscribes the day's and earlier campaigns caused), under the World's daily cap across channels after the
   * earlier campaigns of the day, and not already sent the campaign by its rules. A production log would record this
   * propensity; the World's tables give it back exactly.
   */
  async explorationPool(campaignId: string): Promise<ExplorationPool> {
    const m = CAMPAIGN_ID.exec(campaignId);
    if (!m)
      throw new InvalidInputError(`campaign ${JSON.stringify(campaignId)} is not a World campaign id (c + 7 digits)`);
    const k = Number(m[1]);
    const lit = (f: string) => `'${f.replaceAll("'", "''")}'`;
    const files = (t: 'users' | 'sends' | 'campaigns' | 'events' | 'deletions') =>
      `[${tableFiles(this.#dir, this.manifest, t).map(lit).join(', ')}]`;
    const [c] = await this.#db.query(
      `SELECT channel, launch_ts::DOUBLE AS launch FROM read_parquet(${files('campaigns')}) WHERE campaign_id = ${lit(campaignId)}`,
    );
    if (!c) throw new NotFoundError(`campaign ${campaignId} is not in this world's campaigns table`);
    const channel = String(c.channel);
    if (!(CHANNELS as readonly string[]).includes(channel))
      throw new InvalidInputError(
        `campaign ${campaignId} has channel ${channel}, expected one of ${CHANNELS.join(', ')}`,
      );
    const launch = Number(c.launch);
    const dayStart = this.manifest.startTs + Math.floor((launch - this.manifest.startTs) / MS_PER_DAY) * MS_PER_DAY;
    const order = (col: string) => `CAST(substr(${col}, 2) AS INTEGER)`;
    const deletions = this.manifest.tables.deletions
      ? `AND u.user_id NOT IN (SELECT user_id FROM read_parquet(${files('deletions')}) WHERE request_ts <= ${launch})`
      : '';
    const rows = await this.#db.query(`
      WITH today AS (
        SELECT s.user_id, count(*) AS n
        FROM read_parquet(${files('sends')}) s JOIN read_parquet(${files('campaigns')}) c USING (campaign_id)
        WHERE c.launch_ts >= ${dayStart} AND ${order('s.campaign_id')} < ${k} GROUP BY s.user_id),
      unsubscribed AS (
        SELECT DISTINCT user_id FROM read_parquet(${files('events')})
        WHERE event_type = 'unsubscribe' AND channel = ${lit(channel)} AND user_id IS NOT NULL
          AND campaign_id IS NOT NULL AND ${order('campaign_id')} < ${k})
      SELECT u.user_id FROM read_parquet(${files('users')}) u LEFT JOIN today USING (user_id)
      WHERE u.signup_ts < ${launch} AND u.consent_${channel}
        AND coalesce(today.n, 0) < ${FREQUENCY_CAP_PER_DAY}
        AND u.user_id NOT IN (SELECT user_id FROM unsubscribed)
        AND u.user_id NOT IN (SELECT user_id FROM read_parquet(${files('sends')})
                              WHERE campaign_id = ${lit(campaignId)} AND selection = 'rule')
        ${deletions}
      ORDER BY u.user_id`);
    const [explored] = await this.#db.query(
      `SELECT count(*)::DOUBLE AS n FROM read_parquet(${files('sends')}) WHERE campaign_id = ${lit(campaignId)} AND selection = 'explore'`,
    );
    return { campaignId, userIds: rows.map((r) => String(r.user_id)), explored: Number(explored?.n ?? 0) };
  }

  /**
   * The true probability of the campaign's goal for each user, for a send at `sendTs` (default: the launch), as
   * the World draws outcomes: opens within 48 h, clicks within 48 h, conversions within 14 days.
   */
  async goalProbabilities(c: OracleCampaign, userIds: readonly string[], sendTs = c.launchTs): Promise<Float64Array> {
    const d = Math.floor((c.launchTs - this.manifest.startTs) / MS_PER_DAY);
    if (d < 0 || d >= this.#dayCount)
      throw new InvalidInputError(
        `launch ${new Date(c.launchTs).toISOString()} is outside the world (${this.manifest.dates[0]} .. ${this.manifest.dates[this.manifest.dates.length - 1]})`,
      );
    const channel = CHANNELS.indexOf(c.channel);
    const vertical = VERTICAL_NAMES.indexOf(c.vertical as (typeof VERTICAL_NAMES)[number]);
    const goal = GOALS.indexOf(c.goal);
    if (channel < 0 || vertical < 0 || goal < 0)
      throw new InvalidInputError(
        `campaign ${c.id ?? ''}: channel, vertical and goal must be the World's (got ${c.channel}, ${c.vertical}, ${c.goal})`,
      );
    const m = c.id === undefined ? null : CAMPAIGN_ID.exec(c.id);
    const order = m ? Number(m[1]) : Number.POSITIVE_INFINITY;
    const state = await this.#day(d);
    const dayStart = this.manifest.startTs + d * MS_PER_DAY;
    const out = new Float64Array(userIds.length);
    const probs = this.#probs;
    const purchaseMultiplier = this.#fx.purchaseMultiplier(d);
    const conceptDrift = sendTs >= this.#fx.conceptDriftTs;
    for (let k = 0; k < userIds.length; k++) {
      const i = this.#userIndex(userIds[k] as string);
      let before = 0;
      for (const [launch, idx] of state.sendsToday.get(i) ?? [])
        if (launch < c.launchTs || (launch === c.launchTs && idx < order)) before++;
      const lastActive = state.lastActive[i] as number;
      sendProbabilities(
        this.#pop,
        i,
        {
          channel,
          vertical,
          recencyDays: Number.isNaN(lastActive) ? 30 : Math.max(0, (dayStart - lastActive) / MS_PER_DAY),
          sends7: (state.sendsPrior[i] as number) + before,
          lifetimeOrders: state.lifetimeOrders[i] as number,
          purchaseMultiplier,
          conceptDrift,
        },
        probs,
      );
      const pClick = probs.pOpen * probs.pClickGivenOpen;
      out[k] = goal === 0 ? probs.pOpen : goal === 1 ? pClick : pClick * probs.pConvertGivenClick;
    }
    return out;
  }
}
