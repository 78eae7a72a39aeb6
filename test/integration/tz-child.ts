/**
 * Run by tz-pinning.test.ts in child processes under different `TZ` values (the process time zone is read once at
 * start, and DuckDB's default TimeZone comes from it): builds a training set from time-zone-aware and naive label
 * times, imports sources with such event times, imports both World datasets' slices, and prints every resulting
 * time and value as one JSON line. The parent requires the same line under every TZ.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, parseTimestampMs } from '../../src/core/index.js';
import {
  defineEntity,
  defineFeatureService,
  defineFeatures,
  defineFeatureView,
  FeatureStore,
  MemoryOnlineStore,
} from '../../src/features/index.js';
import { WorldDb } from '../../src/world/duckdb-world-db.js';
import { importHillstrom, importOnlineRetail } from '../../src/world/index.js';

const T = Date.UTC(2021, 8, 17, 1, 15, 30); // 2021-09-17T02:15:30+01:00
const HOUR = 3_600_000;
const FIXTURES = join(import.meta.dirname, '../../src/world/fixtures');

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'adnova-tz-'));
  try {
    const out: Record<string, unknown> = { parsed: parseTimestampMs('2021-09-17T01:15:30') };
    const src = join(dir, 'src');
    mkdirSync(src);
    // event times with an offset, in UTC, and without one (a naive time is UTC by the documented rule)
    writeFileSync(
      join(src, 'tz.csv'),
      'user_id,event_ts,x\nu1,2021-09-17T02:15:00+01:00,1\nu2,2021-09-17T01:10:00Z,2\nu3,2021-09-17 01:05:00,3\n',
    );
    writeFileSync(join(src, 'naive.csv'), 'user_id,event_ts,x\nu4,2021-09-17 01:00:00,4\n');
    const store = await FeatureStore.open({
      dir: join(dir, 'store'),
      clock: new ManualClock(T + HOUR),
      online: new MemoryOnlineStore(),
    });
    try {
      // a Parquet source with a TIMESTAMPTZ column (pandas/Spark write tz-aware times this way)
      await store.offline.execute(
        `COPY (SELECT 'u5' AS user_id, TIMESTAMPTZ '2021-09-17 10:14:00+09:00' AS event_ts, 5.0 AS x) TO '${join(src, 'tz.parquet')}' (FORMAT parquet)`,
      );
      const view = (name: string, path: string) =>
        defineFeatureView({
          name,
          entity: 'user',
          ttlSeconds: 1800,
          source: { kind: 'batch', path, eventTsColumn: 'event_ts' },
          features: [{ name: 'x', default: -1 }],
        });
      store.apply(
        defineFeatures({
          entities: [defineEntity({ name: 'user' })],
          views: [view('a', 'tz.csv'), view('b', 'naive.csv'), view('c', 'tz.parquet')],
          services: [defineFeatureService({ name: 'svc', features: ['a.x', 'b.x', 'c.x'] })],
        }),
      );
      for (const v of ['a', 'b', 'c']) await store.importSource(v, src);
      out['imported'] = await store.offline.query(
        `SELECT entity_id, event_ts::VARCHAR AS e, dt::VARCHAR AS dt FROM read_parquet('${join(dir, 'store/offline')}/*/*/*.parquet', hive_partitioning = true) ORDER BY entity_id`,
      );
      // labels: the same instant written three ways, and a naive time
      const labels = join(dir, 'labels.csv');
      writeFileSync(
        labels,
        'user_id,ts,y\nu1,2021-09-17T02:15:30+01:00,1\nu2,2021-09-17T01:15:30Z,0\nu3,2021-09-17 01:15:30,1\nu4,2021-09-17T10:15:30+09:00,0\nu5,2021-09-16T18:15:30-07:00,1\n',
      );
      const res = await store.trainingSet({ service: 'svc', labelsPath: labels, outPath: join(dir, 'train.parquet') });
      out['rows'] = res.rows;
      out['training'] = await store.offline.query(
        `SELECT label_row::INT AS r, "a.x" AS a, "b.x" AS b, "c.x" AS c, "a.__status"::INT AS sa, "b.__age_ms"::DOUBLE AS age_b, "c.__status"::INT AS sc FROM '${join(dir, 'train.parquet')}' ORDER BY r`,
      );
    } finally {
      await store.close();
    }
    await importHillstrom({ file: join(FIXTURES, 'hillstrom-slice.csv'), outDir: join(dir, 'h') });
    await importOnlineRetail({ file: join(FIXTURES, 'online-retail-slice.csv'), outDir: join(dir, 'r') });
    const db = await WorldDb.open({ path: ':memory:' });
    try {
      const digest = async (file: string) =>
        (await db.query(`SELECT count(*)::INT AS n, sum(hash(t))::VARCHAR AS h FROM '${file}' t`))[0];
      for (const w of ['h', 'r'])
        for (const f of ['users', 'sends', 'outcomes', 'events'])
          if (w === 'r' || f !== 'events') out[`${w}.${f}`] = await digest(join(dir, w, `${f}.parquet`));
      out['r.batch'] = await digest(join(dir, 'r', 'batch/*.parquet'));
      out['r.first_event'] = (
        await db.query(`SELECT min(event_ts)::DOUBLE AS e FROM '${join(dir, 'r/events.parquet')}'`)
      )[0];
    } finally {
      db.close();
    }
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
