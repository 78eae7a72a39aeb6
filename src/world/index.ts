/**
 * The AdNova world: a deterministic simulator of users, events, batch snapshots, campaigns, sends and outcomes
 * with drift scenarios, and importers that turn real datasets into the same layout. See docs/world.md.
 */

export { type ImportOptions, importHillstrom } from './import-hillstrom.js';
export { importOnlineRetail } from './import-online-retail.js';
export {
  type ManifestColumn,
  type ManifestTable,
  readManifest,
  type SimulationParams,
  tableFiles,
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
} from './scenarios.js';
export {
  AGE_BANDS,
  CHANNELS,
  type Channel,
  COUNTRIES,
  type ColumnSpec,
  type ColumnType,
  EVENT_DEFECTS,
  EVENT_TYPES,
  EVENTS_COLUMNS,
  type EventDefect,
  type EventType,
  GOALS,
  type Goal,
  OUTCOME_KINDS,
  PLAN_TIERS,
  PLATFORMS,
  SEGMENTS,
  SELECTIONS,
  TABLE_NAMES,
  TABLES,
  type TableName,
  type TableRole,
  type TableSpec,
  TOPICS,
  VERTICAL_NAMES,
  VERTICALS,
  WORLD_FORMAT,
} from './schema.js';
export { generateWorld } from './simulator.js';
export { DEFAULT_START_TS, type GenerateWorldOptions, type ResolvedWorldOptions } from './world-options.js';
