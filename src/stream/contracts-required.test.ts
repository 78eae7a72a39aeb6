import { describe, expect, it } from 'vitest';
import {
  type ContractInvalid,
  type ContractResult,
  requiredFields,
  STREAM_EVENT_TYPES,
  type StreamEventType,
  validateMessage,
} from './contracts.js';

// The required fields of contract v1, written out by hand from docs/stream.md ("Contracts") and the World's event
// columns (src/world/schema.ts), not derived from contracts.ts: removing a type's requirement there must fail here.
const COMMON = { event_id: 7, user_id: 'u00000001', event_ts: 1_772_438_075_016 } as const;

/** Per event type: the minimal valid message's type-specific fields (each one is required). */
const SPECIFIC: Record<StreamEventType, Record<string, unknown>> = {
  session_start: { session_id: 3 },
  app_open: {},
  page_view: { category: 'books' },
  product_view: { category: 'books', item_id: 'books-0001' },
  add_to_cart: { category: 'books', item_id: 'books-0001', quantity: 2 },
  purchase: { amount: 12.5 },
  return: { amount: -12.5 },
  email_open: { channel: 'email', campaign_id: 'c0000001', send_id: 's0000000001' },
  email_click: { channel: 'email', campaign_id: 'c0000001', send_id: 's0000000001' },
  push_open: { channel: 'push', campaign_id: 'c0000001', send_id: 's0000000001' },
  push_click: { channel: 'push', campaign_id: 'c0000001', send_id: 's0000000001' },
  in_app_click: { channel: 'in_app', campaign_id: 'c0000001', send_id: 's0000000001' },
  unsubscribe: { channel: 'push' },
};

const minimal = (type: StreamEventType): Record<string, unknown> => ({
  ...COMMON,
  event_type: type,
  ...SPECIFIC[type],
});

function invalid(r: ContractResult): ContractInvalid {
  if (r.ok) throw new Error('expected the message to be rejected, it passed');
  return r;
}

const ARRIVAL = COMMON.event_ts + 1000;

