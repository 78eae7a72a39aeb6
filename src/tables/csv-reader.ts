import { isAscii, isUtf8 } from 'node:buffer';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { InvalidInputError, NotFoundError } from '../core/errors.js';

/**
 * A CSV file as records, read in blocks (so a scoring run streams): RFC 4180 quoting ("" inside quotes), `\n` or
 * `\r\n` line ends, blank lines skipped. Every record keeps its raw text, so a scored copy can repeat it unchanged.
 */

export const SEPARATOR_CANDIDATES = [',', ';', '\t', '|'] as const;

export interface CsvReadOptions {
  /** Field separator (`\t` or `tab` for a tab); default: sniffed from the first lines. */
  readonly sep?: string;
  /** false: the first line is data and columns are named c1..cN. Default true. */
  readonly header?: boolean;
  /** Bytes read at a time (default 8 MB); small values let tests cut records and characters across blocks. */
  readonly blockBytes?: number;
}

export interface CsvRecord {
  readonly fields: string[];
  /** The record as it is in the file, without its line end. */
  readonly raw: string;
  /** 1-based line of the file where the record starts. */
  readonly line: number;
}

/**
 * A record found by `CsvReader.advance`, updated in place (no object per row): without quotes it is the span
 * `text[start, end)` and `fields` is null, so a caller can read cells from the characters without splitting; a record
 * with quotes comes as its fields (`text` is then the raw record, start 0).
 */
export interface CsvSpan {
  text: string;
  start: number;
  end: number;
  /** 1-based line of the file where the record starts. */
  line: number;
  fields: string[] | null;
  /**
   * The file's bytes holding the record when its text is ASCII (then text index i is `bytes[i + byteDelta]`, so a
   * copy of the record can be written from the bytes without encoding the text again); null otherwise.
   */
  bytes: Buffer | null;
  byteDelta: number;
}

export function emptySpan(): CsvSpan {
  return { text: '', start: 0, end: 0, line: 0, fields: null, bytes: null, byteDelta: 0 };
}

const BLOCK_BYTES = 8 << 20;

export function normalizeSeparator(sep: string): string {
  const s = sep === '\\t' || sep.toLowerCase() === 'tab' ? '\t' : sep;
  if (s.length !== 1 || s === '"' || s === '\n' || s === '\r')
    throw new InvalidInputError(
      `--sep must be one character other than a quote or a line end (or \\t), got ${JSON.stringify(sep)}`,
    );
  return s;
}

export class CsvReader {
  readonly path: string;
  readonly sep: string;
  readonly columns: readonly string[];
  readonly hasHeader: boolean;
  /** The header line as in the file (null with header: false). */
  readonly headerRaw: string | null;
  /** `\r\n` when the first line ends so, else `\n`. */
  readonly lineEnd: string;
  readonly #fd: number | null;
  /**
   * The bytes read and not yet consumed: `#text` is the UTF-8 decoding of `#buf[#textFrom, #textEnd)` (whole lines
   * only, so no character is cut), the bytes after #textEnd are the start of a line still being read. Decoding a
   * checked-UTF-8 block as one flat string (latin1 when it is ASCII) is 5x faster than a streaming TextDecoder.
   */
  #buf: Buffer = Buffer.alloc(0);
  #textFrom = 0;
  #textEnd = 0;
  #textAscii = true;
  /** File offset of #buf[0] (of the decompressed bytes for .gz). */
  #bufOffset = 0;
  #text = '';
  #pos = 0;
  #line = 1;
  #eof = false;
  readonly #blockBytes: number;
  #pending: CsvRecord | null = null;
  #closed = false;
  /** Index of the next `"` at or after #pos in #text (2^32 - 1 when none): found once per quote, not per line. */
  #nextQuote = -1;
  readonly #span = emptySpan();
  readonly #dataStart: { readonly byte: number; readonly line: number };

