import { z } from 'zod';
import { CHANNELS, PLATFORMS } from '../core/index.js';
import type { DeadLetterInput } from './dead-letter.js';

/**
 * Event schema contracts of the ingestion. The contract is owned here, not by a producer: the World simulator and
 * the importers are producers that must satisfy it (contracts.test.ts checks the closed sets match the World's).
 *
 * Policy:
 * - Validation is structural: a message passes if its fields satisfy the contract of its event type. The declared
 *   `schema_version` is recorded (default 1) but does not by itself reject a message, unless `strictSchemaVersion`.
 *   So after the World's schema change, a v2 `session_start` (no renamed or retyped field) passes, while a v2
 *   `page_view` (`product_category` instead of `category`) or `purchase` (`amount` as a string) is invalid and
 *   dead-lettered against `<type>@1`: production practice is to quarantine such messages until the contract is
 *   versioned, then replay the dead letters.
 * - Unknown extra fields are tolerated and listed (`unknownFields`) so they can be counted.
 * - `null` in an optional field means absent; in a required field it is missing.
 *
 * Speed: the zod schemas are the declared contract; the hot path runs predicates compiled once from their JSON
 * Schema export (`z.toJSONSchema`), and zod `safeParse` runs only on rejected messages to name the issues.
 * contracts.test.ts checks both agree on World traffic and mutations.
 * Measured here on World traffic (shared 2-core machine): valid messages ~2.5M/s with the compiled path against
 * ~0.7M/s with zod `safeParse` on every message; rejected ones ~0.15M/s (zod issues and the reason text).
 */

/** Event types of contract v1 (the World's EVENT_TYPES; importers add `return`). */
export const STREAM_EVENT_TYPES = [
  'session_start',
  'app_open',
  'page_view',
  'product_view',
  'add_to_cart',
  'purchase',
  'return',
  'email_open',
  'email_click',
  'push_open',
  'push_click',
  'in_app_click',
  'unsubscribe',
] as const;
export type StreamEventType = (typeof STREAM_EVENT_TYPES)[number];

export const STREAM_CHANNELS = CHANNELS;
export const STREAM_PLATFORMS = PLATFORMS;

/** The contract version this module validates against. */
export const EVENT_CONTRACT_VERSION = 1;

const nonEmpty = z.string().min(1);

/** Every field of a v1 message; optional fields accept `null` as absent. Event types tighten some below. */
const FIELDS_V1 = {
  event_id: z.union([z.number().int().min(0), nonEmpty]),
  user_id: nonEmpty,
  event_type: z.enum(STREAM_EVENT_TYPES),
  event_ts: z.number().int().min(0),
  schema_version: z.number().int().min(1).nullish(),
  session_id: z.number().int().nullish(),
  platform: z.enum(STREAM_PLATFORMS).nullish(),
  category: nonEmpty.nullish(),
  item_id: nonEmpty.nullish(),
  amount: z.number().nullish(),
  quantity: z.number().int().nullish(),
  channel: z.enum(STREAM_CHANNELS).nullish(),
  campaign_id: nonEmpty.nullish(),
  send_id: nonEmpty.nullish(),
  order_id: nonEmpty.nullish(),
};

/** Field names a v1 message may carry; anything else is an unknown (tolerated) field. */
export const CONTRACT_FIELDS_V1: readonly string[] = Object.keys(FIELDS_V1);
export type ContractField = keyof typeof FIELDS_V1;

const messaging = (channel: (typeof STREAM_CHANNELS)[number]) => ({
  channel: z.literal(channel),
  campaign_id: nonEmpty,
  send_id: nonEmpty,
});

/** Fields each event type requires (beyond the common ones) or constrains, following the World and importers. */
const REQUIRED_V1 = {
  session_start: { session_id: z.number().int() },
  app_open: {},
  page_view: { category: nonEmpty },
  product_view: { category: nonEmpty, item_id: nonEmpty },
  add_to_cart: { category: nonEmpty, item_id: nonEmpty, quantity: z.number().int().min(1) },
  purchase: { amount: z.number() },
  return: { amount: z.number() },
  email_open: messaging('email'),
  email_click: messaging('email'),
  push_open: messaging('push'),
  push_click: messaging('push'),
  in_app_click: messaging('in_app'),
  unsubscribe: { channel: z.enum(STREAM_CHANNELS) },
} satisfies Record<StreamEventType, Partial<Record<ContractField, z.ZodType>>>;

function buildContract(): Readonly<Record<StreamEventType, z.ZodObject>> {
  const out = {} as Record<StreamEventType, z.ZodObject>;
  for (const type of STREAM_EVENT_TYPES) {
    out[type] = z.looseObject({ ...FIELDS_V1, event_type: z.literal(type), ...REQUIRED_V1[type] });
  }
  return out;
}

