import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError, ManualClock, MetricsRegistry, Rng, viewStatus } from '../core/index.js';
import {
  defineEntity,
  defineFeatureService,
  defineFeatures,
  defineFeatureView,
  defineTransform,
} from './definitions.js';
import { FeatureStore } from './feature-store.js';
import { MemoryOnlineStore } from './memory-online-store.js';

const DAY = 86_400_000;
const START = Date.UTC(2026, 10, 1);
const USERS = 300;

const defs = defineFeatures({
  entities: [defineEntity({ name: 'user' })],
  views: [
    defineFeatureView({
      name: 'activity',
      entity: 'user',
      ttlSeconds: 2 * 86_400,
      freshnessSlaSeconds: 86_400,
      features: [
        { name: 'clicks', dtype: 'int', default: 0 },
        { name: 'ctr', default: 0.02 },
        { name: 'spend', default: -1 },
      ],
    }),
    defineFeatureView({
      name: 'profile',
      entity: 'user',
      ttlSeconds: 30 * 86_400,
      features: [
        { name: 'age', default: 30 },
        { name: 'country', dtype: 'category', default: 0 },
      ],
    }),
    defineFeatureView({
      name: 'req',
      entity: 'user',
      ttlSeconds: 1,
      source: { kind: 'request' },
      features: [{ name: 'hour', default: 12 }],
    }),
  ],
  transforms: [
    defineTransform({
      name: 'derived',
      outputs: [
        { name: 'log_spend_per_click', expression: 'log(activity.spend + 1) / max(activity.clicks, 1)' },
        { name: 'age_x_hour', expression: 'profile.age * req.hour' },
      ],
    }),
  ],
  services: [
    defineFeatureService({
      name: 'scoring',
      features: [
        'activity.ctr',
        'profile.country',
        'derived.log_spend_per_click',
        'activity.clicks',
        'req.hour',
        'derived.age_x_hour',
        'profile.age',
      ],
    }),
  ],
});

/** Random history: several rows per user and day, some late (old event_ts, new created_ts), some exact duplicates. */
async function writeHistory(
  store: FeatureStore,
  rng: Rng,
  fromMs: number,
  toMs: number,
  createdAt: (ev: number, late: boolean) => number,
) {
  const ids: string[] = [];
  const ev: number[] = [];
  const cr: number[] = [];
  const vals: number[] = [];
  for (let u = 0; u < USERS; u++) {
    if (u % 10 === 0) continue; // some users never have activity
    const rows = 1 + rng.int(4);
    for (let k = 0; k < rows; k++) {
      const e = fromMs + rng.int(toMs - fromMs);
      const late = rng.next() < 0.1;
      const c = createdAt(e, late);
      const row = [rng.int(50), rng.next() / 10, rng.next() * 100];
      const copies = rng.next() < 0.05 ? 2 : 1;
      for (let d = 0; d < copies; d++) {
        ids.push(`u${u}`);
        ev.push(e);
        cr.push(c);
        vals.push(...row);
      }
    }
  }
  await store.writeOffline('activity', {
    entityIds: ids,
    eventTs: Float64Array.from(ev),
    createdTs: Float64Array.from(cr),
    values: Float32Array.from(vals),
  });
}