  constructor(path: string, options: CsvReadOptions = {}) {
    this.path = path;
    this.#blockBytes = options.blockBytes ?? BLOCK_BYTES;
    if (!existsSync(path) || !statSync(path).isFile()) throw new NotFoundError(`data file ${path} does not exist`);
    if (statSync(path).size === 0)
      throw new InvalidInputError(`data file ${path} is empty (0 bytes); expected a header row and data rows`);
    if (path.endsWith('.gz')) {
      this.#fd = null;
      this.#eof = true;
      this.#take(gunzipSync(readFileSync(path)));
    } else {
      this.#fd = openSync(path, 'r');
      while (this.#text.length === 0 && this.#fill());
    }
    this.sep = options.sep === undefined ? this.#sniff() : normalizeSeparator(options.sep);
    const firstNl = this.#text.indexOf('\n');
    this.lineEnd = firstNl > 0 && this.#text.charCodeAt(firstNl - 1) === 13 ? '\r\n' : '\n';
    const first = this.#first();
    if (!first) {
      this.close();
      throw new InvalidInputError(`data file ${path} has only blank lines; expected a header row and data rows`);
    }
    this.hasHeader = options.header !== false;
    this.#dataStart = this.hasHeader
      ? { byte: this.#bufOffset + this.#byteOfPos(), line: this.#line }
      : { byte: this.#bufOffset === 0 ? this.#textFrom : 0, line: 1 };
    if (this.hasHeader) {
      this.headerRaw = first.raw;
      this.columns = headerNames(first.fields, path);
    } else {
      this.headerRaw = null;
      this.columns = first.fields.map((_, i) => `c${i + 1}`);
      this.#pending = first;
    }
  }

  /** The next data record, or null at the end. Throws for a record whose field count differs from the header's. */
  next(): CsvRecord | null {
    const span = this.#span;
    if (!this.advance(span)) return null;
    const raw = span.fields ? span.text : span.text.slice(span.start, span.end);
    const fields = span.fields ?? raw.split(this.sep);
    if (fields.length !== this.columns.length) throw this.fieldCountError(span.line, raw, fields.length);
    return { fields, raw, line: span.line };
  }

  /**
   * Moves `span` to the next data record; false at the end. The field count is not checked here: a caller reading
   * the span's characters counts the fields itself and throws `fieldCountError` when they differ from `columns`.
   */
  advance(span: CsvSpan): boolean {
    const pending = this.#pending;
    if (pending) {
      this.#pending = null;
      return spanOfRecord(span, pending);
    }
    for (;;) {
      const found = this.#tryParse(span);
      if (found !== undefined) return found;
      if (!this.#fill()) return false;
    }
  }

  /** The error for a record of `count` fields where the header has `columns.length`: file, line and the record. */
  fieldCountError(line: number, raw: string, count: number): InvalidInputError {
    const shown = raw.length > 120 ? `${raw.slice(0, 120)}...` : raw;
    return new InvalidInputError(
      `${this.path}, line ${line}: ${count} fields, expected ${this.columns.length} like the ${this.hasHeader ? 'header' : 'first line'} (separator ${JSON.stringify(this.sep)}): ${JSON.stringify(shown)}`,
    );
  }

  /**
   * Where the data records start in the file: the byte offset and 1-based line after the header (with header: false,
   * the start of the file after a BOM, line 1), for a caller that reads the records from the bytes itself. Of the
   * decompressed bytes for a .gz file.
   */
  get dataStart(): { readonly byte: number; readonly line: number } {
    return this.#dataStart;
  }

  close(): void {
    if (this.#fd !== null && !this.#closed) closeSync(this.#fd);
    this.#closed = true;
  }

  /** Reads one more block; false at the end of the file. */
  #fill(): boolean {
    if (this.#eof || this.#fd === null) return false;
    const keep = this.#buf.subarray(this.#byteOfPos());
    const buf = Buffer.allocUnsafe(keep.length + this.#blockBytes);
    keep.copy(buf, 0);
    const n = readSync(this.#fd, buf, keep.length, this.#blockBytes, null);
    if (n === 0) this.#eof = true;
    this.#bufOffset += this.#buf.length - keep.length;
    this.#take(buf.subarray(0, keep.length + n));
    return true;
  }

  /** Offset in #buf of the text at #pos. */
  #byteOfPos(): number {
    if (this.#pos >= this.#text.length) return this.#textEnd;
    if (this.#textAscii) return this.#textFrom + this.#pos;
    return this.#textEnd - Buffer.byteLength(this.#text.slice(this.#pos), 'utf8');
  }

  /** Makes `buf` the unconsumed bytes and decodes its whole lines (all of it at the end of the file). */
  #take(buf: Buffer): void {
    let from = 0;
    if (this.#bufOffset === 0 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) from = 3; // a BOM is not text
    const end = this.#eof ? buf.length : Math.max(from, buf.lastIndexOf(10) + 1);
    const bytes = buf.subarray(from, end);
    if (!isUtf8(bytes))
      throw new InvalidInputError(
        `${this.path} is not UTF-8 text (invalid byte sequence in bytes ${this.#bufOffset + from}..${this.#bufOffset + end}); re-encode it as UTF-8`,
      );
    this.#textAscii = isAscii(bytes);
    this.#buf = buf;
    this.#textFrom = from;
    this.#textEnd = end;
    this.#text = buf.toString(this.#textAscii ? 'latin1' : 'utf8', from, end);
    this.#pos = 0;
    this.#nextQuote = -1;
  }

  /** The separator giving the most lines with the first line's field count (at least two fields). */
  #sniff(): string {
    const sample = this.#text.slice(0, 1 << 16);
    const lines = sample.split('\n').slice(0, 50);
    if (!this.#eof && lines.length > 1) lines.pop(); // maybe cut short
    let best: string = SEPARATOR_CANDIDATES[0];
    let bestScore = 0;
    for (const sep of SEPARATOR_CANDIDATES) {
      const counts = lines.filter((l) => l.trim() !== '').map((l) => fieldCount(l, sep));
      const want = counts[0] ?? 1;
      if (want < 2) continue;
      const score = counts.filter((c) => c === want).length;
      if (score > bestScore) {
        best = sep;
        bestScore = score;
      }
    }
    return best;
  }

  /** The first record (the header, or the first data row with header: false), fields split. */
  #first(): CsvRecord | null {
    const span = this.#span;
    if (!this.advance(span)) return null;
    const raw = span.fields ? span.text : span.text.slice(span.start, span.end);
    return { fields: span.fields ?? raw.split(this.sep), raw, line: span.line };
  }

  /** Fills `span`: true for a record, false at the end of the data, undefined when the text so far ends inside one. */
  #tryParse(span: CsvSpan): boolean | undefined {
    const text = this.#text;
    for (;;) {
      const start = this.#pos;
      if (start >= text.length) return this.#eof ? false : undefined;
      let nl = text.indexOf('\n', start);
      if (nl < 0) {
        if (!this.#eof) return undefined;
        nl = text.length;
      }
      let end = nl;
      if (end > start && text.charCodeAt(end - 1) === 13) end--;
      // one indexOf per quote rather than per line: most files have no quote at all
      if (this.#nextQuote < start) this.#nextQuote = text.indexOf('"', start) >>> 0;
      if (this.#nextQuote >= end) {
        this.#pos = nl + 1;
        const line = this.#line++;
        if (isBlank(text, start, end)) continue;
        span.text = text;
        span.start = start;
        span.end = end;
        span.line = line;
        span.fields = null;
        span.bytes = this.#textAscii ? this.#buf : null;
        span.byteDelta = this.#textFrom;
        return true;
      }
      const rec = this.#parseQuoted(start);
      return rec === undefined ? undefined : spanOfRecord(span, rec);
    }
  }

  #parseQuoted(start: number): CsvRecord | undefined {
    const text = this.#text;
    const sep = this.sep.charCodeAt(0);
    const fields: string[] = [];
    let i = start;
    let newlines = 0;
    for (;;) {
      let value: string;
      if (text.charCodeAt(i) === 34) {
        let parts = '';
        const open = i;
        let j = i + 1;
        for (;;) {
          const q = text.indexOf('"', j);
          if (q < 0) {
            if (!this.#eof) return undefined;
            throw new InvalidInputError(
              `${this.path}, line ${this.#line}: a quoted field is not closed before the end of the file`,
            );
          }
          parts += text.slice(j, q);
          if (q + 1 >= text.length && !this.#eof) return undefined;
          if (text.charCodeAt(q + 1) === 34) {
            parts += '"';
            j = q + 2;
            continue;
          }
          for (let k = open; k < q; k++) if (text.charCodeAt(k) === 10) newlines++;
          i = q + 1;
          break;
        }
        // text after the closing quote, up to the separator, is kept (lenient, like most readers)
        let k = i;
        while (k < text.length && text.charCodeAt(k) !== sep && text.charCodeAt(k) !== 10) k++;
        value = parts + text.slice(i, k).replace(/\r$/, '');
        i = k;
      } else {
        let k = i;
        while (k < text.length && text.charCodeAt(k) !== sep && text.charCodeAt(k) !== 10) k++;
        value = text.slice(i, k);
        if (k < text.length && text.charCodeAt(k) === 10 && value.endsWith('\r')) value = value.slice(0, -1);
        i = k;
      }
      fields.push(value);
      if (i >= text.length) {
        if (!this.#eof) return undefined;
        break;
      }
      if (text.charCodeAt(i) === sep) {
        i++;
        continue;
      }
      break; // newline
    }
    let end = i;
    if (end > start && text.charCodeAt(end - 1) === 13) end--;
    const raw = text.slice(start, end);
    this.#pos = i + 1;
    const line = this.#line;
    this.#line += newlines + 1;
    return { fields, raw, line };
  }
}

/** `span` set to a record already split (its text is the raw record). */
function spanOfRecord(span: CsvSpan, rec: CsvRecord): true {
  span.text = rec.raw;
  span.start = 0;
  span.end = rec.raw.length;
  span.line = rec.line;
  span.fields = rec.fields;
  span.bytes = null;
  return true;
}

/** Whether text[start, end) is only white space (the blank lines that are skipped). */
function isBlank(text: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 13)
      return c > 127 || (c >= 9 && c <= 13) ? text.slice(start, end).trim() === '' : false;
  }
  return true;
}

function fieldCount(line: string, sep: string): number {
  let n = 1;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') quoted = !quoted;
    else if (c === sep && !quoted) n++;
  }
  return n;
}

function headerNames(fields: readonly string[], path: string): string[] {
  const names = fields.map((f, i) => (f.trim() === '' ? `c${i + 1}` : f.trim()));
  const seen = new Map<string, number>();
  names.forEach((n, i) => {
    const prev = seen.get(n);
    if (prev !== undefined)
      throw new InvalidInputError(
        `${path}: the header names column ${JSON.stringify(n)} twice (columns ${prev + 1} and ${i + 1}); expected unique names`,
      );
    seen.set(n, i);
  });
  return names;
}
