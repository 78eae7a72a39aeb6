import { type CounterMetric, InvalidInputError, type MetricsRegistry, MS_PER_HOUR } from '../core/index.js';
import {
  CONTRACT_FIELDS_V1,
  type ContractResult,
  requiredFields,
  STREAM_EVENT_TYPES,
  type StreamEventType,
} from './contracts.js';

/**
 * Schema-change detection: recognises, from the validation results of the stream, that a producer changed the shape
 * of an event type, as opposed to isolated bad messages (which are only dead-lettered and counted).
 *
 * - `renamed`: a known field is absent while an unknown field appears in the same messages
 *   (`category` -> `product_category`). The unknown field is paired with the absent known field whose name it
 *   shares the longest run of characters with (at least 3, and half the shorter name); failing that, a message
 *   with exactly one missing required field and exactly one unknown field pairs them.
 * - `retyped`: a known field present with the wrong JSON type (`amount` as a string), keyed by the observed type.
 * - `new_field`: an unknown field not paired as a rename.
 *
 * A pattern raises one signal once, within the lookback, it counts at least `minCount` messages and at least
 * `minShare` of that event type's messages. Time is event time (the message's event_ts, else its arrival_ts),
 * counted in buckets; a message older than the lookback behind the newest time seen is not counted. No wall clock.
 */

export const SCHEMA_CHANGE_KINDS = ['renamed', 'retyped', 'new_field'] as const;
export type SchemaChangeKind = (typeof SCHEMA_CHANGE_KINDS)[number];

export interface SchemaChangeSignal {
  readonly kind: SchemaChangeKind;
  readonly eventType: StreamEventType;
  /** The known field (renamed, retyped) or the new field (new_field). */
  readonly field: string;
  /** The field it was renamed to. */
  readonly newField?: string;
  /** The JSON type that came instead (retyped): `string`, `integer`, `number`, `boolean`, `array`, `object`. */
  readonly observedType?: string;
  /** Event time of the earliest message of the pattern counted in the lookback when the signal was raised. */
  readonly firstSeenTs: number;
  /** Event time of the message that crossed the thresholds. */
  readonly raisedTs: number;
  /** Messages of the pattern in the lookback when raised. */
  readonly count: number;
  /** count / messages of that event type in the lookback when raised. */
  readonly share: number;
  /** Readable summary: `purchase.amount retyped to string in 412 of 1,930 messages (21.3%)`. */
  readonly description: string;
}

export interface SchemaChangeDetectorOptions {
  /** Minimum messages of a pattern in the lookback (default 20). */
  readonly minCount?: number;
  /** Minimum share of the event type's messages in the lookback (default 0.005). */
  readonly minShare?: number;
  /** Lookback in event time (default 24 h). */
  readonly lookbackMs?: number;
  /** Bucket width; the lookback is a whole number of buckets (default 1 h). */
  readonly bucketMs?: number;
  /** Distinct patterns tracked at most; further ones are ignored and counted in `droppedPatterns` (default 1,000). */
  readonly maxPatterns?: number;
  /** Counts raised signals as `adnova_stream_schema_change_signals_total{kind, event_type}`. */
  readonly metrics?: MetricsRegistry;
  /** Called once per raised signal. */
  readonly onSignal?: (signal: SchemaChangeSignal) => void;
}

export const DEFAULT_SCHEMA_CHANGE_MIN_COUNT = 20;
export const DEFAULT_SCHEMA_CHANGE_MIN_SHARE = 0.005;
export const DEFAULT_SCHEMA_CHANGE_LOOKBACK_MS = 24 * MS_PER_HOUR;
export const DEFAULT_SCHEMA_CHANGE_BUCKET_MS = MS_PER_HOUR;
export const DEFAULT_SCHEMA_CHANGE_MAX_PATTERNS = 1000;

