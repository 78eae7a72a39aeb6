import { hashId, MS_PER_DAY } from '../core/index.js';
import { budgetCap, type Campaign, type CampaignChannel } from './campaign.js';

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
  return share > 0 && hashId(`${campaignId}\u0000${userId}`, HOLDOUT_SEED) % BUCKETS < share * BUCKETS;
}

/** Whether a user is in the global control group (no campaign reaches it), by a hash of the user id alone. */
export function inControlGroup(userId: string, share: number): boolean {
  return share > 0 && hashId(userId, CONTROL_SEED) % BUCKETS < share * BUCKETS;
}

function exploreKey(campaignId: string, userId: string): number {
  return hashId(`${campaignId}\u0000${userId}`, EXPLORE_SEED);
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
  readonly #counts = new Map<string, number>();

  #key(userId: string, channel: string, dayMs: number): string {
    return `${Math.floor(dayMs / MS_PER_DAY)}\u0000${channel}\u0000${userId}`;
  }

  count(userId: string, channel: CampaignChannel, dayMs: number): number {
    return this.#counts.get(this.#key(userId, channel, dayMs)) ?? 0;
  }

  add(userId: string, channel: CampaignChannel, dayMs: number, n = 1): void {
    const k = this.#key(userId, channel, dayMs);
    this.#counts.set(k, (this.#counts.get(k) ?? 0) + n);
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

/** Candidate rows ordered by score (descending), ties by a hash of the user so the order is stable. */
function rankOrder(s: ScoredCandidates): Uint32Array {
  const n = s.userIds.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const tie = new Uint32Array(n);
  for (let i = 0; i < n; i++) tie[i] = hashId(s.userIds[i] as string);
  const scores = s.scores;
  order.sort((a, b) => {
    const sa = scores[a] as number;
    const sb = scores[b] as number;
    const d = (Number.isNaN(sb) ? -1 : sb) - (Number.isNaN(sa) ? -1 : sa);
    return d !== 0 ? d : (tie[a] as number) - (tie[b] as number) || a - b;
  });
  return order;
}

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
  // allocations of this call, on top of the ledger's counts
  const used = new Map<string, number>();
  const capLeft = (userId: string, channel: CampaignChannel): number =>
    caps[channel] - ledger.count(userId, channel, day) - (used.get(`${channel}\u0000${userId}`) ?? 0);
  const take = (userId: string, channel: CampaignChannel): void => {
    const k = `${channel}\u0000${userId}`;
    used.set(k, (used.get(k) ?? 0) + 1);
  };

  const states = items.map((s) => {
    const c = s.campaign;
    const n = s.userIds.length;
    const outcome = new Uint8Array(n).fill(255);
    const rank = new Uint32Array(n);
    const order = rankOrder(s);
    for (let r = 0; r < n; r++) rank[order[r] as number] = r;
    const slots = Math.min(c.desiredAudienceSize, budgetCap(c));
    const exploreSlots = Math.round(slots * c.explorationShare);
    for (let i = 0; i < n; i++) {
      const pre = s.preExcluded?.[i] ?? 255;
      if (pre !== 255) outcome[i] = pre;
      else if (inHoldout(c.id, s.userIds[i] as string, c.holdoutShare)) outcome[i] = OUTCOME.holdout;
      else if (!((s.scores[i] as number) >= c.minScore)) outcome[i] = OUTCOME.min_score;
    }
    return {
      s,
      c,
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
    const user = st.s.userIds[row] as string;
    if (capLeft(user, st.c.channel) <= 0) {
      st.outcome[row] = OUTCOME.frequency_cap;
      return;
    }
    st.outcome[row] = OUTCOME.exploit;
    st.propensity[row] = 1;
    st.exploitLeft--;
    take(user, st.c.channel);
  };
  if (states.length === 1) {
    // one campaign: value order is score order, so no pair list is needed
    const st = states[0] as (typeof states)[number];
    for (let r = 0; r < st.order.length && st.exploitLeft > 0; r++) visit(st, st.order[r] as number);
  } else {
    const pairs: { st: number; row: number; value: number }[] = [];
    states.forEach((st, k) => {
      const v = outcomeValue(st.c);
      for (const row of st.order)
        if (st.outcome[row] === 255) pairs.push({ st: k, row, value: v * (st.s.scores[row] as number) });
    });
    pairs.sort(
      (a, b) =>
        b.value - a.value ||
        a.st - b.st ||
        ((states[a.st] as (typeof states)[number]).rank[a.row] as number) -
          ((states[b.st] as (typeof states)[number]).rank[b.row] as number),
    );
    for (const p of pairs) visit(states[p.st] as (typeof states)[number], p.row);
  }

  // explore: uniform among the eligible rows left (not held out, under the cap), by a stable hash order
  for (const st of states) {
    if (st.exploreSlots <= 0) continue;
    const pool: number[] = [];
    for (let row = 0; row < st.outcome.length; row++) {
      const o = st.outcome[row];
      if ((o === 255 || o === OUTCOME.min_score) && capLeft(st.s.userIds[row] as string, st.c.channel) > 0)
        pool.push(row);
    }
    const keys = new Map<number, number>();
    for (const row of pool) keys.set(row, exploreKey(st.c.id, st.s.userIds[row] as string));
    pool.sort((a, b) => (keys.get(a) as number) - (keys.get(b) as number) || a - b);
    const picks = Math.min(st.exploreSlots, pool.length);
    const p = pool.length ? picks / pool.length : 0;
    for (let j = 0; j < picks; j++) {
      const row = pool[j] as number;
      st.outcome[row] = OUTCOME.explore;
      st.propensity[row] = p;
      take(st.s.userIds[row] as string, st.c.channel);
    }
    for (let j = picks; j < pool.length; j++) st.propensity[pool[j] as number] = p;
  }

  return states.map((st) => {
    const counts = Object.fromEntries(POLICY_OUTCOMES.map((o) => [o, 0])) as Record<PolicyOutcome, number>;
    const n = st.outcome.length;
    for (let row = 0; row < n; row++) {
      if (st.outcome[row] === 255) st.outcome[row] = st.budgetBound ? OUTCOME.budget : OUTCOME.rank;
      counts[POLICY_OUTCOMES[st.outcome[row] as number] as PolicyOutcome]++;
    }
    const exploit: number[] = [];
    const explore: number[] = [];
    let lastExploitRank = -1;
    for (const row of st.order) {
      if (st.outcome[row] === OUTCOME.exploit) {
        exploit.push(row);
        lastExploitRank = st.rank[row] as number;
      } else if (st.outcome[row] === OUTCOME.explore) explore.push(row);
    }
    const holdout: number[] = [];
    for (const row of st.order) {
      if ((st.rank[row] as number) > lastExploitRank) break;
      if (st.outcome[row] === OUTCOME.holdout) holdout.push(row);
    }
    if (commit) for (const row of [...exploit, ...explore]) ledger.add(st.s.userIds[row] as string, st.c.channel, day);
    return {
      campaign: st.c,
      outcome: st.outcome,
      rank: st.rank,
      propensity: st.propensity,
      members: Uint32Array.from([...exploit, ...explore]),
      holdoutMembers: Uint32Array.from(holdout),
      slots: st.slots,
      counts,
    };
  });
}