describe('contract v1 required fields, per event type', () => {
  it('the hand-written table covers every event type of the contract', () => {
    expect(Object.keys(SPECIFIC).sort()).toEqual([...STREAM_EVENT_TYPES].sort());
  });

  for (const type of STREAM_EVENT_TYPES) {
    const required = ['event_id', 'user_id', 'event_type', 'event_ts', ...Object.keys(SPECIFIC[type])];

    describe(type, () => {
      it('its minimal message (common + its own fields, no optional ones) passes', () => {
        const r = validateMessage(minimal(type), ARRIVAL);
        if (!r.ok) throw new Error(`minimal ${type} rejected: ${r.reason}`);
        expect(r.event.eventType).toBe(type);
      });

      it(`requiredFields(${type}) lists exactly ${required.join(', ')}`, () => {
        expect([...requiredFields(type)].sort()).toEqual([...required].sort());
      });

      // event_type is what selects the contract: without it the message is an unknown type (tested below).
      for (const field of required.filter((f) => f !== 'event_type')) {
        it(`is rejected without ${field}, with a reason naming ${type}.${field}`, () => {
          const msg = minimal(type);
          delete msg[field];
          const r = invalid(validateMessage(msg, ARRIVAL));
          expect(r.reasonKind).toBe('missing_field');
          expect(r.schemaVersion).toBe(`${type}@1`);
          expect(r.eventType).toBe(type);
          expect(r.issues).toEqual([expect.objectContaining({ field, kind: 'missing', observedType: 'undefined' })]);
          expect(r.reason).toContain(`${type}.${field}: expected `);
          expect(r.reason).toContain('got nothing (field missing)');
        });

        it(`is rejected with ${field}: null (null in a required field is missing)`, () => {
          const r = invalid(validateMessage({ ...minimal(type), [field]: null }, ARRIVAL));
          expect(r.reasonKind).toBe('missing_field');
          expect(r.issues).toEqual([expect.objectContaining({ field, kind: 'missing', observedType: 'null' })]);
          expect(r.reason).toContain(`${type}.${field}: expected `);
          expect(r.reason).toContain('got null');
        });
      }

      it('is rejected without event_type, as an unknown event type naming the field', () => {
        const msg = minimal(type);
        delete msg['event_type'];
        const r = invalid(validateMessage(msg, ARRIVAL));
        expect(r.reasonKind).toBe('missing_field');
        expect(r.schemaVersion).toBe('event@1');
        expect(r.issues).toEqual([expect.objectContaining({ field: 'event_type', kind: 'missing' })]);
        expect(r.reason).toMatch(/^event_type: expected a known event type/);
      });

      it('names every missing field when several are absent', () => {
        const msg: Record<string, unknown> = { event_type: type };
        const r = invalid(validateMessage(msg, ARRIVAL));
        const missing = required.filter((f) => f !== 'event_type');
        expect(r.issues.map((i) => i.field).sort()).toEqual([...missing].sort());
        expect(r.issues.every((i) => i.kind === 'missing')).toBe(true);
        for (const f of missing) expect(r.reason).toContain(`${type}.${f}: expected `);
      });
    });
  }

  // Constraints beyond presence that the docs name: the messaging channel must match the type.
  const MESSAGING: [StreamEventType, string][] = [
    ['email_open', 'email'],
    ['email_click', 'email'],
    ['push_open', 'push'],
    ['push_click', 'push'],
    ['in_app_click', 'in_app'],
  ];
  for (const [type, channel] of MESSAGING) {
    it(`${type} requires channel "${channel}" and rejects another channel as an invalid value`, () => {
      const other = channel === 'email' ? 'push' : 'email';
      const r = invalid(validateMessage({ ...minimal(type), channel: other }, ARRIVAL));
      expect(r.reasonKind).toBe('invalid_value');
      expect(r.issues).toEqual([expect.objectContaining({ field: 'channel', kind: 'invalid_value' })]);
      expect(r.reason).toContain(`${type}.channel: expected "${channel}", got string "${other}"`);
    });
  }

  it('unsubscribe accepts each channel and rejects an unknown one', () => {
    for (const channel of ['email', 'push', 'in_app']) {
      expect(validateMessage({ ...minimal('unsubscribe'), channel }, ARRIVAL).ok).toBe(true);
    }
    const r = invalid(validateMessage({ ...minimal('unsubscribe'), channel: 'sms' }, ARRIVAL));
    expect(r.issues).toEqual([expect.objectContaining({ field: 'channel', kind: 'invalid_value' })]);
  });

  it('add_to_cart needs a quantity of at least 1 (an integer)', () => {
    for (const quantity of [0, -1]) {
      const r = invalid(validateMessage({ ...minimal('add_to_cart'), quantity }, ARRIVAL));
      expect(r.issues).toEqual([expect.objectContaining({ field: 'quantity', kind: 'invalid_value' })]);
      expect(r.reason).toContain('add_to_cart.quantity: expected a number >= 1');
    }
    const frac = invalid(validateMessage({ ...minimal('add_to_cart'), quantity: 1.5 }, ARRIVAL));
    expect(frac.issues.map((i) => i.field)).toEqual(['quantity']);
    expect(validateMessage({ ...minimal('add_to_cart'), quantity: 1 }, ARRIVAL).ok).toBe(true);
  });

  it('the type-specific string fields must be non-empty', () => {
    const cases: [StreamEventType, string][] = [
      ['page_view', 'category'],
      ['product_view', 'item_id'],
      ['add_to_cart', 'category'],
      ['email_open', 'campaign_id'],
      ['push_click', 'send_id'],
    ];
    for (const [type, field] of cases) {
      const r = invalid(validateMessage({ ...minimal(type), [field]: '' }, ARRIVAL));
      expect(r.issues).toEqual([expect.objectContaining({ field, kind: 'invalid_value' })]);
      expect(r.reason).toContain(`${type}.${field}: expected a non-empty string, got string ""`);
    }
  });

  it('session_start needs an integer session_id, purchase and return a number amount', () => {
    const s = invalid(validateMessage({ ...minimal('session_start'), session_id: '3' }, ARRIVAL));
    expect(s.issues).toEqual([expect.objectContaining({ field: 'session_id', kind: 'wrong_type' })]);
    const frac = invalid(validateMessage({ ...minimal('session_start'), session_id: 3.5 }, ARRIVAL));
    expect(frac.issues.map((i) => i.field)).toEqual(['session_id']);
    for (const type of ['purchase', 'return'] as const) {
      const r = invalid(validateMessage({ ...minimal(type), amount: '12.34' }, ARRIVAL));
      expect(r.reasonKind).toBe('wrong_type');
      expect(r.reason).toContain(`${type}.amount: expected a number, got string "12.34"`);
    }
  });
});
