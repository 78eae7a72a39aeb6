// Public surface of the monitor: statistics, profiles, detectors, performance estimation, skew and reports.

export { type CusumOptions, cusum, type PageHinkleyOptions, pageHinkley } from './change-detectors.js';
export {
  type CategoricalColumn,
  type Column,
  type ColumnKind,
  type ColumnTable,
  categoricalFromStrings,
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
  jsNoiseFloor,
  type LearnThresholdOptions,
  learnThresholds,
  wassersteinNoiseFloor,
} from './drift-detector.js';
export {
  checkSameSchema,
  compareTables,
  type DriftFilesOptions,
  type DriftReportJson,
  type DriftRun,
  driftFromFiles,
  driftReportJson,
  type FeatureDriftJson,
  featureDriftJson,
  type LabelDriftJson,
  type LabelDriftReport,
  labelDriftJson,
  profileFile,
} from './drift-report.js';
export {
  BIN_QUANTILES,
  benjaminiHochberg,
  binCountsSorted,
  type CategoricalDriftStats,
  chi2FromCounts,
  compareCategoricalCounts,
  compareNumericSorted,
  jsDistanceFromCounts,
  KS_MAX_EXACT_N,
  type KsResult,
  ksTwoSample,
  linfFromCounts,
  type NumericDriftStats,
  PSI_EMPTY_SHARE,
  psiFromCounts,
  quantileEdges,
  quantileSorted,
  sortedFinite,
  WASSERSTEIN_MIN_STD,
  wassersteinSorted,
} from './drift-stats.js';
export { CorruptProfileError, SchemaMismatchError } from './errors.js';
export {
  compareColumns,
  compareProfiles,
  type FeatureComparison,
  type FeatureDriftStats,
  featureKindOf,
  type QualityMeasures,
} from './feature-comparison.js';
export { renderDriftHtml } from './html-report.js';
export { DEFAULT_KLL_K, type KllSketch, kllCdf, kllFromSorted, kllQuantile, mergeKll } from './kll-sketch.js';
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
  DEFAULT_MAX_CATEGORIES,
  distinctEstimate,
  EXACT_SAMPLE_MAX,
  type FeatureProfile,
  type LearnedThreshold,
  mergeFeatureProfiles,
  mergeProfiles,
  type NumericProfile,
  nullShare,
  PROFILE_FORMAT,
  ProfileAccumulator,
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
  labelCountsFromProfile,
  labelDrift,
  labelDriftFromCounts,
  labelsFromColumn,
  predictionDrift,
} from './target-drift.js';
export { type WorldSnapshotDrift, worldSnapshotDrift } from './world-snapshot-drift.js';
