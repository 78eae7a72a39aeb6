import type { FeatureMatrix } from '../core/index.js';
import type { ReadBuffers } from '../features/index.js';
import type { Campaign, CampaignChannel } from './campaign.js';
import {
  applyPolicy,
  type CapLedger,
  inControlGroup,
  MemoryCapLedger,
  OUTCOME,
  POLICY_OUTCOMES,
  type PolicyDecision,
  type PolicyOutcome,
} from './policy.js';
import { type RetrievalRule, retrievalReason, retrieve, type StageCount } from './retrieval.js';
import {
  type ColumnPlan,
  type DecisionContext,
  type Degradation,
  degradationsOf,
  evaluatePredicates,
  type FeatureSource,
  gatherInput,
  type ModelResolver,
  planColumns,
  type ScoringModel,
  viewAgesOf,
} from './scoring.js';
import type { SegmentIndex } from './segment-index.js';
import { newBitmap, orBitmaps } from './segment-index.js';

export interface DecisionDeps {
  readonly index: SegmentIndex;
  readonly features: FeatureSource;
  readonly models: ModelResolver;
  /** Sends per user, channel and day across campaigns (shared by every decision of a deployment). */
  readonly ledger?: CapLedger;
  readonly capsPerDay?: Readonly<Record<CampaignChannel, number>>;
  /** Share of users in the global control group (by a hash of the user id), never reached by any campaign. */
  readonly controlShare?: number;
  /**
   * Memory lent to the feature read (a launch over 1M candidates reads a 1M x 200 matrix): reused by every
   * decision given it, so a result's `features` stay valid only until the next decision with the same buffers.
   */
  readonly readBuffers?: ReadBuffers;
}

export interface DecideOptions {
  readonly atMs: number;
  readonly context?: DecisionContext;
  /** Decide only for these users (an online request, a refresh); by default for every candidate. */
  readonly userIds?: readonly string[];
  /** Record the audience's sends in the cap ledger (a launch) or not (a preview, an evaluation). Default true. */
  readonly commit?: boolean;
}

/** One campaign's decision over its candidates (the users retrieval kept); rows as in the policy's decision. */
export interface CampaignDecision extends Omit<PolicyDecision, 'counts'> {
  readonly model: ScoringModel;
  /** Candidates after retrieval and the control group, by dense id. */
  readonly userIds: readonly string[];
  /** Row of each candidate in the shared feature matrix. */
  readonly featureRows: Uint32Array;
  /** Calibrated probability of the campaign's goal; NaN where a feature predicate excluded the user first. */
  readonly scores: Float64Array;
  /** Index of the feature predicate each candidate failed, -1 when none. */
  readonly predicateFailed: Int16Array;
  /** Users left after each rule, retrieval through policy: "estimated 604K, sent 346K" explained. */
  readonly stages: readonly StageCount[];
}

export interface DecisionResult {
  readonly atMs: number;
  /** The hour the campaigns' hour column was scored with. */
  readonly hourOfDay: number;
  readonly features: FeatureMatrix;
  readonly campaigns: readonly CampaignDecision[];
  /** Wall time of each stage of this call (ms): where a launch's time goes. */
  readonly timingsMs: {
    readonly retrieve: number;
    readonly featureRead: number;
    readonly score: number;
    readonly policy: number;
  };
}

/**
 * The decision, for batch launches and online requests alike: retrieve each campaign's candidates on the bitmaps,
 * read their features once through the feature source, score them with the champion of the campaign's goal, and
 * apply the policy to all campaigns together (caps are shared). A restricted call (`userIds`) checks the same
 * rules user by user instead of over the whole population, so both give the same answer for the same user.
 */
