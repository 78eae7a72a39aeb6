import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../core/index.js';
import { defineEntity, defineFeatures, defineFeatureView } from '../../features/index.js';
import { type AggregatableEvent, compileAggregationPlan, windowStartMs } from '../aggregation-plan.js';
import { batchAggregates } from '../duckdb-batch-aggregates.js';
import { DedupIds, WindowAggregator } from './index.js';

const H = 3_600_000;
const PURCHASE = { event_type: ['purchase'] };
const VIEW = { event_type: ['product_view'] };
const D = 24 * H;
const T0 = Date.UTC(2026, 0, 5);

const defs = defineFeatures({
  entities: [defineEntity({ name: 'user' })],
  views: [
    defineFeatureView({
      name: 'activity',
      entity: 'user',
      ttlSeconds: 28 * 86_400,
      source: { kind: 'stream' },
      features: [
        { name: 'events_1h', aggregation: { op: 'count', window: '1h' } },
        { name: 'events_24h', aggregation: { op: 'count', window: '24h' } },
        { name: 'purchases_7d', aggregation: { op: 'count', window: '7d', where: { event_type: ['purchase'] } } },
        { name: 'spend_7d', aggregation: { op: 'sum', column: 'amount', window: '7d' } },
        { name: 'spend_28d', aggregation: { op: 'sum', column: 'amount', window: '28d' } },
        { name: 'aov_24h', aggregation: { op: 'mean', column: 'amount', window: '24h' } },
        { name: 'min_amount_7d', aggregation: { op: 'min', column: 'amount', window: '7d' } },
        { name: 'max_qty_24h', aggregation: { op: 'max', column: 'quantity', window: '24h' } },
        { name: 'last_amount_28d', aggregation: { op: 'last', column: 'amount', window: '28d' } },
        {
          name: 'since_view_24h',
          aggregation: { op: 'time_since_last', window: '24h', where: { event_type: ['product_view'] } },
        },
        { name: 'items_7d', aggregation: { op: 'approx_distinct', column: 'item_id', window: '7d' } },
        {
          name: 'books_views_30m',
          aggregation: { op: 'count', window: '30m', where: { event_type: ['product_view'], category: ['books'] } },
        },
      ],
    }),
  ],
});

interface TestEvent extends AggregatableEvent {
  readonly arrivalTs: number;
}

function makeEvents(n: number, seed: number): TestEvent[] {
  const rng = new Rng(seed);
  const types = ['product_view', 'purchase', 'app_open'];
  const cats = ['books', 'games', 'home'];
  const out: TestEvent[] = [];
  for (let i = 0; i < n; i++) {
    const eventTs = T0 + Math.floor(rng.next() * 20 * D);
    const type = types[rng.int(3)]!;
    const purchase = type === 'purchase';
    out.push({
      eventId: String(i),
      userId: `u${rng.int(12)}`,
      eventType: type,
      eventTs,
      // mostly in order, some up to 50 minutes late
      arrivalTs: eventTs + (rng.next() < 0.2 ? Math.floor(rng.next() * 50 * 60_000) : Math.floor(rng.next() * 2000)),
      category: type === 'app_open' ? undefined : cats[rng.int(3)],
      itemId: type === 'app_open' ? undefined : `i${rng.int(40)}`,
      amount: purchase ? Math.round(rng.next() * 10_000) / 100 : undefined,
      quantity: purchase ? 1 + rng.int(4) : undefined,
    });
  }
  return out.sort((a, b) => a.arrivalTs - b.arrivalTs || Number(a.eventId) - Number(b.eventId));
}

