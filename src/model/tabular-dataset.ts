import { InvalidInputError } from '../core/index.js';
import { CellReader, categoryOf } from '../tables/index.js';
import type { ArtifactColumn } from './artifact.js';
import type { Table, TableColumn } from './duckdb-table-io.js';
import type { FeatureKind, ModelMatrix } from './model-matrix.js';

const TRUE_WORDS = new Set(['1', 'true', 'yes', 'y', 't']);
const FALSE_WORDS = new Set(['0', 'false', 'no', 'n', 'f']);

export interface TabularDataset {
  readonly matrix: ModelMatrix;
  readonly labels: Uint8Array;
  readonly columns: readonly ArtifactColumn[];
  readonly positive: string;
}

function columnOrThrow(table: Table, name: string, role: string): TableColumn {
  const col = table.columns.find((c) => c.name === name);
  if (!col) {
    throw new InvalidInputError(
      `${role} column "${name}" is not in the data; columns are: ${table.columns.map((c) => JSON.stringify(c.name)).join(', ')}`,
    );
  }
  return col;
}

function cellText(col: TableColumn, r: number): string | null {
  if (col.type === 'number') {
    const v = col.numbers?.[r] as number;
    return !Number.isNaN(v) ? String(v) : null;
  }
  return col.texts?.[r] ?? null;
}

/**
 * Labels from a column: 1/0, true/false or yes/no (any case), or `positive` = the value that means 1 when the
 * column has exactly two distinct values.
 */
export function parseLabels(
  table: Table,
  labelColumn: string,
  positive?: string,
): { labels: Uint8Array; positive: string } {
  const col = columnOrThrow(table, labelColumn, 'label');
  const distinct = new Map<string, number>();
  let nulls = 0;
  for (let r = 0; r < table.rows; r++) {
    const t = cellText(col, r);
    if (t === null) nulls++;
    else distinct.set(t, (distinct.get(t) ?? 0) + 1);
  }
  if (nulls > 0)
    throw new InvalidInputError(
      `label column "${labelColumn}" is empty in ${nulls} of ${table.rows} rows; every row needs a label`,
    );
  const values = [...distinct.keys()];
  if (values.length > 2) {
    const shown = values
      .slice(0, 5)
      .map((v) => JSON.stringify(v))
      .join(', ');
    throw new InvalidInputError(
      `label column "${labelColumn}" has ${values.length} distinct values (${shown}${values.length > 5 ? ', ...' : ''}); expected two: 1/0, true/false or yes/no`,
    );
  }
  let isPositive: (t: string) => boolean;
  let pos: string;
  if (positive !== undefined) {
    if (!distinct.has(positive)) {
      throw new InvalidInputError(
        `--positive ${JSON.stringify(positive)} is not a value of "${labelColumn}"; its values are ${values.map((v) => JSON.stringify(v)).join(', ')}`,
      );
    }
    isPositive = (t) => t === positive;
    pos = positive;
  } else {
    const unknown = values.filter((v) => !TRUE_WORDS.has(v.toLowerCase()) && !FALSE_WORDS.has(v.toLowerCase()));
    if (unknown.length > 0) {
      throw new InvalidInputError(
        `label column "${labelColumn}" has values ${values.map((v) => JSON.stringify(v)).join(', ')}; expected 1/0, true/false or yes/no, or name the positive value with --positive`,
      );
    }
    isPositive = (t) => TRUE_WORDS.has(t.toLowerCase());
    pos = values.find((v) => TRUE_WORDS.has(v.toLowerCase())) ?? '1';
  }
  const labels = new Uint8Array(table.rows);
  for (let r = 0; r < table.rows; r++) labels[r] = isPositive(cellText(col, r) as string) ? 1 : 0;
  return { labels, positive: pos };
}

