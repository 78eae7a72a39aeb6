import { AdnovaError, type AdnovaErrorOptions } from '../core/errors.js';

/**
 * A model artifact on disk is corrupt or was written by an incompatible build (bad JSON, wrong format or version,
 * a tree file whose checksum or structure does not match its header). Not the caller's input: exit 1 / HTTP 500.
 */
export class ModelArtifactError extends AdnovaError {
  readonly code = 'MODEL_ARTIFACT_INVALID';
  readonly path: string;
  readonly problem: string;

  constructor(path: string, problem: string, options: AdnovaErrorOptions = {}) {
    super(`model artifact ${path}: ${problem}`, { ...options, details: { path, problem, ...options.details } });
    this.path = path;
    this.problem = problem;
  }
}

/** A scorer pool could not do its work: a worker died or failed to start, or the pool was closed. */
export class ScorerPoolError extends AdnovaError {
  readonly code: string = 'SCORER_POOL_FAILED';
}
