import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// The process time zone is read once at start (and DuckDB's default TimeZone comes from it), so each TZ needs its
// own process: tz-child.ts builds the training set and the imports and prints what came out.
const CHILD = join(import.meta.dirname, 'tz-child.ts');
const ZONES = ['UTC', 'America/Los_Angeles', 'Asia/Tokyo'] as const;

function runUnder(tz: string): Record<string, unknown> {
  const out = execFileSync(process.execPath, ['--import', 'tsx', CHILD], {
    env: { ...process.env, TZ: tz },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return JSON.parse(out.trim().split('\n').pop() as string) as Record<string, unknown>;
}

const at = (h: number, m: number, s = 0) => Date.UTC(2021, 8, 17, h, m, s);

describe('timestamps are UTC whatever the process TZ', () => {
  it('gives the same training set, imports and World imports under UTC, Los Angeles and Tokyo', () => {
    const results = ZONES.map((tz) => ({ tz, r: runUnder(tz) }));
    for (const { tz, r } of results) {
      // an offset-less CLI time is UTC
      expect(r['parsed'], tz).toBe(at(1, 15, 30));
      // +01:00, Z, an offset-less time in a TIMESTAMPTZ column, a naive TIMESTAMP column, a Parquet TIMESTAMPTZ
      expect(r['imported'], tz).toEqual([
        { entity_id: 'u1', e: String(at(1, 15)), dt: '2021-09-17' },
        { entity_id: 'u2', e: String(at(1, 10)), dt: '2021-09-17' },
        { entity_id: 'u3', e: String(at(1, 5)), dt: '2021-09-17' },
        { entity_id: 'u4', e: String(at(1, 0)), dt: '2021-09-17' },
        { entity_id: 'u5', e: String(at(1, 14)), dt: '2021-09-17' },
      ]);
      // every label is the instant 01:15:30Z written another way; ttl 30 min, so each user's own view is present
      expect(r['training'], tz).toEqual([
        { r: 0, a: 1, b: -1, c: -1, sa: 0, age_b: -1, sc: 1 },
        { r: 1, a: 2, b: -1, c: -1, sa: 0, age_b: -1, sc: 1 },
        { r: 2, a: 3, b: -1, c: -1, sa: 0, age_b: -1, sc: 1 },
        { r: 3, a: -1, b: 4, c: -1, sa: 1, age_b: 930_000, sc: 1 },
        { r: 4, a: -1, b: -1, c: 5, sa: 1, age_b: -1, sc: 0 },
      ]);
      // the Online Retail slice's first invoice line: 2010-12-01 10:03 UK time, stored as that clock time in UTC
      expect(r['r.first_event'], tz).toEqual({ e: Date.UTC(2010, 11, 1, 10, 3) });
    }
    const [first, ...rest] = results;
    for (const { tz, r } of rest) expect(r, `${tz} vs UTC`).toEqual(first?.r);
  }, 300_000);
});