/** Text columns become categorical with a vocabulary ranked by frequency (ties by text); numbers stay numeric. */
export function buildFeatureColumns(table: Table, exclude: ReadonlySet<string>): ArtifactColumn[] {
  const out: ArtifactColumn[] = [];
  for (const col of table.columns) {
    if (exclude.has(col.name)) continue;
    if (col.type === 'number') {
      out.push({ name: col.name, kind: 'numeric' });
      continue;
    }
    const freq = new Map<string, number>();
    for (const t of col.texts ?? []) if (t !== null) freq.set(t, (freq.get(t) ?? 0) + 1);
    const vocabulary = [...freq.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([t]) => t);
    out.push({ name: col.name, kind: 'categorical' as FeatureKind, vocabulary });
  }
  return out;
}

/** The model matrix for `columns` (in that order) from a table; unknown categories get code -1 ("other"). */
export function matrixFromTable(table: Table, columns: readonly ArtifactColumn[]): ModelMatrix {
  const n = table.rows;
  const cells = new CellReader();
  const values = new Float32Array(n * columns.length);
  columns.forEach((spec, c) => {
    const col = columnOrThrow(table, spec.name, 'feature');
    const out = values.subarray(c * n, (c + 1) * n);
    if (spec.kind === 'categorical' && spec.vocabulary) {
      const codes = new Map(spec.vocabulary.map((t, i) => [t, i]));
      for (let r = 0; r < n; r++) {
        // text cells by src/tables' rule (numbers named by their value), as the streamed CSV scorer reads them
        const raw = cellText(col, r);
        const t = raw === null || col.type === 'number' ? raw : categoryOf(cells, raw);
        out[r] = t === null ? Number.NaN : (codes.get(t) ?? -1);
      }
    } else if (col.type === 'number') {
      const src = col.numbers as Float64Array;
      for (let r = 0; r < n; r++) out[r] = src[r] as number;
    } else {
      // a numeric model column arrived as text: src/tables' cell rule (infinities kept), other text is missing
      const texts = col.texts as (string | null)[];
      for (let r = 0; r < n; r++) {
        const t = texts[r];
        out[r] = t === null || t === undefined ? Number.NaN : cells.number(t);
      }
    }
  });
  return { rows: n, columns: columns.map((c) => c.name), values };
}

export interface BuildDatasetOptions {
  readonly label: string;
  readonly positive?: string;
  readonly exclude?: readonly string[];
}

export function buildTabularDataset(table: Table, options: BuildDatasetOptions): TabularDataset {
  if (table.rows === 0)
    throw new InvalidInputError('the data has a header but no rows; expected at least one data row');
  const { labels, positive } = parseLabels(table, options.label, options.positive);
  for (const e of options.exclude ?? []) columnOrThrow(table, e, '--exclude');
  const columns = buildFeatureColumns(table, new Set([options.label, ...(options.exclude ?? [])]));
  if (columns.length === 0)
    throw new InvalidInputError(
      `no feature columns left after removing the label "${options.label}" and the excluded columns`,
    );
  return { matrix: matrixFromTable(table, columns), labels, columns, positive };
}

/** A column's values as text, for segment metrics. */
export function segmentValues(table: Table, name: string): string[] {
  const col = columnOrThrow(table, name, 'segment');
  return Array.from({ length: table.rows }, (_, r) => cellText(col, r) ?? '(missing)');
}

export function numericColumn(table: Table, name: string, role: string): Float64Array {
  const col = columnOrThrow(table, name, role);
  if (col.type !== 'number')
    throw new InvalidInputError(`${role} column "${name}" must be numeric or a date/timestamp, it holds text`);
  const values = col.numbers as Float64Array;
  // infinities are feature values (docs/model.md, Reading tables) but no time or order
  const bad = values.findIndex((v) => v === Number.POSITIVE_INFINITY || v === Number.NEGATIVE_INFINITY);
  if (bad >= 0)
    throw new InvalidInputError(
      `${role} column "${name}" holds ${values[bad]} in data row ${bad + 1}; expected finite numbers or dates`,
    );
  return values;
}
