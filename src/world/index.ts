/**
 * The AdNova world: a deterministic simulator of users, events, batch snapshots, campaigns, sends and outcomes
 * with drift scenarios, and importers that turn real datasets into the same layout. See docs/world.md.
 */

export { HILLSTROM_COLUMNS, HILLSTROM_SEND_TS, type ImportOptions, importHillstrom } from './import-hillstrom.js';
export { importOnlineRetail, ONLINE_RETAIL_COLUMNS, RETAIL_SEND_HOUR } from './import-online-retail.js';
export {
  type ExponentialMixture,
  type LogNormalDelay,
  MANIFEST_FILE,
  type ManifestColumn,
  type ManifestTable,
  readManifest,
  type SimulationParams,
  tableFiles,
  type WorldDistributions,
  type WorldKind,
  type WorldManifest,
} from './manifest.js';
export { type ExplorationPool, type OracleCampaign, WorldOracle } from './oracle.js';
export { type ReplayOptions, type ReplaySummary, type ReplayTarget, replayEvents } from './replay.js';
export {
  CONCEPT_DRIFT_CONVERT_FACTOR,
  CONCEPT_DRIFT_SEGMENT,
  defaultDriftDay,
  parseScenarios,
  SCENARIO_NAMES,
  ScenarioEffects,
  type ScenarioEvent,
  type ScenarioName,
  UNIT_CHANGE_COLUMN,
  UNIT_CHANGE_FACTOR,
} from './scenarios.js';
export {
  AGE_BANDS,
  BATCH_KEY_COLUMNS,
  BATCH_NAMED_FEATURES,
  batchFeatureColumns,
  CAMPAIGNS_COLUMNS,
  CHANNELS,
  type Channel,
  COUNTRIES,
  type ColumnSpec,
  type ColumnType,
  DELETIONS_COLUMNS,
  EVENT_DEFECTS,
  EVENT_TYPES,
  EVENTS_COLUMNS,
  type EventDefect,
  type EventType,
  fillerColumnName,
  GOALS,
  type Goal,
  GROUND_TRUTH_COLUMNS,
  ORACLE_STATE_COLUMNS,
  OUTCOME_KINDS,
  OUTCOMES_COLUMNS,
  PLAN_TIERS,
  PLATFORMS,
  SEGMENTS,
  SELECTIONS,
  SENDS_COLUMNS,
  TABLE_NAMES,
  TABLES,
  type TableName,
  type TableRole,
  type TableSpec,
  TOPICS,
  tableColumns,
  USER_TRAITS_COLUMNS,
  USERS_COLUMNS,
  userIdOf,
  VERTICAL_NAMES,
  VERTICALS,
  WORLD_FORMAT,
  WORLD_SCHEMA_VERSION,
} from './schema.js';
export { generateWorld } from './simulator.js';
export {
  DEFAULT_START_TS,
  type GenerateWorldOptions,
  type ResolvedWorldOptions,
  resolveWorldOptions,
} from './world-options.js';
