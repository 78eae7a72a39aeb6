/**
 * What serving calls in other modules, in serving's own terms. The audience and privacy modules implement these
 * (adapters wired by `adnova serve`); serving never imports them.
 */

/** A privacy deletion request as the API reports it. */
export interface DeletionReceipt {
  readonly id: string;
  readonly status: string;
  readonly requestedBy: string;
  readonly userCount: number;
  /** Whatever the privacy module reports per store (erased counts, verification); passed through as JSON. */
  readonly [extra: string]: unknown;
}

export interface DeletionRequests {
  submit(userIds: readonly string[], requestedBy: string): Promise<{ readonly id: string; readonly status: string }>;
  status(id: string): Promise<DeletionReceipt | null>;
}

/** One built version of a campaign's audience. */
export interface AudienceVersionInfo {
  readonly campaignId: string;
  readonly version: number;
  readonly size: number;
  readonly builtAt: string;
  readonly [extra: string]: unknown;
}

/** Users left after each rule of a build (retrieval through policy). */
export interface AudienceStageCount {
  readonly stage: string;
  readonly rule: string;
  readonly remaining: number;
}

export interface AudienceBuildStatus {
  readonly campaignId: string;
  readonly state: 'queued' | 'running' | 'done' | 'failed';
  readonly version: number | null;
  readonly error?: string;
  readonly [extra: string]: unknown;
}

export interface AudienceApi {
  /** Starts a build of the campaign's audience; returns at once with its status. */
  build(campaignId: string, requestedBy: string): Promise<AudienceBuildStatus>;
  /** The latest build's status, or null when the campaign was never built. */
  status(campaignId: string): Promise<AudienceBuildStatus | null>;
  /** Member user ids of a version (the current one by default), paged. */
  members(
    campaignId: string,
    options: { version?: number; offset: number; limit: number },
  ): Promise<{ version: number; total: number; userIds: readonly string[] } | null>;
  /** Writes an export of a version and says where (the file or the destination's receipt). */
  export(
    campaignId: string,
    options: { version?: number; format: 'csv' | 'parquet' },
  ): Promise<Record<string, unknown>>;
  /** Who joined and who left between two versions (counts and a page of each). */
  diff(campaignId: string, from: number, to: number): Promise<Record<string, unknown> | null>;
  /** Users left after each rule of a version's build. */
  stages(campaignId: string, version?: number): Promise<readonly AudienceStageCount[] | null>;
}
