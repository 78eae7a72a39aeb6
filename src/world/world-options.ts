import { InvalidInputError } from '../core/index.js';
import { defaultDriftDay, type ScenarioName } from './scenarios.js';
import { BATCH_NAMED_FEATURES } from './schema.js';

export interface GenerateWorldOptions {
  /** Directory to write; created if missing; must be empty or absent unless `overwrite`. */
  readonly outDir: string;
  readonly users?: number;
  readonly days?: number;
  readonly seed?: number;
  readonly scenarios?: readonly ScenarioName[];
  /** Batch feature width per user (named CRM columns + filler), default 200. */
  readonly features?: number;
  /** First day, 00:00 UTC, epoch ms. */
  readonly startTs?: number;
  /** Day index on which unit-change, schema-change, outage, concept-drift, label-delay, deletion-wave happen. */
  readonly driftDay?: number;
  readonly campaignsPerDay?: number;
  /** Share of events with an injected defect (default 0.005). */
  readonly defectShare?: number;
  readonly overwrite?: boolean;
  /** Called after each simulated day. */
  readonly onProgress?: (daysDone: number, days: number) => void;
}

export interface ResolvedWorldOptions {
  readonly outDir: string;
  readonly users: number;
  readonly days: number;
  readonly seed: number;
  readonly scenarios: readonly ScenarioName[];
  readonly features: number;
  readonly startTs: number;
  readonly driftDay: number;
  readonly campaignsPerDay: number;
  readonly defectShare: number;
  readonly overwrite: boolean;
}

export const DEFAULT_START_TS = Date.UTC(2026, 2, 2); // a Monday
export const MAX_USERS = 10_000_000;
export const MAX_DAYS = 366;
export const MAX_FEATURES = 10_000;

function intIn(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidInputError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

export function resolveWorldOptions(o: GenerateWorldOptions): ResolvedWorldOptions {
  const users = intIn('users', o.users ?? 10_000, 10, MAX_USERS);
  const days = intIn('days', o.days ?? 14, 1, MAX_DAYS);
  const seed = intIn('seed', o.seed ?? 1, 0, 0xffffffff);
  const features = intIn('features', o.features ?? 200, BATCH_NAMED_FEATURES.length, MAX_FEATURES);
  const startTs = o.startTs ?? DEFAULT_START_TS;
  if (!Number.isInteger(startTs) || startTs % 86_400_000 !== 0) {
    throw new InvalidInputError(`start must be a UTC midnight (epoch ms divisible by 86400000), got ${startTs}`);
  }
  const driftDay = intIn('driftDay', o.driftDay ?? defaultDriftDay(days), 0, MAX_DAYS);
  const campaignsPerDay = intIn(
    'campaignsPerDay',
    o.campaignsPerDay ?? Math.max(20, Math.round(users / 2000)),
    1,
    100_000,
  );
  const defectShare = o.defectShare ?? 0.005;
  if (!(defectShare >= 0 && defectShare <= 0.5)) {
    throw new InvalidInputError(`defectShare must be from 0 to 0.5, got ${defectShare}`);
  }
  const scenarios = o.scenarios && o.scenarios.length > 0 ? [...o.scenarios] : (['baseline'] as ScenarioName[]);
  return {
    outDir: o.outDir,
    users,
    days,
    seed,
    scenarios,
    features,
    startTs,
    driftDay,
    campaignsPerDay,
    defectShare,
    overwrite: o.overwrite ?? false,
  };
}
