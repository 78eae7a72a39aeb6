/**
 * Typed errors with a stable `code`. `httpStatus` drives both the HTTP answer (one place, in serving)
 * and the CLI exit code: 4xx means the caller's input was wrong (exit 2), anything else is a failure (exit 1).
 */
export interface AdnovaErrorOptions {
  readonly cause?: unknown;
  readonly details?: Readonly<Record<string, unknown>>;
}

export abstract class AdnovaError extends Error {
  abstract readonly code: string;
  readonly httpStatus: number = 500;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(message: string, options: AdnovaErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options.details;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) };
  }
}

/** The caller asked for something in a way we cannot accept (bad flag, bad value, bad file). */
export class InvalidInputError extends AdnovaError {
  readonly code: string = 'INVALID_INPUT';
  override readonly httpStatus: number = 400;
}

export class ConfigError extends InvalidInputError {
  override readonly code = 'CONFIG_INVALID';
}

export class NotFoundError extends AdnovaError {
  readonly code: string = 'NOT_FOUND';
  override readonly httpStatus: number = 404;
}

/** A backend (Redis, NATS, DuckDB, disk) failed or could not be reached. */
export class BackendUnavailableError extends AdnovaError {
  readonly code: string = 'BACKEND_UNAVAILABLE';
  override readonly httpStatus: number = 503;
}

export function isAdnovaError(err: unknown): err is AdnovaError {
  return err instanceof AdnovaError;
}

/** Exit code for the CLI: 2 for bad input or usage, 1 for every other failure. */
export function exitCodeFor(err: unknown): 1 | 2 {
  return isAdnovaError(err) && err.httpStatus >= 400 && err.httpStatus < 500 ? 2 : 1;
}

/** Short, readable rendering of any thrown value, for messages that wrap a cause. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
