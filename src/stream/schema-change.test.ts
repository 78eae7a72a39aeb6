import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidInputError, MetricsRegistry } from '../core/index.js';
import { generateWorld, replayEvents } from '../world/index.js';
import { type ContractResult, validateEnvelope } from './contracts.js';
import { SchemaChangeDetector, type SchemaChangeSignal } from './schema-change.js';

const root = mkdtempSync(join(tmpdir(), 'adnova-schema-change-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const T0 = 1_772_438_400_000;
const MIN = 60_000;

/** A page_view / purchase stream like the World's: v1 before `changeTs`, v2 (renamed, retyped) from it. */
function stream(n: number, changeTs: number, extra: (i: number) => Record<string, unknown> = () => ({})): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const ts = T0 + i * MIN;
    const v2 = ts >= changeTs;
    const isPurchase = i % 4 === 0;
    const m: Record<string, unknown> = {
      event_id: i,
      user_id: `u${String(i % 50).padStart(8, '0')}`,
      event_type: isPurchase ? 'purchase' : 'page_view',
      event_ts: ts,
      session_id: i,
      platform: 'web',
      [v2 ? 'product_category' : 'category']: 'books',
      ...(isPurchase ? { item_id: 'books-0001', amount: v2 ? '12.34' : 12.34, quantity: 1 } : {}),
      schema_version: v2 ? 2 : 1,
      ...extra(i),
    };
    out.push({ arrival_ts: ts + 1000, message: m });
  }
  return out;
}

function run(envelopes: readonly unknown[], detector = new SchemaChangeDetector()): SchemaChangeDetector {
  for (const e of envelopes) detector.observe(validateEnvelope(e));
  return detector;
}

const brief = (s: SchemaChangeSignal) => `${s.kind} ${s.eventType}.${s.field}->${s.newField ?? s.observedType ?? ''}`;

