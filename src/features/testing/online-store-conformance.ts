import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { type FeatureMatrix, FeatureStatusCode, InvalidInputError, viewStatus } from '../../core/index.js';
import {
  defineEntity,
  defineFeatureService,
  defineFeatures,
  defineFeatureView,
  resolveService,
  storageKeyOf,
  ttlMsOf,
} from '../definitions.js';
import { type OnlineStore, type OnlineViewRef, ReadBuffers } from '../online-store.js';

/** Two views of the user entity and a service that interleaves them, used by every store under test. */
export function conformanceDefinitions() {
  const user = defineEntity({ name: 'user' });
  const stats = defineFeatureView({
    name: 'stats',
    entity: 'user',
    ttlSeconds: 60,
    features: [
      { name: 'a', default: -1 },
      { name: 'b', default: -2 },
      { name: 'c', dtype: 'int', default: 7 },
    ],
  });
  const prefs = defineFeatureView({
    name: 'prefs',
    entity: 'user',
    ttlSeconds: 3600,
    features: [
      { name: 'x', default: 0.5 },
      { name: 'y', dtype: 'category', default: 3 },
    ],
  });
  const services = [
    defineFeatureService({ name: 'all', features: ['stats.a', 'stats.b', 'stats.c', 'prefs.x', 'prefs.y'] }),
    defineFeatureService({ name: 'mixed', features: ['prefs.y', 'stats.c', 'stats.a', 'prefs.x'] }),
  ];
  const defs = defineFeatures({ entities: [user], views: [stats, prefs], services });
  const ref = (v: typeof stats): OnlineViewRef => ({
    storageKey: storageKeyOf(v),
    width: v.features.length,
    ttlMs: ttlMsOf(v),
  });
  return { defs, stats, prefs, statsRef: ref(stats), prefsRef: ref(prefs) };
}

const T0 = Date.UTC(2026, 10, 1);

/**
 * The one behaviour every online store must have. Runs against memory and Redis:
 * `describeOnlineStore('redis', () => new RedisOnlineStore(...), { cleanup })`.
 */
