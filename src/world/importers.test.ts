import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorldDb } from './duckdb-world-db.js';
import { importHillstrom } from './import-hillstrom.js';
import { importOnlineRetail } from './import-online-retail.js';
import { readManifest } from './manifest.js';

// Committed slices of the real files (see fixtures/README.md); the full files are tested in test/integration.
const FIXTURES = join(import.meta.dirname, 'fixtures');
const root = mkdtempSync(join(tmpdir(), 'adnova-import-'));
let db: WorldDb;
beforeAll(async () => {
  db = await WorldDb.open({ path: ':memory:' });
});
afterAll(() => {
  db.close();
  rmSync(root, { recursive: true, force: true });
});

describe('importers on committed slices', () => {
  it('hillstrom: one user, snapshot row and send per customer; outcomes match the source flags', async () => {
    const dir = join(root, 'h');
    const m = await importHillstrom({ file: join(FIXTURES, 'hillstrom-slice.csv'), outDir: dir });
    expect(m.tables.users?.rows).toBe(300);
    expect(m.tables.sends?.rows).toBe(300);
    const src = (
      await db.query(
        `SELECT sum(visit)::INT v, sum(conversion)::INT c, round(sum(spend), 2) s FROM read_csv('${join(FIXTURES, 'hillstrom-slice.csv')}')`,
      )
    )[0];
    const out = (
      await db.query(
        `SELECT count(*) FILTER (WHERE kind = 'click')::INT v, count(*) FILTER (WHERE kind = 'convert')::INT c,
              round(sum(value), 2) s FROM '${dir}/outcomes.parquet'`,
      )
    )[0];
    expect(out).toEqual(src);
    expect(readManifest(dir).kind).toBe('hillstrom');
  });

  it('online-retail: every line is an event; snapshots and weekly sends exist', async () => {
    const dir = join(root, 'r');
    const m = await importOnlineRetail({ file: join(FIXTURES, 'online-retail-slice.csv'), outDir: dir });
    expect(m.tables.events?.rows).toBe(2709);
    expect(m.dates.length).toBeGreaterThan(300);
    expect(m.tables.sends?.rows).toBeGreaterThan(1000);
    const r = (
      await db.query(
        `SELECT count(*) FILTER (WHERE event_type = 'return')::INT n_returns, count(*) FILTER (WHERE user_id IS NULL)::INT anon
       FROM '${dir}/events.parquet'`,
      )
    )[0];
    expect(r?.['n_returns']).toBe(58);
    expect(Number(r?.['anon'])).toBeGreaterThan(0);
  });

  it('refuses a file with the wrong columns, naming what it expected', async () => {
    const bad = join(root, 'bad.csv');
    writeFileSync(bad, 'a,b\n1,2\n');
    await expect(importHillstrom({ file: bad, outDir: join(root, 'x') })).rejects.toThrow(
      /expected CSV columns recency,history_segment.*; got a,b/,
    );
    await expect(importOnlineRetail({ file: join(root, 'missing.csv'), outDir: join(root, 'y') })).rejects.toThrow(
      /does not exist/,
    );
  });
});
