/**
 * Audiences: the decision over a campaign's candidates, stored as versions (members with score, rank, reason,
 * model and feature freshness; a roaring bitmap; the stage counts), refreshed from the stream's changed users, and
 * built in user-id shards on BullMQ workers or in process. See docs/audience.md.
 */
export {
  type AudienceCandidates,
  type AudienceDeployment,
  type AudienceDraft,
  type AudienceMember,
  type AudienceOrigin,
  type AudienceSelection,
  type AudienceSettings,
  type AudienceStore,
  type AudienceSummary,
  type AudienceVersion,
  DEFAULT_AUDIENCE_SETTINGS,
  EXPORT_FORMATS,
  type ExportFormat,
  type ExportRecord,
  type FreshnessFigures,
  type MajorChangeRule,
  type MemberPage,
} from './audience.js';
export { AudienceRefresher } from './audience-refresher.js';
export {
  type AudienceDescription,
  type AudienceDiff,
  AudienceService,
  type AudienceServiceOptions,
  type BuildOptions,
  type BuildResult,
  type CampaignRefresh,
  type ChangedUser,
  type DiffEntry,
  type FreshnessLog,
  parseMajorChange,
  type RefreshOptions,
  type RefreshResult,
  viewsReadBy,
} from './audience-service.js';
export {
  type AudienceWorker,
  type AudienceWorkerOptions,
  type BullmqShardOptions,
  BullmqShardRunner,
  startAudienceWorker,
} from './bullmq-shard-runner.js';
export { memberBitmapOf } from './codec.js';
export {
  AudienceCampaignStateError,
  AudienceJobError,
  AudienceNotFoundError,
  AudienceStoreCorruptError,
} from './errors.js';
export { EXPORT_COLUMNS, readMembersFile, writeMembersFile } from './export-files.js';
export { FileAudienceStore, type FileAudienceStoreOptions, membersOf } from './file-audience-store.js';
export {
  AUDIENCE_QUEUE,
  EmbeddedShardRunner,
  runShardTask,
  type ShardRunner,
  type ShardTask,
  shardResultPath,
} from './shard-jobs.js';
export { publishWorldEvents } from './world-stream.js';