export async function decide(
  campaigns: readonly Campaign[],
  deps: DecisionDeps,
  opts: DecideOptions,
): Promise<DecisionResult> {
  const { index } = deps;
  const atMs = opts.atMs;
  const controlShare = deps.controlShare ?? 0;
  const ctx = { atMs };
  const hourOfDay = opts.context?.hourOfDay ?? new Date(atMs).getUTCHours();

  let clock = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const d = now - clock;
    clock = now;
    return d;
  };

  // stage 1: retrieval
  const request = opts.userIds ? requestUsers(opts.userIds, index, controlShare) : null;
  const retrieved = campaigns.map((c) => {
    if (!request) {
      // the control group as one more suppression bitmap (cached in the index), not a hash per candidate
      const r = retrieve(c, index, controlShare > 0 ? { atMs, controlGroup: index.controlGroup(controlShare) } : ctx);
      return { c, dense: r.candidates.toUint32Array(), stages: [...r.stages] };
    }
    const kept: number[] = [];
    const lost = new Map<RetrievalRule, number>();
    for (const d of request.dense) {
      const why = retrievalReason(c, index, d, ctx);
      if (why) lost.set(why.rule, (lost.get(why.rule) ?? 0) + 1);
      else kept.push(d as number);
    }
    let dense = Uint32Array.from(kept).sort();
    let remaining = request.asked;
    const stages: StageCount[] = [...lost.entries()].map(([rule, n]) => {
      remaining -= n;
      return { stage: 'retrieve' as const, rule, remaining };
    });
    if (controlShare > 0) {
      dense = dense.filter((d) => !request.control.has(d));
      stages.push({ stage: 'retrieve', rule: 'control_group', remaining: dense.length });
    }
    return { c, dense, stages };
  });

  // one feature read for the union of candidates (each campaign's dense ids are ascending)
  const unionDense = unionOf(retrieved.map((r) => r.dense));
  const retrieveMs = lap();
  const unionUsers = index.users.usersOf(unionDense);
  const features = await deps.features.read(unionUsers, atMs, { hourOfDay }, deps.readBuffers);
  const featureReadMs = lap();

  // stage 2: predicates and scoring
  const scorer = new CallScorer(features);
  const scoredItems = retrieved.map(({ c, dense, stages }) => {
    const model = deps.models.forCampaign(c);
    const rows = rowsIn(unionDense, dense);
    const { failed } = evaluatePredicates(c, features, rows);
    const pass = new Uint32Array(rows.length);
    let passed = 0;
    for (let i = 0; i < rows.length; i++) if ((failed[i] as number) < 0) pass[passed++] = i;
    if (c.targeting.features.length) stages.push({ stage: 'score', rule: 'feature_predicate', remaining: passed });
    const plan = cachedPlan(model, features.columns, c, hourOfDay);
    let scoreRows = rows;
    if (passed < rows.length) {
      scoreRows = new Uint32Array(passed);
      for (let k = 0; k < passed; k++) scoreRows[k] = rows[pass[k] as number] as number;
    }
    const probs = scorer.score(model, plan, scoreRows);
    let scores = probs;
    if (passed < rows.length) {
      scores = new Float64Array(rows.length).fill(Number.NaN);
      for (let k = 0; k < passed; k++) scores[pass[k] as number] = probs[k] as number;
    }
    const preExcluded = new Uint8Array(rows.length).fill(255);
    for (let i = 0; i < rows.length; i++) if ((failed[i] as number) >= 0) preExcluded[i] = OUTCOME.feature_predicate;
    // the user ids of the candidates: the read's own list when the campaign's candidates are the union
    const userIds = dense === unionDense ? unionUsers : index.users.usersOf(dense);
    return { c, model, dense, userIds, rows, failed, scores, preExcluded, stages };
  });

  const scoreMs = lap();

  // stage 3: policy over all campaigns together
  const decisions = applyPolicy(
    scoredItems.map((s) => ({
      campaign: s.c,
      userIds: s.userIds,
      scores: s.scores,
      preExcluded: s.preExcluded,
      denseIds: s.dense,
    })),
    {
      atMs,
      ledger: deps.ledger ?? new MemoryCapLedger(),
      ...(deps.capsPerDay ? { capsPerDay: deps.capsPerDay } : {}),
      commit: opts.commit ?? true,
    },
  );

  const policyMs = lap();
  return {
    atMs,
    hourOfDay,
    features,
    timingsMs: { retrieve: retrieveMs, featureRead: featureReadMs, score: scoreMs, policy: policyMs },
    campaigns: scoredItems.map((s, k) => {
      const d = decisions[k] as (typeof decisions)[number];
      const stages = [...s.stages];
      let remaining = stages.length ? (stages[stages.length - 1] as StageCount).remaining : s.dense.length;
      for (const o of ['holdout', 'min_score', 'frequency_cap', 'rank', 'budget'] as const) {
        if (d.counts[o] === 0) continue;
        remaining -= d.counts[o];
        stages.push({ stage: 'policy', rule: o, remaining });
      }
      return {
        campaign: s.c,
        model: s.model,
        userIds: s.userIds,
        featureRows: s.rows,
        scores: s.scores,
        predicateFailed: s.failed,
        outcome: d.outcome,
        rank: d.rank,
        propensity: d.propensity,
        members: d.members,
        holdoutMembers: d.holdoutMembers,
        slots: d.slots,
        stages,
      };
    }),
  };
}

