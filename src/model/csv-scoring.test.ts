import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../core/index.js';
import { CsvReader, DEFAULT_NA_VALUES } from '../tables/index.js';
import type { ArtifactColumn } from './artifact.js';
import { compileModel } from './compile-model.js';
import { type Chunk, CsvChunkReader, scoreCsvFile } from './csv-scoring.js';
import { trainModel } from './train-pipeline.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'adnova-csv-scoring-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const VOCAB = ['email', 'push', 'in-app', 'true', '8', 'a b', 'NA'];
const SPECS: ArtifactColumn[] = [
  { name: 'n0', kind: 'numeric' },
  { name: 'n1', kind: 'numeric' },
  { name: 'channel', kind: 'categorical', vocabulary: VOCAB },
  { name: 'n2', kind: 'numeric' },
];

/** A numeric cell of any shape the cell rule knows, plain decimals most often. */
function numericCell(rng: Rng, na: readonly string[]): string {
  const x = rng.normal() * 10 ** (rng.int(7) - 3);
  switch (rng.int(16)) {
    case 0:
      return na[rng.int(na.length)] as string;
    case 1:
      return ['inf', '-inf', 'Infinity', '+Infinity', '-INF'][rng.int(5)] as string;
    case 2:
      return x.toExponential(rng.int(6)).replace('e+', rng.next() < 0.5 ? 'e' : 'E+');
    case 3:
      return `+${Math.abs(x).toFixed(3)}`;
    case 4:
      return [' 1.5', '2 ', '\t3', ' -4e-1 '][rng.int(4)] as string;
    case 5:
      return String(Math.random()); // 16-17 significant digits: Number() decides
    case 6:
      return ['0012', '.5', '-.25', '7.', '1e-5', '-0', '0x1F', '1e', '.', '-', 'abc', '2024-05-01'][
        rng.int(12)
      ] as string;
    case 7:
      return `"${x.toFixed(2)}"`;
    case 8:
      return String(rng.int(1000));
    default:
      return x.toFixed(rng.int(6));
  }
}

function categoricalCell(rng: Rng): string {
  const cells = ['email', 'push', 'in-app', 'true', 'TRUE', '8', '8.0', '08', '80', 'a b', ' email', 'pushy', 'NA', ''];
  return (rng.next() < 0.1 ? ['sms', '"push"', '"a b"', 'inf'][rng.int(4)] : cells[rng.int(cells.length)]) as string;
}

function noteCell(rng: Rng, sep: string): string {
  return ['ok', 'é', `"with ${sep} inside"`, '"say ""hi"""', '"two\nlines"', 'x"y', ''][rng.int(7)] as string;
}

interface RandomCsv {
  readonly text: string;
  readonly sep: string;
  readonly naValues: readonly string[];
  /** Small blocks for some files: records and characters cut across blocks. */
  readonly blockBytes?: number;
}

function randomCsv(seed: number): RandomCsv {
  const rng = new Rng(seed);
  const sep = [',', ';', '\t', '|'][rng.int(4)] as string;
  const naValues = rng.next() < 0.3 ? ['', 'NA', 'missing', '-999'] : DEFAULT_NA_VALUES;
  const crlf = rng.next() < 0.4;
  const ascii = rng.next() < 0.5;
  const rows = 50 + rng.int(300);
  const lines = [['n0', 'note', 'n1', 'channel', 'n2', 'y'].join(sep)];
  for (let r = 0; r < rows; r++) {
    const note = noteCell(rng, sep);
    // a tab in a cell is white space only when the separator is not a tab
    const num = (): string =>
      sep === '\t' ? numericCell(rng, naValues).replaceAll('\t', ' ') : numericCell(rng, naValues);
    const cells = [num(), ascii && note === 'é' ? 'e' : note, num(), categoricalCell(rng), num(), String(rng.int(2))];
    lines.push(cells.join(sep));
    if (rng.next() < 0.02) lines.push(rng.next() < 0.5 ? '' : '  ');
  }
  const end = crlf ? '\r\n' : '\n';
  const blockBytes = rng.next() < 0.5 ? 1 + rng.int(300) : undefined;
  const bom = rng.next() < 0.2 ? '\ufeff' : '';
  return { text: bom + lines.join(end) + (rng.next() < 0.8 ? end : ''), sep, naValues, blockBytes };
}

