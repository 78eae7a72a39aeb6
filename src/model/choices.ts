// The model's closed option sets, in a module with no imports: the CLI lists them in --help without loading
// the trainer, DuckDB or zod (start-up time, see bench/cli.ts).

export const ALGORITHMS = ['gbdt', 'logistic-regression'] as const;
export const GROWTH_POLICIES = ['depthwise', 'leafwise'] as const;
/** `auto` picks none, Platt or isotonic by cross-fitted log loss and ROC AUC (see `chooseCalibration`). */
export const CALIBRATION_METHODS = ['none', 'isotonic', 'platt', 'auto'] as const;
export const MODEL_IMPORT_FORMATS = ['xgboost-json', 'lightgbm-text'] as const;
/** champion: serves its goal; challenger: evaluated beside it; fallback: serves when the online store is down (batch-only features). */
export const REGISTRY_ROLES = ['champion', 'challenger', 'fallback'] as const;
/**
 * Batches below this many rows are scored on the calling thread. Measured with bench/model.ts --pool-sizes
 * (100 trees of depth 6 on 100 features, 2 workers against CompiledScorer on the calling thread, ordinary
 * (not shared) input, so the pool copies it): see docs/model.md.
 */
export const SCORER_POOL_MIN_ROWS = 50_000;
