export {
  type AggregatorCounters,
  type IngestOutcome,
  WindowAggregator,
  type WindowAggregatorOptions,
} from './aggregation/index.js';
export {
  type AggregatableEvent,
  type AggregationPlan,
  compileAggregationPlan,
  type EventFieldName,
} from './aggregation-plan.js';
export {
  type AggregatorCheckpoint,
  type AggregatorStateStore,
  FileAggregatorStateStore,
  MemoryAggregatorStateStore,
} from './aggregator-state-store.js';
export { ContractMetrics } from './contract-metrics.js';
export {
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
  STREAM_CHANNELS,
  STREAM_EVENT_TYPES,
  STREAM_PLATFORMS,
  type StreamEvent,
  type StreamEventType,
  type ValidateOptions,
  validateEnvelope,
  validateMessage,
} from './contracts.js';
export { type DeadLetter, type DeadLetterInput, type DeadLetterSink, MemoryDeadLetterSink } from './dead-letter.js';
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
  EVENT_BUS_KINDS,
  type EventBus,
  type EventBusKind,
  type PublishResult,
  type PullOptions,
  START_AT_KINDS,
  type StartAt,
} from './event-bus.js';
export { type CreateEventBusOptions, createEventBus } from './event-bus-factory.js';
export { MemoryEventBus, type MemoryEventBusOptions } from './memory-event-bus.js';
export { NatsEventBus, type NatsEventBusOptions } from './nats-event-bus.js';
export { RedisAggregatorStateStore, type RedisAggregatorStateStoreOptions } from './redis-aggregator-state-store.js';
export { RedisStreamsEventBus, type RedisStreamsEventBusOptions } from './redis-streams-event-bus.js';
export {
  parseSchemaChangeOptions,
  SCHEMA_CHANGE_KINDS,
  SchemaChangeDetector,
  type SchemaChangeDetectorOptions,
  type SchemaChangeKind,
  type SchemaChangeSignal,
} from './schema-change.js';
export {
  BusDirtyUserFeed,
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
  dailyCheckpoints,
  type ParityMismatch,
  type ReplayParityOptions,
  type ReplayParityResult,
  replayAndCompare,
  type StreamParityReport,
  sameFeatureValue,
} from './stream-parity.js';
export { worldStreamParity } from './world-parity.js';
