import { AdnovaError } from '../core/index.js';

/**
 * The saved aggregator state cannot be read back (a file or a Redis value that is not what a checkpoint writes, a
 * user's state bytes that do not decode). Not the caller's input (exit 1, HTTP 500): the state is rebuilt by a
 * replay into a fresh one. `details`: `where` (file, key, user) and what was found.
 */
export class AggregatorStateCorruptError extends AdnovaError {
  readonly code = 'STREAM_STATE_CORRUPT';
}

/**
 * The saved aggregator state was built for other definitions (its plan key differs from the current plan's): it
 * cannot be resumed. Not the caller's input (exit 1, HTTP 500): replay into a fresh state, or run the definitions
 * it was built for. `details`: `where`, `storedPlanKey`, `planKey`.
 */
export class AggregatorStatePlanMismatchError extends AdnovaError {
  readonly code = 'STREAM_STATE_PLAN_MISMATCH';

  constructor(
    readonly where: string,
    readonly storedPlanKey: string,
    readonly planKey: string,
  ) {
    super(
      `${where} holds aggregates of other definitions (plan ${storedPlanKey}, now ${planKey}); replay the stream into a fresh state`,
      { details: { where, storedPlanKey, planKey } },
    );
  }
}

/**
 * A stream/batch parity check ran and found differences: a failure of the pipeline (exit 1), not bad usage.
 * `details`: `mismatches` and `compared` values.
 */
export class ParityMismatchError extends AdnovaError {
  readonly code = 'STREAM_PARITY_MISMATCH';

  constructor(
    readonly mismatches: number,
    readonly compared: number,
  ) {
    super(`stream and batch aggregates differ in ${mismatches} of ${compared} values`, {
      details: { mismatches, compared },
    });
  }
}
