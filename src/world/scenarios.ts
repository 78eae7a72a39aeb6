import { InvalidInputError, MS_PER_DAY, MS_PER_HOUR } from '../core/index.js';

export const SCENARIO_NAMES = [
  'baseline',
  'seasonality',
  'mix-shift',
  'unit-change',
  'schema-change',
  'stream-outage',
  'concept-drift',
  'label-delay',
  'deletion-wave',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** One dated entry of a world's scenario timeline, as written to the manifest. */
export interface ScenarioEvent {
  readonly scenario: ScenarioName;
  readonly fromTs: number;
  /** Exclusive end; `null` when the change lasts to the end of the world. */
  readonly toTs: number | null;
  /** Day index (0-based) the change starts on. */
  readonly fromDay: number;
  readonly description: string;
  /** `table.column` (or `table.*`) that this change should move, and only these. */
  readonly moves: readonly string[];
}

/** The segment whose conversion propensity changes under `concept-drift`. */
export const CONCEPT_DRIFT_SEGMENT = { platform: 'android', ageBands: ['18-24', '25-34'] } as const;
export const CONCEPT_DRIFT_CONVERT_FACTOR = 0.3;
export const UNIT_CHANGE_COLUMN = 'last_purchase_age_s';
export const UNIT_CHANGE_FACTOR = 1000;
export const OUTAGE_START_HOUR = 10;
export const OUTAGE_HOURS = 6;
export const SCHEMA_CHANGE_HOUR = 12;
export const DELETION_WAVE_SHARE = 0.03;
export const DELETION_WAVE_START_HOUR = 9;
export const DELETION_WAVE_HOURS = 6;
/** Peak extra activity (x1.8 sessions) and purchase propensity (x1.5) at the seasonality peak. */
export const SEASONALITY_ACTIVITY_PEAK = 0.8;
export const SEASONALITY_PURCHASE_PEAK = 0.5;
/** Share of campaigns from emerging verticals at the last day of `mix-shift` (0 before its start). */
export const MIX_SHIFT_FINAL_SHARE = 0.6;

/** Parses `a,b,c`; `baseline` alone means no drift, and cannot be combined with others. */
export function parseScenarios(text: string): ScenarioName[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length === 0)
    throw new InvalidInputError(`expected a scenario name (${SCENARIO_NAMES.join(', ')}), got ""`);
  for (const n of names) {
    if (!(SCENARIO_NAMES as readonly string[]).includes(n)) {
      throw new InvalidInputError(`unknown scenario "${n}"; expected one of ${SCENARIO_NAMES.join(', ')}`);
    }
  }
  const unique = [...new Set(names)] as ScenarioName[];
  if (unique.length > 1 && unique.includes('baseline')) {
    throw new InvalidInputError(`scenario "baseline" means no drift and cannot be combined; got ${unique.join(',')}`);
  }
  return unique;
}

/** The day most changes start on: the middle of the world, unless set. */
export function defaultDriftDay(days: number): number {
  return Math.max(1, Math.floor(days / 2));
}

export interface ScenarioTiming {
  readonly startTs: number;
  readonly days: number;
  readonly driftDay: number;
}

/**
 * Everything scenarios change, as plain numbers and functions of day or time, so the simulator asks one object.
 */
export class ScenarioEffects {
  readonly scenarios: readonly ScenarioName[];
  readonly timeline: readonly ScenarioEvent[];
  readonly #t: ScenarioTiming;
  readonly #peakDay: number;
  readonly #peakWidthDays: number;
  readonly #mixStartDay: number;

