import { isUtf8 } from 'node:buffer';
import { closeSync, openSync, readSync } from 'node:fs';
import type { ArtifactColumn } from './artifact.js';
import { FeatureCells } from './feature-cells.js';

/**
 * A CSV scored piece by piece from its bytes: a piece is a byte range of the file, its records parsed straight from
 * the bytes into the model's Float32 columns (no string per row or per plain cell), scored a block at a time and
 * written as the scored output's bytes (each record's own bytes, the separator, the score, the line end). Pieces
 * are independent, so threads can each take a piece of the same file (csv-score-workers.ts); the records and cells
 * mean what CsvReader and CsvChunkReader make of them (quotes, line ends, blank lines, the cell rule), so the
 * output is the same bytes.
 *
 * A piece [start, limit) holds the records that start in it. A piece's first record is the first line start at or
 * after `start` (a guess when a quoted field holds a line end: the caller checks it against where the previous
 * piece's last record ended, and runs the piece again from there when they differ), or exactly `start` when
 * `forced` (a known record start).
 */

/** The file and model facts a piece scorer needs: plain data, sent to worker threads as is. */
export interface CsvPiecePlan {
  readonly path: string;
  /** The separator's byte (an ASCII separator only). */
  readonly sep: number;
  /** Output separator and line end, as the input's header has them. */
  readonly sepText: string;
  readonly lineEnd: string;
  /** Fields in a record. */
  readonly columns: number;
  /** The model feature read from each file column, -1 for a column the model does not use. */
  readonly featureOf: readonly number[];
  readonly specs: readonly ArtifactColumn[];
  readonly naValues: readonly string[];
  /** Byte offset of the first data record and the file's size when scoring started. */
  readonly dataStart: number;
  readonly fileBytes: number;
}

export interface CsvPieceJob {
  readonly start: number;
  readonly limit: number;
  readonly forced: boolean;
}

/** Pieces of `pieceBytes` bytes of the plan's data (the last one to the end of the file). */
export function pieceCount(plan: CsvPiecePlan, pieceBytes: number): number {
  return Math.max(0, Math.ceil((plan.fileBytes - plan.dataStart) / pieceBytes));
}

/** Piece k of the plan's data cut in pieces of `pieceBytes`: piece 0 starts at the first record, the others guess. */
export function pieceJob(plan: CsvPiecePlan, pieceBytes: number, k: number): CsvPieceJob {
  const pieces = pieceCount(plan, pieceBytes);
  const bound = (i: number): number => (i >= pieces ? plan.fileBytes : plan.dataStart + i * pieceBytes);
  return { start: bound(k), limit: bound(k + 1), forced: k === 0 };
}

/**
 * The pieces of one scoring run, taken by the threads from one shared counter: a thread reads the next piece when it
 * is free, so none waits for a piece another thread has not begun.
 */
export interface PieceClaims {
  /** An Int32 counter: the next piece to take. */
  readonly counter: SharedArrayBuffer;
  readonly pieces: number;
  readonly pieceBytes: number;
}

/** Takes the next piece: its index, or `pieces` and more when every piece is taken. */
export function claimPiece(claims: PieceClaims): number {
  return Atomics.add(new Int32Array(claims.counter), 0, 1);
}

/** A record the piece could not read, told back for the caller to word (it knows the line the piece starts at). */
export type CsvPieceFailure =
  | { readonly kind: 'field-count'; readonly line: number; readonly raw: string; readonly count: number }
  | { readonly kind: 'unclosed-quote'; readonly line: number }
  | { readonly kind: 'not-utf8'; readonly from: number; readonly to: number };