/** Detector options after defaults and checks. */
export interface ResolvedSchemaChangeOptions {
  readonly minCount: number;
  readonly minShare: number;
  readonly bucketMs: number;
  readonly buckets: number;
  readonly maxPatterns: number;
}

/** Validates detector options once; throws InvalidInputError naming the bad one. */
export function parseSchemaChangeOptions(o: SchemaChangeDetectorOptions = {}): ResolvedSchemaChangeOptions {
  const minCount = o.minCount ?? DEFAULT_SCHEMA_CHANGE_MIN_COUNT;
  const minShare = o.minShare ?? DEFAULT_SCHEMA_CHANGE_MIN_SHARE;
  const lookbackMs = o.lookbackMs ?? DEFAULT_SCHEMA_CHANGE_LOOKBACK_MS;
  const bucketMs = o.bucketMs ?? DEFAULT_SCHEMA_CHANGE_BUCKET_MS;
  const maxPatterns = o.maxPatterns ?? DEFAULT_SCHEMA_CHANGE_MAX_PATTERNS;
  if (!(Number.isInteger(minCount) && minCount >= 1)) {
    throw new InvalidInputError(`minCount must be an integer >= 1, got ${minCount}`);
  }
  if (!(minShare >= 0 && minShare <= 1)) throw new InvalidInputError(`minShare must be from 0 to 1, got ${minShare}`);
  if (!(Number.isInteger(bucketMs) && bucketMs > 0)) {
    throw new InvalidInputError(`bucketMs must be a positive integer, got ${bucketMs}`);
  }
  if (!(Number.isInteger(lookbackMs) && lookbackMs >= bucketMs && lookbackMs % bucketMs === 0)) {
    throw new InvalidInputError(`lookbackMs must be a positive multiple of bucketMs (${bucketMs}), got ${lookbackMs}`);
  }
  if (!(Number.isInteger(maxPatterns) && maxPatterns >= 1)) {
    throw new InvalidInputError(`maxPatterns must be an integer >= 1, got ${maxPatterns}`);
  }
  return { minCount, minShare, bucketMs, buckets: lookbackMs / bucketMs, maxPatterns };
}

/** Counts per time bucket in a ring covering the lookback. */
class BucketRing {
  readonly #ids: Float64Array;
  readonly #counts: Float64Array;
  readonly #minTs: Float64Array;

  constructor(n: number) {
    this.#ids = new Float64Array(n).fill(Number.NEGATIVE_INFINITY);
    this.#counts = new Float64Array(n);
    this.#minTs = new Float64Array(n);
  }

