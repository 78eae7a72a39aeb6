import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CsvReader, type CsvReadOptions, type CsvRecord } from './csv-reader.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'adnova-csv-reader-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function readAll(
  path: string,
  options: CsvReadOptions,
): { columns: readonly string[]; headerRaw: string | null; records: CsvRecord[] } {
  const reader = new CsvReader(path, options);
  try {
    const records: CsvRecord[] = [];
    for (let rec = reader.next(); rec; rec = reader.next()) records.push(rec);
    return { columns: reader.columns, headerRaw: reader.headerRaw, records };
  } finally {
    reader.close();
  }
}

describe('CsvReader blocks', () => {
  it('reads the same records whatever the block size: lines, quotes and UTF-8 characters cut across blocks', () => {
    const path = join(dir, 'cut.csv');
    const lines = [
      'id,name,note',
      '1,café,plain',
      '2,"quoted, with comma","two\nlines"',
      '',
      '3,€ and 𝄞,"say ""hi"""',
      '4,x"y,last',
    ];
    writeFileSync(path, `\ufeff${lines.join('\r\n')}\r\n5,end,no line end`);
    const ref = readAll(path, { sep: ',' });
    expect(ref.headerRaw).toBe('id,name,note'); // the BOM is not text (so a scored copy does not repeat it)
    expect(ref.records.map((r) => [r.line, ...r.fields])).toEqual([
      [2, '1', 'café', 'plain'],
      [3, '2', 'quoted, with comma', 'two\nlines'],
      [6, '3', '€ and 𝄞', 'say "hi"'],
      [7, '4', 'x"y', 'last'],
      [8, '5', 'end', 'no line end'],
    ]);
    expect(ref.records[2]?.raw).toBe('3,€ and 𝄞,"say ""hi"""');
    for (const blockBytes of [1, 2, 3, 5, 7, 11, 64]) expect(readAll(path, { sep: ',', blockBytes })).toEqual(ref);
  });

  it('names the bytes of an invalid UTF-8 sequence, in whichever block it comes', () => {
    const path = join(dir, 'latin1.csv');
    writeFileSync(path, Buffer.concat([Buffer.from('a,b\n1,2\n3,caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
    for (const blockBytes of [undefined, 4])
      expect(() => readAll(path, { sep: ',', blockBytes })).toThrow(
        /not UTF-8 text \(invalid byte sequence in bytes \d+\.\.\d+\)/,
      );
  });
});