/**
 * Contract v1, one zod schema per event type: what the World producer sends before the schema change. Loose
 * objects: unknown fields pass (and are listed by the validator).
 */
export const EVENT_CONTRACT_V1: Readonly<Record<StreamEventType, z.ZodObject>> = buildContract();

const REQUIRED_FIELDS_BY_TYPE = {} as Record<StreamEventType, readonly ContractField[]>;
for (const t of STREAM_EVENT_TYPES) {
  REQUIRED_FIELDS_BY_TYPE[t] = Object.entries(EVENT_CONTRACT_V1[t].shape)
    .filter(([, schema]) => !(schema as z.ZodType).safeParse(undefined).success)
    .map(([k]) => k as ContractField);
}

/** The fields a v1 event type requires, in contract order. */
export function requiredFields(type: StreamEventType): readonly ContractField[] {
  return REQUIRED_FIELDS_BY_TYPE[type];
}

/** Contract v1 as JSON Schema (draft 2020-12), one schema per event type: the documented, exportable contract. */
export function eventContractJsonSchema(): Record<StreamEventType, Record<string, unknown>> {
  const out = {} as Record<StreamEventType, Record<string, unknown>>;
  for (const type of STREAM_EVENT_TYPES) {
    out[type] = z.toJSONSchema(EVENT_CONTRACT_V1[type], { unrepresentable: 'any' }) as Record<string, unknown>;
  }
  return out;
}

/** A compiled field check: accepts exactly what the zod schema accepts (checked by contracts.test.ts). */
interface CompiledField {
  readonly name: string;
  readonly required: boolean;
  readonly check: (value: unknown) => boolean;
}

/**
 * Compiles a property of the JSON Schema export into a predicate. Only the keywords the contract uses are
 * understood; any other one throws at load time, so a contract change the compiler cannot follow fails loudly.
 */
function compileJsonSchema(s: Record<string, unknown>): (value: unknown) => boolean {
  for (const k of Object.keys(s)) {
    if (!JSON_SCHEMA_KEYWORDS.has(k)) throw new Error(`contract compiler: unsupported JSON Schema keyword ${k}`);
  }
  const anyOf = s['anyOf'] as Record<string, unknown>[] | undefined;
  if (anyOf !== undefined) {
    const checks = anyOf.map(compileJsonSchema);
    return (v) => {
      for (let i = 0; i < checks.length; i++) if ((checks[i] as (value: unknown) => boolean)(v)) return true;
      return false;
    };
  }
  const type = s['type'];
  if (Array.isArray(type)) return compileJsonSchema({ anyOf: type.map((t) => ({ ...s, type: t })) });
  const min = typeof s['minimum'] === 'number' ? s['minimum'] : Number.NEGATIVE_INFINITY;
  const max = typeof s['maximum'] === 'number' ? s['maximum'] : Number.POSITIVE_INFINITY;
  const exclusiveMin = typeof s['exclusiveMinimum'] === 'number' ? s['exclusiveMinimum'] : Number.NEGATIVE_INFINITY;
  switch (type) {
    case 'null':
      return (v) => v === null;
    case 'string': {
      const minLength = typeof s['minLength'] === 'number' ? s['minLength'] : 0;
      if ('const' in s) {
        const c = s['const'];
        return (v) => v === c;
      }
      if (Array.isArray(s['enum'])) {
        const allowed = new Set<unknown>(s['enum']);
        return (v) => typeof v === 'string' && allowed.has(v);
      }
      return (v) => typeof v === 'string' && v.length >= minLength;
    }
    case 'integer':
      return (v) => typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max && v > exclusiveMin;
    case 'number':
      return (v) => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max && v > exclusiveMin;
    default:
      throw new Error(`contract compiler: unsupported JSON Schema type ${String(type)}`);
  }
}
const JSON_SCHEMA_KEYWORDS = new Set([
  'type',
  'anyOf',
  'minLength',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'const',
  'enum',
]);

function compileContract(): Readonly<Record<StreamEventType, readonly CompiledField[]>> {
  const schemas = eventContractJsonSchema();
  const out = {} as Record<StreamEventType, readonly CompiledField[]>;
  for (const type of STREAM_EVENT_TYPES) {
    const schema = schemas[type];
    const required = new Set(schema['required'] as string[]);
    const props = schema['properties'] as Record<string, Record<string, unknown>>;
    out[type] = Object.entries(props).map(([name, p]) => ({
      name,
      required: required.has(name),
      check: compileJsonSchema(p),
    }));
  }
  return out;
}

