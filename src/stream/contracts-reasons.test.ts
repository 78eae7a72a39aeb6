import { describe, expect, it } from 'vitest';
import {
  type ContractInvalid,
  type ContractResult,
  type ContractValid,
  toDeadLetter,
  validateEnvelope,
  validateMessage,
} from './contracts.js';

/**
 * What a rejection says (reason text, issue kinds, observed types) and what a valid message becomes, for the
 * inputs the World-based tests do not produce: every optional field at once, each envelope problem, each JSON type.
 */
const TS = 1_772_438_075_016;
const ARRIVAL = TS + 250;
const click = {
  event_id: 5,
  user_id: 'u7',
  event_type: 'email_click',
  event_ts: TS,
  schema_version: 1,
  session_id: 11,
  platform: 'android',
  category: 'garden',
  item_id: 'garden-0002',
  amount: 3.25,
  quantity: 2,
  channel: 'email',
  campaign_id: 'c0000009',
  send_id: 's0000000042',
  order_id: 'o-1',
};

function valid(r: ContractResult): ContractValid {
  if (!r.ok) throw new Error(`expected valid, got: ${r.reason}`);
  return r;
}
function invalid(r: ContractResult): ContractInvalid {
  if (r.ok) throw new Error('expected invalid, got valid');
  return r;
}

describe('a valid message', () => {
  it('keeps every optional field, camelCased', () => {
    const r = valid(validateMessage(click, ARRIVAL));
    expect(r.event).toEqual({
      eventId: '5',
      userId: 'u7',
      eventType: 'email_click',
      eventTs: TS,
      arrivalTs: ARRIVAL,
      schemaVersion: 1,
      sessionId: 11,
      platform: 'android',
      category: 'garden',
      itemId: 'garden-0002',
      amount: 3.25,
      quantity: 2,
      channel: 'email',
      campaignId: 'c0000009',
      sendId: 's0000000042',
      orderId: 'o-1',
    });
    expect(r.message).toBe(click);
    expect(r.unknownFields).toEqual([]);
  });

  it('takes null in every optional field as absent', () => {
    const nulls = Object.fromEntries(
      ['schema_version', 'session_id', 'platform', 'category', 'item_id', 'amount', 'quantity', 'order_id'].map((f) => [
        f,
        null,
      ]),
    );
    const r = valid(validateMessage({ ...click, ...nulls }, ARRIVAL));
    expect(r.event.schemaVersion).toBe(1);
    for (const k of ['sessionId', 'platform', 'category', 'itemId', 'amount', 'quantity', 'orderId'] as const)
      expect(r.event[k], k).toBeUndefined();
  });

  it('accepts event_id 0 and event_ts 0, a one-character id, and arrival_ts 0', () => {
    expect(
      valid(validateEnvelope({ arrival_ts: 0, message: { ...click, event_id: 0, event_ts: 0 } })).event,
    ).toMatchObject({
      eventId: '0',
      eventTs: 0,
      arrivalTs: 0,
    });
    expect(valid(validateMessage({ ...click, event_id: 'e', user_id: 'u' }, ARRIVAL)).event.eventId).toBe('e');
  });
});

