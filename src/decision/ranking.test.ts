import { describe, expect, it } from 'vitest';
import { hashId, Rng } from '../core/index.js';
import { rankOrder } from './policy.js';
import { descendingKeys, type RowKey, smallestRows, sortRowsByKeys } from './ranking.js';

/** The comparator sort the typed sort must reproduce: keys lexicographically, then the row's input position. */
function reference(order: Uint32Array, keys: readonly RowKey[]): number[] {
  const pos = new Map([...order].map((row, i) => [row, i]));
  const at = (k: RowKey, row: number) => (typeof k === 'function' ? k(row) : (k[row] as number));
  return [...order].sort((a, b) => {
    for (const k of keys) if (at(k, a) !== at(k, b)) return at(k, a) - at(k, b);
    return (pos.get(a) as number) - (pos.get(b) as number);
  });
}

describe('typed row sort', () => {
  for (const n of [0, 1, 7, 500, 2047, 2048, 5000, 70_000]) {
    it(`orders ${n} rows like a comparator sort, ties kept in input order`, () => {
      const rng = new Rng(n + 1);
      // few distinct values: most rows tie on the first key, many on both
      const a = Uint32Array.from({ length: n }, () => rng.int(5) * 0x10001);
      const b = Uint32Array.from({ length: n }, () => (rng.next() < 0.5 ? 0xffffffff : rng.int(3)));
      const order = Uint32Array.from({ length: n }, (_, i) => (i * 7919) % n); // not the identity
      const want = reference(order, [a, b]);
      expect([...sortRowsByKeys(order, [a, b])]).toEqual(want);
    });
  }

  it('orders distinct and tied 32-bit keys over the whole range, three levels deep', () => {
    for (const [n, seed] of [
      [25, 1],
      [3000, 2],
      [200_000, 3],
    ] as const) {
      const rng = new Rng(seed);
      // full-range first key with runs of ties (repeated values), a second key with few values, a third distinct
      const a = Uint32Array.from({ length: n }, () => (rng.next() < 0.3 ? 0xfffffffe : rng.nextUint32() % 50_000));
      const b = Uint32Array.from({ length: n }, () => [0, 1, 0x80000000, 0xffffffff][rng.int(4)] as number);
      const c = Uint32Array.from({ length: n }, () => rng.nextUint32());
      const order = Uint32Array.from({ length: n }, (_, i) => n - 1 - i);
      expect([...sortRowsByKeys(order.slice(), [a, b, c])]).toEqual(reference(order, [a, b, c]));
    }
  });

  it('computes a key given as a function only for rows that tie on the keys before it', () => {
    const rng = new Rng(9);
    const n = 50_000;
    const a = Uint32Array.from({ length: n }, () => rng.int(n / 2)); // about half the rows tie with another
    const asked = new Uint8Array(n);
    const late = (row: number) => {
      asked[row] = 1;
      return (row * 2654435761) >>> 0;
    };
    const got = [
      ...sortRowsByKeys(
        Uint32Array.from({ length: n }, (_, i) => i),
        [a, late],
      ),
    ];
    expect(got).toEqual(
      reference(
        Uint32Array.from({ length: n }, (_, i) => i),
        [a, (row) => (row * 2654435761) >>> 0],
      ),
    );
    const count = new Map<number, number>();
    for (const v of a) count.set(v, (count.get(v) ?? 0) + 1);
    let wrong = 0;
    for (let row = 0; row < n; row++) if (asked[row] !== ((count.get(a[row] as number) as number) > 1 ? 1 : 0)) wrong++;
    expect(wrong).toBe(0);
    expect(asked.reduce((x, y) => x + y, 0)).toBeGreaterThan(n / 4);
  });

  it('sorts a subset of rows (the exploration pool) by keys indexed by row', () => {
    const rng = new Rng(3);
    const n = 10_000;
    const keys = Uint32Array.from({ length: n }, () => rng.nextUint32() % 1000);
    const pool = Uint32Array.from({ length: 4000 }, (_, i) => i * 2 + 1);
    const want = reference(pool, [keys]);
    expect([...sortRowsByKeys(pool, [keys])]).toEqual(want);
  });

  it('gives keys that sort numbers descending, -0 tied with 0 and NaN where told', () => {
    const values = [0.5, -0, 0, Number.NaN, -1, 1e-300, -1e-300, Number.POSITIVE_INFINITY, -2.5, 0.5, 3];
    const [hi, lo] = descendingKeys(values, -1);
    const order = sortRowsByKeys(
      Uint32Array.from(values, (_, i) => i),
      [hi, lo],
    );
    const asNumber = (v: number) => (Number.isNaN(v) ? -1 : v);
    const want = values
      .map((_, i) => i)
      .sort((x, y) => asNumber(values[y] as number) - asNumber(values[x] as number) || x - y);
    expect([...order]).toEqual(want);
    expect(hi[1]).toBe(hi[2]); // -0 and 0
    expect(lo[1]).toBe(lo[2]);
    expect([hi[3], lo[3]]).toEqual([hi[4], lo[4]]); // NaN counted as -1
  });
});

describe('smallest rows', () => {
  it('gives the first k rows of the sorted order, in order, without sorting the rest', () => {
    for (const [n, seed] of [
      [0, 1],
      [1, 2],
      [100, 3],
      [5000, 4],
      [100_000, 5],
    ] as const) {
      const rng = new Rng(seed);
      const key = Uint32Array.from({ length: n * 2 }, (_, i) =>
        // hashes, runs of equal keys and keys sharing their top 16 bits
        i % 7 === 0 ? 0x12340000 + (i % 3) : i % 11 === 0 ? 777 : rng.nextUint32(),
      );
      const rows = Uint32Array.from({ length: n }, (_, i) => (i * 7919) % (n * 2)); // a subset, not in order
      const sorted = reference(rows, [key]);
      for (const k of [0, 1, 2, Math.floor(n / 3), n - 1, n, n + 5]) {
        if (k < 0) continue;
        expect([...smallestRows(rows, key, k)]).toEqual(sorted.slice(0, Math.max(0, Math.min(k, n))));
      }
    }
  });
});

describe('rank order', () => {
  it('equals the comparator definition (score desc, NaN last as -1, tie hash, row) on 20,000 rows', () => {
    const rng = new Rng(11);
    const n = 20_000;
    const userIds = Array.from({ length: n }, (_, i) => `u${i % 15_000}`); // repeated ids tie on the hash too
    const scores = Float64Array.from({ length: n }, () => {
      const u = rng.next();
      return u < 0.05 ? Number.NaN : u < 0.3 ? 0.25 : Math.round(u * 1000) / 1000;
    });
    const tie = userIds.map((u) => hashId(u));
    const s = (i: number) => (Number.isNaN(scores[i] as number) ? -1 : (scores[i] as number));
    const want = [...Array(n).keys()].sort((a, b) => s(b) - s(a) || (tie[a] as number) - (tie[b] as number) || a - b);
    expect([...rankOrder({ userIds, scores })]).toEqual(want);
  });
});
