import { AdnovaError, InvalidInputError } from '../core/index.js';

/**
 * A stored reference profile that claims the profile format but cannot be read back (truncated, hand-edited, or
 * written by a broken writer): the file is damaged, not the user's request, so it is a failure (exit 1).
 */
export class CorruptProfileError extends AdnovaError {
  readonly code = 'MONITOR_PROFILE_CORRUPT';
  override readonly httpStatus: number = 500;
}

/** The reference and current inputs do not have the same columns, or a column changed kind between them. */
export class SchemaMismatchError extends InvalidInputError {
  override readonly code = 'MONITOR_SCHEMA_MISMATCH';
}
