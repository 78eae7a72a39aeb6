import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../core/index.js';
import { CsvReader, DEFAULT_NA_VALUES } from '../tables/index.js';
import type { ArtifactColumn, ModelArtifact } from './artifact.js';
import { CsvPieceScorer, claimPiece, type PieceClaims, pieceCount, pieceJob } from './csv-pieces.js';
import type { CsvScoreWorkerInit } from './csv-score-worker.js';
import { CsvScoreWorkers, type HelpedPiece, type PieceHelpers } from './csv-score-workers.js';
import { type Chunk, CsvChunkReader, type CsvScoreOptions, scoreCsvFile } from './csv-scoring.js';
import type { CompiledModel } from './scoring/compiled-model.js';
import { compileModel } from './scoring/compiled-model.js';
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
  // the header's order need not be the model's: a third of the files have their columns reversed
  const reversed = rng.next() < 0.33;
  const ordered = (cells: string[]): string[] => (reversed ? cells.reverse() : cells);
  const lines = [ordered(['n0', 'note', 'n1', 'channel', 'n2', 'y']).join(sep)];
  for (let r = 0; r < rows; r++) {
    const note = noteCell(rng, sep);
    // a tab in a cell is white space only when the separator is not a tab
    const num = (): string =>
      sep === '\t' ? numericCell(rng, naValues).replaceAll('\t', ' ') : numericCell(rng, naValues);
    const cells = [num(), ascii && note === 'é' ? 'e' : note, num(), categoricalCell(rng), num(), String(rng.int(2))];
    lines.push(ordered(cells).join(sep));
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

/** A small model on SPECS, trained once. */
function smallModel(): { artifact: ModelArtifact; model: CompiledModel } {
  const rng = new Rng(5);
  const n = 400;
  const values = new Float32Array(n * SPECS.length);
  for (let i = 0; i < values.length; i++) values[i] = i >= 2 * n && i < 3 * n ? rng.int(VOCAB.length) : rng.normal();
  const y = Uint8Array.from({ length: n }, (_, r) => ((values[r] as number) > 0 ? 1 : 0));
  const { artifact } = trainModel({ rows: n, columns: SPECS.map((s) => s.name), values }, y, SPECS, {
    gbdt: { trees: 5, maxDepth: 3 },
  });
  return { artifact, model: compileModel(artifact) };
}

/** What the record path (CsvReader's split fields, CsvChunkReader) makes of a file: the scored text, notes, mean. */
function reference(
  path: string,
  csv: RandomCsv,
  model: CompiledModel,
): { text: string; notes: string[]; mean: number } {
  const { chunks, notes } = readAll(path, csv, false);
  const reader = new CsvReader(path, { sep: csv.sep });
  const lineEnd = reader.lineEnd;
  const lines = [`${reader.headerRaw}${csv.sep}score${lineEnd}`];
  reader.close();
  let sum = 0;
  let rows = 0;
  for (const c of chunks) {
    const scores = model.predict(c);
    for (let i = 0; i < c.rows; i++) {
      lines.push(`${rawOf(c, i)}${csv.sep}${scores[i]}${lineEnd}`);
      sum += scores[i] as number;
    }
    rows += c.rows;
  }
  return { text: lines.join(''), notes, mean: sum / rows };
}

/** Helper "threads" that take pieces on this thread, one per turn of the event loop: the guesses without workers. */
function inThreadHelpers(init: CsvScoreWorkerInit): PieceHelpers {
  const model = compileModel(init.artifact);
  const scorer = new CsvPieceScorer(init.plan, (m) => model.predict(m));
  const done: HelpedPiece[] = [];
  let wake: (() => void) | null = null;
  const take = (claims: PieceClaims): void => {
    const k = claimPiece(claims);
    if (k >= claims.pieces) return;
    done.push({ index: k, result: scorer.run(pieceJob(init.plan, claims.pieceBytes, k)) });
    wake?.();
    setImmediate(() => take(claims));
  };
  return {
    start: (claims) => setImmediate(() => take(claims)),
    poll: () => done.shift() ?? null,
    next: async () => {
      while (done.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      return done.shift() as HelpedPiece;
    },
    close: async () => scorer.close(),
  };
}

async function scoreFile(
  artifact: ModelArtifact,
  model: CompiledModel,
  path: string,
  csv: RandomCsv,
  extra: Partial<CsvScoreOptions>,
): Promise<{ text: string; notes: readonly string[]; mean: number }> {
  const out = `${path}.scored.csv`;
  const r = await scoreCsvFile(artifact, model, {
    data: path,
    out,
    outFormat: 'csv',
    threads: 1,
    scoreColumn: 'score',
    sep: csv.sep,
    naValues: csv.naValues,
    ...extra,
  });
  return { text: readFileSync(out, 'utf8'), notes: r.notes, mean: r.meanScore };
}

describe('model score on a CSV: pieces read from the bytes', () => {
  const { artifact, model } = smallModel();

  it('writes what the record path writes, on 120 random CSVs cut in pieces of 20-500 bytes, on one and on 3 threads', async () => {
    for (let seed = 1; seed <= 120; seed++) {
      const csv = randomCsv(seed);
      const path = join(dir, `p${seed}.csv`);
      writeFileSync(path, csv.text);
      const want = reference(path, csv, model);
      const pieceBytes = 20 + new Rng(seed).int(480);
      const one = await scoreFile(artifact, model, path, csv, { pieceBytes });
      const three = await scoreFile(artifact, model, path, csv, {
        pieceBytes,
        threads: 3,
        parallelMinBytes: 0,
        helpers: inThreadHelpers,
      });
      for (const [threads, got] of [
        [1, one],
        [3, three],
      ] as const) {
        if (got.text !== want.text)
          expect({ seed, threads, text: got.text }).toEqual({ seed, threads, text: want.text });
        expect({ seed, threads, notes: got.notes }).toEqual({ seed, threads, notes: want.notes });
        expect(Object.is(got.mean, want.mean)).toBe(true);
      }
    }
  });

  it('finds the records again when pieces start inside a quoted field that holds line ends', async () => {
    const text =
      'n0,note,n1,channel,n2,y\r\n1.5,"a\r\nb\r\n,c",2,email,3,0\r\n-1,"x\n""y""\n",0.25,push,NA,1\r\n\r\n7,ok,8,"in-app",9,0\r\n';
    const csv: RandomCsv = { text, sep: ',', naValues: DEFAULT_NA_VALUES };
    const path = join(dir, 'quoted-lines.csv');
    writeFileSync(path, text);
    const want = reference(path, csv, model);
    for (const pieceBytes of [1, 2, 3, 5, 8, 13]) {
      const got = await scoreFile(artifact, model, path, csv, {
        pieceBytes,
        threads: 2,
        parallelMinBytes: 0,
        helpers: inThreadHelpers,
      });
      expect({ pieceBytes, text: got.text }).toEqual({ pieceBytes, text: want.text });
    }
  });

  it('names the line of the first bad record in the file, whatever piece or thread reads it', async () => {
    const good = 'n0,note,n1,channel,n2,y\n1,"two\nlines",2,email,3,0\n\n4,ok,5,push,6,1\n';
    const cases = [
      { text: `${good}1,a,2,email,3\n${good.slice(good.indexOf('\n') + 1)}1,b,2\n`, message: 'line 6: 5 fields' },
      { text: `${good}1,"open,2,email,3,0\n`, message: 'line 6: a quoted field is not closed' },
      { text: `${good}1,\xff,2,email,3,0\n`, message: 'is not UTF-8 text' },
    ];
    for (const c of cases) {
      const path = join(dir, 'bad.csv');
      writeFileSync(path, Buffer.from(c.text, 'latin1'));
      const csv: RandomCsv = { text: c.text, sep: ',', naValues: DEFAULT_NA_VALUES };
      if (!c.message.includes('UTF-8')) expect(() => readAll(path, csv, false)).toThrow(c.message);
      for (const pieceBytes of [4, 16, 1 << 20]) {
        await expect(scoreFile(artifact, model, path, csv, { pieceBytes })).rejects.toThrow(c.message);
        await expect(
          scoreFile(artifact, model, path, csv, {
            pieceBytes,
            threads: 2,
            parallelMinBytes: 0,
            helpers: inThreadHelpers,
          }),
        ).rejects.toThrow(c.message);
      }
    }
  });

  it('scores a headerless file from its first line', async () => {
    const text = '1,a,2,email,3,0\n-4.5,b,NA,push,6,1\n';
    const path = join(dir, 'headerless.csv');
    writeFileSync(path, text);
    const headerless = await import('./scoring/compiled-model.js');
    const specs: ArtifactColumn[] = [
      { name: 'c1', kind: 'numeric' },
      { name: 'c3', kind: 'numeric' },
      { name: 'c4', kind: 'categorical', vocabulary: VOCAB },
      { name: 'c5', kind: 'numeric' },
    ];
    const renamed: ModelArtifact = { ...artifact, header: { ...artifact.header, columns: specs } };
    const m = headerless.compileModel(renamed);
    const out = join(dir, 'headerless.scored.csv');
    await scoreCsvFile(renamed, m, {
      data: path,
      out,
      outFormat: 'csv',
      threads: 1,
      scoreColumn: 'score',
      header: false,
    });
    const expected = model.predict({ rows: 2, values: Float32Array.from([1, -4.5, 2, Number.NaN, 0, 1, 3, 6]) });
    expect(readFileSync(out, 'utf8')).toBe(`1,a,2,email,3,0,${expected[0]}\n-4.5,b,NA,push,6,1,${expected[1]}\n`);
  });

  it('reads pieces on worker threads as on this one, bytes, scores and lines alike', async () => {
    const csv = randomCsv(11);
    const path = join(dir, 'workers.csv');
    writeFileSync(path, csv.text);
    const reader = new CsvReader(path, { sep: csv.sep });
    reader.close();
    const plan = {
      path,
      sep: csv.sep.charCodeAt(0),
      sepText: csv.sep,
      lineEnd: reader.lineEnd,
      columns: reader.columns.length,
      featureOf: reader.columns.map((c) => SPECS.findIndex((s) => s.name === c)),
      specs: SPECS,
      naValues: csv.naValues,
      dataStart: reader.dataStart.byte,
      fileBytes: Buffer.byteLength(csv.text),
    };
    const pieceBytes = 700;
    const claims = { counter: new SharedArrayBuffer(4), pieces: pieceCount(plan, pieceBytes), pieceBytes };
    const local = new CsvPieceScorer(plan, (m) => model.predict(m));
    const workers = new CsvScoreWorkers({ plan, artifact }, 2);
    try {
      workers.start(claims);
      const there: HelpedPiece[] = [];
      for (let k = 0; k < claims.pieces; k++) there.push(await workers.next());
      expect(there.map((p) => p.index).sort((a, b) => a - b)).toEqual([...Array(claims.pieces).keys()]);
      // the guessed pieces may start inside a quoted line end (and then fail): the same on either thread
      let rows = 0;
      for (const { index, result } of there) {
        const here = local.run(pieceJob(plan, pieceBytes, index));
        rows += here.rows;
        expect({ ...result, out: Buffer.from(result.out).toString('utf8') }).toEqual({
          ...here,
          out: Buffer.from(here.out).toString('utf8'),
        });
      }
      expect(rows).toBeGreaterThan(50);
    } finally {
      local.close();
      await workers.close();
    }
  }, 60_000);
});
