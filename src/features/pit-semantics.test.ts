import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FeatureMatrix, ManualClock, Rng, viewStatus } from '../core/index.js';
import { defineEntity, defineFeatureService, defineFeatures, defineFeatureView } from './definitions.js';
import { FeatureStore } from './feature-store.js';
import { MemoryOnlineStore } from './memory-online-store.js';
import { ttlStatus } from './ttl-rule.js';

/**
 * Hand-built point-in-time cases. Each is answered offline (the DuckDB ASOF join) and online (rows written to a
 * memory store in arrival order, read at the same instant): both must give the hand-computed values and statuses.
 */
const T = Date.UTC(2026, 10, 20, 12);
const TTL_MS = 60_000;

interface Row {
  readonly entity: string;
  readonly eventTs: number;
  readonly createdTs: number;
  readonly a: number;
}
interface Case {
  readonly name: string;
  readonly rows: readonly Row[];
  readonly entity: string;
  readonly at: number;
  readonly expected: { readonly a: number; readonly status: 'present' | 'missing' | 'expired'; readonly ageMs: number };
}

const CASES: readonly Case[] = [
  {
    name: 'exact timestamp match',
    rows: [{ entity: 'e1', eventTs: T, createdTs: T, a: 1 }],
    entity: 'e1',
    at: T,
    expected: { a: 1, status: 'present', ageMs: 0 },
  },
  {
    name: 'TTL boundary, just inside',
    rows: [{ entity: 'e2', eventTs: T, createdTs: T, a: 2 }],
    entity: 'e2',
    at: T + TTL_MS - 1,
    expected: { a: 2, status: 'present', ageMs: TTL_MS - 1 },
  },
  {
    name: 'TTL boundary, just outside (event_ts = t - ttl is expired)',
    rows: [{ entity: 'e3', eventTs: T, createdTs: T, a: 3 }],
    entity: 'e3',
    at: T + TTL_MS,
    expected: { a: -1, status: 'expired', ageMs: TTL_MS },
  },
  {
    name: 'tie on event_ts resolved by the latest created_ts (written newest first)',
    rows: [
      { entity: 'e4', eventTs: T, createdTs: T + 50, a: 40 },
      { entity: 'e4', eventTs: T, createdTs: T + 10, a: 41 },
    ],
    entity: 'e4',
    at: T + 100,
    expected: { a: 40, status: 'present', ageMs: 100 },
  },
  { name: 'entity with no rows', rows: [], entity: 'nobody', at: T, expected: { a: -1, status: 'missing', ageMs: -1 } },
  {
    name: 'late-arriving row with an older event_ts does not replace the newer one',
    rows: [
      { entity: 'e6', eventTs: T + 10, createdTs: T + 10, a: 60 },
      { entity: 'e6', eventTs: T, createdTs: T + 500, a: 61 },
    ],
    entity: 'e6',
    at: T + 1000,
    expected: { a: 60, status: 'present', ageMs: 990 },
  },
  {
    name: 'a row newer than the question is not seen',
    rows: [{ entity: 'e7', eventTs: T + 5, createdTs: T + 5, a: 7 }],
    entity: 'e7',
    at: T + 4,
    expected: { a: -1, status: 'missing', ageMs: -1 },
  },
];

let dir: string;
let store: FeatureStore;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'adnova-pit-'));
  store = await FeatureStore.open({ dir, clock: new ManualClock(T), online: new MemoryOnlineStore() });
  store.apply(
    defineFeatures({
      entities: [defineEntity({ name: 'user' })],
      views: [
        defineFeatureView({
          name: 'stats',
          entity: 'user',
          ttlSeconds: TTL_MS / 1000,
          features: [
            { name: 'a', default: -1 },
            { name: 'b', default: -2 },
          ],
        }),
      ],
      services: [defineFeatureService({ name: 'svc', features: ['stats.a', 'stats.b'] })],
    }),
  );
  const rows = CASES.flatMap((c) => c.rows);
  await store.writeOffline('stats', {
    entityIds: rows.map((r) => r.entity),
    eventTs: Float64Array.from(rows.map((r) => r.eventTs)),
    createdTs: Float64Array.from(rows.map((r) => r.createdTs)),
    values: Float32Array.from(rows.flatMap((r) => [r.a, r.a * 10])),
  });
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function cell(m: FeatureMatrix) {
  return { a: m.values[0] as number, status: viewStatus(m, 0, 0), ageMs: m.ageMs[0] as number };
}

