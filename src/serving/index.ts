/**
 * Serving: the HTTP API for online decisions, campaigns, audiences and deletions, with per-advertiser API keys,
 * a deadline and a circuit breaker around the online store, and the request log. See docs/serving.md.
 */
export { type BreakerState, CircuitBreaker, type CircuitBreakerOptions } from './breaker.js';
export { CampaignCache } from './campaign-cache.js';
export { DeadlineExceededError, ForbiddenError, ServiceNotConfiguredError, UnauthorizedError } from './errors.js';
export { type ApiKeyRecord, type CreatedKey, FileKeyStore, KEY_ROLES, type KeyRole, type Principal } from './keys.js';
export {
  type CampaignAnswer,
  DEGRADED_REASONS,
  type DecisionRequestContext,
  type DegradedReason,
  OnlineDecider,
  type OnlineDecision,
  type UserAnswer,
} from './online.js';
export type {
  AudienceApi,
  AudienceBuildStatus,
  AudienceStageCount,
  AudienceVersionInfo,
  DeletionReceipt,
  DeletionRequests,
} from './ports.js';
export { RequestLog, type RequestLogOptions, type RequestLogStats } from './request-log.js';
export { MAX_CAMPAIGNS_PER_REQUEST, MAX_USERS_PER_BATCH } from './schemas.js';
export { buildServer, type FieldProblem, type ServerOptions } from './server.js';
export { BatchSnapshotSource } from './snapshot-source.js';
export { type RunningServer, type ServingServices, type StartServingOptions, startServing } from './start.js';
