import { InvalidInputError } from '../core/errors.js';
import { type CellKind, CellReader, DEFAULT_NA_VALUES } from './cells.js';
import { CsvReader, type CsvReadOptions } from './csv-reader.js';

/**
 * A CSV file read into typed columns by the shared cell rule (cells.ts) and one column-type rule:
 * - numeric when every present cell is a number, an infinity or a boolean (true/false as 1/0);
 * - temporal (numeric, epoch ms UTC) when every present cell is an ISO date or timestamp;
 * - categorical otherwise, or when named in `categorical`: numbers are named by their value ("8.0" is "8").
 * Every column whose type came from mixed content (missing-value tokens, infinities, or numbers mixed with text)
 * gets a note saying what was found, so no column changes type silently.
 */

export interface TableReadOptions extends CsvReadOptions {
  /** Cells read as missing (empty cells always are). Default DEFAULT_NA_VALUES. */
  readonly naValues?: readonly string[];
  /** Columns read as categorical whatever they hold. */
  readonly categorical?: readonly string[];
  /** Called with each note as well (for callers that cannot return them, such as the monitor's readers). */
  readonly onNote?: (note: string) => void;
}

export interface ParsedNumericColumn {
  readonly name: string;
  readonly kind: 'numeric';
  readonly values: Float64Array;
  /** Every present cell was an ISO date or timestamp (values are epoch ms). */
  readonly temporal: boolean;
}

export interface ParsedCategoricalColumn {
  readonly name: string;
  readonly kind: 'categorical';
  /** Index into `dictionary`, -1 for missing. */
  readonly codes: Int32Array;
  /** Sorted distinct values. */
  readonly dictionary: readonly string[];
}

export type ParsedColumn = ParsedNumericColumn | ParsedCategoricalColumn;

export interface ParsedTable {
  readonly path: string;
  readonly rows: number;
  readonly columns: readonly ParsedColumn[];
  /** One line per column typed from mixed content, and header warnings. */
  readonly notes: readonly string[];
  readonly sep: string;
}

const KIND_INDEX: Record<CellKind, number> = { missing: 0, number: 1, infinity: 2, boolean: 3, date: 4, text: 5 };

class ColumnBuilder {
  values: Float64Array;
  codes: Int32Array | null = null;
  readonly dict = new Map<string, number>();
  readonly counts = new Float64Array(6);
  readonly tokens = new Map<string, number>();
  posInf = 0;
  negInf = 0;
  constructor(
    readonly name: string,
    readonly forcedCategorical: boolean,
    capacity: number,
  ) {
    this.values = new Float64Array(capacity);
  }

  add(cells: CellReader, cell: string, row: number): void {
    if (row >= this.values.length) this.#grow(row);
    const kind = cells.classify(cell);
    const k = KIND_INDEX[kind];
    this.counts[k] = (this.counts[k] as number) + 1;
    this.values[row] = cells.value;
    if (kind === 'missing') {
      if (cell.trim() !== '') this.tokens.set(cell.trim(), (this.tokens.get(cell.trim()) ?? 0) + 1);
      if (this.codes) this.codes[row] = -1;
      return;
    }
    if (kind === 'infinity') {
      if (cells.value > 0) this.posInf++;
      else this.negInf++;
    }
    if (kind === 'number' || kind === 'infinity') {
      if (this.codes) this.codes[row] = -2; // named by value at the end
      return;
    }
    // text, boolean, date: keep the text (a column of them may end categorical)
    if (!this.codes) {
      this.codes = new Int32Array(this.values.length).fill(-2);
      for (let r = 0; r < row; r++) if (Number.isNaN(this.values[r] as number)) this.codes[r] = -1;
    }
    let code = this.dict.get(cell);
    if (code === undefined) {
      code = this.dict.size;
      this.dict.set(cell, code);
    }
    this.codes[row] = code;
  }