/** The window rule applied to raw events, written as plainly as possible. */
function naive(events: readonly TestEvent[], userId: string, atMs: number): number[] {
  const plan = compileAggregationPlan(defs);
  return plan.features.map((f) => {
    const group = plan.groups[f.group]!;
    const from = windowStartMs(atMs, f.windowMs, group.tileMs);
    const where = f.aggregation.where ?? {};
    const inWindow = events.filter(
      (e) =>
        e.userId === userId &&
        e.eventTs >= from &&
        e.eventTs < atMs &&
        Object.entries(where).every(([k, vs]) => vs.includes(String(k === 'event_type' ? e.eventType : e.category))),
    );
    const col = f.aggregation.column;
    const vals = inWindow
      .map((e) => (col === 'amount' ? e.amount : col === 'quantity' ? e.quantity : undefined))
      .filter((v): v is number => v !== undefined);
    switch (f.op) {
      case 'count':
        return inWindow.length;
      case 'sum':
        return vals.reduce((a, b) => a + b, 0);
      case 'mean':
        return vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : Number.NaN;
      case 'min':
        return vals.length ? Math.min(...vals) : Number.NaN;
      case 'max':
        return vals.length ? Math.max(...vals) : Number.NaN;
      case 'last': {
        const withV = inWindow.filter((e) => e.amount !== undefined);
        if (withV.length === 0) return Number.NaN;
        withV.sort((a, b) => b.eventTs - a.eventTs || b.amount! - a.amount!);
        return withV[0]!.amount!;
      }
      case 'time_since_last':
        return inWindow.length ? (atMs - Math.max(...inWindow.map((e) => e.eventTs))) / 1000 : Number.NaN;
      case 'approx_distinct':
        return new Set(inWindow.map((e) => e.itemId).filter((x) => x !== undefined)).size;
      default:
        throw new Error(`no reference for ${f.op}`);
    }
  });
}

const close = (a: number, b: number, rel = 1e-9) =>
  (Number.isNaN(a) && Number.isNaN(b)) || Math.abs(a - b) <= rel * Math.max(1, Math.abs(a), Math.abs(b));