/** Contract v1 compiled from its JSON Schema export: the fast path run on every event. */
const COMPILED_V1 = compileContract();

function passesCompiled(fields: readonly CompiledField[], message: Readonly<Record<string, unknown>>): boolean {
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i] as CompiledField;
    const v = message[f.name];
    if (v === undefined ? f.required : !f.check(v)) return false;
  }
  return true;
}

/** Whether `message` satisfies contract v1 by the compiled fast path (exported for the differential test). */
export function passesContractFastPath(type: StreamEventType, message: Readonly<Record<string, unknown>>): boolean {
  return passesCompiled(COMPILED_V1[type], message);
}

/** A valid event, normalized: camelCase, ids as strings, absent optional fields `undefined`. */
export interface StreamEvent {
  readonly eventId: string;
  readonly userId: string;
  readonly eventType: StreamEventType;
  /** Epoch ms as the producer sent it (a seconds value passes the contract; windowing catches it as too late). */
  readonly eventTs: number;
  /** From the envelope: when the pipeline received it. */
  readonly arrivalTs: number;
  /** Declared producer schema version (1 when absent). */
  readonly schemaVersion: number;
  readonly sessionId?: number | undefined;
  readonly platform?: string | undefined;
  readonly category?: string | undefined;
  readonly itemId?: string | undefined;
  readonly amount?: number | undefined;
  readonly quantity?: number | undefined;
  readonly channel?: string | undefined;
  readonly campaignId?: string | undefined;
  readonly sendId?: string | undefined;
  readonly orderId?: string | undefined;
}

/** Why a field failed: absent (or null), present with the wrong JSON type, or of the right type but not allowed. */
export const CONTRACT_ISSUE_KINDS = ['missing', 'wrong_type', 'invalid_value'] as const;
export type ContractIssueKind = (typeof CONTRACT_ISSUE_KINDS)[number];

export interface ContractIssue {
  /** Message field (`amount`), or `arrival_ts` / `message` for envelope problems. */
  readonly field: string;
  readonly kind: ContractIssueKind;
  /** Readable expectation: `a number`, `one of "ios" | "android" | "web"`. */
  readonly expected: string;
  /** JSON type of what came: `string`, `number`, `integer`... `null`, `undefined` (missing), `array`, `object`. */
  readonly observedType: string;
}

/** Reason kinds counted in metrics (closed set, so label cardinality stays bounded). */
export const CONTRACT_REASON_KINDS = [
  'bad_envelope',
  'unknown_event_type',
  'missing_field',
  'wrong_type',
  'invalid_value',
] as const;
export type ContractReasonKind = (typeof CONTRACT_REASON_KINDS)[number];

export interface ContractValid {
  readonly ok: true;
  readonly event: StreamEvent;
  /** Fields the contract does not know, in message order; a shared empty array when none. */
  readonly unknownFields: readonly string[];
  /** The message as received (for the schema-change detector). */
  readonly message: Readonly<Record<string, unknown>>;
}

export interface ContractInvalid {
  readonly ok: false;
  /** Readable: `purchase.amount: expected a number, got string "12.34"`; several issues joined by `; `. */
  readonly reason: string;
  readonly reasonKind: ContractReasonKind;
  readonly issues: readonly ContractIssue[];
  /** Contract it was validated against: `purchase@1`, `event@1` (unknown type), `envelope@1`. */
  readonly schemaVersion: string;
  /** The event type when it is a known one. */
  readonly eventType: StreamEventType | undefined;
  /** The message's event_ts when it is a finite number. */
  readonly eventTs: number | undefined;
  /** The envelope's arrival_ts when it is a finite number. */
  readonly arrivalTs: number | undefined;
  readonly unknownFields: readonly string[];
  /** The message object, when there was one. */
  readonly message: Readonly<Record<string, unknown>> | undefined;
  /** What came in, untouched: becomes the dead letter's `event`. */
  readonly payload: unknown;
}

export type ContractResult = ContractValid | ContractInvalid;

export interface ValidateOptions {
  /**
   * Reject a message whose declared `schema_version` has no contract (only 1 exists), even when its fields satisfy
   * v1. Default false: validation is structural (see the module comment).
   */
  readonly strictSchemaVersion?: boolean;
}

const NO_FIELDS: readonly string[] = Object.freeze([]);
const KNOWN_FIELDS = new Set<string>(CONTRACT_FIELDS_V1);
const KNOWN_TYPES = new Set<string>(STREAM_EVENT_TYPES);
const ENVELOPE_VERSION = `envelope@${EVENT_CONTRACT_VERSION}`;
const EVENT_VERSION = `event@${EVENT_CONTRACT_VERSION}`;

