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
}

export interface CsvRecord {
  readonly fields: string[];
  /** The record as it is in the file, without its line end. */
  readonly raw: string;
  /** 1-based line of the file where the record starts. */
  readonly line: number;
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
  readonly #decoder = new TextDecoder('utf-8', { fatal: true });
  #text = '';
  #pos = 0;
  #line = 1;
  #eof = false;
  #bytesRead = 0;
  #pending: CsvRecord | null = null;
  #closed = false;

  constructor(path: string, options: CsvReadOptions = {}) {
    this.path = path;
    if (!existsSync(path) || !statSync(path).isFile()) throw new NotFoundError(`data file ${path} does not exist`);
    if (statSync(path).size === 0)
      throw new InvalidInputError(`data file ${path} is empty (0 bytes); expected a header row and data rows`);
    if (path.endsWith('.gz')) {
      this.#fd = null;
      this.#append(gunzipSync(readFileSync(path)), true);
    } else {
      this.#fd = openSync(path, 'r');
      this.#fill();
    }
    this.sep = options.sep === undefined ? this.#sniff() : normalizeSeparator(options.sep);
    const firstNl = this.#text.indexOf('\n');
    this.lineEnd = firstNl > 0 && this.#text.charCodeAt(firstNl - 1) === 13 ? '\r\n' : '\n';
    const first = this.#parse();
    if (!first) {
      this.close();
      throw new InvalidInputError(`data file ${path} has only blank lines; expected a header row and data rows`);
    }
    this.hasHeader = options.header !== false;
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
    const rec = this.#pending ?? this.#parse();
    this.#pending = null;
    if (rec && rec.fields.length !== this.columns.length) {
      const shown = rec.raw.length > 120 ? `${rec.raw.slice(0, 120)}...` : rec.raw;
      throw new InvalidInputError(
        `${this.path}, line ${rec.line}: ${rec.fields.length} fields, expected ${this.columns.length} like the ${this.hasHeader ? 'header' : 'first line'} (separator ${JSON.stringify(this.sep)}): ${JSON.stringify(shown)}`,
      );
    }
    return rec;
  }

  close(): void {
    if (this.#fd !== null && !this.#closed) closeSync(this.#fd);
    this.#closed = true;
  }

  #append(bytes: Uint8Array, final: boolean): void {
    try {
      this.#text += this.#decoder.decode(bytes, { stream: !final });
    } catch (err) {
      throw new InvalidInputError(
        `${this.path} is not UTF-8 text (invalid byte sequence in bytes ${this.#bytesRead}..${this.#bytesRead + bytes.length}); re-encode it as UTF-8`,
        { cause: err },
      );
    }
    this.#bytesRead += bytes.length;
    if (final) this.#eof = true;
  }

  /** Reads one more block; false at the end of the file. */
  #fill(): boolean {
    if (this.#eof || this.#fd === null) return false;
    if (this.#pos > 0) {
      this.#text = this.#text.slice(this.#pos);
      this.#pos = 0;
    }
    const buf = new Uint8Array(BLOCK_BYTES);
    const n = readSync(this.#fd, buf, 0, buf.length, null);
    this.#append(buf.subarray(0, n), n === 0);
    return true;
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

  #parse(): CsvRecord | null {
    for (;;) {
      const rec = this.#tryParse();
      if (rec !== undefined) return rec;
      if (!this.#fill()) return null;
    }
  }

  /** A record, null at the end of the data, undefined when the text so far ends inside a record. */
  #tryParse(): CsvRecord | null | undefined {
    const text = this.#text;
    const sep = this.sep;
    for (;;) {
      const start = this.#pos;
      if (start >= text.length) return this.#eof ? null : undefined;
      let nl = text.indexOf('\n', start);
      if (nl < 0) {
        if (!this.#eof) return undefined;
        nl = text.length;
      }
      let end = nl;
      if (end > start && text.charCodeAt(end - 1) === 13) end--;
      const raw = text.slice(start, end);
      if (raw.indexOf('"') < 0) {
        this.#pos = nl + 1;
        const line = this.#line++;
        if (raw.trim() === '') continue;
        return { fields: raw.split(sep), raw, line };
      }
      return this.#parseQuoted(start);
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