describe('WindowAggregator (tiles) against the window rule', () => {
  const dir = mkdtempSync(join(tmpdir(), 'adnova-tiles-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('matches a plain evaluation of the rule at tile boundaries and just after each user last event', () => {
    const plan = compileAggregationPlan(defs);
    const events = makeEvents(3000, 7);
    const agg = new WindowAggregator(plan, { allowedLatenessMs: 2 * D, retainFromMs: T0 });
    for (const e of events) expect(agg.ingest(e)).toBe('accepted');
    const out = new Float32Array(plan.features.length);
    // a tile ending after `at` may hold later events, so exact reads are at tile boundaries or after the last event
    for (const user of ['u0', 'u3', 'u11']) {
      for (const at of [T0 + 3 * D, T0 + 10 * D, T0 + 20 * D, agg.lastEventTs(user) + 1]) {
        agg.evaluate(0, user, at, out);
        const want = naive(events, user, at);
        plan.features.forEach((f, k) => {
          const got = out[k]!;
          // approx_distinct is an estimate: within 10% of the exact count at these sizes
          if (f.op === 'approx_distinct') expect(Math.abs(got - want[k]!)).toBeLessThanOrEqual(0.1 * want[k]! + 0.5);
          else
            expect(close(got, Math.fround(want[k]!), 1e-6), `${user} ${f.ref} at ${at}: ${got} vs ${want[k]}`).toBe(
              true,
            );
        });
      }
    }
  });

  it('reads exactly at any time when the stream has not yet seen later events (the online case)', () => {
    const plan = compileAggregationPlan(defs);
    const events = makeEvents(3000, 5);
    const cut = T0 + 10 * D + 5 * H + 17 * 60_000 + 3;
    const before = events.filter((e) => e.eventTs < cut);
    const agg = new WindowAggregator(plan, { allowedLatenessMs: 30 * D });
    for (const e of before) agg.ingest(e);
    const out = new Float32Array(plan.features.length);
    for (const user of ['u1', 'u2', 'u5']) {
      agg.evaluate(0, user, cut, out);
      const want = naive(before, user, cut);
      plan.features.forEach((f, k) => {
        if (f.op === 'approx_distinct') expect(Math.abs(out[k]! - want[k]!)).toBeLessThanOrEqual(0.1 * want[k]! + 0.5);
        else expect(close(out[k]!, Math.fround(want[k]!), 1e-6), `${user} ${f.ref}`).toBe(true);
      });
    }
  });

  it('prunes tiles behind the watermark as it goes and still reads the present exactly', () => {
    const plan = compileAggregationPlan(defs);
    const events = makeEvents(4000, 9);
    const agg = new WindowAggregator(plan, { allowedLatenessMs: H });
    for (const e of events) expect(agg.ingest(e)).toBe('accepted');
    const out = new Float32Array(plan.features.length);
    for (const user of ['u2', 'u4', 'u7']) {
      const at = agg.lastEventTs(user) + 1;
      agg.evaluate(0, user, at, out);
      const want = naive(events, user, at);
      plan.features.forEach((f, k) => {
        if (f.op === 'approx_distinct') expect(Math.abs(out[k]! - want[k]!)).toBeLessThanOrEqual(0.1 * want[k]! + 0.5);
        else expect(close(out[k]!, Math.fround(want[k]!), 1e-6), `${user} ${f.ref}`).toBe(true);
      });
      // the state holds about one window of tiles per group, not the 20 days of history
      const state = agg.exportUser(user)!;
      expect(state.byteLength).toBeLessThan(40_000);
    }
  });

  it('counts duplicates and late events without aggregating them, and evicts what no window reads', () => {
    const plan = compileAggregationPlan(defs);
    const agg = new WindowAggregator(plan, { allowedLatenessMs: H });
    const base = { userId: 'u1', eventType: 'purchase', amount: 10 };
    expect(agg.ingest({ ...base, eventId: 'a', eventTs: T0 + 5 * H })).toBe('accepted');
    expect(agg.ingest({ ...base, eventId: 'a', eventTs: T0 + 5 * H })).toBe('duplicate');
    expect(agg.ingest({ ...base, eventId: 'b', eventTs: T0 + 4 * H + 1 })).toBe('accepted'); // 59 min late: allowed
    expect(agg.ingest({ ...base, eventId: 'c', eventTs: T0 + 3 * H })).toBe('late');
    expect(agg.counters).toEqual({ accepted: 2, duplicates: 1, late: 1 });
    expect(agg.takeDirty()).toEqual(['u1']);
    expect(agg.takeDirty()).toEqual([]);
    const out = new Float32Array(plan.features.length);
    agg.evaluate(0, 'u1', T0 + 6 * H, out);
    expect(out[plan.features.findIndex((f) => f.name === 'spend_7d')]).toBe(20);
    // 40 days later only the newest event's tiles matter
    expect(agg.ingest({ ...base, eventId: 'd', eventTs: T0 + 40 * D })).toBe('accepted');
    expect(agg.evict()).toBeGreaterThan(0);
    agg.evaluate(0, 'u1', T0 + 40 * D + 1, out);
    expect(out[plan.features.findIndex((f) => f.name === 'spend_28d')]).toBe(10);
  });

  it('resumes from exported state exactly', () => {
    const plan = compileAggregationPlan(defs);
    const events = makeEvents(1500, 11);
    const whole = new WindowAggregator(plan, { allowedLatenessMs: 2 * D, retainFromMs: T0 });
    for (const e of events) whole.ingest(e);
    const first = new WindowAggregator(plan, { allowedLatenessMs: 2 * D, retainFromMs: T0 });
    for (const e of events.slice(0, 700)) first.ingest(e);
    const users = [...first.users()].map((u) => [u, first.exportUser(u)!] as [string, Uint8Array]);
    const resumed = new WindowAggregator(plan, { allowedLatenessMs: 2 * D, retainFromMs: T0 });
    resumed.restore(first.meta(), users);
    // redeliver an overlap: the dedup ids in the state keep it from counting twice
    for (const e of events.slice(650)) resumed.ingest(e);
    expect(resumed.counters.duplicates).toBe(50);
    const a = new Float32Array(plan.features.length);
    const b = new Float32Array(plan.features.length);
    for (const user of whole.users()) {
      whole.evaluate(0, user, T0 + 20 * D, a);
      resumed.evaluate(0, user, T0 + 20 * D, b);
      expect([...b]).toEqual([...a]);
    }
  });

  it('restores tiles saved in any order (older states kept insertion order) and reads them as before', () => {
    const plan = compileAggregationPlan(defs);
    const events = makeEvents(1500, 13);
    const agg = new WindowAggregator(plan, { allowedLatenessMs: 2 * D, retainFromMs: T0 });
    for (const e of events) agg.ingest(e);
    const a = new Float32Array(plan.features.length);
    const b = new Float32Array(plan.features.length);
    for (const user of ['u0', 'u5']) {
      const bytes = agg.exportUser(user)!;
      // the same state with each group's tiles reversed: [format, lastEventTs, writtenTs, per group: n, n x (idx, words)]
      const copy = bytes.slice();
      const f = new Float64Array(copy.buffer, 0, Math.floor(copy.byteLength / 8));
      let o = 3;
      for (const group of plan.groups) {
        const n = f[o++]!;
        const size = 1 + group.width;
        const tiles = Array.from({ length: n }, (_, k) => f.slice(o + k * size, o + (k + 1) * size));
        expect(n).toBeGreaterThan(1);
        for (const [k, t] of tiles.reverse().entries()) f.set(t, o + k * size);
        o += n * size;
      }
      const restored = new WindowAggregator(plan, { allowedLatenessMs: 2 * D, retainFromMs: T0 });
      restored.restore(agg.meta(), [[user, copy]]);
      for (const at of [T0 + 5 * D, T0 + 12 * D, agg.lastEventTs(user) + 1]) {
        agg.evaluate(0, user, at, a);
        restored.evaluate(0, user, at, b);
        expect([...b]).toEqual([...a]);
      }
      // and new events land in the right tiles
      const late = { eventId: 'x', userId: user, eventType: 'purchase', amount: 5, itemId: 'i1' };
      for (const target of [agg, restored]) {
        target.ingest({ ...late, eventTs: T0 + 10 * D + 7 });
        target.ingest({ ...late, eventId: 'y', eventTs: T0 + 19 * D + 7 });
      }
      agg.evaluate(0, user, T0 + 20 * D, a);
      restored.evaluate(0, user, T0 + 20 * D, b);
      expect([...b]).toEqual([...a]);
    }
  });

  it('hands out changed users once each, in the order they changed, through deletes, evictions and retries', () => {
    const plan = compileAggregationPlan(defs);
    let now = 0;
    const agg = new WindowAggregator(plan, { allowedLatenessMs: H, dedupRetentionMs: 0, now: () => now });
    const ev = (eventId: string, userId: string, eventTs: number) => ({
      eventId,
      userId,
      eventType: 'app_open',
      eventTs,
    });
    agg.ingest(ev('1', 'u1', T0));
    agg.ingest(ev('2', 'u2', T0 + 1));
    agg.ingest(ev('3', 'u1', T0 + 2));
    agg.ingest(ev('4', 'u3', T0 + 3));
    expect(agg.deleteUsers(['u2'])).toBe(1);
    expect(agg.takeDirty()).toEqual(['u1', 'u3']);
    agg.markDirty(['u3', 'nobody', 'u1', 'u3']);
    agg.ingest(ev('5', 'u2', T0 + 4)); // a deleted user comes back
    expect(agg.takeDirty()).toEqual(['u3', 'u1', 'u2']);
    // a changed user evicted before the flush (all its tiles and ids past use) is handed out once, without state
    agg.ingest(ev('6', 'u4', T0 + 5));
    now = 1;
    agg.ingest(ev('7', 'u5', T0 + 60 * D));
    expect(agg.evict()).toBeGreaterThan(0);
    expect(Number.isNaN(agg.writeTs('u4'))).toBe(true);
    agg.ingest({ ...ev('8', 'u4', T0 + 60 * D + 1), arrivalTs: T0 + 60 * D + 2 }); // and comes back before it
    const dirty = agg.takeDirty();
    expect(dirty).toEqual(['u4', 'u5']);
    const { eventTs } = agg.evaluateForWrite(dirty, dirty.length, Number.NaN, false);
    expect([...eventTs]).toEqual([T0 + 60 * D + 1, T0 + 60 * D]);
    // an evicted user whose id is still listed is read as missing, not from its old state
    agg.ingest(ev('9', 'u6', T0 + 60 * D + 2));
    now = 2;
    agg.ingest(ev('10', 'u5', T0 + 120 * D));
    agg.evict();
    const again = agg.takeDirty();
    expect(again).toEqual(['u6', 'u5']);
    const r = agg.evaluateForWrite(again, again.length, Number.NaN, false);
    expect(Number.isNaN(r.eventTs[0]!)).toBe(true);
    expect(r.eventTs[1]).toBe(T0 + 120 * D);
  });

  it('rewrites aged users from their last vectors bit for bit what a whole read gives', () => {
    // flushes as the ingestor runs them (changed users as of their newest event, then the users whose windows lost
    // a tile as of the stream time, scheduled again): every vector written must equal a whole read at its time,
    // through idle gaps from seconds to days, late and out-of-order events, evictions, deletes and a restore
    // time_since_last in every tile group and several in one: each keeps its own newest event time
    const plan = compileAggregationPlan(
      defineFeatures({
        entities: defs.entities,
        views: [
          defineFeatureView({
            ...defs.views[0]!,
            features: [
              ...defs.views[0]!.features,
              { name: 'since_any_1h', aggregation: { op: 'time_since_last', window: '1h' } },
              { name: 'since_buy_1h', aggregation: { op: 'time_since_last', window: '1h', where: PURCHASE } },
              { name: 'since_any_24h', aggregation: { op: 'time_since_last', window: '24h' } },
              { name: 'since_buy_7d', aggregation: { op: 'time_since_last', window: '7d', where: PURCHASE } },
              { name: 'since_view_28d', aggregation: { op: 'time_since_last', window: '28d', where: VIEW } },
            ],
          }),
        ],
      }),
    );
    const rng = new Rng(11);
    let now = 0;
    let agg = new WindowAggregator(plan, { allowedLatenessMs: 2 * H, dedupRetentionMs: 0, now: () => now });
    const width = plan.features.length;
    const whole = new Float32Array(width);
    let t = T0;
    let rewrites = 0;
    let seq = 0;
    for (let flush = 0; flush < 400; flush++) {
      const gap = rng.next();
      t += gap < 0.6 ? rng.int(10 * 60_000) : gap < 0.85 ? rng.int(3 * H) : gap < 0.97 ? rng.int(D) : rng.int(9 * D);
      for (let k = rng.int(12); k > 0; k--) {
        const back = rng.next() < 0.15 ? rng.int(90 * 60_000) : rng.int(2000); // some out of order, a few late
        const purchase = rng.next() < 0.3;
        agg.ingest({
          eventId: String(seq++),
          userId: `u${rng.int(25)}`,
          eventType: purchase ? 'purchase' : rng.next() < 0.5 ? 'product_view' : 'app_open',
          eventTs: t - back,
          arrivalTs: t,
          category: ['books', 'games'][rng.int(2)],
          itemId: `i${rng.int(30)}`,
          amount: purchase ? 1 + rng.int(9000) / 100 : undefined,
          quantity: purchase ? 1 + rng.int(4) : undefined,
        });
      }
      if (flush % 37 === 36) {
        now = flush;
        agg.evict();
      }
      if (flush % 53 === 52) agg.deleteUsers([`u${rng.int(25)}`]);
      if (flush === 200) {
        // a restored aggregator has no cached vectors: its first aged rewrites are whole reads again
        const ids = [...agg.users()];
        const saved = ids.map((id): [string, Uint8Array] => [id, agg.exportUser(id)!]);
        const meta = agg.meta();
        agg = new WindowAggregator(plan, { allowedLatenessMs: 2 * H, dedupRetentionMs: 0, now: () => now });
        agg.restore(meta, saved);
      }
      const dirty = agg.takeDirty();
      const users = dirty.concat(agg.takeDue(agg.maxEventTs));
      rewrites += users.length - dirty.length;
      const { eventTs, values } = agg.evaluateForWrite(users, dirty.length, agg.maxEventTs, true);
      users.forEach((id, i) => {
        if (Number.isNaN(eventTs[i]!)) return;
        agg.evaluate(0, id, eventTs[i]! + 1, whole);
        const got = new Uint32Array(values[0]!.buffer, i * width * 4, width);
        const want = new Uint32Array(whole.buffer);
        expect([...got], `flush ${flush}, ${id} ${i < dirty.length ? 'changed' : 'aged'} at ${eventTs[i]}`).toEqual([
          ...want,
        ]);
      });
    }
    expect(rewrites).toBeGreaterThan(500);

    // an event since the cached read makes the next aged rewrite a whole read, even with no changed-user pass first
    const one = new WindowAggregator(plan);
    const base = { userId: 'u1', eventType: 'app_open' };
    one.ingest({ ...base, eventId: 'a', eventTs: T0 });
    const first = one.takeDirty();
    one.evaluateForWrite(first, first.length, T0, true);
    one.ingest({ ...base, eventId: 'b', eventTs: T0 + 30 * 60_000 });
    const later = T0 + 2 * H;
    const due = one.takeDue(later);
    expect(due).toEqual(['u1']);
    const { values } = one.evaluateForWrite(due, 0, later, true);
    one.evaluate(0, 'u1', later + 1, whole);
    expect([...values[0]!]).toEqual([...whole]);

    // an aged time behind the user's newest event (evaluateForWrite does not require agedAtMs >= it): a later
    // read must see the tiles that enter the window, not only those that leave
    const early = new WindowAggregator(plan);
    early.ingest({ ...base, eventId: 'a', eventTs: T0 });
    early.ingest({ ...base, eventId: 'b', eventTs: T0 + 10 * 60_000 });
    early.takeDirty();
    early.evaluateForWrite(['u1'], 0, T0 + 60_000, true);
    const r = early.evaluateForWrite(['u1'], 0, T0 + 20 * 60_000, true);
    early.evaluate(0, 'u1', T0 + 20 * 60_000 + 1, whole);
    expect([...r.values[0]!]).toEqual([...whole]);
  });

  it('forgets dedup ids only behind the watermark and past their retention, keeping the rest', () => {
    const plan = compileAggregationPlan(defs);
    let now = 0;
    const agg = new WindowAggregator(plan, { allowedLatenessMs: H, dedupRetentionMs: 1000, now: () => now });
    const ev = (eventId: string, eventTs: number) => ({ eventId, userId: 'u1', eventType: 'app_open', eventTs });
    agg.ingest(ev('old', T0));
    now = 5000;
    agg.ingest(ev('recent', T0 + 1));
    agg.ingest(ev('new', T0 + 3 * H));
    now = 5500;
    agg.evict(); // 'old': behind the watermark and seen 5.5 s ago; 'recent' seen 0.5 s ago; 'new' on time
    expect(agg.ingest(ev('old', T0 + 3 * H))).toBe('accepted');
    expect(agg.ingest(ev('recent', T0 + 3 * H))).toBe('duplicate');
    expect(agg.ingest(ev('new', T0 + 3 * H))).toBe('duplicate');
    const bytes = agg.exportUser('u1')!;
    const restored = new WindowAggregator(plan, { allowedLatenessMs: H, dedupRetentionMs: 1000, now: () => now });
    restored.restore(agg.meta(), [['u1', bytes]]);
    for (const id of ['old', 'recent', 'new']) expect(restored.ingest(ev(id, T0 + 3 * H))).toBe('duplicate');
  });

  it('exports a checkpoint of many users as views into shared chunks, byte for byte what exportUser gives', () => {
    const plan = compileAggregationPlan(defs);
    const events = makeEvents(3000, 21);
    const agg = new WindowAggregator(plan, { allowedLatenessMs: 2 * D, retainFromMs: T0 });
    // a non-ASCII id and a long one too: their bytes are UTF-8
    agg.ingest({ eventId: 'é-ü-1', userId: 'u1', eventType: 'app_open', eventTs: T0 + D });
    agg.ingest({ eventId: 'x'.repeat(300), userId: 'u2', eventType: 'app_open', eventTs: T0 + D });
    for (const e of events) agg.ingest(e);
    const ids = [...agg.users(), 'nobody'];
    const out = new Map<string, Uint8Array | null>();
    agg.exportUsers(ids, out);
    expect(out.get('nobody')).toBeNull();
    for (const id of agg.users()) {
      const view = out.get(id)!;
      expect(view.byteOffset % 8).toBe(0);
      expect(Buffer.from(view).equals(Buffer.from(agg.exportUser(id)!))).toBe(true);
    }
    const restored = new WindowAggregator(plan, { allowedLatenessMs: 2 * D, retainFromMs: T0 });
    restored.restore(
      agg.meta(),
      [...out].filter((x): x is [string, Uint8Array] => x[1] !== null),
    );
    const a = new Float32Array(plan.features.length);
    const b = new Float32Array(plan.features.length);
    for (const id of agg.users()) {
      agg.evaluate(0, id, T0 + 20 * D, a);
      restored.evaluate(0, id, T0 + 20 * D, b);
      expect([...b]).toEqual([...a]);
    }
    const again = { eventId: 'é-ü-1', userId: 'u1', eventType: 'app_open', eventTs: T0 + D, arrivalTs: T0 + D };
    expect(restored.ingest(again)).toBe('duplicate');
  });

  it('keeps dedup ids in order through growth and forgetting, and finds each one', () => {
    const seen = new DedupIds();
    const ids = Array.from({ length: 2000 }, (_, i) => (i % 3 === 0 ? `e${i}` : `evt-${i * 7919}-ü`));
    ids.forEach((id, i) => {
      expect(seen.has(id)).toBe(false);
      seen.add(id, i, 1000 + i);
    });
    expect(seen.size).toBe(2000);
    for (const id of ids) expect(seen.has(id)).toBe(true);
    // forget the ids of event times below 1500 seen before 2400: the rest keep their order
    seen.forget(1500, 2400);
    const kept = ids.filter((_, i) => !(i < 1500 && 1000 + i < 2400));
    expect(seen.ids).toEqual(kept);
    expect(seen.ts).toEqual(kept.map((id) => ids.indexOf(id)));
    for (const id of ids) expect(seen.has(id)).toBe(kept.includes(id));
    // down to a few ids: a scan again, then a table again as ids come
    seen.forget(1998, Number.POSITIVE_INFINITY);
    expect(seen.ids).toEqual(ids.slice(1998));
    for (let i = 0; i < 20; i++) seen.add(`new${i}`, 5000 + i, 5000);
    expect(seen.has('new7')).toBe(true);
    expect(seen.has(ids[1998]!)).toBe(true);
    expect(seen.has(ids[10]!)).toBe(false);
  });

  it('gives the same values as DuckDB over the same events (batch execution of the same definitions)', async () => {
    const plan = compileAggregationPlan(defs);
    const events = makeEvents(4000, 3);
    const agg = new WindowAggregator(plan, { allowedLatenessMs: 40 * 60_000, retainFromMs: T0 });
    const rejected: string[] = [];
    for (const e of events) if (agg.ingest(e) !== 'accepted') rejected.push(e.eventId);
    const csv = join(dir, 'events.csv');
    const cell = (v: unknown) => (v === undefined ? '' : String(v));
    writeFileSync(
      csv,
      [
        'event_id,user_id,event_type,event_ts,category,item_id,amount,quantity',
        ...events.map((e) =>
          [e.eventId, e.userId, e.eventType, e.eventTs, e.category, e.itemId, e.amount, e.quantity].map(cell).join(','),
        ),
      ].join('\n'),
    );
    const atMs = [T0 + 2 * D, T0 + 9 * D, T0 + 15 * D, T0 + 20 * D];
    const batch = await batchAggregates(plan, { files: [csv], atMs, excludeEventIds: rejected });
    expect(batch.userIds.length).toBeGreaterThan(30);
    const out = new Float32Array(plan.features.length);
    let compared = 0;
    for (let r = 0; r < batch.userIds.length; r++) {
      agg.evaluate(0, batch.userIds[r]!, batch.atMs[r]!, out);
      for (let k = 0; k < batch.width; k++) {
        const want = Math.fround(batch.values[r * batch.width + k]!);
        expect(close(out[k]!, want, 1e-6), `${batch.userIds[r]} ${plan.features[k]!.ref}: ${out[k]} vs ${want}`).toBe(
          true,
        );
        compared++;
      }
    }
    expect(compared).toBe(batch.userIds.length * plan.features.length);
  });
});
