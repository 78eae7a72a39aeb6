import { join } from 'node:path';
import {
  BackendUnavailableError,
  FEATURE_STATUSES,
  type Logger,
  type MetricsRegistry,
  silentLogger,
} from '../core/index.js';
import {
  type Campaign,
  type CampaignDecision,
  candidateReason,
  type DecisionDeps,
  type DecisionResult,
  type Deployment,
  decide,
  inControlGroup,
  POLICY_OUTCOMES,
  type PolicyOutcome,
  retrievalReason,
} from '../decision/index.js';
import { CircuitBreaker } from './breaker.js';
import { DeadlineExceededError } from './errors.js';
import { CachedModelResolver } from './model-cache.js';
import type { BatchSnapshotSource } from './snapshot-source.js';

/** Why an answer is less than the full online decision (besides per-view statuses `<view>:<status>`). */
export const DEGRADED_REASONS = ['online_store_unavailable', 'deadline_exceeded', 'snapshot_unavailable'] as const;
export type DegradedReason = (typeof DEGRADED_REASONS)[number];

export interface DecisionRequestContext {
  readonly hourOfDay?: number;
  /** The platform the request comes from: a campaign targeting other platforms is not shown here. */
  readonly platform?: string;
}

/** One campaign's answer for one user. */
export interface CampaignAnswer {
  readonly campaignId: string;
  readonly included: boolean;
  /** Calibrated probability of the campaign's goal; null when the user was excluded before scoring. */
  readonly score: number | null;
  /** 0-based rank among the scored candidates (0 for a one-user request), null when not scored. */
  readonly rank: number | null;
  readonly propensity: number | null;
  readonly stage: 'retrieve' | 'score' | 'policy' | 'request';
  readonly rule: string;
  readonly detail?: string;
  readonly contributions?: readonly { feature: string; contribution: number }[];
  /** The model that scored it (registry id), null when not scored. */
  readonly modelVersion: string | null;
  /** What was not served fresh: answer-wide reasons and `<view>:<status>` of the views this user had degraded. */
  readonly degraded: readonly string[];
}

export interface UserAnswer {
  readonly userId: string;
  readonly campaigns: readonly CampaignAnswer[];
  /** `online` (the online store) or `batch_snapshot` (the fallback). */
  readonly featureSource: 'online' | 'batch_snapshot';
  /** Age of each view as served, ms (-1 unknown). */
  readonly featureAgesMs: Readonly<Record<string, number>>;
  readonly degraded: readonly string[];
}

export interface OnlineDecision {
  readonly atMs: number;
  readonly users: readonly UserAnswer[];
  readonly result: DecisionResult;
  readonly featureSource: 'online' | 'batch_snapshot';
  readonly reasons: readonly DegradedReason[];
}

export interface OnlineDeciderOptions {
  readonly snapshot?: () => BatchSnapshotSource | null;
  readonly breaker?: CircuitBreaker;
  readonly metrics?: MetricsRegistry;
  readonly logger?: Logger;
  /** Record sends in the cap ledger (default false: the API answers, the caller sends). */
  readonly commit?: boolean;
}

const STAGE_NAMES = ['retrieve', 'featureRead', 'score', 'policy'] as const;

/**
 * Online decisions: the decision library's `decide` restricted to the request's users, on the online store and
 * the champions, with a deadline and a circuit breaker. When the online store fails, times out or its breaker is
 * open, the same decision is made on the batch snapshot with the fallback models, and the answer says so.
 */
export class OnlineDecider {
  readonly deployment: Deployment;
  readonly breaker: CircuitBreaker;
  readonly #online: DecisionDeps;
  readonly #models: CachedModelResolver;
  readonly #fallbackModels: CachedModelResolver;
  readonly #snapshot: () => BatchSnapshotSource | null;
  readonly #logger: Logger;
  readonly #commit: boolean;
  readonly #degradedAnswers;
  readonly #stageMs;
  readonly #sourceCount;
  /** Views filled from the request (the hour): never stored, so never a degradation. */
  readonly #requestViews: ReadonlySet<string>;

