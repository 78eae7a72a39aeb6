import { AdnovaError } from '../core/index.js';

/** No API key, an unknown one or a revoked one. */
export class UnauthorizedError extends AdnovaError {
  readonly code = 'UNAUTHORIZED';
  override readonly httpStatus: number = 401;
}

/** A valid key that may not do this (an advertiser on a platform route). */
export class ForbiddenError extends AdnovaError {
  readonly code = 'FORBIDDEN';
  override readonly httpStatus: number = 403;
}

/** The request did not finish inside its deadline and nothing could be answered in its place. */
export class DeadlineExceededError extends AdnovaError {
  readonly code = 'DEADLINE_EXCEEDED';
  override readonly httpStatus: number = 503;
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds = 1) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** A dependency the route needs is not wired into this server (an audience or deletion service). */
export class ServiceNotConfiguredError extends AdnovaError {
  readonly code = 'SERVICE_NOT_CONFIGURED';
  override readonly httpStatus: number = 503;
}
