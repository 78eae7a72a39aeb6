import { AdnovaError, InvalidInputError, NotFoundError } from '../core/index.js';

/** A campaign spec that does not validate: each problem names the field, the value and what was expected. */
export class CampaignSpecError extends InvalidInputError {
  override readonly code = 'CAMPAIGN_SPEC_INVALID';
  readonly problems: readonly CampaignSpecProblem[];

  constructor(source: string, problems: readonly CampaignSpecProblem[]) {
    super(
      `${source}: invalid campaign spec:\n${problems.map((p) => `  ${p.field}: ${p.message} (got ${p.value})`).join('\n')}`,
      { details: { problems } },
    );
    this.problems = problems;
  }
}

export interface CampaignSpecProblem {
  /** Dotted path of the field, e.g. `targeting.countries.1`. */
  readonly field: string;
  /** What was expected. */
  readonly message: string;
  /** The value that came, rendered as JSON (`undefined` when absent). */
  readonly value: string;
}

export class CampaignNotFoundError extends NotFoundError {
  override readonly code = 'CAMPAIGN_NOT_FOUND';
}

/** The campaign exists but is in a state that does not allow the operation (paused, ended, same id again). */
export class CampaignStateError extends AdnovaError {
  readonly code: string = 'CAMPAIGN_STATE';
  override readonly httpStatus: number = 409;
}

/** A targeting rule names something retrieval does not know (a segment, a suppression list, a feature). */
export class UnknownTargetError extends InvalidInputError {
  override readonly code = 'UNKNOWN_TARGET';
}

/** The persisted user index or segment index is unreadable: not the caller's input, a store failure. */
export class DecisionIndexCorruptError extends AdnovaError {
  readonly code = 'DECISION_INDEX_CORRUPT';
}

/** No model can score the campaign (no champion for its goal): the platform must promote one first. */
export class ModelMissingError extends AdnovaError {
  readonly code = 'MODEL_MISSING';
  override readonly httpStatus: number = 409;
}
