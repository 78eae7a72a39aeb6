/**
 * The decision: who, of a campaign's possible audience, should receive it — retrieval on bitmaps, scoring, policy —
 * as one code path for batch audiences and online requests. See docs/decision.md.
 */
export {
  budgetCap,
  CAMPAIGN_CHANNELS,
  CAMPAIGN_GOALS,
  CAMPAIGN_SPEC_VERSION,
  CAMPAIGN_STATUSES,
  type Campaign,
  type CampaignChannel,
  type CampaignGoal,
  type CampaignSpecInput,
  type CampaignStatus,
  campaignToSpec,
  type FeaturePredicate,
  PREDICATE_OPS,
  parseCampaignSpec,
  parseFeaturePredicate,
  TARGET_AGE_BANDS,
  TARGET_PLATFORMS,
} from './campaign.js';
export { type CampaignFilter, type CampaignRegistry, FileCampaignRegistry, isLive } from './campaign-registry.js';
export {
  type CampaignDecision,
  type CandidateReason,
  candidateReason,
  type DecideOptions,
  type DecisionDeps,
  type DecisionResult,
  decide,
} from './decide.js';
export {
  Deployment,
  type DeploymentLayout,
  type DeploymentManifest,
  deploymentLayout,
  type OpenDeploymentOptions,
  openDeployment,
  readDeploymentManifest,
} from './deployment.js';
export {
  CampaignNotFoundError,
  CampaignSpecError,
  type CampaignSpecProblem,
  CampaignStateError,
  DecisionIndexCorruptError,
  ModelMissingError,
  UnknownTargetError,
} from './errors.js';
export { FeatureStoreSource, offlineFeatureSource, onlineFeatureSource } from './feature-sources.js';
export { type IndexUpdateStats, SegmentIndexUpdater } from './index-updates.js';
export {
  estimatePolicyValue,
  type PolicyValueEstimate,
  type UniformExplorationLog,
  wilsonInterval,
} from './off-policy.js';
export {
  applyPolicy,
  type CapLedger,
  DEFAULT_CAPS_PER_DAY,
  inControlGroup,
  inHoldout,
  MemoryCapLedger,
  POLICY_OUTCOMES,
  type PolicyDecision,
  type PolicyOptions,
  type PolicyOutcome,
  type ScoredCandidates,
} from './policy.js';
export {
  RETRIEVAL_RULES,
  type Retrieval,
  type RetrievalContext,
  type RetrievalRule,
  retrievalReason,
  retrieve,
  type StageCount,
} from './retrieval.js';
export {
  CAMPAIGN_INPUTS,
  type DecisionContext,
  type Degradation,
  type FeatureSource,
  type ModelResolver,
  RegistryModelResolver,
  type ScoringModel,
  scoringModelOf,
} from './scoring.js';
export { type Bitmap, INDEX_KEYS, type ReadonlyBitmap, SegmentIndex } from './segment-index.js';
export { UserIndex } from './user-index.js';
export { type DeployWorldOptions, deployWorld, type WorldDeployment } from './world-deployment.js';
export {
  type CaptureFigures,
  evaluateOnWorld,
  WORLD_GBDT,
  WORLD_TRAINING,
  type WorldEvaluation,
  type WorldEvaluationOptions,
  WorldEvaluationSession,
  type WorldModels,
  type WorldTrainingOptions,
} from './world-evaluation.js';
export {
  backfillWorldStreamViews,
  buildWorldSegmentIndex,
  hasWarehouseScores,
  importWorldBatchViews,
  type SqlQuery,
  WORLD_SCORING_SERVICE,
  WORLD_SEGMENTS,
  worldCampaignSpecs,
  worldCrossFeatures,
} from './world-index.js';
