import { AdnovaError, InvalidInputError, NotFoundError } from '../core/index.js';

/** A definition (entity, view, transform, service) is malformed or inconsistent with the others. */
export class FeatureDefinitionError extends InvalidInputError {
  override readonly code = 'FEATURE_DEFINITION_INVALID';
}

/** Applying a definition would change an existing version incompatibly; a new version is needed. */
export class IncompatibleChangeError extends AdnovaError {
  readonly code = 'FEATURE_INCOMPATIBLE_CHANGE';
  override readonly httpStatus: number = 409;
}

/** A named entity, view, transform or service does not exist in the registry. */
export class FeatureNotFoundError extends NotFoundError {
  override readonly code = 'FEATURE_NOT_FOUND';
}
