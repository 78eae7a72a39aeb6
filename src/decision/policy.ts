import { hashId, MS_PER_DAY, NO_TOMBSTONES, prefixedHasher, type TombstoneCheck } from '../core/index.js';
import { budgetCap, type Campaign, type CampaignChannel } from './campaign.js';
import { descendingKeys, smallestRows, sortRowsByKeys } from './ranking.js';

/**
 * What the policy did with one scored candidate. The first two are in the audience; the others say why not.
 * Codes are the index in this array (a Uint8Array per campaign holds them).
 */
export const POLICY_OUTCOMES = [
  'exploit',
  'explore',
  'holdout',
  'min_score',
  'rank',
  'budget',
  'frequency_cap',
  'feature_predicate',
] as const;
export type PolicyOutcome = (typeof POLICY_OUTCOMES)[number];
export const OUTCOME = Object.fromEntries(POLICY_OUTCOMES.map((o, i) => [o, i])) as Record<PolicyOutcome, number>;

/** Seeds of the deterministic hashes: changing one re-draws every holdout, control group or exploration pick. */
const HOLDOUT_SEED = 0x686f6c64; // "hold"
const CONTROL_SEED = 0x63746c67; // "ctlg"
const EXPLORE_SEED = 0x6578706c; // "expl"
const BUCKETS = 1_000_000;

/** Whether (campaign, user) falls in the campaign's holdout: stable across re-runs and re-created profiles. */
export function inHoldout(campaignId: string, userId: string, share: number): boolean {
  return holdoutOf(campaignId, share)(userId);
}

/** `inHoldout` for one campaign over many users (the campaign's part of the hash computed once). */
function holdoutOf(campaignId: string, share: number): (userId: string) => boolean {
  if (!(share > 0)) return () => false;
  const hash = prefixedHasher(`${campaignId}\u0000`, HOLDOUT_SEED);
  return (userId) => hash(userId) % BUCKETS < share * BUCKETS;
}

/**
 * A campaign's holdout rule and exploration hash, made once per campaign (specs are immutable): an online request
 * applies the policy of 50 campaigns to one user.
 */
const hashersOf = new WeakMap<
  Campaign,
  { held: (userId: string) => boolean; exploreKey: (userId: string) => number }
>();

function campaignHashers(c: Campaign) {
  let h = hashersOf.get(c);
  if (!h) {
    h = { held: holdoutOf(c.id, c.holdoutShare), exploreKey: prefixedHasher(`${c.id}\u0000`, EXPLORE_SEED) };
    hashersOf.set(c, h);
  }
  return h;
}

/** Whether a user is in the global control group (no campaign reaches it), by a hash of the user id alone. */
export function inControlGroup(userId: string, share: number): boolean {
  return share > 0 && hashId(userId, CONTROL_SEED) % BUCKETS < share * BUCKETS;
}

/**
 * Messages each user has received (or been allocated) per channel and UTC day, across campaigns. The embedded
 * ledger is a map; a shared one (Redis) implements the same two calls.
 */
export interface CapLedger {
  count(userId: string, channel: CampaignChannel, dayMs: number): number;
  add(userId: string, channel: CampaignChannel, dayMs: number, n?: number): void;
}

export class MemoryCapLedger implements CapLedger {
  /** UTC day number -> channel -> user -> count: a lookup builds no key string (1M per launch). */
  readonly #days = new Map<number, Map<string, Map<string, number>>>();
  /** Users whose deletion was requested: `add` counts nothing for them. */
  tombstones: TombstoneCheck = NO_TOMBSTONES;