let dir: string;
let store: FeatureStore;
const clock = new ManualClock(START + 10 * DAY);
const metrics = new MetricsRegistry();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'adnova-fs-'));
  store = await FeatureStore.open({ dir, clock, metrics, online: new MemoryOnlineStore() });
  store.apply(defs);
  const rng = new Rng(7);
  // created_ts never passes the clock: rows are written before the jobs that read them
  await writeHistory(store, rng, START, START + 10 * DAY, (e, late) =>
    Math.min(clock.now(), e + (late ? 3 * DAY : rng.int(3_600_000))),
  );
  const pIds = Array.from({ length: USERS }, (_, u) => `u${u}`).filter((_, u) => u % 7 !== 0);
  await store.writeOffline('profile', {
    entityIds: pIds,
    eventTs: Float64Array.from(pIds, () => START + rng.int(10 * DAY)),
    createdTs: Float64Array.from(pIds, () => START + 10 * DAY),
    values: Float32Array.from(pIds.flatMap(() => [18 + rng.int(60), rng.int(20)])),
  });
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('materialization and parity', () => {
  it('full materialization then parity reports zero mismatches, values and statuses', async () => {
    const results = await store.materialize();
    expect(results.map((r) => r.view).sort()).toEqual(['activity', 'profile']);
    expect(results.find((r) => r.view === 'activity')?.entitiesRead).toBe(USERS - USERS / 10);
    const report = await store.parity({ service: 'scoring', atMs: clock.now(), sample: 250 });
    expect(report.entities).toBe(250);
    expect(report.totalMismatches).toBe(0);
    expect(report.views).toEqual(report.views.map((v) => ({ ...v, statusMismatches: 0 })));
    // the comparison is not vacuous: statuses vary and some values are defaults
    const online = await store.readOnline('scoring', ['u1', 'u0', 'u7', 'nobody'], { atMs: clock.now() });
    expect(viewStatus(online, 1, 1)).toBe('missing');
    expect(viewStatus(online, 1, 2)).toBe('missing');
    expect(online.values[1 * 4 + 2]).toBe(0);
    const statuses = new Set<string>();
    const all = await store.readOnline(
      'scoring',
      Array.from({ length: USERS }, (_, u) => `u${u}`),
      { atMs: clock.now() },
    );
    for (let r = 0; r < USERS; r++) statuses.add(viewStatus(all, 0, r));
    expect([...statuses].sort()).toEqual(['expired', 'missing', 'present']);
  });

  it('incremental materialization moves only new rows and keeps parity at zero', async () => {
    clock.advance(2 * DAY);
    const rng = new Rng(8);
    await writeHistory(store, rng, START + 10 * DAY, START + 12 * DAY, (_, late) => clock.now() - (late ? 1000 : 2000));
    const results = await store.materialize({ incremental: true });
    const act = results.find((r) => r.view === 'activity');
    expect(act?.mode).toBe('incremental');
    expect(act?.entitiesRead).toBe(USERS - USERS / 10);
    expect(results.find((r) => r.view === 'profile')?.entitiesRead).toBe(0);
    const report = await store.parity({ service: 'scoring', atMs: clock.now(), sample: USERS });
    expect(report.totalMismatches).toBe(0);
    expect(report.views.every((v) => v.statusMismatches === 0)).toBe(true);
    // a second incremental run finds nothing new
    const again = await store.materialize({ incremental: true });
    expect(again.every((r) => r.entitiesRead === 0)).toBe(true);
  });

  it('parity detects a skewed online value', async () => {
    await store.writeOnline('profile', {
      entityIds: ['u1'],
      eventTs: Float64Array.of(clock.now() - 1),
      createdTs: Float64Array.of(clock.now()),
      values: Float32Array.of(99, 1),
    });
    const report = await store.parity({ service: 'scoring', atMs: clock.now(), entityIds: ['u1', 'u2', 'u3', 'u4'] });
    expect(report.features.find((f) => f.feature === 'profile.age')?.mismatchRate).toBe(0.25);
    expect(report.features.find((f) => f.feature === 'derived.age_x_hour')?.mismatches).toBe(1);
    expect(report.examples[0]?.entityId).toBe('u1');
  });

  it('exports freshness per view', async () => {
    const report = await store.freshness();
    const act = report.find((r) => r.view === 'activity');
    expect(act?.entities).toBe(USERS - USERS / 10);
    expect(act?.newestAgeSeconds).toBeGreaterThanOrEqual(0);
    expect(act?.staleRatio).toBeGreaterThan(0);
    expect(act?.staleRatio).toBeLessThan(1);
    expect(await metrics.text()).toMatch(/adnova_features_stale_entity_ratio\{view="activity"\} 0\.\d+/);
  });

  it('reports the online side apart from the offline side, so a stalled materialization shows', async () => {
    const d = mkdtempSync(join(tmpdir(), 'adnova-fresh-'));
    const c = new ManualClock(START + DAY);
    const m = new MetricsRegistry();
    const s = await FeatureStore.open({ dir: d, clock: c, metrics: m, online: new MemoryOnlineStore() });
    try {
      s.apply(defs);
      const ids = ['a', 'b', 'c', 'd'];
      const write = (eventTs: number) =>
        s.writeOffline('activity', {
          entityIds: ids,
          eventTs: new Float64Array(4).fill(eventTs),
          createdTs: new Float64Array(4).fill(c.now()),
          values: new Float32Array(12),
        });
      await write(START + DAY - 3_600_000);
      await s.materialize({ asOfMs: c.now() });
      const first = (await s.freshness()).find((r) => r.view === 'activity');
      expect(first?.online).toEqual({
        entities: 4,
        newestAgeSeconds: first?.newestAgeSeconds,
        staleEntities: 0,
        staleRatio: 0,
        sampled: false,
      });
      // two days on, new rows reach the offline store but materialization does not run
      c.set(START + 3 * DAY);
      await write(c.now() - 60_000);
      const stalled = (await s.freshness()).find((r) => r.view === 'activity');
      expect(stalled?.newestAgeSeconds).toBe(60);
      expect(stalled?.staleRatio).toBe(0);
      expect(stalled?.online.newestAgeSeconds).toBe(2 * 86_400 + 3_600);
      expect(stalled?.online.staleRatio).toBe(1);
      expect(await m.text()).toMatch(/adnova_features_online_stale_entity_ratio\{view="activity"\} 1/);
      await s.materialize({ asOfMs: c.now(), incremental: true });
      const caughtUp = (await s.freshness()).find((r) => r.view === 'activity');
      expect(caughtUp?.online.newestAgeSeconds).toBe(60);
      expect(caughtUp?.online.staleRatio).toBe(0);
    } finally {
      await s.close();
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('training set inputs', () => {
  const labels = (name: string) => join(dir, name);
  it('rejects a label file without the timestamp column, naming what it has', async () => {
    await store.offline.execute(
      `COPY (SELECT 'u1' AS user_id, 1 AS label, 12 AS hour) TO '${labels('no-ts.parquet')}' (FORMAT parquet)`,
    );
    const err = await store
      .trainingSet({ service: 'scoring', labelsPath: labels('no-ts.parquet'), outPath: labels('o.parquet') })
      .catch((e) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect(err.message).toMatch(/no timestamp column "ts"; its columns are user_id, label, hour/);
  });
  it('rejects a timestamp column of the wrong type', async () => {
    await store.offline.execute(
      `COPY (SELECT 'u1' AS user_id, 'yesterday' AS ts, 12 AS hour) TO '${labels('bad-ts.parquet')}' (FORMAT parquet)`,
    );
    await expect(
      store.trainingSet({ service: 'scoring', labelsPath: labels('bad-ts.parquet'), outPath: labels('o.parquet') }),
    ).rejects.toThrow(/must hold epoch milliseconds \(integer\) or TIMESTAMP values, got VARCHAR/);
  });
  it('rejects a label file without the entity join key or a request column', async () => {
    await store.offline.execute(
      `COPY (SELECT 'u1' AS uid, 5::BIGINT AS ts, 12 AS hour) TO '${labels('no-key.parquet')}' (FORMAT parquet)`,
    );
    await expect(
      store.trainingSet({ service: 'scoring', labelsPath: labels('no-key.parquet'), outPath: labels('o.parquet') }),
    ).rejects.toThrow(/no "user_id" column/);
    await expect(
      store.trainingSet({ service: 'scoring', labelsPath: labels('missing.parquet'), outPath: labels('o.parquet') }),
    ).rejects.toThrow(/does not exist/);
  });
  it('builds a training set from CSV labels with TIMESTAMP times and matches the point-in-time reads', async () => {
    const csv = labels('labels.csv');
    await store.offline.execute(
      `COPY (SELECT 'u' || (i % ${USERS}) AS user_id, epoch_ms(${START} + i * 3600000) AS ts, (i % 2) AS label, (i % 24) AS hour FROM range(240) r(i)) TO '${csv}' (HEADER, DELIMITER ',')`,
    );
    const out = labels('train.parquet');
    const res = await store.trainingSet({ service: 'scoring', labelsPath: csv, outPath: out });
    expect(res.rows).toBe(240);
    const rows = await store.offline.query(`SELECT * FROM read_parquet('${out}') ORDER BY label_row`);
    const ids = rows.map((r) => String(r['user_id']));
    const times = rows.map((r) => Date.parse(`${String(r['ts']).replace(' ', 'T')}Z`));
    const m = await store.readPointInTime('scoring', ids, times);
    const n = ids.length;
    let compared = 0;
    for (let c = 0; c < m.columns.length; c++) {
      const col = m.columns[c] as string;
      if (col === 'req.hour' || col === 'derived.age_x_hour') continue; // request data: from the labels, not defaults
      for (let i = 0; i < n; i++) {
        expect(Math.fround(Number(rows[i]?.[col] ?? Number.NaN)), `${col} row ${i}`).toBe(m.values[c * n + i]);
        compared++;
      }
    }
    expect(compared).toBe(240 * 5);
    // request features come from the label file and feed the transform
    const r0 = rows[5] as Record<string, unknown>;
    expect(r0['req.hour']).toBe(5);
    expect(r0['derived.age_x_hour']).toBe(Math.fround(Number(r0['profile.age']) * 5));
  });
});
