import { DecimalPrefix } from './decimal-scan.js';

/**
 * The one rule for what a CSV cell means, shared by model train/score/eval and the monitor: missing-value tokens,
 * numbers (with infinities), booleans, ISO dates and text. Documented in docs/model.md, "Reading tables".
 */

/** Cells read as missing by default (pandas' list); `--na-values` replaces it (`default` in the list expands to it). */
export const DEFAULT_NA_VALUES = [
  '',
  'NA',
  'N/A',
  'n/a',
  'NaN',
  'nan',
  '-NaN',
  '-nan',
  'NULL',
  'null',
  'None',
  '#N/A',
  '#N/A N/A',
  '#NA',
  '<NA>',
  '-1.#IND',
  '-1.#QNAN',
  '1.#IND',
  '1.#QNAN',
] as const;

/** `--na-values a,b,default`: the listed tokens, `default` standing for DEFAULT_NA_VALUES; empty cells always. */
export function naValuesFromList(raw: string): string[] {
  const out = new Set<string>(['']);
  for (const part of raw.split(',')) {
    const t = part.trim();
    if (t === 'default') for (const d of DEFAULT_NA_VALUES) out.add(d);
    else out.add(t);
  }
  return [...out];
}

export const CELL_KINDS = ['missing', 'number', 'infinity', 'boolean', 'date', 'text'] as const;
export type CellKind = (typeof CELL_KINDS)[number];

const INFINITIES = new Map<string, number>([
  ['inf', Number.POSITIVE_INFINITY],
  ['+inf', Number.POSITIVE_INFINITY],
  ['-inf', Number.NEGATIVE_INFINITY],
  ['infinity', Number.POSITIVE_INFINITY],
  ['+infinity', Number.POSITIVE_INFINITY],
  ['-infinity', Number.NEGATIVE_INFINITY],
]);

const ISO_DATE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}(?::?\d{2})?)?)?$/;

/** Classifies a cell and, for numbers, infinities, booleans (1/0) and dates (epoch ms, UTC), gives its value. */
export class CellReader {
  readonly #na: Set<string>;
  /** Value of the last classified cell (NaN for missing and text). */
  value = Number.NaN;

  /** Some token is itself a number (say -999): then the token test must come before the number test. */
  readonly #numericToken: boolean;
  readonly #prefix = new DecimalPrefix();

  constructor(naValues: readonly string[] = DEFAULT_NA_VALUES) {
    this.#na = new Set(naValues);
    this.#na.add('');
    this.#numericToken = [...this.#na].some((t) => t.trim() !== '' && !Number.isNaN(+t.trim()));
  }

  isMissing(cell: string): boolean {
    return this.#na.has(cell) || this.#na.has(trimmed(cell));
  }

  classify(cell: string): CellKind {
    const t = trimmed(cell);
    const c0 = t.charCodeAt(0);
    // fast path for the common cell, a plain number (no token is a number unless #numericToken)
    if (!this.#numericToken && c0 >= 48 && c0 <= 57) {
      const v = +t;
      if (!Number.isNaN(v) && !isRadixLiteral(t)) {
        this.value = v;
        return 'number';
      }
    }
    if (this.#na.has(t) || (t !== cell && this.#na.has(cell))) {
      this.value = Number.NaN;
      return 'missing';
    }
    // digits, sign or dot first: a number candidate (`+t` alone would accept hex, binary and octal literals)
    if ((c0 >= 48 && c0 <= 57) || c0 === 45 || c0 === 43 || c0 === 46) {
      const v = +t;
      if (!Number.isNaN(v) && !isRadixLiteral(t)) {
        this.value = v;
        return Number.isFinite(v) ? 'number' : 'infinity';
      }
      if (c0 >= 48 && c0 <= 57 && ISO_DATE.test(t)) {
        const ms = isoDateMs(t);
        if (!Number.isNaN(ms)) {
          this.value = ms;
          return 'date';
        }
      }
    }
    if (t.length <= 9) {
      const lower = t.toLowerCase();
      const inf = INFINITIES.get(lower);
      if (inf !== undefined) {
        this.value = inf;
        return 'infinity';
      }
      if (lower === 'true' || lower === 'false') {
        this.value = lower === 'true' ? 1 : 0;
        return 'boolean';
      }
    }
    this.value = Number.NaN;
    return 'text';
  }

  /** Where the number read by the last `plainNumberAt` stopped (see DecimalPrefix). */
  get stop(): number {
    return this.#prefix.stop;
  }

  /**
   * The plain decimal at the start of `text[start, limit)` read from the characters, with `stop` after it: when
   * `stop` is at the cell's end this is `number(cell)` without slicing the cell out (the common cell). NaN when it is
   * anything else (empty, a token, an infinity, text, digits of 2^53 or more...), and then the caller asks
   * `number` or `classify` with the cell. Always NaN when a missing-value token is itself a number (the token wins).
   */
  plainNumberAt(text: string, start: number, limit: number): number {
    if (this.#numericToken) {
      this.#prefix.stop = start;
      return Number.NaN;
    }
    return this.#prefix.read(text, start, limit);
  }

  /** `plainNumberAt` on a file's bytes (ASCII digits: the same value and `stop` as on the decoded characters). */
  plainNumberAtBytes(bytes: Uint8Array, start: number, limit: number): number {
    if (this.#numericToken) {
      this.#prefix.stop = start;
      return Number.NaN;
    }
    return this.#prefix.readBytes(bytes, start, limit);
  }

  /** A cell of a numeric column: its number (infinities, true/false as 1/0, dates as epoch ms); NaN otherwise. */
  number(cell: string): number {
    const k = this.classify(cell);
    return k === 'text' ? Number.NaN : this.value;
  }
}

function trimmed(cell: string): string {
  const n = cell.length;
  if (n === 0) return cell;
  const a = cell.charCodeAt(0);
  const b = cell.charCodeAt(n - 1);
  return a === 32 || a === 9 || b === 32 || b === 9 ? cell.trim() : cell;
}

function isRadixLiteral(t: string): boolean {
  if (t.length < 2) return false;
  const i = t.charCodeAt(0) === 48 ? 1 : t.charCodeAt(1) === 48 ? 2 : -1;
  if (i < 0) return false;
  const c = t.charCodeAt(i) | 32;
  return c === 120 || c === 98 || c === 111; // x, b, o
}

/** ISO 8601 date or timestamp to epoch ms; no offset means UTC (never the machine's time zone). */
export function isoDateMs(t: string): number {
  if (t.length === 10) return Date.parse(`${t}T00:00:00Z`);
  let s = t.replace(' ', 'T');
  if (!/(Z|[+-]\d{2}(:?\d{2})?)$/.test(s.slice(10))) s += 'Z';
  else if (/[+-]\d{4}$/.test(s)) s = `${s.slice(0, -2)}:${s.slice(-2)}`;
  else if (/[+-]\d{2}$/.test(s)) s += ':00';
  return Date.parse(s);
}

/** The category name of a cell in a categorical column: numbers by their value (8, 8.0 and 08 are "8"), else the text. */
export function categoryOf(cells: CellReader, cell: string): string | null {
  const k = cells.classify(cell);
  if (k === 'missing') return null;
  if (k === 'number' || k === 'infinity') return String(cells.value);
  return cell;
}