export function describeOnlineStore(
  title: string,
  factory: () => OnlineStore | Promise<OnlineStore>,
  options: { readonly cleanup?: (store: OnlineStore) => Promise<void> } = {},
): void {
  describe(`online store conformance: ${title}`, () => {
    const { defs, statsRef, prefsRef } = conformanceDefinitions();
    const all = resolveService(defs, 'all');
    const mixed = resolveService(defs, 'mixed');
    const opened: OnlineStore[] = [];
    const open = async () => {
      const s = await factory();
      opened.push(s);
      return s;
    };
    const one = (id: string, eventTs: number, createdTs: number, values: number[]) => ({
      entityIds: [id],
      eventTs: Float64Array.of(eventTs),
      createdTs: Float64Array.of(createdTs),
      values: Float32Array.from(values),
    });

    afterEach(async () => {
      for (const s of opened.splice(0)) {
        await options.cleanup?.(s);
        await s.close();
      }
    });

    it('reads back written values with status present and age', async () => {
      const s = await open();
      const id = `u-${randomUUID()}`;
      await s.write(statsRef, one(id, T0, T0 + 5, [1.5, 2.5, 3]));
      const m = await s.read(all, [id], T0 + 1000);
      expect(Array.from(m.values.subarray(0, 3))).toEqual([1.5, 2.5, 3]);
      expect(viewStatus(m, 0, 0)).toBe('present');
      expect(m.ageMs[0]).toBe(1000);
      // prefs never written: defaults, missing, unknown age
      expect(Array.from(m.values.subarray(3, 5))).toEqual([0.5, 3]);
      expect(viewStatus(m, 1, 0)).toBe('missing');
      expect(m.ageMs[1]).toBe(-1);
    });

    it('applies the TTL rule: inside, boundary (expired), future (missing)', async () => {
      const s = await open();
      const id = `u-${randomUUID()}`;
      await s.write(statsRef, one(id, T0, T0, [1, 2, 3]));
      const ttl = 60_000;
      const inside = await s.read(all, [id], T0 + ttl - 1);
      expect(viewStatus(inside, 0, 0)).toBe('present');
      const boundary = await s.read(all, [id], T0 + ttl);
      expect(viewStatus(boundary, 0, 0)).toBe('expired');
      expect(Array.from(boundary.values.subarray(0, 3))).toEqual([-1, -2, 7]);
      expect(boundary.ageMs[0]).toBe(ttl);
      const before = await s.read(all, [id], T0 - 1);
      expect(viewStatus(before, 0, 0)).toBe('missing');
      const exact = await s.read(all, [id], T0);
      expect(viewStatus(exact, 0, 0)).toBe('present');
    });

    it('last write wins by (eventTs, createdTs); late older rows and replays change nothing', async () => {
      const s = await open();
      const id = `u-${randomUUID()}`;
      expect(await s.write(statsRef, one(id, T0 + 10, T0 + 10, [1, 1, 1]))).toEqual({ written: 1, skipped: 0 });
      expect(await s.write(statsRef, one(id, T0 + 5, T0 + 99, [2, 2, 2]))).toEqual({ written: 0, skipped: 1 });
      expect(await s.write(statsRef, one(id, T0 + 10, T0 + 10, [3, 3, 3]))).toEqual({ written: 0, skipped: 1 });
      let m = await s.read(all, [id], T0 + 20);
      expect(m.values[0]).toBe(1);
      expect(await s.write(statsRef, one(id, T0 + 10, T0 + 11, [4, 4, 4]))).toEqual({ written: 1, skipped: 0 });
      m = await s.read(all, [id], T0 + 20);
      expect(m.values[0]).toBe(4);
      expect(await s.write(statsRef, one(id, T0 + 12, T0 + 1, [5, 5, 5]))).toEqual({ written: 1, skipped: 0 });
      m = await s.read(all, [id], T0 + 20);
      expect(m.values[0]).toBe(5);
    });

    it('fills interleaved service layouts from several views for many entities', async () => {
      const s = await open();
      const n = 1200;
      const ids = Array.from({ length: n }, (_, i) => `m-${i}-${randomUUID().slice(0, 8)}`);
      const sv = new Float32Array(n * 3);
      const pv = new Float32Array(n * 2);
      for (let i = 0; i < n; i++) {
        sv.set([i + 0.25, -i, i % 11], i * 3);
        pv.set([i / 8, i % 5], i * 2);
      }
      const ts = new Float64Array(n).fill(T0);
      await s.write(statsRef, { entityIds: ids, eventTs: ts, createdTs: ts, values: sv });
      // every third entity has no prefs
      const withPrefs = ids.filter((_, i) => i % 3 !== 0);
      const pv2 = Float32Array.from(ids.flatMap((_, i) => (i % 3 !== 0 ? [i / 8, i % 5] : [])));
      await s.write(prefsRef, {
        entityIds: withPrefs,
        eventTs: ts.subarray(0, withPrefs.length),
        createdTs: ts.subarray(0, withPrefs.length),
        values: pv2,
      });
      const query = [...ids.slice(0, 200), 'nobody-here'];
      const m = await s.read(mixed, query, T0 + 1);
      const rows = query.length;
      for (let i = 0; i < 200; i++) {
        const hasPrefs = i % 3 !== 0;
        expect(m.values[0 * rows + i]).toBe(hasPrefs ? i % 5 : 3);
        expect(m.values[1 * rows + i]).toBe(i % 11);
        expect(m.values[2 * rows + i]).toBe(Math.fround(i + 0.25));
        expect(m.values[3 * rows + i]).toBe(hasPrefs ? Math.fround(i / 8) : 0.5);
        expect(viewStatus(m, 0, i)).toBe(hasPrefs ? 'present' : 'missing');
        expect(viewStatus(m, 1, i)).toBe('present');
      }
      expect(m.status[1 * rows + 200]).toBe(FeatureStatusCode.missing);
      expect(m.values[1 * rows + 200]).toBe(7);

      // reads into lent buffers equal fresh reads, whether the buffers held a larger read (stale cells beyond the
      // new size, different statuses) or a smaller one (they grow), and whatever other layout used them before
      const buffers = new ReadBuffers();
      const plain = (q: string[], layout = mixed, at = T0 + 1) => s.read(layout, q, at);
      const lent = (q: string[], layout = mixed, at = T0 + 1) => s.read(layout, q, at, buffers);
      const same = (a: FeatureMatrix, b: FeatureMatrix) => {
        expect(Array.from(b.values)).toEqual(Array.from(a.values));
        expect(Array.from(b.status)).toEqual(Array.from(a.status));
        expect(Array.from(b.ageMs)).toEqual(Array.from(a.ageMs));
      };
      same(await plain(query), await lent(query));
      const fewer = ['nobody-here', ...ids.slice(0, 7)];
      same(await plain(fewer, all, T0 + 61_000), await lent(fewer, all, T0 + 61_000));
      same(await plain(ids.slice(0, 400)), await lent(ids.slice(0, 400)));
      const first = await lent(ids.slice(0, 3));
      expect(first.values.buffer).toBe((await lent(ids.slice(3, 6))).values.buffer);
    });

    it('reports what it serves of a view: entities, newest eventTs, and how many are past the SLA', async () => {
      const s = await open();
      const sla = 10_000;
      const at = T0 + 100_000;
      const ids = Array.from({ length: 6 }, (_, i) => `f-${i}-${randomUUID().slice(0, 8)}`);
      // ages 0, 5 s, exactly the SLA (stale), 50 s (stale), and one in the future of `at` (not counted)
      const ts = Float64Array.of(at, at - 5_000, at - sla, at - 50_000, at + 1);
      await s.write(statsRef, {
        entityIds: ids.slice(0, 5),
        eventTs: ts,
        createdTs: ts,
        values: new Float32Array(15),
      });
      // an older write to the newest entity is rejected and changes nothing
      await s.write(statsRef, one(ids[0] as string, at - 90_000, at, [0, 0, 0]));
      await s.write(prefsRef, one(ids[5] as string, at - 1, at, [1, 1]));
      expect(await s.freshness(statsRef, at, sla)).toEqual({
        entities: 4,
        newestEventTs: at,
        staleEntities: 2,
        sampled: false,
      });
      // before everything: nothing to count
      const before = await s.freshness(statsRef, T0, sla);
      expect(before.entities).toBe(0);
      expect(before.newestEventTs).toBeNaN();
      await s.deleteEntities([ids[3] as string]);
      const after = await s.freshness(statsRef, at, sla);
      expect([after.entities, after.staleEntities]).toEqual([3, 1]);
      // a store that samples says so, and never counts more than the sample
      const two = await s.freshness(statsRef, at, sla, 2);
      expect(two.entities).toBeLessThanOrEqual(two.sampled ? 2 : 3);
    });

    it('deletes an entity from every view', async () => {
      const s = await open();
      const id = `u-${randomUUID()}`;
      const other = `u-${randomUUID()}`;
      await s.write(statsRef, one(id, T0, T0, [1, 2, 3]));
      await s.write(prefsRef, one(id, T0, T0, [1, 2]));
      await s.write(statsRef, one(other, T0, T0, [1, 2, 3]));
      expect(await s.deleteEntities([id, `u-${randomUUID()}`])).toBe(1);
      const m = await s.read(all, [id, other], T0 + 1);
      expect(viewStatus(m, 0, 0)).toBe('missing');
      expect(viewStatus(m, 1, 0)).toBe('missing');
      expect(viewStatus(m, 0, 1)).toBe('present');
    });

    it('lists the entities it holds, without the deleted ones', async () => {
      const s = await open();
      if (s.listEntityIds === undefined) return;
      const [a, b] = [`u-${randomUUID()}`, `u-${randomUUID()}`];
      await s.write(statsRef, one(a, T0, T0, [1, 2, 3]));
      await s.write(prefsRef, one(b, T0, T0, [1, 2]));
      await s.deleteEntities([a]);
      const listed = new Set<string>();
      for await (const id of s.listEntityIds()) listed.add(id);
      expect(listed.has(b)).toBe(true);
      expect(listed.has(a)).toBe(false);
    });

    it('reads a record written before features were appended with defaults for the new ones', async () => {
      const s = await open();
      const id = `u-${randomUUID()}`;
      await s.write({ ...statsRef, width: 2 }, one(id, T0, T0, [9, 8]));
      const m = await s.read(all, [id], T0 + 1);
      expect(Array.from(m.values.subarray(0, 3))).toEqual([9, 8, 7]);
    });

    it('rejects malformed batches with InvalidInputError', async () => {
      const s = await open();
      await expect(s.write(statsRef, one('ok', T0, T0, [1, 2]))).rejects.toBeInstanceOf(InvalidInputError);
      await expect(s.write(statsRef, one('bad id!', T0, T0, [1, 2, 3]))).rejects.toBeInstanceOf(InvalidInputError);
      await expect(s.write(statsRef, one('ok', Number.NaN, T0, [1, 2, 3]))).rejects.toBeInstanceOf(InvalidInputError);
    });

    it('closes safely twice', async () => {
      const s = await factory();
      await s.close();
      await s.close();
    });
  });
}
