import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openTable, readColumnTable } from '../../src/monitor/index.js';

const dir = mkdtempSync(join(tmpdir(), 'adnova-monitor-reader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('monitor table reader (DuckDB adapter)', () => {
  it('reads numbers, booleans, timestamps and text into typed arrays with nulls', async () => {
    const path = join(dir, 'a.csv');
    writeFileSync(
      path,
      'x;flag;ts;city\n1.5;true;2026-03-02 00:00:00;Paris\n;false;;\n-2;true;2026-03-03 00:00:00;Lyon\n',
    );
    const t = await readColumnTable(path, { sep: ';' });
    expect(t.rows).toBe(3);
    const [x, flag, ts, city] = t.columns;
    expect(x?.kind === 'numeric' && Array.from(x.values)).toEqual([1.5, Number.NaN, -2]);
    expect(flag?.kind === 'numeric' && Array.from(flag.values)).toEqual([1, 0, 1]);
    expect(ts?.kind === 'numeric' && ts.values[0]).toBe(Date.UTC(2026, 2, 2));
    expect(city?.kind).toBe('categorical');
    if (city?.kind !== 'categorical') throw new Error('kind');
    expect(Array.from(city.codes, (c) => (c < 0 ? null : city.dictionary[c]))).toEqual(['Paris', null, 'Lyon']);
  });

  it('reads several files as one table and column subsets on demand', async () => {
    const a = join(dir, 'p1.csv');
    const b = join(dir, 'p2.csv');
    writeFileSync(a, 'x,c\n1,u\n2,v\n');
    writeFileSync(b, 'x,c\n3,w\n');
    const source = await openTable([a, b], { categorical: ['x'] });
    try {
      expect(source.rows).toBe(3);
      expect(source.schema.map((c) => c.kind)).toEqual(['categorical', 'categorical']);
      const t = await source.readColumns(['c']);
      expect(t.columns.length).toBe(1);
      await expect(source.readColumns(['nope'])).rejects.toThrow(/no column "nope"/);
    } finally {
      source.close();
      source.close();
    }
  });

  it('rejects a missing or empty file with a clear message', async () => {
    await expect(openTable(join(dir, 'missing.csv'))).rejects.toThrow(/does not exist/);
    const empty = join(dir, 'empty.csv');
    writeFileSync(empty, '');
    await expect(openTable(empty)).rejects.toThrow(/is empty/);
  });
});
