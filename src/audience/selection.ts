import {
  applyPolicy,
  type Campaign,
  type CampaignDecision,
  type DecisionDeps,
  type DecisionResult,
  POLICY_OUTCOMES,
  type PolicyOutcome,
  type StageCount,
} from '../decision/index.js';
import type { AudienceCandidates, AudienceSelection } from './audience.js';

/** Candidate rows of one campaign's decision, as the store keeps them (dense ids from the decision's index). */
export function candidatesOf(
  result: DecisionResult,
  d: CampaignDecision,
  denseOf: (userId: string) => number | undefined,
  modelIndex: number,
): AudienceCandidates {
  const n = d.userIds.length;
  const m = result.features;
  const rows = m.entityIds.length;
  const views = m.views.length;
  const dense = new Uint32Array(n);
  const featuresTs = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    dense[i] = denseOf(d.userIds[i] as string) as number;
    const fr = d.featureRows[i] as number;
    let oldest = 0;
    for (let k = 0; k < views; k++) {
      const age = m.ageMs[k * rows + fr] as number;
      if (age > oldest) oldest = age;
    }
    featuresTs[i] = result.atMs - oldest;
  }
  return {
    userIds: d.userIds,
    dense,
    scores: Float64Array.from(d.scores),
    predicateFailed: Int16Array.from(d.predicateFailed),
    modelIndex: new Uint8Array(n).fill(modelIndex),
    featuresTs,
    scoredTs: new Float64Array(n).fill(result.atMs),
  };
}

/** Candidates of several parts (shards, or kept and re-scored rows) merged ascending by dense id. */
export function mergeCandidates(parts: readonly AudienceCandidates[]): AudienceCandidates {
  const refs: [number, number][] = [];
  parts.forEach((p, k) => {
    for (let i = 0; i < p.dense.length; i++) refs.push([k, i]);
  });
  refs.sort((a, b) => (parts[a[0]]?.dense[a[1]] as number) - (parts[b[0]]?.dense[b[1]] as number));
  const n = refs.length;
  const out = emptyCandidates(n);
  const userIds: string[] = new Array(n);
  refs.forEach(([k, i], j) => {
    const p = parts[k] as AudienceCandidates;
    userIds[j] = p.userIds[i] as string;
    out.dense[j] = p.dense[i] as number;
    out.scores[j] = p.scores[i] as number;
    out.predicateFailed[j] = p.predicateFailed[i] as number;
    out.modelIndex[j] = p.modelIndex[i] as number;
    out.featuresTs[j] = p.featuresTs[i] as number;
    out.scoredTs[j] = p.scoredTs[i] as number;
  });
  return { ...out, userIds };
}

export function emptyCandidates(n: number): AudienceCandidates & { userIds: string[] } {
  return {
    userIds: [],
    dense: new Uint32Array(n),
    scores: new Float64Array(n),
    predicateFailed: new Int16Array(n),
    modelIndex: new Uint8Array(n),
    featuresTs: new Float64Array(n),
    scoredTs: new Float64Array(n),
  };
}

const FEATURE_PREDICATE = POLICY_OUTCOMES.indexOf('feature_predicate');

/**
 * The policy over stored candidates (no re-scoring): the decision's own `applyPolicy`, on the rows and scores the
 * audience holds, so a refresh selects exactly as a full decision over the same scores would. Nothing is recorded
 * in the cap ledger: an audience is a list; what is sent from it is charged when it is sent.
 */
export function selectAudience(
  c: Campaign,
  cands: AudienceCandidates,
  deps: Pick<DecisionDeps, 'ledger' | 'capsPerDay'>,
  atMs: number,
): { selection: AudienceSelection; counts: Record<PolicyOutcome, number> } {
  const n = cands.userIds.length;
  const preExcluded = new Uint8Array(n).fill(255);
  for (let i = 0; i < n; i++) if ((cands.predicateFailed[i] as number) >= 0) preExcluded[i] = FEATURE_PREDICATE;
  const [d] = applyPolicy(
    [{ campaign: c, userIds: cands.userIds, scores: cands.scores, preExcluded, denseIds: cands.dense }],
    {
      atMs,
      ...(deps.ledger ? { ledger: deps.ledger } : {}),
      ...(deps.capsPerDay ? { capsPerDay: deps.capsPerDay } : {}),
      commit: false,
    },
  );
  const p = d as NonNullable<typeof d>;
  return {
    selection: { outcome: p.outcome, rank: p.rank, propensity: p.propensity, members: p.members, slots: p.slots },
    counts: { ...p.counts },
  };
}

/** Users left after each rule, as `decide` reports them: retrieval's, the feature predicates, then the policy's. */
export function stagesOf(
  c: Campaign,
  retrieval: readonly StageCount[],
  cands: AudienceCandidates,
  counts: Readonly<Record<PolicyOutcome, number>>,
): StageCount[] {
  const stages = [...retrieval];
  let remaining = stages.length ? (stages[stages.length - 1] as StageCount).remaining : cands.userIds.length;
  if (c.targeting.features.length) {
    remaining -= counts.feature_predicate;
    stages.push({ stage: 'score', rule: 'feature_predicate', remaining });
  }
  for (const o of ['holdout', 'min_score', 'frequency_cap', 'rank', 'budget'] as const) {
    if (counts[o] === 0) continue;
    remaining -= counts[o];
    stages.push({ stage: 'policy', rule: o, remaining });
  }
  return stages;
}

export function countsOf(outcome: Uint8Array): Record<PolicyOutcome, number> {
  const byCode = new Uint32Array(POLICY_OUTCOMES.length);
  for (const o of outcome) byCode[o] = (byCode[o] as number) + 1;
  return Object.fromEntries(POLICY_OUTCOMES.map((o, i) => [o, byCode[i] as number])) as Record<PolicyOutcome, number>;
}