  constructor(deployment: Deployment, options: OnlineDeciderOptions = {}) {
    this.deployment = deployment;
    this.breaker = options.breaker ?? new CircuitBreaker();
    const registryFile = join(deployment.layout.models, 'registry.json');
    const online = deployment.deps({ features: 'online', models: 'champion' });
    this.#models = new CachedModelResolver(online.models, registryFile);
    this.#online = { ...online, models: this.#models };
    this.#fallbackModels = new CachedModelResolver(deployment.fallbackModels(), registryFile);
    this.#snapshot = options.snapshot ?? (() => null);
    this.#logger = options.logger ?? silentLogger;
    this.#commit = options.commit ?? false;
    this.#requestViews = new Set(
      deployment.store
        .definitions()
        .views.filter((v) => v.source.kind === 'request')
        .map((v) => v.name),
    );
    const metrics = options.metrics;
    this.#degradedAnswers = metrics?.counter({
      name: 'adnova_serving_degraded_answers_total',
      help: 'Decision answers that were degraded, by reason',
      labelNames: ['reason'],
    });
    this.#stageMs = metrics?.histogram({
      name: 'adnova_serving_decision_stage_ms',
      help: 'Time of each stage of an online decision (ms)',
      labelNames: ['stage'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 250],
    });
    this.#sourceCount = metrics?.counter({
      name: 'adnova_serving_decisions_total',
      help: 'Online decision calls by feature source',
      labelNames: ['source'],
    });
  }

  /**
   * Loads and compiles the champion and fallback model of every campaign given (the first decision would pay it
   * inside its deadline otherwise) and runs one decision for `userId` to warm the code paths. Failures are left
   * to the first real request to report.
   */
  async warm(campaigns: readonly Campaign[], userId?: string): Promise<void> {
    for (const c of campaigns) {
      try {
        this.#online.models.forCampaign(c);
        this.#fallbackModels.forCampaign(c);
      } catch {
        // a campaign without a model answers its error when asked
      }
    }
    if (userId === undefined || campaigns.length === 0) return;
    try {
      await decide(campaigns.slice(0, 50), this.#online, {
        atMs: this.deployment.clock.now(),
        userIds: [userId],
        commit: false,
      });
    } catch {
      // the online store may be down at start: the breaker learns it from requests
    }
  }

  /**
   * Decides `campaigns` for `userIds`. `deadlineMs` bounds the online attempt; past it the snapshot answers,
   * flagged `deadline_exceeded`. Throws `DeadlineExceededError` only when no snapshot can answer instead.
   */
  async decide(
    userIds: readonly string[],
    campaigns: readonly Campaign[],
    options: { context?: DecisionRequestContext; deadlineMs: number; explain?: boolean },
  ): Promise<OnlineDecision> {
    const atMs = this.deployment.clock.now();
    this.#models.refresh();
    this.#fallbackModels.refresh();
    const ctx = options.context?.hourOfDay === undefined ? {} : { hourOfDay: options.context.hourOfDay };
    const opts = { atMs, userIds, commit: this.#commit, context: ctx };
    let reasons: DegradedReason[] = [];
    if (this.breaker.allow()) {
      const attempt = decide(campaigns, this.#online, opts);
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<'deadline'>((res) => {
        timer = setTimeout(() => res('deadline'), options.deadlineMs);
      });
      try {
        const r = await Promise.race([attempt, deadline]);
        if (r !== 'deadline') {
          this.breaker.success();
          return this.#answer(r, campaigns, userIds, 'online', [], options);
        }
        attempt.catch(() => {}); // it may still fail after the deadline answered
        this.breaker.failure();
        reasons = ['deadline_exceeded'];
      } catch (err) {
        if (!(err instanceof BackendUnavailableError)) throw err;
        this.breaker.failure();
        this.#logger.warn({ err: err.message }, 'online store failed; answering from the batch snapshot');
        reasons = ['online_store_unavailable'];
      } finally {
        clearTimeout(timer);
      }
    } else reasons = ['online_store_unavailable'];
    const snapshot = this.#snapshot();
    if (!snapshot) {
      for (const r of [...reasons, 'snapshot_unavailable']) this.#degradedAnswers?.inc({ reason: r });
      throw reasons.includes('deadline_exceeded')
        ? new DeadlineExceededError(
            `the decision did not finish in ${options.deadlineMs} ms and no batch snapshot is loaded`,
          )
        : new BackendUnavailableError('the online store is unavailable and no batch snapshot is loaded yet');
    }
    const deps: DecisionDeps = { ...this.#online, features: snapshot, models: this.#fallbackModels };
    const r = await decide(campaigns, deps, opts);
    return this.#answer(r, campaigns, userIds, 'batch_snapshot', reasons, options);
  }

  #answer(
    r: DecisionResult,
    campaigns: readonly Campaign[],
    userIds: readonly string[],
    source: 'online' | 'batch_snapshot',
    reasons: DegradedReason[],
    options: { context?: DecisionRequestContext; explain?: boolean },
  ): OnlineDecision {
    this.#sourceCount?.inc({ source });
    for (const s of STAGE_NAMES) this.#stageMs?.observe({ stage: s }, r.timingsMs[s]);
    for (const reason of reasons) this.#degradedAnswers?.inc({ reason });
    const m = r.features;
    const rowOfUser = new Map<string, number>();
    for (let i = 0; i < m.entityIds.length; i++) rowOfUser.set(m.entityIds[i] as string, i);
    const rowsOf = r.campaigns.map((d) => {
      const map = new Map<string, number>();
      for (let i = 0; i < d.userIds.length; i++) map.set(d.userIds[i] as string, i);
      return map;
    });
    const index = this.deployment.index;
    const controlShare = this.deployment.manifest.controlShare;
    const platform = options.context?.platform;
    let viewDegraded = false;
    const users = userIds.map((userId): UserAnswer => {
      const fr = rowOfUser.get(userId);
      const ages: Record<string, number> = {};
      const userDegraded: string[] = [...reasons];
      if (fr !== undefined) {
        const rows = m.entityIds.length;
        m.views.forEach((v, k) => {
          ages[v.name] = m.ageMs[k * rows + fr] as number;
          const s = m.status[k * rows + fr] as number;
          if (s === 0 || this.#requestViews.has(v.name)) return;
          const tag = `${v.name}:${FEATURE_STATUSES[s]}`;
          if (!userDegraded.includes(tag)) userDegraded.push(tag);
        });
      }
      if (userDegraded.length > reasons.length) viewDegraded = true;
      const answers = campaigns.map((c, k): CampaignAnswer => {
        const d = r.campaigns[k] as CampaignDecision;
        if (platform !== undefined && c.targeting.platforms && !c.targeting.platforms.includes(platform as never))
          return notScored(c, 'request', 'platform', `request platform ${platform} is not targeted`, []);
        const row = rowsOf[k]?.get(userId);
        if (row === undefined) {
          const why = retrievalReason(c, index, index.users.denseOf(userId), { atMs: r.atMs });
          if (why) return notScored(c, 'retrieve', why.rule, why.detail, []);
          if (inControlGroup(userId, controlShare))
            return notScored(c, 'retrieve', 'control_group', 'in the global control group', []);
          return notScored(c, 'retrieve', 'known_user', 'not a candidate', []);
        }
        if (options.explain) {
          const why = candidateReason(r, d, row);
          return {
            campaignId: c.id,
            included: why.included,
            score: why.score,
            rank: why.rank,
            propensity: why.propensity,
            stage: why.stage,
            rule: why.rule,
            detail: why.detail,
            contributions: why.contributions,
            modelVersion: d.model.id,
            degraded: userDegraded,
          };
        }
        const outcome = POLICY_OUTCOMES[d.outcome[row] as number] as PolicyOutcome;
        const score = d.scores[row] as number;
        const scored = !Number.isNaN(score);
        const included = outcome === 'exploit' || outcome === 'explore';
        return {
          campaignId: c.id,
          included,
          score: scored ? score : null,
          rank: scored ? (d.rank[row] as number) : null,
          propensity: included ? (d.propensity[row] as number) : null,
          stage: outcome === 'feature_predicate' ? 'score' : 'policy',
          rule: outcome,
          modelVersion: d.model.id,
          degraded: userDegraded,
        };
      });
      return {
        userId,
        campaigns: answers,
        featureSource: source,
        featureAgesMs: ages,
        degraded: userDegraded,
      };
    });
    if (viewDegraded) this.#degradedAnswers?.inc({ reason: 'view_degraded' });
    return { atMs: r.atMs, users, result: r, featureSource: source, reasons };
  }
}

function notScored(
  c: Campaign,
  stage: CampaignAnswer['stage'],
  rule: string,
  detail: string,
  degraded: string[],
): CampaignAnswer {
  return {
    campaignId: c.id,
    included: false,
    score: null,
    rank: null,
    propensity: null,
    stage,
    rule,
    detail,
    modelVersion: null,
    degraded,
  };
}