describe('event_type problems', () => {
  it('missing, null, a number and an unknown name each get their kind', () => {
    const { event_type: _, ...none } = click;
    const cases: [Record<string, unknown>, string, string, string][] = [
      [none, 'missing', 'missing_field', 'undefined'],
      [{ ...click, event_type: null }, 'missing', 'missing_field', 'null'],
      [{ ...click, event_type: 3 }, 'wrong_type', 'wrong_type', 'integer'],
      [{ ...click, event_type: 'EmailClick' }, 'invalid_value', 'unknown_event_type', 'string'],
    ];
    for (const [message, kind, reasonKind, observedType] of cases) {
      const r = invalid(validateMessage(message, ARRIVAL));
      expect(r.reasonKind).toBe(reasonKind);
      expect(r.issues).toEqual([
        {
          field: 'event_type',
          kind,
          expected:
            'one of session_start | app_open | page_view | product_view | add_to_cart | purchase | return | email_open | email_click | push_open | push_click | in_app_click | unsubscribe',
          observedType,
        },
      ]);
      expect(r).toMatchObject({ schemaVersion: 'event@1', eventType: undefined, eventTs: TS, arrivalTs: ARRIVAL });
      expect(r.message).toBe(message);
      expect(r.payload).toBe(message);
    }
    expect(invalid(validateMessage({ ...click, event_type: 3 }, ARRIVAL)).reason).toBe(
      'event_type: expected a known event type (session_start, app_open, page_view, product_view, add_to_cart, purchase, return, email_open, email_click, push_open, push_click, in_app_click, unsubscribe), got number 3',
    );
  });

  it('lists unknown fields of a message of unknown type, and keeps a non-number event_ts out', () => {
    const r = invalid(validateMessage({ ...click, event_type: 'x', event_ts: '12', extra: 1, more: 2 }, ARRIVAL));
    expect(r.unknownFields).toEqual(['extra', 'more']);
    expect(r.eventTs).toBeUndefined();
  });
});

