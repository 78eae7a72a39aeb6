import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { FeatureStatusCode } from '../core/index.js';
import { NO_TTL_MS, ttlStatus, ttlStatusSql } from './ttl-rule.js';

// The JS rule and its SQL rendering must agree everywhere; the boundary grid covers every comparison edge.
// (This test reaches DuckDB directly because it checks the SQL text itself, not the offline store.)
describe('the TTL rule', () => {
  it('classifies the boundaries', () => {
    const ttl = 1000;
    expect(ttlStatus(5000, 5000, ttl)).toBe(FeatureStatusCode.present);
    expect(ttlStatus(4001, 5000, ttl)).toBe(FeatureStatusCode.present);
    expect(ttlStatus(4000, 5000, ttl)).toBe(FeatureStatusCode.expired);
    expect(ttlStatus(5001, 5000, ttl)).toBe(FeatureStatusCode.missing);
    expect(ttlStatus(Number.NaN, 5000, ttl)).toBe(FeatureStatusCode.missing);
  });

  it('with no TTL, a value that existed is present however old', () => {
    expect(ttlStatus(0, 5000, NO_TTL_MS)).toBe(FeatureStatusCode.present);
    expect(ttlStatus(-8.64e15, 8.64e15, NO_TTL_MS)).toBe(FeatureStatusCode.present);
    expect(ttlStatus(5001, 5000, NO_TTL_MS)).toBe(FeatureStatusCode.missing);
    expect(ttlStatus(Number.NaN, 5000, NO_TTL_MS)).toBe(FeatureStatusCode.missing);
  });

  it('the SQL rendering refuses a TTL that is not whole positive milliseconds or NO_TTL_MS', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.NEGATIVE_INFINITY])
      expect(() => ttlStatusSql('e', 't', bad), String(bad)).toThrow(RangeError);
  });

  it('JS and DuckDB renderings agree on a grid around every boundary', async () => {
    const ttls = [1, 2, 999, 60_000, 86_400_000, NO_TTL_MS];
    const at = 1_790_000_000_000;
    const cases: Array<[number | null, number, number]> = [];
    const around = (ttl: number) =>
      Number.isFinite(ttl) ? [-ttl - 1, -ttl, -ttl + 1] : [-at, -(10 * 365 * 86_400_000)];
    for (const ttl of ttls) for (const d of [...around(ttl), -1, 0, 1, 7]) cases.push([at + d, at, ttl]);
    for (const ttl of ttls) cases.push([null, at, ttl]);
    const inst = await DuckDBInstance.create(':memory:');
    const conn = await inst.connect();
    try {
      for (const [e, t, ttl] of cases) {
        const sql = `SELECT ${ttlStatusSql('e', 't', ttl)} AS s FROM (SELECT ${e === null ? 'NULL' : e}::BIGINT AS e, ${t}::BIGINT AS t)`;
        const r = await conn.runAndReadAll(sql);
        expect(Number(r.getRows()[0]?.[0]), `e=${e} t=${t} ttl=${ttl}`).toBe(ttlStatus(e ?? Number.NaN, t, ttl));
      }
    } finally {
      conn.closeSync();
      inst.closeSync();
    }
  });
});
