import { type FeatureMatrix, InvalidInputError, rowCount } from '../core/index.js';

/**
 * Column-at-a-time tables the monitor works on: numeric columns as typed arrays with NaN for null, categorical
 * columns as Int32 codes (-1 for null) into a dictionary. No object per row.
 */
export interface NumericColumn {
  readonly name: string;
  readonly kind: 'numeric';
  readonly values: Float64Array | Float32Array;
}

export interface CategoricalColumn {
  readonly name: string;
  readonly kind: 'categorical';
  readonly codes: Int32Array;
  readonly dictionary: readonly string[];
}

export type Column = NumericColumn | CategoricalColumn;
export type ColumnKind = Column['kind'];

export interface ColumnTable {
  readonly rows: number;
  readonly columns: readonly Column[];
}

export function columnLength(c: Column): number {
  return c.kind === 'numeric' ? c.values.length : c.codes.length;
}

export function columnByName(t: ColumnTable, name: string): Column | undefined {
  return t.columns.find((c) => c.name === name);
}

/** Builds a categorical column from strings (null/undefined/'' are missing). For tests and small inputs. */
export function categoricalFromStrings(
  name: string,
  values: readonly (string | null | undefined)[],
): CategoricalColumn {
  const index = new Map<string, number>();
  const dictionary: string[] = [];
  const codes = new Int32Array(values.length);
  values.forEach((v, i) => {
    if (v === null || v === undefined || v === '') {
      codes[i] = -1;
      return;
    }
    let code = index.get(v);
    if (code === undefined) {
      code = dictionary.length;
      index.set(v, code);
      dictionary.push(v);
    }
    codes[i] = code;
  });
  return { name, kind: 'categorical', codes, dictionary };
}

export function numericColumn(name: string, values: Float64Array | Float32Array): NumericColumn {
  return { name, kind: 'numeric', values };
}

/** Checks that every column has `rows` values and names are unique. */
export function validateTable(t: ColumnTable, what: string): ColumnTable {
  const seen = new Set<string>();
  for (const c of t.columns) {
    if (seen.has(c.name)) throw new InvalidInputError(`${what}: column "${c.name}" appears twice`);
    seen.add(c.name);
    if (columnLength(c) !== t.rows) {
      throw new InvalidInputError(`${what}: column "${c.name}" has ${columnLength(c)} values, expected ${t.rows}`);
    }
  }
  return t;
}

/**
 * A FeatureMatrix as a table, zero-copy (column subarrays). Columns named in `vocabularies` are categorical:
 * their values are integer codes into that vocabulary (NaN or out-of-range codes are missing).
 */
export function tableFromFeatureMatrix(
  m: FeatureMatrix,
  vocabularies: Readonly<Record<string, readonly string[]>> = {},
): ColumnTable {
  const rows = rowCount(m);
  const columns: Column[] = m.columns.map((name, c) => {
    const values = m.values.subarray(c * rows, (c + 1) * rows);
    const vocab = vocabularies[name];
    if (!vocab) return numericColumn(name, values);
    const codes = new Int32Array(rows);
    for (let i = 0; i < rows; i++) {
      const v = values[i] as number;
      codes[i] = Number.isInteger(v) && v >= 0 && v < vocab.length ? v : -1;
    }
    return { name, kind: 'categorical', codes, dictionary: vocab };
  });
  return { rows, columns };
}
