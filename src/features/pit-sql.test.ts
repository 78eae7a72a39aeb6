import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/index.js';
import {
  defineEntity,
  defineFeatureService,
  defineFeatures,
  defineFeatureView,
  defineTransform,
  type FeatureDef,
  type FeatureDefinitions,
  type LayoutRun,
  NO_TTL,
  resolveService,
  storageKeyOf,
} from './definitions.js';
import { FeatureStore } from './feature-store.js';
import { MemoryOnlineStore } from './memory-online-store.js';
import { buildPitPlan, dayOf, type PitQueryInput } from './pit-sql.js';

/**
 * The point-in-time plan (pit-sql.ts) run by DuckDB through the feature store, on hand-computed cases: several
 * entities and views at once, a view with no data, request and transform features, feature dtypes, partition
 * pruning with a lookback, and the guards of the plan itself. Each store is opened inside its test, so a setup
 * failure fails the test instead of skipping it.
 */
const H = 3_600_000;
const DAY = 24 * H;
const T = Date.UTC(2026, 10, 20, 12);
const STATUS = { present: 0, missing: 1, expired: 2 } as const;

async function withStore<R>(
  prefix: string,
  defs: FeatureDefinitions,
  run: (store: FeatureStore, dir: string) => Promise<R>,
): Promise<R> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const store = await FeatureStore.open({ dir, clock: new ManualClock(T), online: new MemoryOnlineStore() });
  try {
    store.apply(defs);
    return await run(store, dir);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const sqlString = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Writes `rows` (first value per column name in `columns`) as a Parquet label file and returns its path. */
async function writeLabels(
  store: FeatureStore,
  dir: string,
  columns: readonly string[],
  rows: readonly (readonly (string | number)[])[],
): Promise<string> {
  const path = join(dir, 'labels.parquet');
  const values = rows
    .map((r) => `(${r.map((v) => (typeof v === 'string' ? sqlString(v) : `${v}::BIGINT`)).join(', ')})`)
    .join(', ');
  const names = columns.map((c) => `"${c.replaceAll('"', '""')}"`).join(', ');
  await store.offline.execute(
    `COPY (SELECT * FROM (VALUES ${values}) t(${names})) TO ${sqlString(path)} (FORMAT parquet)`,
  );
  return path;
}

async function trainingRows(
  store: FeatureStore,
  dir: string,
  options: { service: string; labelsPath: string; lookbackMs?: number },
): Promise<Record<string, unknown>[]> {
  const outPath = join(dir, 'train.parquet');
  await store.trainingSet({ ...options, outPath });
  return store.offline.query(`SELECT * FROM read_parquet(${sqlString(outPath)}) ORDER BY label_row`);
}

async function write(
  store: FeatureStore,
  view: string,
  rows: readonly (readonly [entity: string, eventTs: number, ...values: number[]])[],
): Promise<void> {
  await store.writeOffline(view, {
    entityIds: rows.map((r) => r[0]),
    eventTs: Float64Array.from(rows.map((r) => r[1])),
    createdTs: Float64Array.from(rows.map((r) => r[1])),
    values: Float32Array.from(rows.flatMap(([, , ...v]) => v)),
  });
}

const MIXED = defineFeatures({
  entities: [defineEntity({ name: 'user' }), defineEntity({ name: 'campaign' })],
  views: [
    defineFeatureView({
      name: 'ustats',
      entity: 'user',
      ttlSeconds: 86_400,
      features: [
        { name: 'a', default: -1 },
        { name: 'n', dtype: 'int', default: -2 },
        { name: 'flag', dtype: 'bool', default: 0 },
      ],
    }),
    defineFeatureView({
      name: 'cstats',
      entity: 'campaign',
      ttlSeconds: 86_400,
      features: [{ name: 'c', default: -5 }],
    }),
    defineFeatureView({ name: 'empty', entity: 'user', ttlSeconds: 86_400, features: [{ name: 'z', default: 9 }] }),
    defineFeatureView({
      name: 'req',
      entity: 'user',
      ttlSeconds: 1,
      source: { kind: 'request' },
      features: [{ name: 'hour', default: 12 }],
    }),
  ],
  transforms: [defineTransform({ name: 't', outputs: [{ name: 'x', expression: 'ustats.a * req.hour + cstats.c' }] })],
  services: [
    defineFeatureService({
      name: 'mixed',
      features: ['cstats.c', 'ustats.a', 'ustats.n', 'ustats.flag', 'empty.z', 'req.hour', 't.x'],
    }),
    defineFeatureService({ name: 'requestonly', features: ['req.hour'] }),
  ],
});

describe('point-in-time plan through DuckDB', () => {
  it('joins two entities, two views with data and one without, request and transform features', async () => {
    // a quote in the store path and a double quote in a label column name: both must be escaped in the SQL
    await withStore("adnova-pit-sql-o'q-", MIXED, async (store, dir) => {
      await write(store, 'ustats', [
        ['u1', T - H, 1.5, 2.6, 0.25],
        ['u2', T - 2 * DAY, 4, 4, 1],
      ]);
      await write(store, 'cstats', [['c1', T - H / 2, 7]]);
      const labelsPath = await writeLabels(
        store,
        dir,
        ['user_id', 'campaign_id', 'ts', 'hour', 'o"k'],
        [
          ['u1', 'c1', T, 3, 1],
          ['u2', 'c1', T, 5, 0],
          ['u3', 'c2', T - 60_000, 2, 1],
        ],
      );
      const rows = await trainingRows(store, dir, { service: 'mixed', labelsPath });
      // the offline files keep each feature's SQL type
      const types = await store.offline.query(
        `DESCRIBE SELECT a, n, flag FROM read_parquet(${sqlString(join(store.offline.offlineRoot, storageKeyOf(store.view('ustats')), '*', '*.parquet'))})`,
      );
      expect(types.map((t) => [t['column_name'], t['column_type']])).toEqual([
        ['a', 'FLOAT'],
        ['n', 'INTEGER'],
        ['flag', 'BOOLEAN'],
      ]);
      expect(Object.keys(rows[0] as object).sort()).toEqual(
        [
          'label_row',
          'user_id',
          'campaign_id',
          'ts',
          'hour',
          'o"k',
          'cstats.c',
          'ustats.a',
          'ustats.n',
          'ustats.flag',
          'empty.z',
          'req.hour',
          't.x',
          'ustats.__status',
          'ustats.__age_ms',
          'cstats.__status',
          'cstats.__age_ms',
          'empty.__status',
          'empty.__age_ms',
        ].sort(),
      );
      const pick = (r: Record<string, unknown>) => [
        r['cstats.c'],
        r['ustats.a'],
        r['ustats.n'],
        r['ustats.flag'],
        r['empty.z'],
        r['req.hour'],
        r['t.x'],
        Number(r['o"k']),
      ];
      // u1: int 2.6 stored as 2, bool 0.25 as true (1); x = 1.5 * 3 + 7
      // u2: its row is two days old (expired): defaults; x = -1 * 5 + 7
      // u3, c2: no rows at all: defaults; x = -1 * 2 - 5
      expect(rows.map(pick)).toEqual([
        [7, 1.5, 2, 1, 9, 3, 11.5, 1],
        [7, -1, -2, 0, 9, 5, 2, 0],
        [-5, -1, -2, 0, 9, 2, -7, 1],
      ]);
      const status = (r: Record<string, unknown>) =>
        ['ustats', 'cstats', 'empty'].map((v) => [r[`${v}.__status`], Number(r[`${v}.__age_ms`])]);
      expect(rows.map(status)).toEqual([
        [
          [STATUS.present, H],
          [STATUS.present, H / 2],
          [STATUS.missing, -1],
        ],
        [
          [STATUS.expired, 2 * DAY],
          [STATUS.present, H / 2],
          [STATUS.missing, -1],
        ],
        [
          [STATUS.missing, -1],
          [STATUS.missing, -1],
          [STATUS.missing, -1],
        ],
      ]);
    });
  });

  it('a service of request features only reads them from the labels', async () => {
    await withStore('adnova-pit-sql-req-', MIXED, async (store, dir) => {
      const labelsPath = await writeLabels(
        store,
        dir,
        ['user_id', 'ts', 'hour'],
        [
          ['u1', T, 4],
          ['u2', T, 23],
        ],
      );
      const rows = await trainingRows(store, dir, { service: 'requestonly', labelsPath });
      expect(rows.map((r) => [Number(r['label_row']), r['req.hour']])).toEqual([
        [0, 4],
        [1, 23],
      ]);
      expect(Object.keys(rows[0] as object).sort()).toEqual(['hour', 'label_row', 'req.hour', 'ts', 'user_id']);
    });
  });

  const PRUNED = defineFeatures({
    entities: [defineEntity({ name: 'user' })],
    views: [
      defineFeatureView({
        name: 'slow',
        entity: 'user',
        ttlSeconds: 2 * 86_400,
        features: [{ name: 's', default: -1 }],
      }),
      defineFeatureView({
        name: 'forever',
        entity: 'user',
        ttlSeconds: NO_TTL,
        freshnessSlaSeconds: 86_400,
        features: [{ name: 'f', default: -3 }],
      }),
    ],
    services: [defineFeatureService({ name: 'p', features: ['slow.s', 'forever.f'] })],
  });

  it('a lookback skips days before minT - ttl - lookback (status missing, not expired); no-TTL views keep all', async () => {
    await withStore('adnova-pit-sql-lookback-', PRUNED, async (store, dir) => {
      // T is 12:00 on day D; TTL 2 days and lookback 1 day: days before D-3 are not read
      await write(store, 'slow', [
        ['old', T - 3 * DAY - 13 * H, 1], // 23:00 on D-4: skipped
        ['kept', T - 3 * DAY - 12 * H + 1, 3], // 00:00:00.001 on D-3: read, and expired
        ['now', T - H, 4],
      ]);
      await write(store, 'forever', [['old', T - 40 * DAY, 5]]);
      const labelsPath = await writeLabels(
        store,
        dir,
        ['user_id', 'ts'],
        ['old', 'kept', 'now'].map((u) => [u, T]),
      );
      const pruned = await trainingRows(store, dir, { service: 'p', labelsPath, lookbackMs: DAY });
      const cells = (rows: Record<string, unknown>[]) =>
        rows.map((r) => [r['slow.s'], r['slow.__status'], r['forever.f'], r['forever.__status']]);
      expect(cells(pruned)).toEqual([
        [-1, STATUS.missing, 5, STATUS.present],
        [-1, STATUS.expired, -3, STATUS.missing],
        [4, STATUS.present, -3, STATUS.missing],
      ]);
      // without a lookback every day is read: the old row is found, and expired
      const all = await trainingRows(store, dir, { service: 'p', labelsPath });
      expect(cells(all)[0]).toEqual([-1, STATUS.expired, 5, STATUS.present]);
    });
  });

  it('without a lookback, history before 1970 is read too', async () => {
    await withStore('adnova-pit-sql-1969-', PRUNED, async (store, dir) => {
      const t = Date.UTC(1969, 11, 31, 12);
      await write(store, 'slow', [['u', t - 3 * H, 8]]);
      const labelsPath = await writeLabels(store, dir, ['user_id', 'ts'], [['u', t]]);
      const rows = await trainingRows(store, dir, { service: 'p', labelsPath });
      expect([rows[0]?.['slow.s'], rows[0]?.['slow.__status'], Number(rows[0]?.['slow.__age_ms'])]).toEqual([
        8,
        STATUS.present,
        3 * H,
      ]);
    });
  });

  it('joins every label to its own match row whatever order the tables are stored in, and refuses a lost row', async () => {
    await withStore('adnova-pit-sql-align-', MIXED, async (store) => {
      // labels stored against their label_row order: a positional zip would pair u2's label with u1's match
      await store.offline.execute(
        "CREATE TABLE shuffled AS SELECT * FROM (VALUES (1::BIGINT, 5::BIGINT, 'u2', 'c1', 3), (0::BIGINT, 5::BIGINT, 'u1', 'c1', 4)) t(label_row, __t, user_id, campaign_id, hour)",
      );
      const plan = buildPitPlan(
        {
          layout: store.layout('mixed'),
          labelsTable: 'shuffled',
          labelColumns: ['user_id'],
          scans: new Map(),
          minTs: 5,
          maxTs: 5,
          joinKeyOf: store.joinKeyOf,
        },
        'shuf_',
      );
      for (const s of plan.stages) await store.offline.execute(`CREATE TABLE ${s.table} AS ${s.select}`);
      const rows = await store.offline.query(`SELECT label_row, user_id FROM (${plan.output}) ORDER BY label_row`);
      expect(rows.map((r) => [Number(r['label_row']), r['user_id']])).toEqual([
        [0, 'u1'],
        [1, 'u2'],
      ]);
      // a match stage that lost a label's row must fail loudly, not read that label as defaults
      const zip = plan.stages.at(-1) as { table: string; select: string };
      const match = plan.stages.find((s) => /_m0$/.test(s.table)) as { table: string };
      await store.offline.execute(`DELETE FROM ${match.table} WHERE __v0_l = 1`);
      await store.offline.execute(`DROP TABLE ${zip.table}`);
      await expect(store.offline.execute(`CREATE TABLE ${zip.table} AS ${zip.select}`)).rejects.toThrow(
        'point-in-time stages lost a label row',
      );
    });
  });
});

describe('point-in-time plan guards', () => {
  // a layout taken from real definitions, then broken by hand the way a registry bug would break it
  const layout = resolveService(MIXED, 'mixed');
  const input = (layout: PitQueryInput['layout']): PitQueryInput => ({
    layout,
    labelsTable: 'labels',
    labelColumns: [],
    scans: new Map(),
    minTs: T,
    maxTs: T,
    joinKeyOf: (e) => `${e}_id`,
  });
  const withRun = (layout: PitQueryInput['layout'], name: string, change: (r: LayoutRun) => LayoutRun) => ({
    ...layout,
    runs: layout.runs.map((r) => (r.name === name ? change(r) : r)),
  });

  it('a run naming a feature its view lacks is refused', () => {
    const bad = withRun(layout, 'ustats', (r) => ({
      ...r,
      features: [...r.features, { ...(r.features[0] as FeatureDef), name: 'ghost' }],
    }));
    expect(() => buildPitPlan(input(bad), 'g_')).toThrow(new RangeError('view ustats has no feature ghost'));
  });

  it('a transform output without its expression, or reading an unqualified name, is refused', () => {
    const missing = withRun(layout, 't', (r) => ({ ...r, expressions: [] }));
    expect(() => buildPitPlan(input(missing), 'g_')).toThrow(new RangeError('transform t has no expression for x'));
    const unqualified = withRun(layout, 't', (r) => ({ ...r, expressions: [{ kind: 'ref', ref: 'hour' } as const] }));
    expect(() => buildPitPlan(input(unqualified), 'g_')).toThrow(new RangeError('hour'));
    expect(() => buildPitPlan(input(layout), 'g_')).not.toThrow();
  });
});

describe('dayOf', () => {
  it('is the UTC day of an epoch-ms time; an invalid time reads as 1970-01-01', () => {
    expect(dayOf(T)).toBe('2026-11-20');
    expect(dayOf(Date.UTC(2026, 10, 20, 23, 59, 59, 999))).toBe('2026-11-20');
    expect(dayOf(Date.UTC(1969, 11, 31))).toBe('1969-12-31');
    expect(dayOf(Number.NaN)).toBe('1970-01-01');
  });
});
