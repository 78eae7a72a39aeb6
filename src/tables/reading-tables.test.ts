import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../cli/test-io.js';
import { Rng } from '../core/index.js';
import { compileModel, loadArtifact, matrixFromTable, readTable as readModelTable } from '../model/index.js';
import { openTable, readColumnTable as readMonitorTable } from '../monitor/index.js';
import { readCsvTable } from './index.js';

let dir: string;
const file = (name: string): string => join(dir, name);

/** A numeric feature that carries inf, -inf, Infinity, NA and N/A cells, a categorical one and a label. */
function writeMessyTrain(path: string, rows: number, sep: string): void {
  const rng = new Rng(11);
  const lines = [['x', 'opens', 'channel', 'y'].join(sep)];
  const tokens = ['inf', '-inf', 'Infinity', 'NA', 'N/A'];
  for (let r = 0; r < rows; r++) {
    const x = rng.next() * 10;
    const opens = rng.int(8);
    const ch = ['email', 'push'][rng.int(2)] as string;
    const z = -3 + 0.6 * x + 0.2 * opens;
    const y = rng.next() < 1 / (1 + Math.exp(-z)) ? 'yes' : 'no';
    const cell = r % 25 === 0 ? (tokens[(r / 25) % tokens.length] as string) : x.toFixed(3);
    lines.push([cell, String(opens), ch, y].join(sep));
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'adnova-tables-'));
  writeMessyTrain(file('messy.csv'), 2000, ',');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('one parser for model train, score, eval and the monitor', () => {
  it('reads inf, -inf, Infinity as values and NA, N/A as missing, says so, and train and score agree', async () => {
    const parsed = readCsvTable(file('messy.csv'));
    const x = parsed.columns[0];
    expect(x?.kind).toBe('numeric');
    if (x?.kind !== 'numeric') throw new Error('kind');
    expect(x.values[0]).toBe(Number.POSITIVE_INFINITY);
    expect(x.values[25]).toBe(Number.NEGATIVE_INFINITY);
    expect(x.values[50]).toBe(Number.POSITIVE_INFINITY);
    expect(Number.isNaN(x.values[75] as number)).toBe(true);
    expect(Number.isNaN(x.values[100] as number)).toBe(true);
    expect(parsed.notes.join('\n')).toMatch(
      /column "x": numeric; 16 "NA", 16 "N\/A" read as missing; 32 \+inf and 16 -inf/,
    );

    const model = file('m');
    const t = await runCliCaptured([
      'model',
      'train',
      '--data',
      file('messy.csv'),
      '--label',
      'y',
      '--out',
      model,
      '--trees',
      '20',
      '--json',
    ]);
    expect(t.code).toBe(0);
    expect(t.err).toMatch(/column "x": numeric/);
    const artifact = loadArtifact(model);
    expect(artifact.header.columns.map((c) => c.kind)).toEqual(['numeric', 'numeric', 'categorical']);
    expect(JSON.parse(t.out).test.rocAuc).toBeGreaterThan(0.8);

    const s = await runCliCaptured([
      'model',
      'score',
      '--model',
      model,
      '--data',
      file('messy.csv'),
      '--out',
      file('s.csv'),
      '--json',
    ]);
    expect(s.code).toBe(0);
    const out = readFileSync(file('s.csv'), 'utf8').trimEnd().split('\n');
    const streamed = out.slice(1).map((l) => Number(l.slice(l.lastIndexOf(',') + 1)));
    // the training side's reading of the same file, through the same compiled model
    const table = await readModelTable(file('messy.csv'));
    const expected = compileModel(artifact).predict(matrixFromTable(table, artifact.header.columns));
    expect(streamed).toEqual(Array.from(expected));
    expect(new Set(streamed.slice(0, 101)).size).toBeGreaterThan(2);

    // and the monitor reads the column as the model does
    const mon = await readMonitorTable(file('messy.csv'));
    expect(mon.columns.map((c) => c.kind)).toEqual(['numeric', 'numeric', 'categorical', 'categorical']);
  });

  it('--na-values replaces the default list; default stands for it', async () => {
    const p = file('na.csv');
    writeFileSync(p, 'a,b\n1,x\nunknown,y\nNA,z\n');
    expect(readCsvTable(p).columns[0]?.kind).toBe('categorical');
    const t = readCsvTable(p, { naValues: ['', 'unknown'] });
    expect(t.columns[0]?.kind).toBe('categorical'); // NA is text now
    const u = await runCliCaptured([
      'monitor',
      'profile',
      '--data',
      p,
      '--out',
      file('p.json'),
      '--na-values',
      'default,unknown',
    ]);
    expect(u.code).toBe(0);
    const prof = JSON.parse(readFileSync(file('p.json'), 'utf8'));
    expect(JSON.stringify(prof)).toMatch(/"a"/);
    const mixed = readCsvTable(p);
    expect(mixed.notes.join('\n')).toMatch(
      /column "a": categorical from mixed content: 1 number cells and 1 text cells \("unknown"\); 1 "NA" read as missing/,
    );
    const v = readCsvTable(p, { naValues: ['', 'NA', 'unknown'] });
    expect(v.columns[0]?.kind).toBe('numeric');
  });

  it('names the file, the line and the expected field count for a ragged row, sniffed or with --sep', async () => {
    const p = file('ragged.csv');
    const rows = ['a;b;y', '1;2;1', '2;3;0', '3;4;1;9', '4;5;0'];
    writeFileSync(p, `${rows.join('\n')}\n`);
    const expected = /ragged\.csv, line 4: 4 fields, expected 3 like the header \(separator ";"\): "3;4;1;9"/;
    expect(() => readCsvTable(p)).toThrow(expected);
    expect(() => readCsvTable(p, { sep: ';' })).toThrow(expected);
    const r = await runCliCaptured(['model', 'train', '--data', p, '--label', 'y', '--out', file('r')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(expected);
    // a quoted field over two lines moves the line count on
    writeFileSync(p, 'a,b\n"x\ny",1\n2\n');
    expect(() => readCsvTable(p)).toThrow(/line 4: 1 fields, expected 2/);
  });

  it('--no-header names the columns c1..cN; a numeric header is flagged', async () => {
    const p = file('nohead.csv');
    writeFileSync(p, '1,0.5,3\n2,0.25,4\n');
    const withHeader = readCsvTable(p);
    expect(withHeader.rows).toBe(1);
    expect(withHeader.notes.join('\n')).toMatch(/header of .*nohead\.csv looks like data .*pass --no-header/);
    const t = readCsvTable(p, { header: false });
    expect(t.columns.map((c) => c.name)).toEqual(['c1', 'c2', 'c3']);
    expect(t.rows).toBe(2);
    expect(t.notes).toEqual([]);
    const source = await openTable(p, { header: false });
    expect(source.schema.map((c) => c.name)).toEqual(['c1', 'c2', 'c3']);
    const e = await runCliCaptured(['monitor', 'estimate', '--data', p, '--score-col', 'c2', '--no-header', '--json']);
    expect(e.code).toBe(0);
    expect(JSON.parse(e.out).rows).toBe(2);
  });

  it('model score keeps the input as it was (separator, cell text) and adds the score field', async () => {
    const p = file('semi.csv');
    writeMessyTrain(p, 600, ';');
    const model = file('m2');
    expect(
      (await runCliCaptured(['model', 'train', '--data', p, '--label', 'y', '--out', model, '--trees', '5'])).code,
    ).toBe(0);
    // extra text columns, quotes and an integer cell that a rewrite would turn into 8.0
    const input = [
      'id;x;opens;channel;y;"note; quoted"',
      '007;8;3;push;yes;"a ""b"""',
      '8;inf;0;email;no;',
      '9;NA;8;email;yes;plain',
    ];
    const q = file('in.csv');
    writeFileSync(q, `${input.join('\r\n')}\r\n`);
    const s = await runCliCaptured([
      'model',
      'score',
      '--model',
      model,
      '--data',
      q,
      '--out',
      file('out.csv'),
      '--threads',
      '1',
    ]);
    expect(s.code).toBe(0);
    const lines = readFileSync(file('out.csv'), 'utf8').split('\r\n');
    expect(lines[0]).toBe(`${input[0]};score`);
    for (let i = 1; i < input.length; i++) {
      expect(lines[i]?.startsWith(`${input[i]};`)).toBe(true);
      const v = Number(lines[i]?.slice((input[i] as string).length + 1));
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThan(1);
    }
    // Parquet out: the input's columns as text plus the score
    const pq = file('out.parquet');
    expect((await runCliCaptured(['model', 'score', '--model', model, '--data', q, '--out', pq])).code).toBe(0);
    const back = await readMonitorTable(pq);
    expect(back.columns.map((c) => c.name)).toEqual(['id', 'x', 'opens', 'channel', 'y', 'note; quoted', 'score']);
    const id = back.columns[0];
    expect(id?.kind === 'categorical' && id.dictionary).toContain('007');
    // scoring a scored file again is refused (the score column would be ambiguous), CSV or Parquet
    const again = await runCliCaptured(['model', 'score', '--model', model, '--data', pq, '--out', file('x.parquet')]);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/already has a column "score"/);
    // Parquet in, Parquet out: the original columns with their types, plus the score
    const instance = await DuckDBInstance.create(':memory:');
    const conn = await instance.connect();
    const pin = file('in.parquet');
    await conn.run(
      `COPY (SELECT 1.5::DOUBLE AS x, 3::INTEGER AS opens, 'push' AS channel, 'kept' AS extra) TO '${pin}' (FORMAT parquet)`,
    );
    conn.closeSync();
    instance.closeSync();
    const pout = file('out-pq.parquet');
    expect((await runCliCaptured(['model', 'score', '--model', model, '--data', pin, '--out', pout])).code).toBe(0);
    const scored = await openTable(pout);
    expect(scored.schema.map((c) => `${c.name}:${c.sourceType}`)).toEqual([
      'x:DOUBLE',
      'opens:INTEGER',
      'channel:VARCHAR',
      'extra:VARCHAR',
      'score:DOUBLE',
    ]);
    scored.close();
  });
});
