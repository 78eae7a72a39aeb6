export {
  type AggregatorCounters,
  type AggregatorMeta,
  DEFAULT_ALLOWED_LATENESS_MS,
  type IngestOutcome,
  WindowAggregator,
  type WindowAggregatorOptions,
} from './aggregation/index.js';
export {
  type AggregatableEvent,
  type AggregationPlan,
  compileAggregationPlan,
  DISTINCT_SKETCH_BITS,
  type EventFieldName,
  NUMERIC_EVENT_FIELDS,
  type PlanFeature,
  type PlanView,
  planKeyOf,
  STRING_EVENT_FIELDS,
  TILE_SIZES_MS,
  tileSizeFor,
  windowStartMs,
} from './aggregation-plan.js';
export {
  type AggregatorCheckpoint,
  type AggregatorStateStore,
  FileAggregatorStateStore,
  MemoryAggregatorStateStore,
} from './aggregator-state-store.js';
export {
  ContractMetrics,
  DEFAULT_MAX_UNKNOWN_FIELD_LABELS,
  OTHER_FIELD_LABEL,
  UNKNOWN_EVENT_TYPE_LABEL,
} from './contract-metrics.js';
export {
  CONTRACT_FIELDS_V1,
  CONTRACT_ISSUE_KINDS,
  CONTRACT_REASON_KINDS,
  type ContractField,
  type ContractInvalid,
  type ContractIssue,
  type ContractIssueKind,
  type ContractReasonKind,
  type ContractResult,
  type ContractValid,
  EVENT_CONTRACT_V1,
  EVENT_CONTRACT_VERSION,
  eventContractJsonSchema,
  requiredFields,
  STREAM_CHANNELS,
  STREAM_EVENT_TYPES,
  STREAM_PLATFORMS,
  type StreamEvent,
  type StreamEventType,
  toDeadLetter,
  type ValidateOptions,
  validateEnvelope,
  validateMessage,
} from './contracts.js';
export {
  type DeadLetter,
  type DeadLetterInput,
  type DeadLetterSink,
  MemoryDeadLetterSink,
  validateDeadLetters,
} from './dead-letter.js';
export {
  type DeadLetterFileContents,
  FileDeadLetterSink,
  type FileDeadLetterSinkOptions,
  readDeadLetterFile,
} from './dead-letter-file.js';
export {
  type BackfillResult,
  type BatchAggregateRequest,
  type BatchAggregateResult,
  backfillStreamViews,
  batchAggregates,
  type OfflineSink,
} from './duckdb-batch-aggregates.js';
export { AggregatorStateCorruptError, AggregatorStatePlanMismatchError, ParityMismatchError } from './errors.js';
export {
  type BusConsumer,
  type BusEventInput,
  type BusMessage,
  type ConsumerOptions,
  DEFAULT_ACK_WAIT_MS,
  DEFAULT_PULL_MAX_MESSAGES,
  DEFAULT_PULL_WAIT_MS,
  EVENT_BUS_KINDS,
  type EventBus,
  type EventBusKind,
  MAX_PULL_MESSAGES,
  type PublishResult,
  type PullOptions,
  partitionTopic,
  partitionTopics,
  START_AT_KINDS,
  type StartAt,
  validateBusName,
} from './event-bus.js';
export { type CreateEventBusOptions, createEventBus } from './event-bus-factory.js';
export { MemoryEventBus, type MemoryEventBusOptions } from './memory-event-bus.js';
export { NatsEventBus, type NatsEventBusOptions } from './nats-event-bus.js';
export {
  RedisAggregatorStateStore,
  type RedisAggregatorStateStoreOptions,
} from './redis-aggregator-state-store.js';
export { RedisStreamsEventBus, type RedisStreamsEventBusOptions } from './redis-streams-event-bus.js';
export {
  DEFAULT_SCHEMA_CHANGE_BUCKET_MS,
  DEFAULT_SCHEMA_CHANGE_LOOKBACK_MS,
  DEFAULT_SCHEMA_CHANGE_MAX_PATTERNS,
  DEFAULT_SCHEMA_CHANGE_MIN_COUNT,
  DEFAULT_SCHEMA_CHANGE_MIN_SHARE,
  parseSchemaChangeOptions,
  SCHEMA_CHANGE_KINDS,
  SchemaChangeDetector,
  type SchemaChangeDetectorOptions,
  type SchemaChangeKind,
  type SchemaChangeSignal,
} from './schema-change.js';
export {
  BusDirtyUserFeed,
  DEFAULT_MAX_REJECTED_EVENT_IDS,
  type DirtyUser,
  type DirtyUserFeed,
  type FeatureSink,
  type IngestStats,
  MemoryDirtyUserFeed,
  type StreamEventObserver,
  StreamIngestor,
  type StreamIngestorOptions,
} from './stream-ingestor.js';
export {
  BusReplayTarget,
  CountingFeatureSink,
  compareStreamWithBatch,
  dailyCheckpoints,
  type ParityMismatch,
  type ReplayParityOptions,
  type ReplayParityResult,
  replayAndCompare,
  type StreamParityReport,
  sameFeatureValue,
} from './stream-parity.js';
export { worldStreamParity } from './world-parity.js';