describe('SchemaChangeDetector', () => {
  it('raises nothing on clean v1 traffic, even with occasional defects', () => {
    const d = run(stream(3000, Number.POSITIVE_INFINITY, (i) => (i % 500 === 0 ? { amount: '1.00' } : {})));
    expect(d.signals()).toEqual([]);
  });

  it('raises renamed and retyped once each after the change, with counts and shares', () => {
    const changeTs = T0 + 1000 * MIN;
    const registry = new MetricsRegistry();
    const seen: SchemaChangeSignal[] = [];
    const d = run(
      stream(3000, changeTs),
      new SchemaChangeDetector({ metrics: registry, onSignal: (s) => seen.push(s) }),
    );
    expect(d.signals().map(brief)).toEqual([
      'renamed page_view.category->product_category',
      'retyped purchase.amount->string',
      'renamed purchase.category->product_category',
    ]);
    expect(seen).toEqual(d.signals());
    for (const s of d.signals()) {
      expect(s.firstSeenTs).toBeGreaterThanOrEqual(changeTs);
      expect(s.raisedTs).toBeGreaterThanOrEqual(s.firstSeenTs);
      expect(s.count).toBe(20);
      expect(s.share).toBeGreaterThan(0.005);
    }
    const retyped = d.signals()[1] as SchemaChangeSignal;
    expect(retyped.firstSeenTs).toBe(changeTs);
    expect(retyped.raisedTs).toBe(changeTs + 19 * 4 * MIN);
    expect(retyped.description).toMatch(/^purchase\.amount retyped to string in 20 of \d+ messages \(\d+\.\d%\)$/);
    return registry.snapshot().then((snap) => {
      const m = snap.find((x) => x.name === 'adnova_stream_schema_change_signals_total');
      expect(m?.values).toContainEqual({ labels: { kind: 'retyped', event_type: 'purchase' }, value: 1 });
      expect(m?.values).toContainEqual({ labels: { kind: 'renamed', event_type: 'page_view' }, value: 1 });
    });
  });

  it('reports a tolerated new field, and a rename by the single missing required field', () => {
    const d = run(stream(400, Number.POSITIVE_INFINITY, () => ({ experiment: 'b' })));
    expect(d.signals().map(brief)).toEqual(['new_field page_view.experiment->', 'new_field purchase.experiment->']);
    const renamed: unknown[] = [];
    for (let i = 0; i < 100; i++) {
      const message = { event_id: i, uid: 'u1', event_type: 'app_open', event_ts: T0 + i * MIN };
      renamed.push({ arrival_ts: T0 + i * MIN, message });
    }
    expect(run(renamed).signals().map(brief)).toEqual(['renamed app_open.user_id->uid']);
  });

  it('respects thresholds: share of the event type and messages in the lookback', () => {
    const changeTs = T0 + 1000 * MIN;
    expect(run(stream(3000, changeTs), new SchemaChangeDetector({ minCount: 2000 })).signals()).toEqual([]);
    // 20 retyped purchases over 9.5 hours: never 20 within a 1-hour lookback, all 20 within the default 24 hours.
    const sparse: unknown[] = [];
    for (let i = 0; i < 20; i++) {
      const ts = T0 + i * 30 * MIN;
      const message = { event_id: i, user_id: 'u1', event_type: 'purchase', event_ts: ts, amount: '1.00' };
      sparse.push({ arrival_ts: ts, message });
    }
    const tight = new SchemaChangeDetector({ lookbackMs: 60 * MIN, bucketMs: 10 * MIN });
    expect(run(sparse, tight).signals()).toEqual([]);
    expect(run(sparse).signals().map(brief)).toEqual(['retyped purchase.amount->string']);
  });

  it('is deterministic and validates its options', () => {
    const a = run(stream(2000, T0 + 500 * MIN)).signals();
    const b = run(stream(2000, T0 + 500 * MIN)).signals();
    expect(a).toEqual(b);
    expect(() => new SchemaChangeDetector({ minShare: 2 })).toThrow(InvalidInputError);
    expect(() => new SchemaChangeDetector({ lookbackMs: 90 * MIN, bucketMs: 60 * MIN })).toThrow(/multiple of/);
    expect(() => new SchemaChangeDetector({ minCount: 0 })).toThrow(/minCount/);
  });

  it('fires on a generated World with the schema-change scenario after the change, and not before', async () => {
    const dir = join(root, 'w');
    const manifest = await generateWorld({
      outDir: dir,
      users: 1000,
      days: 2,
      features: 16,
      seed: 3,
      scenarios: ['schema-change'],
    });
    const changeTs = manifest.timeline.find((t) => t.scenario === 'schema-change')?.fromTs as number;
    const results: ContractResult[] = [];
    await replayEvents({
      dir,
      target: { write: (line) => void results.push(validateEnvelope(JSON.parse(line))) },
    });
    const before = new SchemaChangeDetector();
    const all = new SchemaChangeDetector();
    for (const r of results) {
      const ts = r.ok ? r.event.eventTs : (r.eventTs ?? r.arrivalTs ?? 0);
      if (ts < changeTs) before.observe(r);
      all.observe(r);
    }
    expect(before.signals()).toEqual([]);
    const kinds = all.signals().map(brief);
    expect(kinds).toContain('renamed page_view.category->product_category');
    expect(kinds).toContain('renamed product_view.category->product_category');
    expect(kinds).toContain('retyped purchase.amount->string');
    expect(kinds.every((k) => k.startsWith('renamed') || k.startsWith('retyped'))).toBe(true);
    for (const s of all.signals()) {
      expect(s.raisedTs).toBeGreaterThanOrEqual(changeTs);
      if (s.kind === 'renamed') expect(s.firstSeenTs).toBeGreaterThanOrEqual(changeTs);
    }
    // v2 messages are dead-lettered against the v1 contract; untouched types still pass after the change.
    const after = results.filter((r) => (r.ok ? r.event.eventTs : (r.eventTs ?? 0)) >= changeTs);
    expect(after.some((r) => r.ok && r.event.eventType === 'session_start' && r.event.schemaVersion === 2)).toBe(true);
    expect(after.some((r) => !r.ok && r.eventType === 'page_view' && /schema_version 2/.test(r.reason))).toBe(true);
  });
});