function readAll(path: string, csv: RandomCsv, fromCharacters: boolean): { chunks: Chunk[]; notes: string[] } {
  const reader = new CsvReader(path, { sep: csv.sep, blockBytes: csv.blockBytes });
  try {
    const chunks: Chunk[] = [];
    const r = new CsvChunkReader(reader, SPECS, { naValues: csv.naValues, fromCharacters, chunkRows: 37 });
    for (let c = r.read(); c; c = r.read()) chunks.push(c);
    return { chunks, notes: r.notes() };
  } finally {
    reader.close();
  }
}

const rawOf = (c: Chunk, i: number): string =>
  (c.rawBytes[i] as Buffer).toString('utf8', c.rawStart[i] as number, c.rawEnd[i] as number);

describe('model score on a CSV: cells read from the characters', () => {
  it('gives the same matrix, records and notes as the split fields on 120 random CSVs', () => {
    let fromChars = 0;
    for (let seed = 1; seed <= 120; seed++) {
      const csv = randomCsv(seed);
      const path = join(dir, `r${seed}.csv`);
      writeFileSync(path, csv.text);
      const fast = readAll(path, csv, true);
      const split = readAll(path, csv, false);
      expect(fast.chunks.length).toBe(split.chunks.length);
      expect(fast.notes).toEqual(split.notes);
      fast.chunks.forEach((c, k) => {
        const s = split.chunks[k] as Chunk;
        expect(c.rows).toBe(s.rows);
        for (let i = 0; i < c.values.length; i++)
          if (!Object.is(c.values[i], s.values[i]))
            expect({ seed, chunk: k, i, value: c.values[i] }).toEqual({ seed, chunk: k, i, value: s.values[i] });
        const raws = (x: Chunk): string[] => Array.from({ length: x.rows }, (_, i) => rawOf(x, i));
        expect(raws(c)).toEqual(raws(s));
        for (let i = 0; i < c.rows; i++) if (c.rawBytes[i] !== s.rawBytes[i]) fromChars++;
      });
    }
    expect(fromChars).toBeGreaterThan(10_000); // most records did take the character path
  });

  it('names the file, the line and the field count of a ragged row as the split path does', () => {
    const path = join(dir, 'ragged.csv');
    writeFileSync(path, 'n0,note,n1,channel,n2,y\n1,a,2,email,3,0\n\n1,a,2,email,3\n');
    const read = (fromCharacters: boolean) => () =>
      readAll(path, { text: '', sep: ',', naValues: DEFAULT_NA_VALUES }, fromCharacters);
    const expected = `${path}, line 4: 5 fields, expected 6 like the header (separator ","): "1,a,2,email,3"`;
    expect(read(true)).toThrow(expected);
    expect(read(false)).toThrow(expected);
  });

  it('writes each record as it was with its score, CRLF and separator kept', async () => {
    const csv = randomCsv(7);
    const crlf = `${csv.text.replace(/\r?\n/g, '\r\n')}`;
    const path = join(dir, 'in.csv');
    writeFileSync(path, crlf);
    const rng = new Rng(5);
    const n = 400;
    const values = new Float32Array(n * SPECS.length);
    for (let i = 0; i < values.length; i++) values[i] = i >= 2 * n && i < 3 * n ? rng.int(VOCAB.length) : rng.normal();
    const y = Uint8Array.from({ length: n }, (_, r) => ((values[r] as number) > 0 ? 1 : 0));
    const { artifact } = trainModel({ rows: n, columns: SPECS.map((s) => s.name), values }, y, SPECS, {
      gbdt: { trees: 5, maxDepth: 3 },
    });
    const model = compileModel(artifact);
    const out = join(dir, 'out.csv');
    await scoreCsvFile(artifact, model, {
      data: path,
      out,
      outFormat: 'csv',
      threads: 1,
      scoreColumn: 'score',
      sep: csv.sep,
      naValues: csv.naValues,
    });
    const { chunks } = readAll(path, csv, false);
    const header = crlf.slice(0, crlf.indexOf('\r\n'));
    const expected = [`${header}${csv.sep}score\r\n`];
    for (const c of chunks) {
      const scores = model.predict(c);
      for (let i = 0; i < c.rows; i++) expected.push(`${rawOf(c, i)}${csv.sep}${scores[i]}\r\n`);
    }
    expect(readFileSync(out, 'utf8')).toBe(expected.join(''));
  });
});