  /** Adds one at bucket `b` unless it is older than the lookback ending at bucket `newest`. */
  add(b: number, newest: number, ts: number): boolean {
    const n = this.#ids.length;
    if (b <= newest - n) return false;
    const slot = ((b % n) + n) % n;
    const id = this.#ids[slot] as number;
    if (id > b) return false;
    if (id < b) {
      this.#ids[slot] = b;
      this.#counts[slot] = 0;
      this.#minTs[slot] = ts;
    } else if (ts < (this.#minTs[slot] as number)) {
      this.#minTs[slot] = ts;
    }
    this.#counts[slot] = (this.#counts[slot] as number) + 1;
    return true;
  }

  /** Total in the lookback ending at bucket `newest`. */
  sum(newest: number): number {
    const n = this.#ids.length;
    let s = 0;
    for (let i = 0; i < n; i++) if ((this.#ids[i] as number) > newest - n) s += this.#counts[i] as number;
    return s;
  }

  /** Earliest time counted in the lookback ending at bucket `newest`. */
  minTs(newest: number): number {
    const n = this.#ids.length;
    let m = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      if ((this.#ids[i] as number) > newest - n && (this.#counts[i] as number) > 0) {
        m = Math.min(m, this.#minTs[i] as number);
      }
    }
    return m;
  }
}

interface Pattern {
  readonly kind: SchemaChangeKind;
  readonly eventType: StreamEventType;
  readonly typeIndex: number;
  readonly field: string;
  readonly newField: string | undefined;
  readonly observedType: string | undefined;
  readonly ring: BucketRing;
  raised: boolean;
}

const TYPE_INDEX = new Map<string, number>(STREAM_EVENT_TYPES.map((t, i) => [t, i]));
const MIN_COMMON_RUN = 3;
const RENAME_CACHE_SIZE = 10_000;

/**
 * Fed every validation result in stream order (`observe`), raises each schema-change pattern once (`signals()`).
 * Deterministic: the same results in the same order give the same signals.
 */
export class SchemaChangeDetector {
  readonly #o: ResolvedSchemaChangeOptions;
  readonly #totals: BucketRing[];
  readonly #patterns = new Map<string, Pattern>();
  readonly #signals: SchemaChangeSignal[] = [];
  readonly #renameCache = new Map<string, string>();
  readonly #counter: CounterMetric | undefined;
  readonly #onSignal: ((signal: SchemaChangeSignal) => void) | undefined;
  #newest = Number.NEGATIVE_INFINITY;
  #dropped = 0;

  constructor(options: SchemaChangeDetectorOptions = {}) {
    this.#o = parseSchemaChangeOptions(options);
    this.#totals = STREAM_EVENT_TYPES.map(() => new BucketRing(this.#o.buckets));
    this.#counter = options.metrics?.counter({
      name: 'adnova_stream_schema_change_signals_total',
      help: 'Schema-change signals raised (renamed, retyped, new_field), by event type',
      labelNames: ['kind', 'event_type'],
    });
    this.#onSignal = options.onSignal;
  }

  /** Takes one validation result; results of unknown event types or without a usable time are skipped. */
  observe(result: ContractResult): void {
    let eventType: StreamEventType | undefined;
    let ts: number | undefined;
    if (result.ok) {
      eventType = result.event.eventType;
      ts = result.event.eventTs;
    } else {
      eventType = result.eventType;
      ts = result.eventTs ?? result.arrivalTs;
    }
    if (eventType === undefined || ts === undefined) return;
    const typeIndex = TYPE_INDEX.get(eventType) as number;
    const b = Math.floor(ts / this.#o.bucketMs);
    if (b > this.#newest) this.#newest = b;
    if (!(this.#totals[typeIndex] as BucketRing).add(b, this.#newest, ts)) return;
    if (!result.ok) {
      for (const issue of result.issues) {
        if (issue.kind === 'wrong_type') {
          this.#count('retyped', eventType, typeIndex, issue.field, undefined, issue.observedType, b, ts);
        }
      }
    }
    const unknown = result.unknownFields;
    if (unknown.length === 0 || result.message === undefined) return;
    const message = result.message;
    let absentMask = 0;
    for (let i = 0; i < CONTRACT_FIELDS_V1.length; i++) {
      const v = message[CONTRACT_FIELDS_V1[i] as string];
      if (v === undefined || v === null) absentMask |= 1 << i;
    }
    for (const u of unknown) {
      const renamedFrom = this.#renameSource(eventType, typeIndex, u, absentMask, unknown.length);
      if (renamedFrom === undefined) this.#count('new_field', eventType, typeIndex, u, undefined, undefined, b, ts);
      else this.#count('renamed', eventType, typeIndex, renamedFrom, u, undefined, b, ts);
    }
  }

  /** The known field `unknown` replaces in a message with these absent fields, memoized (the set is small). */
  #renameSource(
    eventType: StreamEventType,
    typeIndex: number,
    unknown: string,
    absentMask: number,
    unknownCount: number,
  ): string | undefined {
    const key = `${typeIndex}\u0000${absentMask}\u0000${unknownCount === 1 ? 1 : 2}\u0000${unknown}`;
    const cached = this.#renameCache.get(key);
    if (cached !== undefined) return cached === '' ? undefined : cached;
    const absent = CONTRACT_FIELDS_V1.filter((_, i) => (absentMask & (1 << i)) !== 0);
    let from = bestRenameSource(unknown, absent);
    if (from === undefined && unknownCount === 1) {
      const missingRequired = requiredFields(eventType).filter((f) => absent.includes(f));
      if (missingRequired.length === 1) from = missingRequired[0];
    }
    if (this.#renameCache.size < RENAME_CACHE_SIZE) this.#renameCache.set(key, from ?? '');
    return from;
  }

  /** Signals raised so far, in the order they were raised. */
  signals(): readonly SchemaChangeSignal[] {
    return this.#signals;
  }

  /** Patterns ignored because `maxPatterns` were already tracked. */
  get droppedPatterns(): number {
    return this.#dropped;
  }

  #count(
    kind: SchemaChangeKind,
    eventType: StreamEventType,
    typeIndex: number,
    field: string,
    newField: string | undefined,
    observedType: string | undefined,
    b: number,
    ts: number,
  ): void {
    const key = `${kind}\u0000${eventType}\u0000${field}\u0000${newField ?? observedType ?? ''}`;
    let p = this.#patterns.get(key);
    if (p === undefined) {
      if (this.#patterns.size >= this.#o.maxPatterns) {
        this.#dropped++;
        return;
      }
      p = {
        kind,
        eventType,
        typeIndex,
        field,
        newField,
        observedType,
        ring: new BucketRing(this.#o.buckets),
        raised: false,
      };
      this.#patterns.set(key, p);
    }
    if (p.raised || !p.ring.add(b, this.#newest, ts)) return;
    const count = p.ring.sum(this.#newest);
    if (count < this.#o.minCount) return;
    const total = (this.#totals[typeIndex] as BucketRing).sum(this.#newest);
    const share = total > 0 ? count / total : 0;
    if (share < this.#o.minShare) return;
    p.raised = true;
    const signal = makeSignal(p, p.ring.minTs(this.#newest), ts, count, total, share);
    this.#signals.push(signal);
    this.#counter?.inc({ kind, event_type: eventType });
    this.#onSignal?.(signal);
  }
}

function makeSignal(
  p: Pattern,
  firstSeenTs: number,
  raisedTs: number,
  count: number,
  total: number,
  share: number,
): SchemaChangeSignal {
  const what =
    p.kind === 'renamed'
      ? `${p.eventType}.${p.field} renamed to ${p.newField}`
      : p.kind === 'retyped'
        ? `${p.eventType}.${p.field} retyped to ${p.observedType}`
        : `${p.eventType}.${p.field} is a new field`;
  const description = `${what} in ${count} of ${total} messages (${(share * 100).toFixed(1)}%)`;
  const base = { kind: p.kind, eventType: p.eventType, field: p.field, firstSeenTs, raisedTs, count, share };
  if (p.kind === 'renamed') return { ...base, newField: p.newField as string, description };
  if (p.kind === 'retyped') return { ...base, observedType: p.observedType as string, description };
  return { ...base, description };
}

/** The absent known field `unknown` most likely replaces, by longest common run of characters; ties by order. */
function bestRenameSource(unknown: string, absent: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestRun = 0;
  const u = unknown.toLowerCase();
  for (const f of absent) {
    const run = longestCommonRun(u, f);
    if (run >= MIN_COMMON_RUN && run * 2 >= Math.min(u.length, f.length) && run > bestRun) {
      best = f;
      bestRun = run;
    }
  }
  return best;
}

function longestCommonRun(a: string, b: string): number {
  let best = 0;
  const prev = new Uint16Array(b.length + 1);
  const cur = new Uint16Array(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const v = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? (prev[j - 1] as number) + 1 : 0;
      cur[j] = v;
      if (v > best) best = v;
    }
    prev.set(cur);
    cur.fill(0);
  }
  return best;
}
