/** All time in adnova is UTC epoch milliseconds read through a Clock, so tests and simulations control it. */
export interface Clock {
  now(): number;
}

export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
}

export const systemClock: Clock = new SystemClock();

/** A clock that moves only when told to: simulations, replays and tests. */
export class ManualClock implements Clock {
  #nowMs: number;

  constructor(startMs = 0) {
    assertEpochMs(startMs, 'startMs');
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  set(nowMs: number): void {
    assertEpochMs(nowMs, 'nowMs');
    if (nowMs < this.#nowMs)
      throw new RangeError(`ManualClock cannot go backwards: now ${this.#nowMs}, asked ${nowMs}`);
    this.#nowMs = nowMs;
  }

  advance(ms: number): number {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`ManualClock.advance expects ms >= 0, got ${ms}`);
    this.#nowMs += ms;
    return this.#nowMs;
  }
}

function assertEpochMs(value: number, name: string): void {
  if (!Number.isFinite(value)) throw new RangeError(`${name} must be a finite epoch-ms number, got ${value}`);
}

export const MS_PER_SECOND = 1000;
export const MS_PER_MINUTE = 60_000;
export const MS_PER_HOUR = 3_600_000;
export const MS_PER_DAY = 86_400_000;

export function isoUtc(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

/** An ISO-8601 date and time of day with no offset (`2026-03-07T10:00`, `2026-03-07 10:00:00.5`). */
const NAIVE_DATE_TIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(:\d{2}(\.\d+)?)?)$/;

/**
 * Parses an ISO-8601 timestamp or an epoch-ms integer string; returns NaN when it is neither. A time without an
 * offset is UTC (as a date alone already is in JS), never the process's local time.
 */
export function parseTimestampMs(text: string): number {
  const trimmed = text.trim();
  if (/^-?\d+$/.test(trimmed)) return Number(trimmed);
  const naive = NAIVE_DATE_TIME.exec(trimmed);
  const ms = Date.parse(naive ? `${naive[1]}T${naive[2]}Z` : trimmed);
  return Number.isNaN(ms) ? Number.NaN : ms;
}