  #users(channel: string, dayMs: number, create: boolean): Map<string, number> | undefined {
    const day = Math.floor(dayMs / MS_PER_DAY);
    let channels = this.#days.get(day);
    if (!channels) {
      if (!create) return undefined;
      channels = new Map();
      this.#days.set(day, channels);
    }
    let users = channels.get(channel);
    if (!users && create) {
      users = new Map();
      channels.set(channel, users);
    }
    return users;
  }

  count(userId: string, channel: CampaignChannel, dayMs: number): number {
    return this.#users(channel, dayMs, false)?.get(userId) ?? 0;
  }

  add(userId: string, channel: CampaignChannel, dayMs: number, n = 1): void {
    if (this.tombstones.isDeleted(userId)) return;
    const users = this.#users(channel, dayMs, true) as Map<string, number>;
    users.set(userId, (users.get(userId) ?? 0) + n);
  }

  /** Forgets the days before `dayMs` (caps are per day: older counts never matter again). */
  prune(beforeMs: number): void {
    const first = Math.floor(beforeMs / MS_PER_DAY);
    for (const day of this.#days.keys()) if (day < first) this.#days.delete(day);
  }

  /** Whether the ledger holds any count of the user (the deletion's verifier). */
  holdsUser(userId: string): boolean {
    for (const channels of this.#days.values())
      for (const users of channels.values()) if (users.has(userId)) return true;
    return false;
  }

  /** Removes a user's counts (a privacy deletion). Returns the entries removed. */
  removeUser(userId: string): number {
    let n = 0;
    for (const channels of this.#days.values()) for (const users of channels.values()) if (users.delete(userId)) n++;
    return n;
  }

  /** Every count, for a snapshot: `[utcDay, channel, userId, count]`. */
  *entries(): IterableIterator<[number, string, string, number]> {
    for (const [day, channels] of this.#days)
      for (const [channel, users] of channels) for (const [user, n] of users) yield [day, channel, user, n];
  }

  static fromEntries(entries: Iterable<readonly [number, string, string, number]>): MemoryCapLedger {
    const ledger = new MemoryCapLedger();
    for (const [day, channel, user, n] of entries) ledger.add(user, channel as CampaignChannel, day * MS_PER_DAY, n);
    return ledger;
  }
}

export const DEFAULT_CAPS_PER_DAY: Readonly<Record<CampaignChannel, number>> = { email: 3, push: 3, in_app: 3 };

export interface PolicyOptions {
  /** Messages per user, channel and day across all campaigns. */
  readonly capsPerDay?: Readonly<Record<CampaignChannel, number>>;
  readonly ledger?: CapLedger;
  /** Decision time; its UTC day is the cap's day. */
  readonly atMs: number;
  /** Value of one goal outcome per campaign (USD); expected value = probability x value. Default 1. */
  readonly outcomeValueUsd?: (c: Campaign) => number;
  /** Record the allocations in the ledger (a real launch), or leave it untouched (a preview). Default true. */
  readonly commit?: boolean;
}

/** One campaign's scored candidates: dense ids, user ids and calibrated probabilities, aligned. */
export interface ScoredCandidates {
  readonly campaign: Campaign;
  readonly userIds: readonly string[];
  readonly scores: Float32Array | Float64Array;
  /** Candidates already excluded by the scoring stage (feature predicates): outcome code per row, or 255. */
  readonly preExcluded?: Uint8Array;
  /**
   * The users' dense ids (the segment index's), aligned with `userIds`: when every campaign of the call has them,
   * the per-user cap counts live in typed arrays indexed through them instead of a map of user ids.
   */
  readonly denseIds?: Uint32Array;
}

export interface PolicyDecision {
  readonly campaign: Campaign;
  /** Outcome code per candidate (index into POLICY_OUTCOMES), aligned with the input rows. */
  readonly outcome: Uint8Array;
  /** Rank by score among the candidates (0 = best), aligned with the input rows. */
  readonly rank: Uint32Array;
  /** Probability that the policy puts the user in the audience: 1 for exploit picks, k/pool for explore picks. */
  readonly propensity: Float64Array;
  /** Input rows of the audience, best first (exploit by rank, then explore picks). */
  readonly members: Uint32Array;
  /** Holdout users ranked above the last exploit pick: the comparison group for lift. */
  readonly holdoutMembers: Uint32Array;
  /** How many slots the campaign had: min(desired size, budget cap). */
  readonly slots: number;
  readonly counts: Readonly<Record<PolicyOutcome, number>>;
}

/**
 * Candidate rows ordered by score (descending; NaN as -1), ties by a hash of the user so the order is stable, then
 * by row.
 */
export function rankOrder(s: Pick<ScoredCandidates, 'userIds' | 'scores'>): Uint32Array {
  const n = s.userIds.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const [hi, lo] = descendingKeys(s.scores, -1);
  // the tie hash only for rows whose scores tie
  return sortRowsByKeys(order, [hi, lo, (row) => hashId(s.userIds[row] as string)]);
}

/** Call-local user numbers: one per distinct user over all campaigns of the call, per row of each campaign. */
function userSlots(items: readonly ScoredCandidates[]): { slotOf: Uint32Array[]; users: string[] } {
  const users: string[] = [];
  let rows = 0;
  let max = -1;
  const dense = items.every((s) => s.denseIds !== undefined && s.denseIds.length === s.userIds.length);
  if (dense)
    for (const s of items) {
      rows += s.userIds.length;
      for (const d of s.denseIds as Uint32Array) if (d > max) max = d;
    }
  // a slot table as large as the highest dense id only pays when the call has that many rows (a launch); an
  // online request for one user of 10M would allocate 40 MB for it
  if (dense && rows * 16 >= max) {
    const slot = new Int32Array(max + 1).fill(-1);
    const slotOf = items.map((s) => {
      const dense = s.denseIds as Uint32Array;
      const out = new Uint32Array(dense.length);
      for (let i = 0; i < dense.length; i++) {
        const d = dense[i] as number;
        let k = slot[d] as number;
        if (k < 0) {
          k = users.length;
          slot[d] = k;
          users.push(s.userIds[i] as string);
        }
        out[i] = k;
      }
      return out;
    });
    return { slotOf, users };
  }
  const slot = new Map<string, number>();
  const slotOf = items.map((s) =>
    Uint32Array.from(s.userIds, (u) => {
      let k = slot.get(u);
      if (k === undefined) {
        k = users.length;
        slot.set(u, k);
        users.push(u);
      }
      return k;
    }),
  );
  return { slotOf, users };
}

/** Cap left per (user slot, channel) in this call: the ledger's count read once per pair, this call's on top. */
class CapCounter {
  readonly #caps: Readonly<Record<CampaignChannel, number>>;
  readonly #ledger: CapLedger;
  readonly #day: number;
  readonly #users: readonly string[];
  readonly #left = new Map<CampaignChannel, Int32Array>();

  constructor(caps: Readonly<Record<CampaignChannel, number>>, ledger: CapLedger, day: number, users: string[]) {
    this.#caps = caps;
    this.#ledger = ledger;
    this.#day = day;
    this.#users = users;
  }

  #of(channel: CampaignChannel): Int32Array {
    let left = this.#left.get(channel);
    if (!left) {
      left = new Int32Array(this.#users.length).fill(UNREAD);
      this.#left.set(channel, left);
    }
    return left;
  }

  left(slot: number, channel: CampaignChannel): number {
    const left = this.#of(channel);
    let v = left[slot] as number;
    if (v === UNREAD) {
      v = this.#caps[channel] - this.#ledger.count(this.#users[slot] as string, channel, this.#day);
      left[slot] = v;
    }
    return v;
  }

  take(slot: number, channel: CampaignChannel): void {
    const left = this.#of(channel);
    left[slot] = this.left(slot, channel) - 1;
  }
}
const UNREAD = -0x7fffffff;

/**
 * Stage 3 for campaigns decided together (one launch, one refresh, or one online request): minimum score, holdout,
 * top-k to min(desired size, budget), per-user frequency caps per channel and day across the campaigns — filled
 * in order of expected value over all (campaign, user) pairs, so a user eligible for more campaigns than the cap
 * allows gets the most valuable ones — and then exploration: a share of each audience drawn uniformly (by a stable
 * hash) among the eligible users left, with its propensity.
 */
export function applyPolicy(items: readonly ScoredCandidates[], opts: PolicyOptions): PolicyDecision[] {
  const caps = opts.capsPerDay ?? DEFAULT_CAPS_PER_DAY;
  const ledger = opts.ledger ?? new MemoryCapLedger();
  const outcomeValue = opts.outcomeValueUsd ?? (() => 1);
  const commit = opts.commit ?? true;
  const day = opts.atMs;
  const { slotOf, users } = userSlots(items);
  // allocations of this call, on top of the ledger's counts
  const cap = new CapCounter(caps, ledger, day, users);

  const states = items.map((s, k) => {
    const c = s.campaign;
    const n = s.userIds.length;
    const outcome = new Uint8Array(n).fill(255);
    const rank = new Uint32Array(n);
    const order = rankOrder(s);
    for (let r = 0; r < n; r++) rank[order[r] as number] = r;
    const slots = Math.min(c.desiredAudienceSize, budgetCap(c));
    const exploreSlots = Math.round(slots * c.explorationShare);
    const { held } = campaignHashers(c);
    for (let i = 0; i < n; i++) {
      const pre = s.preExcluded?.[i] ?? 255;
      if (pre !== 255) outcome[i] = pre;
      else if (held(s.userIds[i] as string)) outcome[i] = OUTCOME.holdout;
      else if (!((s.scores[i] as number) >= c.minScore)) outcome[i] = OUTCOME.min_score;
    }
    return {
      s,
      c,
      slot: slotOf[k] as Uint32Array,
      order,
      outcome,
      rank,
      slots,
      exploitLeft: slots - exploreSlots,
      exploreSlots,
      budgetBound: budgetCap(c) < c.desiredAudienceSize,
      propensity: new Float64Array(n),
    };
  });

  // exploit: all (campaign, row) pairs by expected value, greedy under campaign slots and user caps
  const visit = (st: (typeof states)[number], row: number): void => {
    if (st.exploitLeft <= 0 || st.outcome[row] !== 255) return; // left for rank/budget; explore may still pick it
    const slot = st.slot[row] as number;
    if (cap.left(slot, st.c.channel) <= 0) {
      st.outcome[row] = OUTCOME.frequency_cap;
      return;
    }
    st.outcome[row] = OUTCOME.exploit;
    st.propensity[row] = 1;
    st.exploitLeft--;
    cap.take(slot, st.c.channel);
  };
  if (states.length === 1) {
    // one campaign: value order is score order, so no pair list is needed
    const st = states[0] as (typeof states)[number];
    for (let r = 0; r < st.order.length && st.exploitLeft > 0; r++) visit(st, st.order[r] as number);
  } else {
    // the pairs as typed columns (campaign, row, expected value), sorted once by (value desc, campaign, rank):
    // no object per pair
    let total = 0;
    for (const st of states) for (let row = 0; row < st.outcome.length; row++) if (st.outcome[row] === 255) total++;
    const pairSt = new Uint32Array(total);
    const pairRow = new Uint32Array(total);
    const pairRank = new Uint32Array(total);
    const value = new Float64Array(total);
    let p = 0;
    states.forEach((st, k) => {
      const v = outcomeValue(st.c);
      for (const row of st.order)
        if (st.outcome[row] === 255) {
          pairSt[p] = k;
          pairRow[p] = row;
          pairRank[p] = st.rank[row] as number;
          value[p++] = v * (st.s.scores[row] as number);
        }
    });
    const [hi, lo] = descendingKeys(value, Number.NEGATIVE_INFINITY);
    const order = new Uint32Array(total);
    for (let i = 0; i < total; i++) order[i] = i;
    sortRowsByKeys(order, [hi, lo, pairSt, pairRank]);
    for (const i of order) visit(states[pairSt[i] as number] as (typeof states)[number], pairRow[i] as number);
  }

  // explore: uniform among the eligible rows left (not held out, under the cap), by a stable hash order
  for (const st of states) {
    if (st.exploreSlots <= 0 || st.outcome.length === 0) continue;
    const n = st.outcome.length;
    const rows = new Uint32Array(n);
    let size = 0;
    for (let row = 0; row < n; row++) {
      const o = st.outcome[row];
      if ((o === 255 || o === OUTCOME.min_score) && cap.left(st.slot[row] as number, st.c.channel) > 0)
        rows[size++] = row;
    }
    const pool = rows.subarray(0, size);
    const keys = new Uint32Array(n);
    const { exploreKey } = campaignHashers(st.c);
    for (const row of pool) keys[row] = exploreKey(st.s.userIds[row] as string);
    const picks = Math.min(st.exploreSlots, size);
    const p = size ? picks / size : 0;
    for (const row of pool) st.propensity[row] = p;
    // the picks are the pool's first rows in hash order: only they need sorting
    for (const row of smallestRows(pool, keys, picks)) {
      st.outcome[row] = OUTCOME.explore;
      cap.take(st.slot[row] as number, st.c.channel);
    }
  }

  return states.map((st) => {
    const n = st.outcome.length;
    const byCode = new Uint32Array(POLICY_OUTCOMES.length);
    for (let row = 0; row < n; row++) {
      if (st.outcome[row] === 255) st.outcome[row] = st.budgetBound ? OUTCOME.budget : OUTCOME.rank;
      const o = st.outcome[row] as number;
      byCode[o] = (byCode[o] as number) + 1;
    }
    const counts = {} as Record<PolicyOutcome, number>;
    for (let i = 0; i < POLICY_OUTCOMES.length; i++) counts[POLICY_OUTCOMES[i] as PolicyOutcome] = byCode[i] as number;
    const exploitN = byCode[OUTCOME.exploit] as number;
    const members = new Uint32Array(exploitN + (byCode[OUTCOME.explore] as number));
    let e = 0;
    let x = exploitN;
    let lastExploitRank = -1;
    for (const row of st.order) {
      if (st.outcome[row] === OUTCOME.exploit) {
        members[e++] = row;
        lastExploitRank = st.rank[row] as number;
      } else if (st.outcome[row] === OUTCOME.explore) members[x++] = row;
    }
    const holdout: number[] = [];
    for (const row of st.order) {
      if ((st.rank[row] as number) > lastExploitRank) break;
      if (st.outcome[row] === OUTCOME.holdout) holdout.push(row);
    }
    if (commit) for (const row of members) ledger.add(st.s.userIds[row] as string, st.c.channel, day);
    return {
      campaign: st.c,
      outcome: st.outcome,
      rank: st.rank,
      propensity: st.propensity,
      members,
      holdoutMembers: Uint32Array.from(holdout),
      slots: st.slots,
      counts,
    };
  });
}
