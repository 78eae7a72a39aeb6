import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureStatusCode } from '../core/index.js';
import { ttlMsOf } from './definitions.js';
import { NO_TTL_MS, ttlStatus, ttlStatusSql } from './ttl-rule.js';

// DESIGN.md section 4: a value joins a question at time t when eventTs <= t and eventTs > t - ttl. Expected codes
// here are written by hand from that rule (not computed by ttlStatus), and both renderings must give them.
const { present, missing, expired } = FeatureStatusCode;
const T = 1_790_000_000_000;

/** [eventTs offset from T (null: no value), ttlMs, expected status]. */
const TABLE: Array<[number | null, number, number]> = [];
for (const ttl of [1, 2, 1000, 86_400_000]) {
  TABLE.push(
    [1, ttl, missing], // from the future
    [0, ttl, present], // eventTs = t: existed, fresh
    [-1, ttl, ttl === 1 ? expired : present],
    [-ttl + 1, ttl, present], // the oldest value still fresh
    [-ttl, ttl, expired], // eventTs = t - ttl: the open end of the window
    [-ttl - 1, ttl, expired],
    [null, ttl, missing],
  );
}
TABLE.push(
  [1, NO_TTL_MS, missing],
  [0, NO_TTL_MS, present],
  [-T, NO_TTL_MS, present], // epoch 0
  [-(T + 86_400_000), NO_TTL_MS, present], // before 1970
  [null, NO_TTL_MS, missing],
);

let inst: DuckDBInstance;
let conn: Awaited<ReturnType<DuckDBInstance['connect']>>;
beforeAll(async () => {
  inst = await DuckDBInstance.create(':memory:');
  conn = await inst.connect();
});
afterAll(() => {
  conn.closeSync();
  inst.closeSync();
});

async function sqlStatus(eventTs: number | null, at: number, ttlMs: number): Promise<unknown> {
  const e = eventTs === null ? 'NULL' : String(eventTs);
  const r = await conn.runAndReadAll(
    `SELECT ${ttlStatusSql('e', 't', ttlMs)} AS s, typeof(s) AS ty FROM (SELECT ${e}::BIGINT AS e, ${at}::BIGINT AS t)`,
  );
  const row = r.getRows()[0] as unknown[];
  expect(row[1]).toBe('UTINYINT');
  return row[0];
}

describe('the TTL rule at its exact boundaries (DESIGN.md section 4)', () => {
  for (const [offset, ttl, want] of TABLE) {
    const label = `eventTs ${offset === null ? 'none' : `t${offset >= 0 ? '+' : ''}${offset}`}, ttl ${ttl}`;
    it(`${label} -> ${Object.entries(FeatureStatusCode).find(([, c]) => c === want)?.[0]}`, async () => {
      const e = offset === null ? null : T + offset;
      expect(ttlStatus(e ?? Number.NaN, T, ttl)).toBe(want);
      expect(Number(await sqlStatus(e, T, ttl))).toBe(want);
    });
  }

  it('the window holds exactly ttl milliseconds: (t - ttl, t] present, t - ttl and older expired', () => {
    for (const ttl of [1, 3, 7]) {
      const statuses = [];
      for (let e = T - ttl - 2; e <= T + 1; e++) statuses.push(ttlStatus(e, T, ttl));
      expect(statuses.filter((s) => s === present)).toHaveLength(ttl);
      expect(statuses).toEqual([expired, expired, expired, ...new Array<number>(ttl).fill(present), missing]);
    }
  });
});

describe('ttlStatusSql refuses a TTL it cannot write as whole positive milliseconds', () => {
  const bad: Array<[number, string]> = [
    [0, '0'],
    [-0, '0'],
    [-1, '-1'],
    [-86_400_000, '-86400000'],
    [0.5, '0.5'],
    [1.5, '1.5'],
    [999.999, '999.999'],
    [Number.NaN, 'NaN'],
    [Number.NEGATIVE_INFINITY, '-Infinity'],
  ];
  for (const [ttl, shown] of bad) {
    it(`ttl ${shown}: RangeError naming what was expected and the value`, () => {
      expect(() => ttlStatusSql('e', 't', ttl)).toThrow(RangeError);
      expect(() => ttlStatusSql('e', 't', ttl)).toThrow(`ttlMs must be an integer > 0 or NO_TTL_MS, got ${shown}`);
    });
  }

  it('accepts 1 ms, a large integer and NO_TTL_MS (+Infinity), the last one without an expired branch', () => {
    expect(ttlStatusSql('e', 't', 1)).toContain('t - 1::BIGINT');
    expect(ttlStatusSql('e', 't', 8_640_000_000_000)).toContain('8640000000000::BIGINT');
    const none = ttlStatusSql('e', 't', NO_TTL_MS);
    expect(none).not.toContain(`THEN ${expired}`);
    expect(none).not.toContain('Infinity');
  });

  it('a fractional ttlSeconds reaches the SQL as whole milliseconds, rounded up (a value is never cut early)', async () => {
    for (const [seconds, ms] of [
      [1.5, 1500],
      [0.0015, 2],
      [0.0001, 1],
    ] as const) {
      expect(ttlMsOf({ ttlSeconds: seconds })).toBe(ms);
      expect(Number(await sqlStatus(T - ms + 1, T, ttlMsOf({ ttlSeconds: seconds })))).toBe(present);
      expect(Number(await sqlStatus(T - ms, T, ttlMsOf({ ttlSeconds: seconds })))).toBe(expired);
    }
  });
});
