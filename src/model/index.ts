export {
  ARTIFACT_FORMAT,
  type ArtifactColumn,
  type ArtifactHeader,
  binsFromHeader,
  ensembleOf,
  type ImportanceEntry,
  type LinearModelParams,
  loadArtifact,
  MODEL_KINDS,
  type ModelArtifact,
  type ModelKind,
  type SplitPart,
  type SplitSummary,
  saveArtifact,
} from './artifact.js';
export { type BinMapper, binColumnMajor, type FeatureBins } from './binning.js';
export {
  CALIBRATION_METHODS,
  type Calibration,
  type CalibrationChoice,
  type CalibrationMethod,
  calibrate,
  chooseCalibration,
  fitCalibration,
  fitGuardedCalibration,
  type GuardedCalibration,
} from './calibration.js';
export { type FeatureContribution, TreeContributions } from './contributions.js';
export {
  type ColumnLookup,
  CROSS_FEATURES,
  type CrossFeatureName,
  type CrossFeatureSpec,
  CrossFeatures,
  type VerticalProfile,
} from './cross-features.js';
export {
  buildDelayedLabels,
  DEFAULT_ATTRIBUTION_WINDOWS_MS,
  type DelayedLabelOptions,
  type DelayedLabels,
  GOALS,
  type Goal,
  IMMATURE_POLICIES,
  type ImmaturePolicy,
  type OutcomesColumns,
  type SendsColumns,
  temporalSplit,
  truncatedDelayCdf,
} from './delayed-labels.js';
export { readTable, type Table, type TableColumn, writeScoredTable } from './duckdb-table-io.js';
export { ModelArtifactError, ScorerPoolError } from './errors.js';
export {
  defaultGbdtParams,
  type FeatureImportance,
  GBDT_MIN_CELLS_FOR_THREADS,
  type GbdtModel,
  type GbdtParams,
  GROWTH_POLICIES,
  type GrowthPolicy,
  parseGbdtParams,
  type TrainOptions,
  trainGbdt,
} from './gbdt-trainer.js';
export { importLightgbmText } from './lightgbm-import.js';
export { defaultLogisticParams, type LogisticParams, trainLogisticRegression } from './logistic-regression.js';
export {
  averagePrecision,
  type BinaryMetrics,
  binaryMetrics,
  brierScore,
  expectedCalibrationError,
  type LiftAt,
  liftAt,
  logLoss,
  metricsBySegment,
  rocAuc,
} from './metrics.js';
export { importedModelArtifact } from './model-import.js';
export {
  createModelMatrix,
  FEATURE_KINDS,
  type FeatureKind,
  fromFeatureMatrix,
  type ModelMatrix,
  selectRows,
} from './model-matrix.js';
export { ModelRegistry, REGISTRY_ROLES, type RegistryEntry, type RegistryRole } from './model-registry.js';
export {
  buildReferenceProfile,
  type ReferenceFeatureProfile,
  type ReferenceProfile,
  SCORE_PROFILE_BINS,
} from './reference-profile.js';
export { SCORER_POOL_MIN_ROWS, ScorerPool, type ScorerPoolOptions } from './scorer-pool.js';
export { CompiledModel, compileModel } from './scoring/compiled-model.js';
export { CompiledScorer, compileEnsemble, type ScoreInput } from './scoring/compiled-scorer.js';
export { buildSendTrainingSet, CAMPAIGN_FEATURES, type SendTrainingSet } from './send-training-set.js';
export {
  evaluateModelOnTable,
  importModelFile,
  MODEL_IMPORT_FORMATS,
  type ModelImportFormat,
  scoreTableFile,
  type TableTrainOptions,
  type TableTrainSummary,
  trainModelOnTable,
} from './table-workflows.js';
export {
  buildFeatureColumns,
  buildTabularDataset,
  matrixFromTable,
  parseLabels,
  type TabularDataset,
} from './tabular-dataset.js';
export {
  ALGORITHMS,
  type Algorithm,
  splitRows,
  type TrainModelOptions,
  type TrainModelResult,
  trainModel,
} from './train-pipeline.js';
export type { Tree, TreeEnsemble } from './tree-ensemble.js';
export { type ImportedModel, importXgboostJson } from './xgboost-import.js';
