// Public surface of the monitor: statistics, profiles, detectors, performance estimation, skew and reports.

export { type CusumOptions, cusum, type PageHinkleyOptions, pageHinkley } from './change-detectors.js';
export {
  type CategoricalColumn,
  type Column,
  type ColumnKind,
  type ColumnTable,
  type NumericColumn,
  numericColumn,
  tableFromFeatureMatrix,
  validateTable,
} from './column-table.js';
export {
  type DataQualityOptions,
  dataQuality,
  defaultDataQualityOptions,
  type FeatureQuality,
  type QualityVerdict,
  qualityVerdict,
} from './data-quality.js';
export {
  type DomainClassifierOptions,
  type DomainClassifierResult,
  defaultDomainClassifierOptions,
  domainClassifierDrift,
} from './domain-classifier.js';
export {
  type DatasetDriftResult,
  DRIFT_METHODS,
  type DriftMethod,
  type DriftOptions,
  defaultDriftOptions,
  detectDrift,
  type FeatureDriftResult,
  type LearnThresholdOptions,
  learnThresholds,
} from './drift-detector.js';
export {
  compareTables,
  type DriftFilesOptions,
  type DriftReportJson,
  type DriftRun,
  driftFromFiles,
  driftReportJson,
  type FeatureDriftJson,
  type LabelDriftJson,
  type LabelDriftReport,
  profileFile,
} from './drift-report.js';
export { sortedFinite } from './drift-stats.js';
export { CorruptProfileError, SchemaMismatchError } from './errors.js';
export { compareProfiles, type FeatureComparison, featureKindOf } from './feature-comparison.js';
export { renderDriftHtml } from './html-report.js';
export { driftAgainstModel, type ModelDriftOptions, type ModelDriftRun } from './model-reference-drift.js';
export {
  CONCEPT_DRIFT_METRICS,
  type ConceptDriftMetric,
  defaultPerformanceEstimateOptions,
  estimatePerformance,
  type MetricEstimate,
  type PerformanceEstimate,
  type PerformanceEstimateOptions,
} from './performance-estimation.js';
export {
  type CategoricalProfile,
  type DatasetProfile,
  distinctEstimate,
  type FeatureProfile,
  type LearnedThreshold,
  mergeProfiles,
  type NumericProfile,
  nullShare,
  PROFILE_FORMAT,
  type ProfileOptions,
  profileTable,
} from './profile.js';
export { parseProfile, serializeProfile } from './profile-codec.js';
export { computeSkew, type SkewFeatureResult, type SkewResult } from './skew.js';
export {
  type ColumnSchema,
  openTable,
  type ReadTableOptions,
  readColumnTable,
  type TableSource,
} from './table-reader.js';
export {
  type LabelCounts,
  type LabelDriftResult,
  labelCounts,
  labelDrift,
  labelDriftFromCounts,
  predictionDrift,
} from './target-drift.js';
export { type WorldSnapshotDrift, worldSnapshotDrift } from './world-snapshot-drift.js';