/**
 * Validates one wire envelope `{"arrival_ts": N, "message": {...}}` (already JSON-parsed) against contract v1.
 * Never throws: bad input is an invalid result ready for `toDeadLetter`.
 */
export function validateEnvelope(payload: unknown, options?: ValidateOptions): ContractResult {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    return envelopeInvalid(payload, 'payload', 'an object {"arrival_ts": N, "message": {...}}', payload, undefined);
  }
  const env = payload as Record<string, unknown>;
  const arrival = env['arrival_ts'];
  const arrivalTs = typeof arrival === 'number' && Number.isFinite(arrival) ? arrival : undefined;
  if (arrivalTs === undefined || arrivalTs < 0) {
    return envelopeInvalid(payload, 'arrival_ts', 'an epoch-ms number >= 0', arrival, undefined);
  }
  const message = env['message'];
  if (message === null || typeof message !== 'object' || Array.isArray(message)) {
    return envelopeInvalid(payload, 'message', 'an object', message, arrivalTs);
  }
  return validateMessage(message as Record<string, unknown>, arrivalTs, payload, options);
}

/**
 * Validates one message whose arrival time is known separately (a file, a bus position). `payload` is what the
 * dead letter keeps (default: the message).
 */
export function validateMessage(
  message: Readonly<Record<string, unknown>>,
  arrivalTs: number,
  payload: unknown = message,
  options?: ValidateOptions,
): ContractResult {
  const rawTs = message['event_ts'];
  const eventTs = typeof rawTs === 'number' && Number.isFinite(rawTs) ? rawTs : undefined;
  let unknownFields = NO_FIELDS;
  for (const key in message) {
    if (!KNOWN_FIELDS.has(key)) {
      if (unknownFields === NO_FIELDS) unknownFields = [];
      (unknownFields as string[]).push(key);
    }
  }
  const type = message['event_type'];
  if (typeof type !== 'string' || !KNOWN_TYPES.has(type)) {
    const observed = typeOf(type);
    const issue: ContractIssue = {
      field: 'event_type',
      kind: type === undefined || type === null ? 'missing' : typeof type === 'string' ? 'invalid_value' : 'wrong_type',
      expected: `one of ${STREAM_EVENT_TYPES.join(' | ')}`,
      observedType: observed,
    };
    return {
      ok: false,
      reason: `event_type: expected a known event type (${STREAM_EVENT_TYPES.join(', ')}), got ${describeValue(type)}`,
      reasonKind: issue.kind === 'invalid_value' ? 'unknown_event_type' : reasonKindOf(issue.kind),
      issues: [issue],
      schemaVersion: EVENT_VERSION,
      eventType: undefined,
      eventTs,
      arrivalTs,
      unknownFields,
      message,
      payload,
    };
  }
  const eventType = type as StreamEventType;
  const declared = message['schema_version'];
  const passes = passesCompiled(COMPILED_V1[eventType], message);
  if (
    !passes ||
    (options?.strictSchemaVersion === true &&
      declared !== undefined &&
      declared !== null &&
      declared !== EVENT_CONTRACT_VERSION)
  ) {
    // Rejections only: zod gives the precise issues (its error path is ~5x slower than the compiled check).
    const parsed = passes ? undefined : EVENT_CONTRACT_V1[eventType].safeParse(message);
    const issues = parsed === undefined || parsed.success ? [] : parsed.error.issues.map((i) => toIssue(i, message));
    if (issues.length === 0) {
      issues.push({
        field: 'schema_version',
        kind: 'invalid_value',
        expected: String(EVENT_CONTRACT_VERSION),
        observedType: typeOf(declared),
      });
    }
    let reason = issues
      .map((i) => `${eventType}.${i.field}: expected ${i.expected}, got ${describeValue(message[i.field])}`)
      .join('; ');
    if (typeof declared === 'number' && declared !== EVENT_CONTRACT_VERSION) {
      reason += ` (message declares schema_version ${declared}; only ${EVENT_CONTRACT_VERSION} has a contract)`;
    }
    return {
      ok: false,
      reason,
      reasonKind: reasonKindOf((issues[0] as ContractIssue).kind),
      issues,
      schemaVersion: `${eventType}@${EVENT_CONTRACT_VERSION}`,
      eventType,
      eventTs,
      arrivalTs,
      unknownFields,
      message,
      payload,
    };
  }
  const id = message['event_id'] as number | string;
  const event: StreamEvent = {
    eventId: typeof id === 'string' ? id : String(id),
    userId: message['user_id'] as string,
    eventType,
    eventTs: rawTs as number,
    arrivalTs,
    schemaVersion: (declared ?? 1) as number,
    sessionId: (message['session_id'] ?? undefined) as number | undefined,
    platform: (message['platform'] ?? undefined) as string | undefined,
    category: (message['category'] ?? undefined) as string | undefined,
    itemId: (message['item_id'] ?? undefined) as string | undefined,
    amount: (message['amount'] ?? undefined) as number | undefined,
    quantity: (message['quantity'] ?? undefined) as number | undefined,
    channel: (message['channel'] ?? undefined) as string | undefined,
    campaignId: (message['campaign_id'] ?? undefined) as string | undefined,
    sendId: (message['send_id'] ?? undefined) as string | undefined,
    orderId: (message['order_id'] ?? undefined) as string | undefined,
  };
  return { ok: true, event, unknownFields, message };
}

