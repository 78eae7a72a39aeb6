import { InvalidInputError } from '../core/errors.js';
import type { FeatureMatrix } from '../core/feature-matrix.js';

/** Whether a column holds numbers or integer category codes. */
export const FEATURE_KINDS = ['numeric', 'categorical'] as const;
export type FeatureKind = (typeof FEATURE_KINDS)[number];

/**
 * The matrix the trainer and the scorer read: column-major Float32 (`values[col * rows + row]`), NaN = missing.
 * Categorical columns hold integer codes (>= 0). A core `FeatureMatrix` converts with `fromFeatureMatrix`.
 */
export interface ModelMatrix {
  readonly rows: number;
  readonly columns: readonly string[];
  readonly values: Float32Array;
}

export function createModelMatrix(columns: readonly string[], values: Float32Array, rows?: number): ModelMatrix {
  const n = rows ?? (columns.length === 0 ? 0 : values.length / columns.length);
  if (!Number.isInteger(n) || n * columns.length !== values.length) {
    throw new InvalidInputError(
      `matrix values have length ${values.length}, expected rows x columns = ${n} x ${columns.length}`,
    );
  }
  return { rows: n, columns, values };
}

/** Zero-copy view of a core FeatureMatrix. */
export function fromFeatureMatrix(m: FeatureMatrix): ModelMatrix {
  return { rows: m.entityIds.length, columns: m.columns, values: m.values };
}

/** Rows `[start, end)` or the listed rows of a matrix, copied into a new column-major matrix. */
export function selectRows(m: ModelMatrix, rowIdx: ArrayLike<number>): ModelMatrix {
  const n = rowIdx.length;
  const out = new Float32Array(n * m.columns.length);
  for (let c = 0; c < m.columns.length; c++) {
    const src = m.values.subarray(c * m.rows, (c + 1) * m.rows);
    const base = c * n;
    for (let i = 0; i < n; i++) out[base + i] = src[rowIdx[i] as number] as number;
  }
  return { rows: n, columns: m.columns, values: out };
}

export function rangeIndex(start: number, end: number): Uint32Array {
  const out = new Uint32Array(Math.max(0, end - start));
  for (let i = 0; i < out.length; i++) out[i] = start + i;
  return out;
}