  #grow(row: number): void {
    const cap = Math.max(1024, this.values.length * 2, row + 1);
    const v = new Float64Array(cap);
    v.set(this.values);
    this.values = v;
    if (this.codes) {
      const c = new Int32Array(cap);
      c.set(this.codes);
      this.codes = c;
    }
  }

  finish(rows: number, notes: string[]): ParsedColumn {
    const [, nNum, nInf, nBool, nDate, nText] = Array.from(this.counts);
    const numericCells = (nNum as number) + (nInf as number);
    const present = numericCells + (nBool as number) + (nDate as number) + (nText as number);
    const tokenText = [...this.tokens.entries()].map(([t, n]) => `${n} ${JSON.stringify(t)}`).join(', ');
    const categorical =
      this.forcedCategorical || (nText as number) > 0 || ((nDate as number) > 0 && (nDate as number) < present);
    if (!categorical) {
      const temporal = (nDate as number) > 0;
      const parts: string[] = [];
      if (tokenText) parts.push(`${tokenText} read as missing`);
      if (nInf) parts.push(`${this.posInf} +inf and ${this.negInf} -inf kept as values`);
      if (parts.length > 0)
        notes.push(`column ${JSON.stringify(this.name)}: ${temporal ? 'temporal' : 'numeric'}; ${parts.join('; ')}`);
      return { name: this.name, kind: 'numeric', values: this.values.slice(0, rows), temporal };
    }
    // categorical: number cells named by their value, then the dictionary sorted (codes remapped)
    const codes = this.codes ? this.codes.slice(0, rows) : new Int32Array(rows).fill(-2);
    const dict = new Map(this.dict);
    for (let r = 0; r < rows; r++) {
      if (codes[r] !== -2) continue;
      const v = this.values[r] as number;
      if (Number.isNaN(v)) {
        codes[r] = -1;
        continue;
      }
      const t = String(v);
      let code = dict.get(t);
      if (code === undefined) {
        code = dict.size;
        dict.set(t, code);
      }
      codes[r] = code;
    }
    const entries = [...dict.keys()];
    const order = entries.map((_, i) => i).sort((a, b) => compareText(entries[a] as string, entries[b] as string));
    const remap = new Int32Array(entries.length);
    order.forEach((old, i) => {
      remap[old] = i;
    });
    for (let r = 0; r < rows; r++) {
      const c = codes[r] as number;
      if (c >= 0) codes[r] = remap[c] as number;
    }
    const dictionary = order.map((i) => entries[i] as string);
    if (!this.forcedCategorical && numericCells > 0) {
      const texts = [...this.dict.keys()].slice(0, 5).map((t) => JSON.stringify(t));
      notes.push(
        `column ${JSON.stringify(this.name)}: categorical from mixed content: ${numericCells} number cells and ${(nText as number) + (nBool as number) + (nDate as number)} text cells (${texts.join(', ')}${this.dict.size > 5 ? ', ...' : ''})${tokenText ? `; ${tokenText} read as missing` : ''}; if those texts mean missing, add them to --na-values`,
      );
    } else if (tokenText && !this.forcedCategorical) {
      notes.push(`column ${JSON.stringify(this.name)}: categorical; ${tokenText} read as missing`);
    }
    return { name: this.name, kind: 'categorical', codes, dictionary };
  }
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Whether a header looks like a data row: every name is a number. */
export function headerLooksLikeData(names: readonly string[], cells: CellReader): boolean {
  return (
    names.length > 0 &&
    names.every((n) => {
      const k = cells.classify(n);
      return k === 'number' || k === 'infinity';
    })
  );
}

/** Reads one CSV file, or several with the same header read as one table in order. */
export function readCsvTable(pathOrPaths: string | readonly string[], options: TableReadOptions = {}): ParsedTable {
  const paths = typeof pathOrPaths === 'string' ? [pathOrPaths] : [...pathOrPaths];
  if (paths.length === 0) throw new InvalidInputError('expected at least one CSV file');
  const cells = new CellReader(options.naValues ?? DEFAULT_NA_VALUES);
  const notes: string[] = [];
  const forced = new Set(options.categorical ?? []);
  let builders: ColumnBuilder[] | null = null;
  let names: readonly string[] = [];
  let rows = 0;
  let sep = ',';
  for (const path of paths) {
    const reader = new CsvReader(path, options);
    try {
      sep = reader.sep;
      if (reader.hasHeader && headerLooksLikeData(reader.columns, cells))
        notes.push(
          `warning: the header of ${path} looks like data (every name is a number: ${reader.columns
            .slice(0, 5)
            .map((c) => JSON.stringify(c))
            .join(', ')}); if the file has no header, pass --no-header`,
        );
      if (!builders) {
        names = reader.columns;
        for (const f of forced)
          if (!names.includes(f))
            throw new InvalidInputError(
              `--categorical column ${JSON.stringify(f)} is not in ${path}; columns are ${names.map((n) => JSON.stringify(n)).join(', ')}`,
            );
        builders = names.map((n) => new ColumnBuilder(n, forced.has(n), 1024));
      } else if (reader.columns.join('\u0000') !== names.join('\u0000')) {
        throw new InvalidInputError(
          `${path} has columns ${reader.columns.join(', ')}; expected the columns of ${paths[0]}: ${names.join(', ')}`,
        );
      }
      const bs = builders;
      for (let rec = reader.next(); rec; rec = reader.next()) {
        const f = rec.fields;
        for (let c = 0; c < bs.length; c++) (bs[c] as ColumnBuilder).add(cells, f[c] as string, rows);
        rows++;
      }
    } finally {
      reader.close();
    }
  }
  const columns = (builders ?? []).map((b) => b.finish(rows, notes));
  if (options.onNote) for (const n of notes) options.onNote(n);
  return {
    path: paths.length === 1 ? (paths[0] as string) : `${paths[0]} (+${paths.length - 1} more)`,
    rows,
    columns,
    notes,
    sep,
  };
}
