export {
  AGGREGATION_OPS,
  type AggregationDef,
  type AggregationOp,
  COLUMN_AGGREGATION_OPS,
  defineEntity,
  defineFeatureService,
  defineFeatures,
  defineFeatureView,
  defineTransform,
  type EntityDef,
  FEATURE_DTYPES,
  type FeatureDef,
  type FeatureDefinitions,
  type FeatureDtype,
  type FeatureServiceDef,
  type FeatureSourceDef,
  type FeatureViewDef,
  type LayoutRun,
  NO_TTL,
  parseWindowMs,
  resolveService,
  type ServiceLayout,
  SOURCE_FORMATS,
  SOURCE_KINDS,
  type SourceKind,
  storageKeyOf,
  type TransformDef,
  type TransformOutputDef,
  type TtlSeconds,
  ttlMsOf,
  validateDefinitions,
} from './definitions.js';
export { type DefinitionsFileFormat, loadDefinitionsFile, parseDefinitions } from './definitions-file.js';
export { DuckDbOfflineStore, type OfflineStoreOptions } from './duckdb-offline-store.js';
export { FeatureDefinitionError, FeatureNotFoundError, IncompatibleChangeError } from './errors.js';
export {
  FeatureStore,
  type FeatureStoreOptions,
  type FreshnessReport,
  type MaterializeOptions,
  type MaterializeViewResult,
  type OnlineFreshnessReport,
  type ParityOptions,
  type ParityReport,
  type TrainingSetRecord,
} from './feature-store.js';
export { MemoryOnlineStore, type MemoryOnlineStoreOptions } from './memory-online-store.js';
export type {
  LatestRowsChunk,
  LatestRowsQuery,
  OfflineDeleteOptions,
  OfflineDeleteResult,
  OfflineRowBatch,
  OfflineStore,
  TrainingSetRequest,
  TrainingSetResult,
} from './offline-store.js';
export { type RequestData, readOnlineFeatures } from './online-features.js';
export type {
  OnlineFreshness,
  OnlineStore,
  OnlineViewRef,
  OnlineWriteBatch,
  OnlineWriteResult,
} from './online-store.js';
export { ReadBuffers } from './online-store.js';
export { openOnlineStore } from './online-store-config.js';
export { ageColumnOf, statusColumnOf } from './pit-sql.js';
export { RedisOnlineStore, type RedisOnlineStoreOptions } from './redis-online-store.js';
export {
  type ApplyAction,
  type ApplyOutcome,
  DEFINITION_KINDS,
  type DefinitionEntry,
  type DefinitionKind,
  FeatureRegistry,
} from './registry.js';
export { worldDefinitionsPath } from './world-definitions.js';
