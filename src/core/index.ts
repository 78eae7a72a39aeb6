export {
  type Clock,
  isoUtc,
  ManualClock,
  MS_PER_DAY,
  MS_PER_HOUR,
  MS_PER_MINUTE,
  MS_PER_SECOND,
  parseTimestampMs,
  SystemClock,
  systemClock,
} from './clock.js';
export {
  type AdnovaConfig,
  BUS_KINDS,
  CONFIG_FILE_ENV,
  type ConfigSources,
  configSchema,
  defaultConfig,
  envNameFor,
  LOG_LEVELS,
  type LoadConfigOptions,
  type LoadedConfig,
  loadConfig,
  ONLINE_STORE_KINDS,
} from './config.js';
export {
  AdnovaError,
  type AdnovaErrorOptions,
  BackendUnavailableError,
  ConfigError,
  describeError,
  exitCodeFor,
  InvalidInputError,
  isAdnovaError,
  NotFoundError,
} from './errors.js';
export {
  columnIndexOrThrow,
  columnValues,
  createFeatureMatrix,
  FEATURE_STATUSES,
  type FeatureMatrix,
  type FeatureMatrixView,
  type FeatureStatus,
  FeatureStatusCode,
  rowCount,
  rowValues,
  valueAt,
  viewStatus,
} from './feature-matrix.js';
export { hashId, isValidEntityId, newId, prefixedHasher, shardOf } from './ids.js';
export { createLogger, type Logger, type LoggerOptions, silentLogger } from './logger.js';
export {
  type CounterMetric,
  type GaugeMetric,
  type HistogramMetric,
  type MetricSpec,
  MetricsRegistry,
} from './metrics.js';
export { Rng } from './random.js';
export { backoffMs, sleep } from './retry.js';
export { NO_TOMBSTONES, type TombstoneCheck } from './tombstones.js';
export {
  AGE_BANDS,
  type AgeBand,
  CHANNELS,
  type Channel,
  GOALS,
  type Goal,
  PLATFORMS,
  type Platform,
} from './vocabulary.js';
