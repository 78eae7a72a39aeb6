import type { Clock } from '../core/index.js';
import type { CampaignRegistry, DecisionDeps, PolicyOutcome, SegmentIndex, StageCount } from '../decision/index.js';

/**
 * What audiences need of a deployment (`Deployment` from src/decision is one): where to keep them, the index and
 * the stores a decision reads, the campaigns, the clock. A benchmark or a test can hand a smaller one.
 */
export interface AudienceDeployment {
  readonly layout: { readonly root: string; readonly audiences: string };
  readonly manifest: { readonly controlShare: number };
  readonly index: SegmentIndex;
  readonly clock: Clock;
  readonly campaigns: Pick<CampaignRegistry, 'get' | 'getOrThrow'>;
  deps(): DecisionDeps;
}

/**
 * One campaign's scored candidates (the users retrieval kept), ascending by dense id: what a refresh re-runs the
 * policy over without re-scoring anyone it was not told about. Arrays are aligned by row.
 */
export interface AudienceCandidates {
  readonly userIds: readonly string[];
  /** The segment index's dense ids, ascending. */
  readonly dense: Uint32Array;
  /** Calibrated probability of the goal; NaN where a feature predicate excluded the user before scoring. */
  readonly scores: Float64Array;
  /** Index of the campaign's feature predicate the user failed, -1 when none. */
  readonly predicateFailed: Int16Array;
  /** Index into the version's `models` of the model that scored the row. */
  readonly modelIndex: Uint8Array;
  /** When the features the row was scored on were current: decision time minus the stalest view's age (ms). */
  readonly featuresTs: Float64Array;
  /** Decision time the row was scored at (a refresh re-scores only some rows). */
  readonly scoredTs: Float64Array;
}

/** Why one candidate is in or out: the policy's outcome codes (POLICY_OUTCOMES) per row, with rank and propensity. */
export interface AudienceSelection {
  readonly outcome: Uint8Array;
  readonly rank: Uint32Array;
  readonly propensity: Float64Array;
  /** Rows of the members, best first (exploit by rank, then exploration picks). */
  readonly members: Uint32Array;
  readonly slots: number;
}

/** Event time -> membership visible, for the users a refresh applied (ms). */
export interface FreshnessFigures {
  readonly users: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** What made a version: a full build, or a refresh of some users on top of its parent. */
export interface AudienceOrigin {
  readonly kind: 'build' | 'refresh';
  readonly parent: number | null;
  /** Users the refresh was told changed, how many it re-scored (changed or newly retrieved), membership changes. */
  readonly changedUsers?: number;
  readonly rescored?: number;
  readonly added?: number;
  readonly removed?: number;
  /** Shards the build ran as (1 in process). */
  readonly shards?: number;
  readonly freshness?: FreshnessFigures;
}

/** The description of a stored version (its file's header): all `list` and `describe` need. */
export interface AudienceSummary {
  readonly campaignId: string;
  readonly version: number;
  readonly createdTs: number;
  /** Decision time and the hour of day its scores used. */
  readonly decidedTs: number;
  readonly hourOfDay: number;
  readonly origin: AudienceOrigin;
  /** Model registry ids that scored rows of this version. */
  readonly models: readonly string[];
  readonly candidates: number;
  readonly members: number;
  /** Users left after each rule: candidates, suppressions, predicates, holdout, caps, final. */
  readonly stages: readonly StageCount[];
  readonly counts: Readonly<Record<PolicyOutcome, number>>;
  readonly slots: number;
}

/** A whole stored version. */
export interface AudienceVersion {
  readonly summary: AudienceSummary;
  readonly candidates: AudienceCandidates;
  readonly selection: AudienceSelection;
}

/** One member row, as listed and exported. */
export interface AudienceMember {
  readonly userId: string;
  /** 1 = best. Exploration picks follow the exploit members. */
  readonly position: number;
  readonly score: number;
  /** Rank by score among all candidates (0 = best). */
  readonly rank: number;
  /** 'exploit' or 'explore'. */
  readonly reason: PolicyOutcome;
  readonly propensity: number;
  readonly modelId: string;
  readonly featuresTs: number;
  readonly scoredTs: number;
}

/** What is new in a version (before `save` numbers it). */
export interface AudienceDraft {
  readonly campaignId: string;
  readonly decidedTs: number;
  readonly hourOfDay: number;
  readonly origin: AudienceOrigin;
  readonly models: readonly string[];
  readonly stages: readonly StageCount[];
  readonly counts: Readonly<Record<PolicyOutcome, number>>;
  readonly candidates: AudienceCandidates;
  readonly selection: AudienceSelection;
}

export interface MemberPage {
  readonly campaignId: string;
  readonly version: number;
  readonly total: number;
  readonly offset: number;
  readonly members: readonly AudienceMember[];
}

/**
 * Where audiences live: versioned per campaign, each version written whole and made current in one atomic step,
 * so a failed build or refresh leaves the previous version current and readable. The embedded adapter is
 * `FileAudienceStore`; an object store or SQL one implements the same port.
 */
export interface AudienceStore {
  /** Current versions of every campaign (or every version of one campaign, newest first). */
  list(campaignId?: string): Promise<AudienceSummary[]>;
  current(campaignId: string): Promise<AudienceSummary | null>;
  /** A version whole (default current); `AudienceNotFoundError` when absent. */
  get(campaignId: string, version?: number): Promise<AudienceVersion>;
  members(campaignId: string, version?: number, page?: { offset?: number; limit?: number }): Promise<MemberPage>;
  /** Stores a new version (numbered after the newest) and makes it current. */
  save(draft: AudienceDraft): Promise<AudienceSummary>;
  /** How refreshes treat the campaign (default: any change of a model input re-scores). */
  settings(campaignId: string): Promise<AudienceSettings>;
  saveSettings(campaignId: string, settings: AudienceSettings): Promise<void>;
  /** Notes a file exported from a version, so privacy deletions reach it too. */
  recordExport(entry: ExportRecord): Promise<void>;
  exports(): Promise<ExportRecord[]>;
  /** Removes these users from every version and every recorded export (a privacy deletion). */
  removeUsers(userIds: readonly string[]): Promise<{ removed: number }>;
  /** How many of these users appear anywhere under the store (the deletion verifier). */
  countUsers(userIds: readonly string[]): Promise<number>;
}

export const EXPORT_FORMATS = ['parquet', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportRecord {
  readonly campaignId: string;
  readonly version: number;
  readonly path: string;
  readonly format: ExportFormat;
  readonly rows: number;
  readonly createdTs: number;
}

/**
 * What counts as a major behaviour change for a campaign's refresh: any change of a view its model reads (default),
 * a change of a view holding one of the named features, or a re-score that moved the score by at least `minDelta`
 * (smaller moves keep the stored score, so the audience does not churn on noise).
 */
export type MajorChangeRule =
  | { readonly kind: 'model-inputs' }
  | { readonly kind: 'features'; readonly features: readonly string[] }
  | { readonly kind: 'score'; readonly minDelta: number };

export interface AudienceSettings {
  readonly majorChange: MajorChangeRule;
}

export const DEFAULT_AUDIENCE_SETTINGS: AudienceSettings = { majorChange: { kind: 'model-inputs' } };