describe('point-in-time semantics, offline and online', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const offline = await store.readPointInTime('svc', [c.entity], c.at);
      expect(cell(offline)).toEqual(c.expected);
      const online = new MemoryOnlineStore();
      const layout = store.layout('svc');
      for (const r of [...c.rows].sort((x, y) => x.createdTs - y.createdTs)) {
        await online.write(
          { storageKey: 'stats__v1', width: 2 },
          {
            entityIds: [r.entity],
            eventTs: Float64Array.of(r.eventTs),
            createdTs: Float64Array.of(r.createdTs),
            values: Float32Array.of(r.a, r.a * 10),
          },
        );
      }
      const served = await online.read(layout, [c.entity], c.at);
      expect(cell(served)).toEqual(c.expected);
      expect(Array.from(served.values)).toEqual(Array.from(offline.values));
    });
  }

  it('offline history answers an earlier question with the late row (online keeps only the newest)', async () => {
    const m = await store.readPointInTime('svc', ['e6'], T + 5);
    expect(cell(m)).toEqual({ a: 61, status: 'present', ageMs: 5 });
  });

  it('the training set gives every case its answer, in label order via label_row', async () => {
    const labels = join(dir, 'labels.parquet');
    const values = CASES.map((c, i) => `('${c.entity}', ${c.at}::BIGINT, ${i % 2})`).join(', ');
    await store.offline.execute(
      `COPY (SELECT * FROM (VALUES ${values}) t(user_id, ts, label)) TO '${labels}' (FORMAT parquet)`,
    );
    const out = join(dir, 'train.parquet');
    const res = await store.trainingSet({ service: 'svc', labelsPath: labels, outPath: out });
    expect(res.rows).toBe(CASES.length);
    const rows = await store.offline.query(`SELECT * FROM read_parquet('${out}') ORDER BY label_row`);
    rows.forEach((r, i) => {
      const c = CASES[i] as Case;
      expect(r['stats.a']).toBe(c.expected.a);
      expect(r['stats.b']).toBe(c.expected.status === 'present' ? c.expected.a * 10 : -2);
      expect(r['stats.__status']).toBe({ present: 0, missing: 1, expired: 2 }[c.expected.status]);
      expect(Number(r['stats.__age_ms'])).toBe(c.expected.ageMs);
      expect(r['label']).toBe(i % 2);
    });
  });
});

describe('point-in-time training set against a row-by-row reference', () => {
  it('agrees on random history spread over several files and days, with partition pruning', async () => {
    const hdir = mkdtempSync(join(tmpdir(), 'adnova-pit-ref-'));
    const hstore = await FeatureStore.open({ dir: hdir, clock: new ManualClock(T), online: new MemoryOnlineStore() });
    try {
      const ttlMs = 4 * 3_600_000;
      hstore.apply(
        defineFeatures({
          entities: [defineEntity({ name: 'user' })],
          views: [
            defineFeatureView({
              name: 'hist',
              entity: 'user',
              ttlSeconds: ttlMs / 1000,
              features: [
                { name: 'x', default: -1 },
                { name: 'y', default: -2 },
              ],
            }),
          ],
          services: [defineFeatureService({ name: 'h', features: ['hist.y', 'hist.x'] })],
        }),
      );
      const rng = new Rng(5);
      const day = 86_400_000;
      const start = T - 6 * day;
      const rows: Row[] = [];
      // four appends, so each day's partition holds several files; coarse times give event_ts ties
      for (let batch = 0; batch < 4; batch++) {
        const part = Array.from({ length: 60 }, () => {
          const eventTs = start + rng.int(6 * 24) * 3_600_000;
          return {
            entity: `e${rng.int(8)}`,
            eventTs,
            createdTs: eventTs + rng.int(5) * 1000,
            a: rows.length + rng.next(),
          };
        });
        // a distinct created_ts per (entity, event_ts), so "latest created_ts" names one row
        const seen = new Set(rows.map((r) => `${r.entity}/${r.eventTs}/${r.createdTs}`));
        const fresh = part.filter(
          (r) =>
            !seen.has(`${r.entity}/${r.eventTs}/${r.createdTs}`) && seen.add(`${r.entity}/${r.eventTs}/${r.createdTs}`),
        );
        rows.push(...fresh);
        await hstore.writeOffline('hist', {
          entityIds: fresh.map((r) => r.entity),
          eventTs: Float64Array.from(fresh.map((r) => r.eventTs)),
          createdTs: Float64Array.from(fresh.map((r) => r.createdTs)),
          values: Float32Array.from(fresh.flatMap((r) => [r.a, -r.a])),
        });
      }
      // labels in the first four days only: the last days' partitions are pruned
      const labels = Array.from({ length: 120 }, (_, i) => ({
        entity: `e${rng.int(9)}`,
        at: start + rng.int(4 * 24 * 60) * 60_000 + (i % 3 === 0 ? 0 : rng.int(60_000)),
      }));
      const labelsPath = join(hdir, 'labels.parquet');
      await hstore.offline.execute(
        `COPY (SELECT * FROM (VALUES ${labels.map((l) => `('${l.entity}', ${l.at}::BIGINT)`).join(', ')}) t(user_id, ts)) TO '${labelsPath}' (FORMAT parquet)`,
      );
      const out = join(hdir, 'train.parquet');
      await hstore.trainingSet({ service: 'h', labelsPath, outPath: out });
      const got = await hstore.offline.query(`SELECT * FROM read_parquet('${out}') ORDER BY label_row`);
      expect(got).toHaveLength(labels.length);
      labels.forEach((l, i) => {
        let best: Row | undefined;
        for (const r of rows)
          if (r.entity === l.entity && r.eventTs <= l.at)
            if (!best || r.eventTs > best.eventTs || (r.eventTs === best.eventTs && r.createdTs > best.createdTs))
              best = r;
        const status = ttlStatus(best?.eventTs ?? Number.NaN, l.at, ttlMs);
        const g = got[i] as Record<string, unknown>;
        expect(Number(g['label_row']), `label ${i}`).toBe(i);
        expect(g['hist.__status'], `label ${i}`).toBe(status);
        expect(Number(g['hist.__age_ms']), `label ${i}`).toBe(best ? l.at - best.eventTs : -1);
        expect(g['hist.x'], `label ${i}`).toBe(status === 0 ? Math.fround((best as Row).a) : -1);
        expect(g['hist.y'], `label ${i}`).toBe(status === 0 ? Math.fround(-(best as Row).a) : -2);
      });
      const statuses = new Set(got.map((g) => g['hist.__status']));
      expect(statuses).toEqual(new Set([0, 1, 2]));
    } finally {
      await hstore.close();
      rmSync(hdir, { recursive: true, force: true });
    }
  });
});