/** Ascending union of ascending dense-id lists: sorted in place when small (a request), on bitmaps when large. */
function unionOf(lists: readonly Uint32Array[]): Uint32Array {
  if (lists.length === 1) return lists[0] as Uint32Array;
  let total = 0;
  for (const l of lists) total += l.length;
  if (total > 65_536) return orBitmaps(lists.map((l) => newBitmap(l))).toUint32Array();
  const all = new Uint32Array(total);
  let at = 0;
  for (const l of lists) {
    all.set(l, at);
    at += l.length;
  }
  all.sort();
  let k = 0;
  for (let i = 0; i < total; i++) if (i === 0 || all[i] !== all[i - 1]) all[k++] = all[i] as number;
  return all.slice(0, k);
}

/** Rows of the union's feature matrix holding `dense` (both ascending, `dense` a subset of `union`). */
function rowsIn(union: Uint32Array, dense: Uint32Array): Uint32Array {
  if (dense === union) return Uint32Array.from({ length: union.length }, (_, i) => i);
  const rows = new Uint32Array(dense.length);
  let j = 0;
  for (let i = 0; i < dense.length; i++) {
    const d = dense[i] as number;
    while ((union[j] as number) !== d) j++;
    rows[i] = j;
  }
  return rows;
}

/**
 * Rows per scoring chunk: the chunk's model input (rows x columns Float32) is gathered into one reused buffer and
 * scored by the compiled kernel, instead of one copy of the whole candidates' input (800 MB for 1M x 200).
 */
const SCORE_CHUNK_ROWS = 8192;

/** Up to this many rows, each is scored by `predictRow` (equal to the batch kernel's result, without its setup). */
const ROW_BY_ROW = 4;

const plans = new WeakMap<
  ScoringModel,
  WeakMap<Campaign, { columns: readonly string[]; hour: number; plan: ColumnPlan }>
>();

/**
 * `planColumns`, kept per (model, campaign) while the matrix columns and the hour stay the same: an online request
 * for 50 campaigns would otherwise map 200 column names per campaign per call.
 */
