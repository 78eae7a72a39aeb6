import { AdnovaError, InvalidInputError, NotFoundError } from '../core/index.js';

/** No audience (or no such version) is stored for the campaign. */
export class AudienceNotFoundError extends NotFoundError {
  override readonly code = 'AUDIENCE_NOT_FOUND';
}

/** The campaign cannot have an audience built now (paused, ended, not launched): the caller's request is wrong. */
export class AudienceCampaignStateError extends InvalidInputError {
  override readonly code = 'AUDIENCE_CAMPAIGN_STATE';
}

/** A stored audience file is unreadable: a store failure, not the caller's input. */
export class AudienceStoreCorruptError extends AdnovaError {
  readonly code = 'AUDIENCE_STORE_CORRUPT';
}

/** A build or refresh job failed (a shard exhausted its retries, a worker crashed for good). */
export class AudienceJobError extends AdnovaError {
  readonly code = 'AUDIENCE_JOB_FAILED';
}