/** The dead letter for an invalid result: the original payload, the reason and the contract version. */
export function toDeadLetter(result: ContractInvalid, source?: string): DeadLetterInput {
  return source === undefined
    ? { event: result.payload, reason: result.reason, schemaVersion: result.schemaVersion }
    : { event: result.payload, reason: result.reason, schemaVersion: result.schemaVersion, source };
}

function envelopeInvalid(
  payload: unknown,
  field: string,
  expected: string,
  value: unknown,
  arrivalTs: number | undefined,
): ContractInvalid {
  const message = field === 'arrival_ts' ? objectField(payload, 'message') : undefined;
  return {
    ok: false,
    reason: `envelope.${field}: expected ${expected}, got ${describeValue(value)}`,
    reasonKind: 'bad_envelope',
    issues: [
      {
        field,
        kind:
          value === undefined || value === null
            ? 'missing'
            : typeof value === 'number'
              ? 'invalid_value'
              : 'wrong_type',
        expected,
        observedType: typeOf(value),
      },
    ],
    schemaVersion: ENVELOPE_VERSION,
    eventType: undefined,
    eventTs: undefined,
    arrivalTs,
    unknownFields: NO_FIELDS,
    message,
    payload,
  };
}

function objectField(payload: unknown, key: string): Record<string, unknown> | undefined {
  if (payload === null || typeof payload !== 'object') return undefined;
  const v = (payload as Record<string, unknown>)[key];
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function reasonKindOf(kind: ContractIssueKind): ContractReasonKind {
  return kind === 'missing' ? 'missing_field' : kind;
}

/** Turns a zod issue into a field-level issue; the observed value is read from the message itself. */
function toIssue(issue: z.core.$ZodIssue, message: Readonly<Record<string, unknown>>): ContractIssue {
  const field = String(issue.path[0] ?? '');
  const value = message[field];
  const observedType = typeOf(value);
  const expected = expectedOf(issue);
  if (value === undefined || value === null) return { field, kind: 'missing', expected, observedType };
  const sameType = expectedJsonType(issue, value) === jsonTypeOf(value);
  return { field, kind: sameType ? 'invalid_value' : 'wrong_type', expected, observedType };
}

function expectedOf(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'int' ? 'an integer' : `a ${issue.expected}`;
    case 'too_small':
      return issue.origin === 'string' ? 'a non-empty string' : `a number >= ${String(issue.minimum)}`;
    case 'too_big':
      return `a number <= ${String(issue.maximum)}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? JSON.stringify(issue.values[0])
        : `one of ${issue.values.map((v) => JSON.stringify(v)).join(' | ')}`;
    case 'invalid_union':
      return 'an integer >= 0 or a non-empty string';
    default:
      return issue.message;
  }
}

/** The JSON type an issue wanted, to tell a wrong type from a wrong value of the right type. */
function expectedJsonType(issue: z.core.$ZodIssue, value: unknown): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'int' ? 'number' : issue.expected;
    case 'too_small':
      return issue.origin === 'string' ? 'string' : 'number';
    case 'too_big':
      return 'number';
    case 'invalid_value':
      return typeof issue.values[0];
    case 'invalid_union':
      return typeof value === 'number' || typeof value === 'string' ? typeof value : undefined;
    default:
      return undefined;
  }
}

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function typeOf(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' && Number.isInteger(value)) return 'integer';
  return jsonTypeOf(value);
}

/** `string "12.34"`, `number 1.5`, `null`, `nothing (field missing)`. */
function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (field missing)';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    const s = value.length > 40 ? `${value.slice(0, 40)}...` : value;
    return `string ${JSON.stringify(s)}`;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return `${typeof value} ${String(value)}`;
  if (Array.isArray(value)) return `array of ${value.length}`;
  return typeof value;
}
