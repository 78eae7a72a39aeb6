export {
  type ApplyResult,
  DELETION_ALERT_MS,
  DELETION_SLA_MS,
  type DeletionReceipt,
  DeletionService,
  type DeletionServiceOptions,
  type DeletionStatus,
  type DeletionSubmitted,
  type ModelCatalog,
  type ModelRetrain,
  type SlaReport,
  type StoreReceipt,
  type VerifyReport,
} from './deletion-service.js';
export {
  type DeploymentPrivacy,
  deploymentErasers,
  type OpenDeploymentPrivacyOptions,
  openDeploymentPrivacy,
} from './deployment-privacy.js';
export {
  aggregatorStateEraser,
  type CapLedgerLike,
  capLedgerEraser,
  deadLetterEraser,
  type EraseResult,
  type IndexLike,
  offlineStoreEraser,
  onlineStoreEraser,
  type StoreEraser,
  segmentIndexEraser,
  streamFiles,
  trainingSetEraser,
  type UserDataStore,
  userStoreEraser,
} from './erasers.js';
export {
  HashSet64,
  KeyedHasher,
  keyPathOf,
  loadOrCreatePrivacyKey,
  PRIVACY_KEY_BYTES,
  type TombstoneHash,
} from './keys.js';
export { RedisTombstoneLog, type RedisTombstoneLogOptions } from './redis-tombstone-log.js';
export {
  FileTombstoneLog,
  type OpenTombstoneLedgerOptions,
  openTombstoneLedger,
  TombstoneLedger,
  type TombstoneLog,
  type TombstoneRecord,
} from './tombstone-ledger.js';
