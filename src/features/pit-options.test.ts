import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureStatusCode, ManualClock, viewStatus } from '../core/index.js';
import { defineEntity, defineFeatureService, defineFeatures, defineFeatureView, NO_TTL } from './definitions.js';
import { FeatureStore } from './feature-store.js';
import { MemoryOnlineStore } from './memory-online-store.js';

// Two point-in-time options Feast's historical-retrieval tests exercise: a view that never expires (Feast's ttl=0)
// and a created-time cutoff against backfills, checked on the offline join and, for the TTL, the online read.
const DAY = 86_400_000;
const T = Date.UTC(2026, 10, 20, 12);

let dir: string;
let store: FeatureStore;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'adnova-pit-options-'));
  store = await FeatureStore.open({ dir, clock: new ManualClock(T), online: new MemoryOnlineStore() });
  store.apply(
    defineFeatures({
      entities: [defineEntity({ name: 'user' })],
      views: [
        defineFeatureView({
          name: 'forever',
          entity: 'user',
          ttlSeconds: NO_TTL,
          freshnessSlaSeconds: 86_400,
          features: [{ name: 'v', default: -1 }],
        }),
        defineFeatureView({ name: 'hourly', entity: 'user', ttlSeconds: 3600, features: [{ name: 'w', default: -2 }] }),
      ],
      services: [
        defineFeatureService({ name: 'f', features: ['forever.v'] }),
        defineFeatureService({ name: 'h', features: ['hourly.w'] }),
      ],
    }),
  );
  const write = (view: string, rows: Array<[string, number, number, number]>) =>
    store.writeOffline(view, {
      entityIds: rows.map((r) => r[0]),
      eventTs: Float64Array.from(rows.map((r) => r[1])),
      createdTs: Float64Array.from(rows.map((r) => r[2])),
      values: Float32Array.from(rows.map((r) => r[3])),
    });
  // old: 3 years before T; now: an hour before; future: after T
  await write('forever', [
    ['old', T - 3 * 365 * DAY, T - 3 * 365 * DAY, 1],
    ['now', T - 3_600_000, T - 3_600_000, 2],
    ['future', T + 1, T + 1, 3],
  ]);
  // u1: a row known at T, then a backfill of a newer event written a day after T;
  // u2: a correction of the same event written after T; u3: only a backfill
  await write('hourly', [
    ['u1', T - 1_800_000, T - 1_800_000, 10],
    ['u1', T - 600_000, T + DAY, 11],
    ['u2', T - 900_000, T - 900_000, 20],
    ['u2', T - 900_000, T + DAY, 21],
    ['u3', T - 300_000, T + DAY, 30],
    ['u4', T - 1000, T, 40],
  ]);
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function trainingRows(
  service: string,
  labels: Array<[string, number]>,
  options: { lookbackMs?: number; knownAtLabelTime?: boolean } = {},
): Promise<Array<Record<string, unknown>>> {
  const path = join(dir, `labels-${service}.parquet`);
  await store.offline.execute(
    `COPY (SELECT * FROM (VALUES ${labels.map(([u, t]) => `('${u}', ${t}::BIGINT)`).join(', ')}) l(user_id, ts)) TO '${path}' (FORMAT parquet)`,
  );
  const out = join(dir, `train-${service}.parquet`);
  await store.trainingSet({ service, labelsPath: path, outPath: out, ...options });
  return store.offline.query(`SELECT * FROM '${out}' ORDER BY label_row`);
}

describe('a view with no TTL (ttlSeconds: none)', () => {
  it('serves a value however old, offline and online alike; a future value stays missing', async () => {
    const ids = ['old', 'now', 'future', 'nobody'];
    const expected = [
      { v: 1, status: 'present' },
      { v: 2, status: 'present' },
      { v: -1, status: 'missing' },
      { v: -1, status: 'missing' },
    ];
    const offline = await store.readPointInTime('f', ids, T);
    await store.materialize({ asOfMs: T });
    const online = await store.readOnline('f', ids, { atMs: T });
    for (const m of [offline, online])
      expect(ids.map((_, i) => ({ v: m.values[i], status: viewStatus(m, 0, i) }))).toEqual(expected);
    expect(Array.from(online.ageMs)).toEqual(Array.from(offline.ageMs));
    expect(offline.ageMs[0]).toBe(3 * 365 * DAY);
  });

  it('the training set reads its whole history, with or without --lookback-days', async () => {
    const labels: Array<[string, number]> = [
      ['old', T],
      ['now', T],
      ['future', T],
    ];
    for (const opts of [{}, { lookbackMs: DAY }]) {
      const rows = await trainingRows('f', labels, opts);
      expect(rows.map((r) => [r['forever.v'], r['forever.__status']])).toEqual([
        [1, FeatureStatusCode.present],
        [2, FeatureStatusCode.present],
        [-1, FeatureStatusCode.missing],
      ]);
    }
  });
});

describe('training sets with knownAtLabelTime (created-time cutoff)', () => {
  const labels: Array<[string, number]> = [
    ['u1', T],
    ['u2', T],
    ['u3', T],
    ['u4', T],
    ['u1', T + 2 * DAY],
  ];

  it('by default a backfill written after the label time leaks into it', async () => {
    const rows = await trainingRows('h', labels);
    expect(rows.map((r) => [r['hourly.w'], r['hourly.__status']])).toEqual([
      [11, 0],
      [21, 0],
      [30, 0],
      [40, 0],
      [-2, 2],
    ]);
  });

  it('with the cutoff each label reads only what was written by its time', async () => {
    const rows = await trainingRows('h', labels, { knownAtLabelTime: true });
    expect(rows.map((r) => [r['hourly.w'], r['hourly.__status'], Number(r['hourly.__age_ms'])])).toEqual([
      [10, 0, 1_800_000], // the older row known at T, not the backfilled newer event
      [20, 0, 900_000], // the original, not the correction written later
      [-2, 1, -1], // only a backfill: nothing was known at T
      [40, 0, 1000], // created exactly at the label time counts
      [-2, 2, 2 * DAY + 600_000], // two days later the backfill is known (and expired)
    ]);
  });
});