export interface CsvPieceResult {
  /** File offset of the piece's first record (where it looked for one when it has none). */
  readonly first: number;
  /** File offset after the last record's line end: the next piece's first record. */
  readonly end: number;
  /** Lines from `first` to `end` (blank lines and line ends inside quotes included). */
  readonly lines: number;
  readonly rows: number;
  readonly scores: Float64Array;
  /** The scored lines of the piece's records (the whole of its own ArrayBuffer from offset 0: transferable). */
  readonly out: Uint8Array;
  readonly textAsMissing: Float64Array;
  readonly textExample: (string | undefined)[];
  /** A record that could not be read (lines relative to `first`, 0 for its first line); the piece stops there. */
  readonly failure: CsvPieceFailure | null;
}

/** Scores a block of rows (column-major Float32, the model's feature order) into probabilities. */
export type BlockScorer = (input: { readonly rows: number; readonly values: Float32Array }) => Float64Array;

/** Rows parsed before they are scored and written (the block's matrix stays in cache). */
const BLOCK_ROWS = 8192;
/** Bytes read past a piece's limit for its last record; doubled and read again when a record is longer. */
const SLACK_BYTES = 1 << 16;
const NO_QUOTE = 0xffffffff;
const POW10 = Float64Array.from({ length: 23 }, (_, i) => 10 ** i);

/** Thrown inside a piece whose bytes end in a record before the end of the file: read more and start again. */
const NEED_MORE_BYTES: unique symbol = Symbol('need more bytes');

/** Cells of a numeric feature whose bytes are not a plain decimal: read by the cell rule once the record is whole. */
interface Deferred {
  count: number;
  readonly feature: Int32Array;
  readonly from: Int32Array;
  readonly to: Int32Array;
}

/**
 * Scores pieces of one CSV file with one model on the calling thread. Not thread-safe; one per thread.
 */
export class CsvPieceScorer {
  readonly #plan: CsvPiecePlan;
  readonly #score: BlockScorer;
  readonly #features: FeatureCells;
  readonly #nf: number;
  /** 1: a numeric feature whose number is read while its cell is scanned (the separator is no number character). */
  readonly #numericInPass: Uint8Array;
  readonly #featureOf: Int32Array;
  /** A missing-value token is a number (say -999): every numeric cell goes to the cell rule's own reader. */
  readonly #numericToken: boolean;
  readonly #sepBytes: Buffer;
  readonly #endBytes: Buffer;
  readonly #values: Float32Array;
  readonly #recStart = new Int32Array(BLOCK_ROWS);
  readonly #recEnd = new Int32Array(BLOCK_ROWS);
  readonly #deferred: Deferred;
  #fd: number | null = null;
  // state of the piece being read
  #bytes: Buffer = Buffer.alloc(0);
  /** `#bytes` and one more, a line end (`#scan` only). */
  #scanBytes: Buffer = Buffer.alloc(1, 10);
  #base = 0;
  #eof = false;
  #nextQuote = -1;
  #lines = 0;
  #out: Buffer = Buffer.alloc(0);
  #spare: Buffer = Buffer.alloc(0);
  #readBuf: Buffer = Buffer.alloc(0);
  #outLen = 0;
  #scores: Float64Array[] = [];
  #rows = 0;
  #blockRows = 0;