describe('field problems', () => {
  it('names each issue of a message with several, joined by "; ", first kind first', () => {
    const r = invalid(validateMessage({ ...click, user_id: '', platform: 'tv', quantity: 'two' }, ARRIVAL));
    expect(r.issues).toEqual([
      { field: 'user_id', kind: 'invalid_value', expected: 'a non-empty string', observedType: 'string' },
      {
        field: 'platform',
        kind: 'invalid_value',
        expected: 'one of "ios" | "android" | "web"',
        observedType: 'string',
      },
      { field: 'quantity', kind: 'wrong_type', expected: 'a number', observedType: 'string' },
    ]);
    expect(r.reasonKind).toBe('invalid_value');
    expect(r.reason).toBe(
      'email_click.user_id: expected a non-empty string, got string ""; ' +
        'email_click.platform: expected one of "ios" | "android" | "web", got string "tv"; ' +
        'email_click.quantity: expected a number, got string "two"',
    );
  });

  it('an event_id that is neither a non-negative integer nor a non-empty string', () => {
    const neg = invalid(validateMessage({ ...click, event_id: -1 }, ARRIVAL));
    // a value of one branch's type is judged by that branch
    expect(neg.issues).toEqual([
      { field: 'event_id', kind: 'invalid_value', expected: 'a number >= 0', observedType: 'integer' },
    ]);
    const empty = invalid(validateMessage({ ...click, event_id: '' }, ARRIVAL));
    expect(empty.issues[0]).toMatchObject({
      kind: 'invalid_value',
      expected: 'a non-empty string',
      observedType: 'string',
    });
    const bool = invalid(validateMessage({ ...click, event_id: true }, ARRIVAL));
    expect(bool.issues[0]).toMatchObject({ kind: 'wrong_type', observedType: 'boolean' });
    expect(bool.reason).toBe('email_click.event_id: expected an integer >= 0 or a non-empty string, got boolean true');
    const arr = invalid(validateMessage({ ...click, event_id: [1, 2] }, ARRIVAL));
    expect(arr.issues[0]).toMatchObject({ kind: 'wrong_type', observedType: 'array' });
    expect(arr.reason).toBe('email_click.event_id: expected an integer >= 0 or a non-empty string, got array of 2');
  });

  it('describes what came: fractions, objects, long strings cut at 40 characters', () => {
    const frac = invalid(validateMessage({ ...click, session_id: 1.5 }, ARRIVAL));
    expect(frac.issues).toEqual([
      { field: 'session_id', kind: 'invalid_value', expected: 'an integer', observedType: 'number' },
    ]);
    expect(frac.reason).toBe('email_click.session_id: expected an integer, got number 1.5');
    const obj = invalid(validateMessage({ ...click, amount: { v: 1 } }, ARRIVAL));
    expect(obj.issues[0]).toMatchObject({ kind: 'wrong_type', observedType: 'object' });
    expect(obj.reason).toBe('email_click.amount: expected a number, got object');
    const s40 = 'x'.repeat(40);
    expect(invalid(validateMessage({ ...click, amount: s40 }, ARRIVAL)).reason).toBe(
      `email_click.amount: expected a number, got string "${s40}"`,
    );
    expect(invalid(validateMessage({ ...click, amount: `${s40}y` }, ARRIVAL)).reason).toBe(
      `email_click.amount: expected a number, got string "${s40}..."`,
    );
    const neg = invalid(validateMessage({ ...click, event_ts: -5 }, ARRIVAL));
    expect(neg.issues).toEqual([
      { field: 'event_ts', kind: 'invalid_value', expected: 'a number >= 0', observedType: 'integer' },
    ]);
    expect(neg.eventTs).toBe(-5);
  });

  it('an integer beyond 2^53 - 1 is an invalid value, not a wrong type; 2^53 - 1 itself passes', () => {
    for (const field of ['event_ts', 'quantity', 'event_id'] as const) {
      const r = invalid(validateMessage({ ...click, [field]: 2 ** 60 }, ARRIVAL));
      expect(r.issues, field).toEqual([
        { field, kind: 'invalid_value', expected: 'a number <= 9007199254740991', observedType: 'integer' },
      ]);
      expect(r.reasonKind).toBe('invalid_value');
      expect(r.reason).toBe(`email_click.${field}: expected a number <= 9007199254740991, got number ${2 ** 60}`);
      expect(validateMessage({ ...click, [field]: Number.MAX_SAFE_INTEGER }, ARRIVAL).ok, field).toBe(true);
    }
  });

  it('a value of another JSON type is a wrong type, whatever the field expects', () => {
    const cases: [string, unknown, string, string][] = [
      ['user_id', 5, 'a string', 'integer'],
      ['platform', 5, 'one of "ios" | "android" | "web"', 'integer'],
      ['channel', 5.5, '"email"', 'number'],
      ['session_id', '3', 'a number', 'string'],
    ];
    for (const [field, value, expected, observedType] of cases) {
      const r = invalid(validateMessage({ ...click, [field]: value }, ARRIVAL));
      expect(r.issues, field).toEqual([{ field, kind: 'wrong_type', expected, observedType }]);
      expect(r.reasonKind).toBe('wrong_type');
    }
    // a fractional event_id is a number, of the right type but not an integer
    const frac = invalid(validateMessage({ ...click, event_id: 1.5 }, ARRIVAL));
    expect(frac.issues).toEqual([
      {
        field: 'event_id',
        kind: 'invalid_value',
        expected: 'an integer >= 0 or a non-empty string',
        observedType: 'number',
      },
    ]);
  });

  it('non-finite numbers are refused (imports can produce them; JSON cannot)', () => {
    for (const amount of [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN]) {
      const r = invalid(validateMessage({ ...click, amount }, ARRIVAL));
      expect(r.issues.map((i) => [i.field, i.kind])).toEqual([['amount', 'invalid_value']]);
    }
    const nanTs = invalid(validateMessage({ ...click, event_ts: Number.NaN }, ARRIVAL));
    expect(nanTs.eventTs).toBeUndefined();
    expect(nanTs.issues.map((i) => i.field)).toEqual(['event_ts']);
  });

  it('the reason of a message without schema_version says nothing about versions', () => {
    const { schema_version: _, ...none } = click;
    expect(invalid(validateMessage({ ...none, send_id: '' }, ARRIVAL)).reason).toBe(
      'email_click.send_id: expected a non-empty string, got string ""',
    );
    expect(invalid(validateMessage({ ...click, schema_version: null, send_id: '' }, ARRIVAL)).reason).toBe(
      'email_click.send_id: expected a non-empty string, got string ""',
    );
  });

  it('strict schema version: an absent or null version passes; another number is refused with its reason', () => {
    const strict = { strictSchemaVersion: true } as const;
    const { schema_version: _, ...none } = click;
    expect(validateMessage(none, ARRIVAL, none, strict).ok).toBe(true);
    expect(validateMessage({ ...click, schema_version: null }, ARRIVAL, undefined, strict).ok).toBe(true);
    const v3 = invalid(validateMessage({ ...click, schema_version: 3 }, ARRIVAL, 'raw line', strict));
    expect(v3.issues).toEqual([
      { field: 'schema_version', kind: 'invalid_value', expected: '1', observedType: 'integer' },
    ]);
    expect(v3.reason).toBe(
      'email_click.schema_version: expected 1, got number 3 (message declares schema_version 3; only 1 has a contract)',
    );
    expect(v3.reasonKind).toBe('invalid_value');
    expect(v3.payload).toBe('raw line');
    // not strict, and valid: the version is recorded
    expect(valid(validateMessage({ ...click, schema_version: 3 }, ARRIVAL)).event.schemaVersion).toBe(3);
  });
});