function cachedPlan(model: ScoringModel, columns: readonly string[], c: Campaign, hour: number): ColumnPlan {
  let byCampaign = plans.get(model);
  if (!byCampaign) {
    byCampaign = new WeakMap();
    plans.set(model, byCampaign);
  }
  const hit = byCampaign.get(c);
  if (hit && hit.hour === hour && (hit.columns === columns || sameNames(hit.columns, columns))) return hit.plan;
  const plan = planColumns(model, columns, c, hour);
  byCampaign.set(c, { columns, hour, plan });
  return plan;
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The users of a request once: dense ids (repeats dropped, unknown users kept as undefined), control group. */
function requestUsers(
  userIds: readonly string[],
  index: SegmentIndex,
  controlShare: number,
): { dense: (number | undefined)[]; asked: number; control: Set<number> } {
  const dense: (number | undefined)[] = [];
  const seen = new Set<number>();
  const control = new Set<number>();
  for (const u of userIds) {
    const d = index.users.denseOf(u);
    if (d !== undefined) {
      if (seen.has(d)) continue;
      seen.add(d);
      if (controlShare > 0 && inControlGroup(u, controlShare)) control.add(d);
    }
    dense.push(d);
  }
  return { dense, asked: userIds.length, control };
}

/**
 * Scores within one decision: one input buffer for every campaign, and one scoring per (model, plan signature,
 * rows). Campaigns that a model scores with the same inputs (the same campaign features, the same candidates)
 * get the same probabilities, so the second one copies them instead of walking the trees again.
 */
class CallScorer {
  readonly #m: FeatureMatrix;
  #buffer = new Float32Array(0);
  readonly #done = new Map<ScoringModel, Map<string, { rows: Uint32Array; probs: Float64Array }>>();

  constructor(m: FeatureMatrix) {
    this.#m = m;
  }

  score(model: ScoringModel, plan: ColumnPlan, rows: Uint32Array): Float64Array {
    let bySignature = this.#done.get(model);
    if (!bySignature) {
      bySignature = new Map();
      this.#done.set(model, bySignature);
    }
    const hit = bySignature.get(plan.signature);
    if (hit && sameRows(hit.rows, rows)) return hit.probs.slice();
    const probs = this.#scoreInChunks(model, plan, rows);
    bySignature.set(plan.signature, { rows, probs });
    return probs;
  }

  /** Calibrated probabilities of `rows` (rows of the feature matrix), scored chunk by chunk. */
  #scoreInChunks(model: ScoringModel, plan: ColumnPlan, rows: Uint32Array): Float64Array {
    const m = this.#m;
    const n = rows.length;
    const out = new Float64Array(n);
    const size = Math.min(n, SCORE_CHUNK_ROWS) * plan.sources.length;
    if (this.#buffer.length < size) this.#buffer = new Float32Array(size);
    const buffer = this.#buffer;
    if (n <= ROW_BY_ROW) {
      for (let i = 0; i < n; i++)
        out[i] = model.model.predictRow(gatherInput(m, plan, rows.subarray(i, i + 1), buffer));
      return out;
    }
    for (let from = 0; from < n; from += SCORE_CHUNK_ROWS) {
      const chunk = rows.subarray(from, Math.min(n, from + SCORE_CHUNK_ROWS));
      const input = gatherInput(m, plan, chunk, buffer);
      model.model.predict({ rows: chunk.length, values: input }, out.subarray(from, from + chunk.length));
    }
    return out;
  }
}

function sameRows(a: Uint32Array, b: Uint32Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Why a candidate is in or out of the audience, with what it was scored on. */
export interface CandidateReason {
  readonly userId: string;
  readonly included: boolean;
  readonly stage: 'retrieve' | 'score' | 'policy';
  readonly rule: PolicyOutcome | RetrievalRule | 'control_group';
  readonly detail: string;
  readonly score: number | null;
  readonly rank: number | null;
  readonly propensity: number | null;
  /** Top feature contributions to the score's margin (log-odds), largest first. */
  readonly contributions: readonly { feature: string; contribution: number }[];
  readonly featureAgesMs: Record<string, number>;
  readonly degraded: readonly Degradation[];
}

/** The reason of one candidate row of a campaign decision (top `k` contributions for users that were scored). */
export function candidateReason(result: DecisionResult, d: CampaignDecision, row: number, k = 3): CandidateReason {
  const m = result.features;
  const fr = d.featureRows[row] as number;
  const outcome = POLICY_OUTCOMES[d.outcome[row] as number] as PolicyOutcome;
  const score = d.scores[row] as number;
  const scored = !Number.isNaN(score);
  let contributions: { feature: string; contribution: number }[] = [];
  if (scored && d.model.contributions) {
    const plan = cachedPlan(d.model, m.columns, d.campaign, result.hourOfDay);
    const one = gatherInput(m, plan, Uint32Array.of(fr));
    contributions = d.model.contributions
      .top((f) => one[f] as number, k)
      .map((t) => ({ feature: d.model.columns[t.feature]?.name ?? String(t.feature), contribution: t.contribution }));
  }
  const pf = d.predicateFailed[row] as number;
  const detail =
    outcome === 'feature_predicate'
      ? `failed ${d.campaign.targeting.features[pf]?.text}`
      : outcome === 'exploit'
        ? `rank ${(d.rank[row] as number) + 1} of ${d.userIds.length}`
        : outcome === 'explore'
          ? 'exploration pick'
          : outcome === 'min_score'
            ? `score below ${d.campaign.minScore}`
            : outcome === 'rank'
              ? `rank ${(d.rank[row] as number) + 1} beyond the ${d.slots} slots`
              : outcome === 'budget'
                ? `beyond the ${d.slots} sends the budget pays for`
                : outcome === 'frequency_cap'
                  ? `${d.campaign.channel} cap reached by higher-value campaigns`
                  : 'in the campaign holdout';
  return {
    userId: d.userIds[row] as string,
    included: outcome === 'exploit' || outcome === 'explore',
    stage: outcome === 'feature_predicate' ? 'score' : 'policy',
    rule: outcome,
    detail,
    score: scored ? score : null,
    rank: scored ? (d.rank[row] as number) : null,
    propensity: outcome === 'exploit' || outcome === 'explore' ? (d.propensity[row] as number) : null,
    contributions,
    featureAgesMs: viewAgesOf(m, fr),
    degraded: degradationsOf(m, fr),
  };
}
