import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MetricsRegistry } from '../core/index.js';
import { CHANNELS, EVENT_TYPES, EVENTS_COLUMNS, generateWorld, PLATFORMS, replayEvents } from '../world/index.js';
import { ContractMetrics } from './contract-metrics.js';
import {
  CONTRACT_FIELDS_V1,
  type ContractInvalid,
  type ContractResult,
  type ContractValid,
  EVENT_CONTRACT_V1,
  eventContractJsonSchema,
  passesContractFastPath,
  STREAM_CHANNELS,
  STREAM_EVENT_TYPES,
  STREAM_PLATFORMS,
  toDeadLetter,
  validateEnvelope,
  validateMessage,
} from './contracts.js';
import { MemoryDeadLetterSink } from './dead-letter.js';

const root = mkdtempSync(join(tmpdir(), 'adnova-contracts-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TS = 1_772_438_075_016;
const purchase = {
  event_id: 42,
  user_id: 'u00000118',
  event_type: 'purchase',
  event_ts: TS,
  session_id: 7,
  platform: 'ios',
  category: 'books',
  item_id: 'books-0001',
  amount: 12.34,
  quantity: 1,
  schema_version: 1,
};
const env = (message: unknown, arrival = TS + 500) => ({ arrival_ts: arrival, message });

function valid(r: ContractResult): ContractValid {
  if (!r.ok) throw new Error(`expected valid, got: ${r.reason}`);
  return r;
}
function invalid(r: ContractResult): ContractInvalid {
  if (r.ok) throw new Error('expected invalid, got valid');
  return r;
}

describe('contract v1', () => {
  it('covers exactly the World vocabularies and event columns', () => {
    expect([...STREAM_EVENT_TYPES]).toEqual([...EVENT_TYPES]);
    expect([...STREAM_CHANNELS]).toEqual([...CHANNELS]);
    expect([...STREAM_PLATFORMS]).toEqual([...PLATFORMS]);
    const wire = EVENTS_COLUMNS.map((c) => c.name).filter((n) => !['arrival_ts', 'raw', 'defect'].includes(n));
    expect([...CONTRACT_FIELDS_V1].sort()).toEqual(wire.sort());
  });

  it('exports JSON Schema with the required fields per type', () => {
    const js = eventContractJsonSchema();
    expect(js.purchase['required']).toEqual(['event_id', 'user_id', 'event_type', 'event_ts', 'amount']);
    expect(js.email_click['required']).toEqual([
      'event_id',
      'user_id',
      'event_type',
      'event_ts',
      'channel',
      'campaign_id',
      'send_id',
    ]);
    expect(js.page_view['required']).toContain('category');
  });

  it('normalizes a valid purchase: ids as strings, absent fields undefined, null means absent', () => {
    const r = valid(validateEnvelope(env({ ...purchase, order_id: null })));
    expect(r.event).toEqual({
      eventId: '42',
      userId: 'u00000118',
      eventType: 'purchase',
      eventTs: TS,
      arrivalTs: TS + 500,
      schemaVersion: 1,
      sessionId: 7,
      platform: 'ios',
      category: 'books',
      itemId: 'books-0001',
      amount: 12.34,
      quantity: 1,
      channel: undefined,
      campaignId: undefined,
      sendId: undefined,
      orderId: undefined,
    });
    expect(r.unknownFields).toEqual([]);
    expect(valid(validateEnvelope(env({ ...purchase, event_id: 'evt-1' }))).event.eventId).toBe('evt-1');
    const noVersion: Record<string, unknown> = { ...purchase };
    delete noVersion['schema_version'];
    expect(valid(validateEnvelope(env(noVersion))).event.schemaVersion).toBe(1);
  });

  it('accepts importer purchase and return lines (no session, category; negative return)', () => {
    const line = {
      event_id: 3,
      user_id: 'r12583',
      event_type: 'return',
      event_ts: TS,
      platform: 'web',
      item_id: '22423',
      amount: -25.5,
      quantity: -2,
      order_id: 'C536379',
      schema_version: 1,
    };
    expect(valid(validateEnvelope(env(line))).event.orderId).toBe('C536379');
  });

  it('tolerates unknown extra fields and lists them', () => {
    const r = valid(validateEnvelope(env({ ...purchase, coupon: 'X', ab_bucket: 3 })));
    expect(r.unknownFields).toEqual(['coupon', 'ab_bucket']);
  });

  it('messaging events need their own channel, a campaign and a send', () => {
    const open = {
      event_id: 1,
      user_id: 'u00000118',
      event_type: 'email_open',
      event_ts: TS,
      platform: 'ios',
      channel: 'email',
      campaign_id: 'c0000002',
      send_id: 's0000000016',
      schema_version: 1,
    };
    expect(valid(validateEnvelope(env(open))).event.channel).toBe('email');
    const wrong = invalid(validateEnvelope(env({ ...open, channel: 'push' })));
    expect(wrong.reason).toBe('email_open.channel: expected "email", got string "push"');
    expect(wrong.reasonKind).toBe('invalid_value');
    const noSend: Record<string, unknown> = { ...open };
    delete noSend['send_id'];
    expect(invalid(validateEnvelope(env(noSend))).reason).toBe(
      'email_open.send_id: expected a string, got nothing (field missing)',
    );
  });
});

describe('World defects', () => {
  it('missing_user_id is invalid, naming the field', () => {
    const m: Record<string, unknown> = { ...purchase };
    delete m['user_id'];
    const r = invalid(validateEnvelope(env(m)));
    expect(r.reason).toBe('purchase.user_id: expected a string, got nothing (field missing)');
    expect(r.reasonKind).toBe('missing_field');
    expect(r.schemaVersion).toBe('purchase@1');
    expect(r.issues).toEqual([{ field: 'user_id', kind: 'missing', expected: 'a string', observedType: 'undefined' }]);
  });

  it('missing_event_ts is invalid and keeps the arrival time', () => {
    const m: Record<string, unknown> = { ...purchase };
    delete m['event_ts'];
    const r = invalid(validateEnvelope(env(m)));
    expect(r.reason).toBe('purchase.event_ts: expected a number, got nothing (field missing)');
    expect(r.eventTs).toBeUndefined();
    expect(r.arrivalTs).toBe(TS + 500);
  });

  it('amount_as_string is invalid as a wrong type', () => {
    const r = invalid(validateEnvelope(env({ ...purchase, amount: '12.34' })));
    expect(r.reason).toBe('purchase.amount: expected a number, got string "12.34"');
    expect(r.reasonKind).toBe('wrong_type');
    expect(r.issues[0]).toMatchObject({ field: 'amount', kind: 'wrong_type', observedType: 'string' });
  });

  it('unknown_event_type is invalid against the generic event contract', () => {
    const r = invalid(validateEnvelope(env({ ...purchase, event_type: 'purchase_completed' })));
    expect(r.reason).toMatch(
      /^event_type: expected a known event type \(session_start, .*\), got string "purchase_completed"$/,
    );
    expect(r.reasonKind).toBe('unknown_event_type');
    expect(r.schemaVersion).toBe('event@1');
    expect(r.eventType).toBeUndefined();
  });

  it('ts_in_seconds is well-formed and passes (windowing catches it as too late)', () => {
    const r = valid(validateEnvelope(env({ ...purchase, event_ts: Math.floor(TS / 1000) })));
    expect(r.event.eventTs).toBe(Math.floor(TS / 1000));
  });
});

describe('schema v2 and envelope', () => {
  const v2 = { ...purchase, schema_version: 2 } as Record<string, unknown>;
  delete v2['category'];
  v2['product_category'] = 'books';

  it('a v2 purchase (amount as string, category renamed) is invalid against purchase@1', () => {
    const r = invalid(validateEnvelope(env({ ...v2, amount: '12.34' })));
    expect(r.reason).toBe(
      'purchase.amount: expected a number, got string "12.34" (message declares schema_version 2; only 1 has a contract)',
    );
    expect(r.schemaVersion).toBe('purchase@1');
    expect(r.unknownFields).toEqual(['product_category']);
  });

  it('a v2 page_view without category is invalid; a v2 session_start passes unless strict', () => {
    const pv = { event_id: 9, user_id: 'u1', event_type: 'page_view', event_ts: TS, product_category: 'x' };
    const r = invalid(validateEnvelope(env({ ...pv, schema_version: 2 })));
    expect(r.reason).toMatch(/^page_view\.category: expected a string, got nothing \(field missing\)/);
    const ss = { event_id: 10, user_id: 'u1', event_type: 'session_start', event_ts: TS, session_id: 3 };
    expect(valid(validateEnvelope(env({ ...ss, schema_version: 2 }))).event.schemaVersion).toBe(2);
    const strict = invalid(validateEnvelope(env({ ...ss, schema_version: 2 }), { strictSchemaVersion: true }));
    expect(strict.reason).toMatch(/^session_start\.schema_version: expected 1, got number 2/);
    expect(valid(validateEnvelope(env({ ...ss, schema_version: 1 }), { strictSchemaVersion: true })).ok).toBe(true);
  });

  it('rejects bad envelopes with a reason', () => {
    expect(invalid(validateEnvelope('nope')).reason).toBe(
      'envelope.payload: expected an object {"arrival_ts": N, "message": {...}}, got string "nope"',
    );
    const noArrival = invalid(validateEnvelope({ message: purchase }));
    expect(noArrival.reason).toBe('envelope.arrival_ts: expected an epoch-ms number >= 0, got nothing (field missing)');
    expect(noArrival.reasonKind).toBe('bad_envelope');
    expect(noArrival.schemaVersion).toBe('envelope@1');
    expect(invalid(validateEnvelope({ arrival_ts: TS, message: [1] })).reason).toBe(
      'envelope.message: expected an object, got array of 1',
    );
    expect(invalid(validateEnvelope({ arrival_ts: TS, message: null })).reason).toBe(
      'envelope.message: expected an object, got null',
    );
  });

  it('an invalid result becomes a dead letter the sinks accept', async () => {
    const payload = env({ ...purchase, amount: '1.00' });
    const r = invalid(validateEnvelope(payload));
    const sink = new MemoryDeadLetterSink();
    await sink.write([toDeadLetter(r, 'events'), toDeadLetter(invalid(validateEnvelope(42)))]);
    expect(sink.letters()[0]).toMatchObject({
      event: payload,
      reason: 'purchase.amount: expected a number, got string "1.00"',
      schemaVersion: 'purchase@1',
      source: 'events',
    });
    expect(validateMessage({ ...purchase }, TS).ok).toBe(true);
  });
});

describe('ContractMetrics', () => {
  it('counts valid, invalid by reason kind, and unknown fields by name', async () => {
    const registry = new MetricsRegistry();
    const metrics = new ContractMetrics(registry, { maxUnknownFieldLabels: 1 });
    metrics.record(validateEnvelope(env(purchase)));
    metrics.record(validateEnvelope(env({ ...purchase, amount: 'x', a: 1, b: 2 })));
    metrics.record(validateEnvelope(env({ ...purchase, event_type: 'PageView' })));
    const snap = Object.fromEntries((await registry.snapshot()).map((m) => [m.name, m.values]));
    expect(snap['adnova_stream_events_valid_total']).toEqual([{ labels: { event_type: 'purchase' }, value: 1 }]);
    expect(snap['adnova_stream_events_invalid_total']).toEqual([
      { labels: { event_type: 'purchase', reason_kind: 'wrong_type' }, value: 1 },
      { labels: { event_type: '_unknown', reason_kind: 'unknown_event_type' }, value: 1 },
    ]);
    expect(snap['adnova_stream_unknown_fields_total']).toEqual([
      { labels: { event_type: 'purchase', field: 'a' }, value: 1 },
      { labels: { event_type: 'purchase', field: '_other' }, value: 1 },
    ]);
  });
});

async function worldEnvelopes(dir: string): Promise<unknown[]> {
  const out: unknown[] = [];
  await replayEvents({ dir, target: { write: (line) => void out.push(JSON.parse(line)) } });
  return out;
}

describe('against a generated World', () => {
  it('rejects exactly the malformed defects, each with its reason, and passes the rest', async () => {
    const dir = join(root, 'defects');
    const manifest = await generateWorld({
      outDir: dir,
      users: 200,
      days: 2,
      features: 16,
      seed: 5,
      defectShare: 0.05,
    });
    const envelopes = await worldEnvelopes(dir);
    const byKind: Record<string, number> = {};
    let ok = 0;
    for (const e of envelopes) {
      const r = validateEnvelope(e);
      if (r.ok) {
        ok++;
        continue;
      }
      const first = r.issues[0];
      const kind =
        r.reasonKind === 'unknown_event_type'
          ? 'unknown_event_type'
          : first?.field === 'user_id'
            ? 'missing_user_id'
            : first?.field === 'event_ts'
              ? 'missing_event_ts'
              : first?.field === 'amount' && first.observedType === 'string'
                ? 'amount_as_string'
                : `other: ${r.reason}`;
      byKind[kind] = (byKind[kind] ?? 0) + 1;
    }
    const s = manifest.stats;
    const expected = Object.fromEntries(
      ['missing_user_id', 'missing_event_ts', 'amount_as_string', 'unknown_event_type']
        .map((k) => [k, s[`defect_${k}`] ?? 0])
        .filter(([, n]) => n !== 0),
    );
    expect(Object.keys(expected).length).toBeGreaterThanOrEqual(3);
    expect(byKind).toEqual(expected);
    expect(s['defect_ts_in_seconds']).toBeGreaterThan(0);
    expect(ok + Object.values(byKind).reduce((a, b) => a + b, 0)).toBe(s['events']);
  });

  it('the compiled fast path agrees with zod on World messages and their mutations', async () => {
    const dir = join(root, 'diff');
    await generateWorld({ outDir: dir, users: 100, days: 2, features: 16, seed: 9, scenarios: ['schema-change'] });
    const envelopes = (await worldEnvelopes(dir)) as Array<{ message: Record<string, unknown> }>;
    const odd: unknown[] = [null, '', 'x', -1, 1.5, 0, 2 ** 60, true, [], {}, 'email', 'ios', Number.NaN];
    let checked = 0;
    for (let i = 0; i < envelopes.length; i += 7) {
      const base = (envelopes[i] as { message: Record<string, unknown> }).message;
      const variants: Record<string, unknown>[] = [base];
      const field = CONTRACT_FIELDS_V1[i % CONTRACT_FIELDS_V1.length] as string;
      for (const v of odd) variants.push({ ...base, [field]: v });
      const dropped = { ...base };
      delete dropped[field];
      variants.push(dropped);
      for (const m of variants) {
        const type = m['event_type'];
        if (typeof type !== 'string' || !(STREAM_EVENT_TYPES as readonly string[]).includes(type)) continue;
        const t = type as (typeof STREAM_EVENT_TYPES)[number];
        expect(passesContractFastPath(t, m), JSON.stringify(m)).toBe(EVENT_CONTRACT_V1[t].safeParse(m).success);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });
});