  constructor(scenarios: readonly ScenarioName[], timing: ScenarioTiming) {
    this.scenarios = scenarios;
    this.#t = timing;
    const needsDay = scenarios.some((s) => s !== 'baseline' && s !== 'seasonality' && s !== 'mix-shift');
    if (needsDay && (timing.driftDay < 1 || timing.driftDay >= timing.days)) {
      throw new InvalidInputError(
        `drift day must be from 1 to days-1 (${timing.days - 1}) so the change has a before and an after; got ${timing.driftDay}`,
      );
    }
    this.#peakDay = Math.min(timing.days - 1, Math.round(timing.days * 0.6));
    this.#peakWidthDays = Math.max(1, timing.days / 8);
    this.#mixStartDay = Math.floor(timing.days / 3);
    this.timeline = scenarios.map((s) => this.#event(s));
  }

  has(s: ScenarioName): boolean {
    return this.scenarios.includes(s);
  }

  get driftDay(): number {
    return this.#t.driftDay;
  }

  dayStart(day: number): number {
    return this.#t.startTs + day * MS_PER_DAY;
  }

  /** Sessions multiplier for a day (seasonality bell around the peak day). */
  activityMultiplier(day: number): number {
    if (!this.has('seasonality')) return 1;
    return 1 + SEASONALITY_ACTIVITY_PEAK * this.#bell(day);
  }

  /** Purchase-propensity multiplier for a day. */
  purchaseMultiplier(day: number): number {
    if (!this.has('seasonality')) return 1;
    return 1 + SEASONALITY_PURCHASE_PEAK * this.#bell(day);
  }

  /** Share of a day's campaigns that come from emerging verticals. */
  emergingShare(day: number): number {
    if (!this.has('mix-shift') || day < this.#mixStartDay) return 0;
    const span = Math.max(1, this.#t.days - 1 - this.#mixStartDay);
    return (MIX_SHIFT_FINAL_SHARE * (day - this.#mixStartDay + 1)) / (span + 1);
  }

  /** Factor applied to `last_purchase_age_s` in the snapshot of `day`. */
  unitFactor(day: number): number {
    return this.has('unit-change') && day >= this.#t.driftDay ? UNIT_CHANGE_FACTOR : 1;
  }

  get schemaChangeTs(): number {
    return this.has('schema-change') ? this.dayStart(this.#t.driftDay) + SCHEMA_CHANGE_HOUR * MS_PER_HOUR : Infinity;
  }

  /** [start, end) of the stream outage, or an empty range. */
  get outage(): readonly [number, number] {
    if (!this.has('stream-outage')) return [Infinity, Infinity];
    const start = this.dayStart(this.#t.driftDay) + OUTAGE_START_HOUR * MS_PER_HOUR;
    return [start, start + OUTAGE_HOURS * MS_PER_HOUR];
  }

  get conceptDriftTs(): number {
    return this.has('concept-drift') ? this.dayStart(this.#t.driftDay) : Infinity;
  }

  get labelDelayTs(): number {
    return this.has('label-delay') ? this.dayStart(this.#t.driftDay) : Infinity;
  }

  /** [start, end) of the deletion wave, or an empty range. */
  get deletionWave(): readonly [number, number] {
    if (!this.has('deletion-wave')) return [Infinity, Infinity];
    const start = this.dayStart(this.#t.driftDay) + DELETION_WAVE_START_HOUR * MS_PER_HOUR;
    return [start, start + DELETION_WAVE_HOURS * MS_PER_HOUR];
  }

  #bell(day: number): number {
    const z = (day - this.#peakDay) / this.#peakWidthDays;
    return Math.exp(-0.5 * z * z);
  }

  #event(s: ScenarioName): ScenarioEvent {
    const k = this.#t.driftDay;
    const at = (day: number, hour = 0) => this.dayStart(day) + hour * MS_PER_HOUR;
    switch (s) {
      case 'baseline':
        return { scenario: s, fromDay: 0, fromTs: at(0), toTs: null, description: 'no drift', moves: [] };
      case 'seasonality':
        return {
          scenario: s,
          fromDay: 0,
          fromTs: at(0),
          toTs: null,
          description: `holiday peak on day ${this.#peakDay} (sd ${this.#peakWidthDays.toFixed(2)} days): sessions up to x${1 + SEASONALITY_ACTIVITY_PEAK}, purchase propensity up to x${1 + SEASONALITY_PURCHASE_PEAK}`,
          moves: [
            'events.* (rows per day)',
            'events.amount (sum per day)',
            'batch.sessions_7d',
            'batch.orders_30d',
            'batch.lifetime_orders',
            'batch.lifetime_value',
            'batch.avg_order_value (from lifetime_value)',
            'batch.ltv_score_ext (from spend)',
            'batch.last_purchase_age_s',
            'batch.days_since_last_active',
            'outcomes.convert (rate)',
          ],
        };
      case 'mix-shift':
        return {
          scenario: s,
          fromDay: this.#mixStartDay,
          fromTs: at(this.#mixStartDay),
          toTs: null,
          description: `emerging verticals (${'crypto_exchange, ai_tools, quick_commerce'}) take a share of campaigns growing linearly to ${MIX_SHIFT_FINAL_SHARE * 100}% on the last day`,
          moves: ['campaigns.vertical', 'sends.vertical', 'outcomes (rates per send)'],
        };
      case 'unit-change':
        return {
          scenario: s,
          fromDay: k,
          fromTs: at(k),
          toTs: null,
          description: `batch column ${UNIT_CHANGE_COLUMN} switches from seconds to milliseconds (x${UNIT_CHANGE_FACTOR}) from snapshot day ${k}`,
          moves: [`batch.${UNIT_CHANGE_COLUMN}`],
        };
      case 'schema-change':
        return {
          scenario: s,
          fromDay: k,
          fromTs: at(k, SCHEMA_CHANGE_HOUR),
          toTs: null,
          description:
            'the event producer renames `category` to `product_category` and sends `amount` as a string ("12.34"); such messages carry schema_version 2 and are kept verbatim in `raw`',
          moves: ['events.category (NULL)', 'events.amount (NULL)', 'events.raw', 'events.schema_version'],
        };
      case 'stream-outage':
        return {
          scenario: s,
          fromDay: k,
          fromTs: at(k, OUTAGE_START_HOUR),
          toTs: at(k, OUTAGE_START_HOUR + OUTAGE_HOURS),
          description: `no event arrives for ${OUTAGE_HOURS} hours; the events of the gap arrive in a burst in the 30 minutes after it`,
          moves: ['events.arrival_ts'],
        };
      case 'concept-drift':
        return {
          scenario: s,
          fromDay: k,
          fromTs: at(k),
          toTs: null,
          description: `conversion propensity of ${CONCEPT_DRIFT_SEGMENT.platform} users aged ${CONCEPT_DRIFT_SEGMENT.ageBands.join('/')} drops to x${CONCEPT_DRIFT_CONVERT_FACTOR} for the same features`,
          moves: ['outcomes.convert (rate, segment only)', 'ground_truth.p_convert (segment only)'],
        };
      case 'label-delay':
        return {
          scenario: s,
          fromDay: k,
          fromTs: at(k),
          toTs: null,
          description:
            'conversion delay of sends from day k: median 5 days instead of 1 day (same 14-day window, same rate)',
          moves: ['outcomes.outcome_ts (convert)'],
        };
      case 'deletion-wave':
        return {
          scenario: s,
          fromDay: k,
          fromTs: at(k, DELETION_WAVE_START_HOUR),
          toTs: at(k, DELETION_WAVE_START_HOUR + DELETION_WAVE_HOURS),
          description: `${DELETION_WAVE_SHARE * 100}% of users ask to be forgotten within ${DELETION_WAVE_HOURS} hours`,
          moves: ['deletions.*', 'events.* (fewer rows afterwards)', 'batch.* (fewer rows afterwards)'],
        };
    }
  }
}
