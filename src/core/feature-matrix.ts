import { InvalidInputError } from './errors.js';

/** Status of one feature view's values for one entity. Stored as a Uint8 code. */
export const FEATURE_STATUSES = ['present', 'missing', 'expired', 'defaulted'] as const;
export type FeatureStatus = (typeof FEATURE_STATUSES)[number];
export const FeatureStatusCode = { present: 0, missing: 1, expired: 2, defaulted: 3 } as const satisfies Record<
  FeatureStatus,
  number
>;

/** A contiguous run of columns that come from one feature view. */
export interface FeatureMatrixView {
  readonly name: string;
  /** First column index (inclusive). */
  readonly start: number;
  /** Last column index (exclusive). */
  readonly end: number;
}

/**
 * The one shape features travel in, online and offline: rows are entities, columns are a feature service's
 * fixed order. Values are column-major (`values[col * rows + row]`) so a column is a zero-copy `subarray`.
 * Categorical values are integer codes from a versioned vocabulary; missing values are NaN.
 * `status` and `ageMs` are per view and row (`[view * rows + row]`); age is `-1` when unknown.
 */
export interface FeatureMatrix {
  readonly entityIds: readonly string[];
  readonly columns: readonly string[];
  readonly views: readonly FeatureMatrixView[];
  readonly values: Float32Array;
  readonly status: Uint8Array;
  readonly ageMs: Float64Array;
}

/** An empty (all NaN, all `missing`) matrix with the given layout, for readers to fill in place. */
export function createFeatureMatrix(
  entityIds: readonly string[],
  columns: readonly string[],
  views: readonly FeatureMatrixView[] = [{ name: 'default', start: 0, end: columns.length }],
): FeatureMatrix {
  validateViews(columns.length, views);
  const rows = entityIds.length;
  const values = new Float32Array(rows * columns.length).fill(Number.NaN);
  const status = new Uint8Array(rows * views.length).fill(FeatureStatusCode.missing);
  const ageMs = new Float64Array(rows * views.length).fill(-1);
  return { entityIds, columns, views, values, status, ageMs };
}

export function rowCount(m: FeatureMatrix): number {
  return m.entityIds.length;
}

/** Zero-copy view of one column. */
export function columnValues(m: FeatureMatrix, col: number): Float32Array {
  const rows = m.entityIds.length;
  if (col < 0 || col >= m.columns.length) throw new RangeError(`column ${col} out of range 0..${m.columns.length - 1}`);
  return m.values.subarray(col * rows, (col + 1) * rows);
}

export function columnIndexOrThrow(m: FeatureMatrix, name: string): number {
  const idx = m.columns.indexOf(name);
  if (idx < 0)
    throw new InvalidInputError(`feature matrix has no column "${name}"; columns are ${m.columns.join(', ')}`);
  return idx;
}

export function valueAt(m: FeatureMatrix, row: number, col: number): number {
  return m.values[col * m.entityIds.length + row] as number;
}

export function viewStatus(m: FeatureMatrix, view: number, row: number): FeatureStatus {
  return FEATURE_STATUSES[m.status[view * m.entityIds.length + row] as number] as FeatureStatus;
}

/** One row as a dense Float32Array in column order (a copy; for single-row paths prefer reading in place). */
export function rowValues(m: FeatureMatrix, row: number, out = new Float32Array(m.columns.length)): Float32Array {
  const rows = m.entityIds.length;
  for (let c = 0; c < m.columns.length; c++) out[c] = m.values[c * rows + row] as number;
  return out;
}

function validateViews(columnCount: number, views: readonly FeatureMatrixView[]): void {
  let expectedStart = 0;
  for (const v of views) {
    if (v.start !== expectedStart || v.end < v.start) {
      throw new InvalidInputError(
        `feature matrix views must tile the columns in order; view "${v.name}" covers ${v.start}..${v.end}, expected to start at ${expectedStart}`,
      );
    }
    expectedStart = v.end;
  }
  if (expectedStart !== columnCount) {
    throw new InvalidInputError(`feature matrix views cover ${expectedStart} columns, but there are ${columnCount}`);
  }
}