describe('envelope problems', () => {
  it('payload, arrival_ts and message each get their issue kind and observed type', () => {
    const message = { ...click };
    const cases: [unknown, string, string, string][] = [
      [null, 'payload', 'missing', 'null'],
      [[message], 'payload', 'wrong_type', 'array'],
      [7, 'payload', 'invalid_value', 'integer'],
      [{ message }, 'arrival_ts', 'missing', 'undefined'],
      [{ arrival_ts: -1, message }, 'arrival_ts', 'invalid_value', 'integer'],
      [{ arrival_ts: Number.NaN, message }, 'arrival_ts', 'invalid_value', 'number'],
      [{ arrival_ts: '5', message }, 'arrival_ts', 'wrong_type', 'string'],
      [{ arrival_ts: 5 }, 'message', 'missing', 'undefined'],
      [{ arrival_ts: 5, message: 'm' }, 'message', 'wrong_type', 'string'],
    ];
    for (const [payload, field, kind, observedType] of cases) {
      const r = invalid(validateEnvelope(payload));
      expect(
        r.issues.map((i) => [i.field, i.kind, i.observedType]),
        JSON.stringify(payload),
      ).toEqual([[field, kind, observedType]]);
      expect(r).toMatchObject({ reasonKind: 'bad_envelope', schemaVersion: 'envelope@1', eventType: undefined });
      expect(r.unknownFields).toEqual([]);
      expect(r.payload).toBe(payload);
    }
  });

  it('keeps the message of an envelope with a bad arrival_ts, and the arrival time of one with a bad message', () => {
    const bad = invalid(validateEnvelope({ arrival_ts: -1, message: click }));
    expect(bad.message).toBe(click);
    expect(bad.arrivalTs).toBeUndefined();
    expect(bad.eventTs).toBeUndefined();
    expect(bad.reason).toBe('envelope.arrival_ts: expected an epoch-ms number >= 0, got number -1');
    expect(invalid(validateEnvelope({ arrival_ts: -1, message: [click] })).message).toBeUndefined();
    expect(invalid(validateEnvelope({ arrival_ts: -1, message: null })).message).toBeUndefined();
    expect(invalid(validateEnvelope({ arrival_ts: -1, message: 'm' })).message).toBeUndefined();
    const noMessage = invalid(validateEnvelope({ arrival_ts: 9 }));
    expect(noMessage.arrivalTs).toBe(9);
    expect(noMessage.message).toBeUndefined();
    expect(invalid(validateEnvelope({ arrival_ts: 9, message: 'm' })).message).toBeUndefined();
  });
});

describe('toDeadLetter', () => {
  it('carries the payload, reason and contract version, and the source only when given', () => {
    const payload = { arrival_ts: ARRIVAL, message: { ...click, channel: 'push' } };
    const r = invalid(validateEnvelope(payload));
    expect(toDeadLetter(r)).toEqual({
      event: payload,
      reason: 'email_click.channel: expected "email", got string "push"',
      schemaVersion: 'email_click@1',
    });
    expect('source' in toDeadLetter(r)).toBe(false);
    expect(toDeadLetter(r, 'bus')).toEqual({ ...toDeadLetter(r), source: 'bus' });
  });
});
