import { describe, expect, it } from 'vitest';
import { ManualClock, parseTimestampMs } from './clock.js';
import { ConfigError, exitCodeFor, InvalidInputError, NotFoundError } from './errors.js';
import {
  columnIndexOrThrow,
  columnValues,
  createFeatureMatrix,
  FeatureStatusCode,
  rowValues,
  viewStatus,
} from './feature-matrix.js';
import { hashId, isValidEntityId, newId, prefixedHasher, shardOf } from './ids.js';
import { MetricsRegistry } from './metrics.js';
import { Rng } from './random.js';

describe('ManualClock', () => {
  it('moves only when told, never backwards', () => {
    const clock = new ManualClock(1_000);
    expect(clock.now()).toBe(1_000);
    expect(clock.advance(500)).toBe(1_500);
    clock.set(2_000);
    expect(clock.now()).toBe(2_000);
    expect(() => clock.set(1_999)).toThrow(/backwards/);
    expect(() => clock.advance(-1)).toThrow(/>= 0/);
  });

  it('parses ISO and epoch-ms timestamps', () => {
    expect(parseTimestampMs('2026-01-02T00:00:00Z')).toBe(Date.UTC(2026, 0, 2));
    expect(parseTimestampMs('1700000000000')).toBe(1_700_000_000_000);
    expect(parseTimestampMs('yesterday')).toBeNaN();
  });
});

describe('errors', () => {
  it('carry a stable code, an HTTP status and their cause', () => {
    const cause = new Error('disk');
    const err = new NotFoundError('no model m1', { cause });
    expect(err.code).toBe('NOT_FOUND');
    expect(err.httpStatus).toBe(404);
    expect(err.cause).toBe(cause);
    expect(err.name).toBe('NotFoundError');
    expect(new ConfigError('x').code).toBe('CONFIG_INVALID');
  });

  it('map input errors to exit code 2 and everything else to 1', () => {
    expect(exitCodeFor(new InvalidInputError('bad'))).toBe(2);
    expect(exitCodeFor(new ConfigError('bad'))).toBe(2);
    expect(exitCodeFor(new Error('boom'))).toBe(1);
    expect(exitCodeFor('string')).toBe(1);
  });
});

describe('ids', () => {
  it('hashes stably and spreads ids evenly over shards', () => {
    expect(hashId('u1')).toBe(hashId('u1'));
    expect(hashId('u1')).not.toBe(hashId('u2'));
    const counts = new Array(8).fill(0);
    for (let i = 0; i < 80_000; i++) counts[shardOf(`u${i}`, 8)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });

  it('never changes its hash values (holdouts and shards depend on them)', () => {
    expect(hashId('u1')).toBe(612938007);
    expect(hashId('c-spring-01\u0000u00042', 0x686f6c64)).toBe(1013194667);
    expect(hashId('', 7)).toBe(4195733450);
  });

  it('hashes prefix + id without the joined string exactly as hashId does', () => {
    const h = prefixedHasher('c-spring-01\u0000', 0x686f6c64);
    expect(h('u00042')).toBe(1013194667);
    for (let i = 0; i < 1000; i++) expect(h(`u${i}`)).toBe(hashId(`c-spring-01\u0000u${i}`, 0x686f6c64));
    expect(prefixedHasher('')('abc')).toBe(hashId('abc'));
  });

  it('validates entity ids and makes time-sortable new ids', () => {
    expect(isValidEntityId('user_123')).toBe(true);
    expect(isValidEntityId('')).toBe(false);
    expect(isValidEntityId('has space')).toBe(false);
    const a = newId('cmp', 1_000);
    const b = newId('cmp', 2_000);
    expect(a.startsWith('cmp_')).toBe(true);
    expect(a < b).toBe(true);
  });
});

describe('Rng', () => {
  it('is deterministic per seed and different across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(sa);
  });

  it('draws uniform and normal values with the right moments', () => {
    const rng = new Rng(7);
    const n = 200_000;
    let sum = 0;
    let sumN = 0;
    let sumN2 = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      min = Math.min(min, u);
      max = Math.max(max, u);
      sum += u;
      const z = rng.normal();
      sumN += z;
      sumN2 += z * z;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(sum / n).toBeCloseTo(0.5, 2);
    expect(sumN / n).toBeCloseTo(0, 1);
    expect(sumN2 / n).toBeCloseTo(1, 1);
  });
});

describe('FeatureMatrix', () => {
  it('is column-major with per-view status and zero-copy columns', () => {
    const m = createFeatureMatrix(
      ['u1', 'u2', 'u3'],
      ['a', 'b', 'c'],
      [
        { name: 'v1', start: 0, end: 2 },
        { name: 'v2', start: 2, end: 3 },
      ],
    );
    expect(m.values.length).toBe(9);
    expect(Number.isNaN(m.values[0])).toBe(true);
    expect(viewStatus(m, 1, 2)).toBe('missing');
    const b = columnValues(m, columnIndexOrThrow(m, 'b'));
    b[1] = 5;
    expect(m.values[1 * 3 + 1]).toBe(5);
    m.status[1 * 3 + 2] = FeatureStatusCode.expired;
    expect(viewStatus(m, 1, 2)).toBe('expired');
    expect(Array.from(rowValues(m, 1))).toEqual([Number.NaN, 5, Number.NaN]);
    expect(() => columnIndexOrThrow(m, 'zz')).toThrow(/no column "zz"/);
  });

  it('refuses views that do not tile the columns', () => {
    expect(() => createFeatureMatrix(['u'], ['a', 'b'], [{ name: 'v', start: 0, end: 1 }])).toThrow(/cover 1 columns/);
    expect(() =>
      createFeatureMatrix(
        ['u'],
        ['a', 'b'],
        [
          { name: 'v', start: 0, end: 1 },
          { name: 'w', start: 0, end: 2 },
        ],
      ),
    ).toThrow(/tile the columns/);
  });
});

describe('MetricsRegistry', () => {
  it('exposes counters, gauges and histograms in Prometheus text', async () => {
    const metrics = new MetricsRegistry();
    const c = metrics.counter({ name: 'adnova_test_events_total', help: 'events', labelNames: ['kind'] });
    c.inc({ kind: 'a' });
    c.inc({ kind: 'a' }, 2);
    metrics.gauge({ name: 'adnova_test_lag_seconds', help: 'lag' }).set(3);
    metrics.histogram({ name: 'adnova_test_latency_ms', help: 'latency', buckets: [1, 10] }).observe(4);
    // asking again returns the same metric rather than a duplicate registration
    metrics.counter({ name: 'adnova_test_events_total', help: 'events', labelNames: ['kind'] }).inc({ kind: 'a' });
    const text = await metrics.text();
    expect(text).toContain('adnova_test_events_total{kind="a"} 4');
    expect(text).toContain('adnova_test_lag_seconds 3');
    expect(text).toContain('adnova_test_latency_ms_bucket{le="10"} 1');
    expect(() => metrics.gauge({ name: 'adnova_test_events_total', help: 'x' })).toThrow(/another type/);
    expect(() => metrics.counter({ name: 'Bad-Name', help: 'x' })).toThrow(/must match/);
  });
});