  constructor(plan: CsvPiecePlan, score: BlockScorer) {
    if (plan.sep > 127) throw new Error('CsvPieceScorer reads ASCII separators only');
    this.#plan = plan;
    this.#score = score;
    this.#features = new FeatureCells(plan.specs, plan.naValues);
    this.#nf = plan.specs.length;
    this.#featureOf = Int32Array.from(plan.featureOf);
    this.#numericToken = Number.isNaN(this.#features.cells.plainNumberAtBytes(Buffer.from('1'), 0, 1));
    const sepInNumbers = /[0-9+\-.eE]/.test(String.fromCharCode(plan.sep));
    this.#numericInPass = Uint8Array.from(plan.specs, (_, j) =>
      !this.#features.isCategorical(j) && !sepInNumbers ? 1 : 0,
    );
    this.#sepBytes = Buffer.from(plan.sepText, 'utf8');
    this.#endBytes = Buffer.from(plan.lineEnd, 'utf8');
    this.#values = new Float32Array(this.#nf * BLOCK_ROWS);
    const cap = 4 * plan.columns;
    this.#deferred = { count: 0, feature: new Int32Array(cap), from: new Int32Array(cap), to: new Int32Array(cap) };
  }

  /** Reads, scores and formats one piece. */
  run(job: CsvPieceJob): CsvPieceResult {
    const plan = this.#plan;
    this.#fd ??= openSync(plan.path, 'r');
    const from = job.forced || job.start <= plan.dataStart ? job.start : job.start - 1;
    for (let slack = SLACK_BYTES; ; slack *= 4) {
      const to = Math.min(plan.fileBytes, Math.max(job.limit, from) + slack);
      this.#load(from, to);
      try {
        return this.#piece(job);
      } catch (err) {
        if (err !== NEED_MORE_BYTES) throw err;
        if (this.#eof) throw new Error('csv piece: more bytes wanted at the end of the file');
      }
    }
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }

  /** Gives back a piece's output once it is written, for the next piece to fill (no new memory per piece). */
  recycle(out: Uint8Array): void {
    if (out.buffer.byteLength > this.#spare.length) this.#spare = Buffer.from(out.buffer as ArrayBuffer);
  }

  #load(from: number, to: number): void {
    const len = Math.max(0, to - from);
    if (this.#readBuf.length < len + 1) this.#readBuf = Buffer.allocUnsafeSlow(len + 1);
    const buf = this.#readBuf.subarray(0, len);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(this.#fd as number, buf, got, buf.length - got, from + got);
      if (n === 0) break;
      got += n;
    }
    this.#bytes = got === buf.length ? buf : buf.subarray(0, got);
    // a line end after the bytes read: the scan's loops stop there without a bounds test per byte
    this.#readBuf[got] = 10;
    this.#scanBytes = this.#readBuf.subarray(0, got + 1);
    this.#base = from;
    this.#eof = from + got >= this.#plan.fileBytes || got < buf.length;
  }

  #piece(job: CsvPieceJob): CsvPieceResult {
    const b = this.#bytes;
    const n = b.length;
    const base = this.#base;
    this.#features.textAsMissing.fill(0);
    this.#features.textExample.fill(undefined);
    this.#lines = 0;
    this.#nextQuote = -1;
    this.#rows = 0;
    this.#blockRows = 0;
    this.#scores = [];
    this.#outLen = 0;
    let p: number;
    if (job.forced || job.start <= this.#plan.dataStart) p = job.start - base;
    else {
      // the first line start at or after `start`: after the first line end at or after start - 1
      const nl = b.indexOf(10, job.start - 1 - base);
      if (nl < 0) {
        if (!this.#eof) throw NEED_MORE_BYTES;
        p = n;
      } else p = nl + 1;
    }
    const first = base + p;
    const limit = job.limit - base;
    const outBytes = Math.ceil(Math.max(0, Math.min(limit, n) - p) * 1.25) + 1024;
    if (this.#spare.length >= outBytes) {
      this.#out = this.#spare;
      this.#spare = Buffer.alloc(0);
    } else this.#out = Buffer.allocUnsafeSlow(outBytes);
    let failure: CsvPieceFailure | null = null;
    while (p < limit && p < n) {
      const next = this.#record(p);
      if (typeof next !== 'number') {
        failure = next;
        break;
      }
      p = next;
      if (this.#blockRows === BLOCK_ROWS) this.#flush();
    }
    if (p >= n && !this.#eof && p < limit) throw NEED_MORE_BYTES;
    p = Math.min(p, n);
    // as CsvReader, which checks a block before reading its records: bad bytes come before a bad record
    if (!isUtf8(b.subarray(first - base, p))) failure = { kind: 'not-utf8', from: first, to: base + p };
    if (failure === null) this.#flush();
    const scores = new Float64Array(this.#rows);
    let o = 0;
    for (const s of this.#scores) {
      scores.set(s, o);
      o += s.length;
    }
    return {
      first,
      end: base + p,
      lines: this.#lines,
      rows: this.#rows,
      scores,
      out: this.#out.subarray(0, this.#outLen),
      textAsMissing: Float64Array.from(this.#features.textAsMissing),
      textExample: [...this.#features.textExample],
      failure,
    };
  }

  /**
   * Reads the record (or blank line) at byte p into the block; the byte after its line end, or why it could not
   * be read. Throws NEED_MORE_BYTES when the bytes end inside it before the end of the file.
   */
  #record(p: number): number | CsvPieceFailure {
    const b = this.#bytes;
    const n = b.length;
    if (this.#nextQuote < p) {
      const q = b.indexOf(34, p);
      this.#nextQuote = q < 0 ? NO_QUOTE : q;
    }
    const c0 = b[p] as number;
    if (c0 === 10 || c0 === 13 || c0 === 32 || c0 === 9 || c0 === 11 || c0 === 12 || c0 > 127) {
      let nl = b.indexOf(10, p);
      if (nl < 0) {
        if (!this.#eof) throw NEED_MORE_BYTES;
        nl = n;
      }
      const end = nl > p && b[nl - 1] === 13 ? nl - 1 : nl;
      if (this.#nextQuote >= end && isBlank(b, p, end)) {
        this.#lines++;
        return nl + 1;
      }
    }
    const r = this.#blockRows;
    const nl = this.#scan(p, r);
    const end = nl > p && b[nl - 1] === 13 ? nl - 1 : nl;
    if (this.#nextQuote < end) return this.#quoted(p, r);
    if (this.#scanned !== this.#plan.columns) {
      this.#deferred.count = 0;
      return {
        kind: 'field-count',
        line: this.#lines,
        raw: b.toString('utf8', p, end),
        count: this.#scanned,
      };
    }
    const d = this.#deferred;
    if (d.count > 0) {
      const values = this.#values;
      for (let k = 0; k < d.count; k++) {
        const j = d.feature[k] as number;
        values[j * BLOCK_ROWS + r] = this.#features.value(j, b.toString('utf8', d.from[k], d.to[k]));
      }
      d.count = 0;
    }
    this.#recStart[r] = p;
    this.#recEnd[r] = end;
    this.#blockRows = r + 1;
    this.#lines++;
    return nl + 1;
  }

  /** Fields counted by the last `#scan`. */
  #scanned = 0;

  /**
   * One pass over the unquoted record at p: each feature's cell read into row r of the block (numbers as they are
   * scanned, categories by their bytes, other cells deferred to the cell rule), the fields counted in `#scanned`;
   * the position of its line end (n at the end of the file).
   */
  #scan(p: number, r: number): number {
    const b = this.#scanBytes;
    const n = b.length - 1;
    const sep = this.#plan.sep;
    const featureOf = this.#featureOf;
    const numeric = this.#numericInPass;
    const cells = this.#features.cells;
    const numericToken = this.#numericToken;
    const values = this.#values;
    const ncols = featureOf.length;
    const d = this.#deferred;
    d.count = 0;
    let col = 0;
    let i = p;
    for (;;) {
      const a = i;
      const j = col < ncols ? (featureOf[col] as number) : -1;
      let v = Number.NaN;
      let numEnd = -1;
      if (j >= 0 && numeric[j] === 1) {
        // the common cell, [-]digits[.digits]: DecimalPrefix.readBytes' own steps without its call; a sign `+`,
        // an exponent or a missing-value token that is a number go to it
        let k = a;
        let c = b[k] as number;
        const neg = c === 45;
        if (neg) c = b[++k] as number;
        let mant = 0;
        const intStart = k;
        while (c >= 48 && c <= 57) {
          mant = mant * 10 + (c - 48);
          c = b[++k] as number;
        }
        let nd = k - intStart;
        let scale = 0;
        if (c === 46) {
          const fracStart = ++k;
          c = b[k] as number;
          while (c >= 48 && c <= 57) {
            mant = mant * 10 + (c - 48);
            c = b[++k] as number;
          }
          scale = fracStart - k;
          nd -= scale;
        }
        if (numericToken || c === 43 || (c | 32) === 101 || (nd === 0 && (c === 43 || c === 46))) {
          v = cells.plainNumberAtBytes(this.#bytes, a, n);
          numEnd = cells.stop;
        } else if (nd === 0) numEnd = a;
        else {
          numEnd = k;
          if (mant <= Number.MAX_SAFE_INTEGER && scale >= -22) {
            v = mant === 0 ? 0 : scale === 0 ? mant : mant / (POW10[-scale] as number);
            if (neg) v = -v;
          }
        }
        i = numEnd;
      }
      let c = b[i] as number;
      while (c !== sep && c !== 10) c = b[++i] as number;
      if (i >= n) {
        if (!this.#eof) throw NEED_MORE_BYTES;
        c = -1;
      }
      if (j >= 0) {
        // a line's last cell ends before the CR of a CRLF (and of a file's last line)
        const e = c !== sep && i > a && b[i - 1] === 13 ? i - 1 : i;
        if (numeric[j] === 1) {
          if (numEnd !== e || Number.isNaN(v)) v = this.#defer(j, a, e);
        } else v = this.#cellAt(j, a, e);
        values[j * BLOCK_ROWS + r] = v;
      }
      col++;
      if (c !== sep) {
        this.#scanned = col;
        return i;
      }
      i++;
    }
  }

  /** Feature j's value of the cell b[a, e) when found without the cell rule, else deferred to it. */
  #cellAt(j: number, a: number, e: number): number {
    const b = this.#bytes;
    const matched = this.#features.matched[j];
    if (matched) {
      const names = matched.bytes;
      const len = e - a;
      for (let k = 0; k < names.length; k++) {
        const name = names[k] as Uint8Array;
        if (name.length !== len) continue;
        let t = 0;
        while (t < len && name[t] === b[a + t]) t++;
        if (t === len) return matched.codes[k] as number;
      }
      return this.#defer(j, a, e);
    }
    const cells = this.#features.cells;
    const v = cells.plainNumberAtBytes(b, a, e);
    return !Number.isNaN(v) && cells.stop === e ? v : this.#defer(j, a, e);
  }

  #defer(j: number, a: number, e: number): number {
    const d = this.#deferred;
    const k = d.count++;
    if (k < d.feature.length) {
      d.feature[k] = j;
      d.from[k] = a;
      d.to[k] = e;
    }
    return Number.NaN;
  }

  /**
   * The record at p has a quote: its fields as CsvReader reads them (RFC 4180 quoting, `""` inside quotes, text
   * after a closing quote kept, line ends inside quotes), each given to the cell rule.
   */
  #quoted(p: number, r: number): number | CsvPieceFailure {
    const b = this.#bytes;
    const n = b.length;
    const eof = this.#eof;
    const sep = this.#plan.sep;
    const fields: string[] = [];
    let i = p;
    let newlines = 0;
    for (;;) {
      let value: string;
      if (i < n && b[i] === 34) {
        let parts = '';
        const open = i;
        let j = i + 1;
        for (;;) {
          const q = b.indexOf(34, j);
          if (q < 0) {
            if (!eof) throw NEED_MORE_BYTES;
            return { kind: 'unclosed-quote', line: this.#lines };
          }
          parts += b.toString('utf8', j, q);
          if (q + 1 >= n && !eof) throw NEED_MORE_BYTES;
          if (b[q + 1] === 34) {
            parts += '"';
            j = q + 2;
            continue;
          }
          for (let k = open; k < q; k++) if (b[k] === 10) newlines++;
          i = q + 1;
          break;
        }
        let k = i;
        while (k < n && b[k] !== sep && b[k] !== 10) k++;
        value = parts + b.toString('utf8', i, k > i && b[k - 1] === 13 ? k - 1 : k);
        i = k;
      } else {
        let k = i;
        while (k < n && b[k] !== sep && b[k] !== 10) k++;
        value = b.toString('utf8', i, k < n && b[k] === 10 && k > i && b[k - 1] === 13 ? k - 1 : k);
        i = k;
      }
      fields.push(value);
      if (i >= n) {
        if (!eof) throw NEED_MORE_BYTES;
        break;
      }
      if (b[i] === sep) {
        i++;
        continue;
      }
      break;
    }
    const end = i > p && b[i - 1] === 13 ? i - 1 : i;
    if (fields.length !== this.#plan.columns) {
      return { kind: 'field-count', line: this.#lines, raw: b.toString('utf8', p, end), count: fields.length };
    }
    const featureOf = this.#featureOf;
    const values = this.#values;
    for (let c = 0; c < featureOf.length; c++) {
      const j = featureOf[c] as number;
      if (j >= 0) values[j * BLOCK_ROWS + r] = this.#features.value(j, fields[c] as string);
    }
    this.#recStart[r] = p;
    this.#recEnd[r] = end;
    this.#blockRows = r + 1;
    this.#lines += newlines + 1;
    return i + 1;
  }

  /** Scores the block's rows and appends their scored lines to the output. */
  #flush(): void {
    const rows = this.#blockRows;
    if (rows === 0) return;
    const nf = this.#nf;
    let values = this.#values;
    if (rows < BLOCK_ROWS) {
      values = new Float32Array(nf * rows);
      for (let j = 0; j < nf; j++) values.set(this.#values.subarray(j * BLOCK_ROWS, j * BLOCK_ROWS + rows), j * rows);
    }
    const scores = this.#score({ rows, values });
    this.#scores.push(scores);
    this.#rows += rows;
    this.#blockRows = 0;
    const b = this.#bytes;
    const starts = this.#recStart;
    const ends = this.#recEnd;
    const sepBytes = this.#sepBytes;
    const endBytes = this.#endBytes;
    // a score is at most 24 characters ("-1.2345678901234567e-308")
    let need = this.#outLen + rows * (sepBytes.length + 24 + endBytes.length);
    for (let i = 0; i < rows; i++) need += (ends[i] as number) - (starts[i] as number);
    if (need > this.#out.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(need, Math.ceil(this.#out.length * 1.5)));
      this.#out.copy(grown, 0, 0, this.#outLen);
      this.#out = grown;
    }
    const out = this.#out;
    let o = this.#outLen;
    const oneSep = sepBytes.length === 1 ? (sepBytes[0] as number) : -1;
    const lf = endBytes.length === 1;
    for (let i = 0; i < rows; i++) {
      o += b.copy(out, o, starts[i] as number, ends[i] as number);
      if (oneSep >= 0) out[o++] = oneSep;
      else o += sepBytes.copy(out, o);
      const t = String(scores[i]);
      for (let k = 0; k < t.length; k++) out[o++] = t.charCodeAt(k);
      if (lf) out[o++] = 10;
      else {
        out[o++] = 13;
        out[o++] = 10;
      }
    }
    this.#outLen = o;
  }
}

/** Whether b[a, e) is only white space (the blank lines CsvReader skips), as CsvReader's isBlank on the text. */
function isBlank(b: Buffer, a: number, e: number): boolean {
  for (let i = a; i < e; i++) {
    const c = b[i] as number;
    if (c !== 32 && c !== 9 && c !== 13)
      return c > 127 || (c >= 9 && c <= 13) ? b.toString('utf8', a, e).trim() === '' : false;
  }
  return true;
}
