/**
 * The drift report: running a comparison over whole files or profiles (column groups at a time) and the JSON
 * shape of `adnova monitor drift --json`.
 */
import { InvalidInputError } from '../core/index.js';
import type { ColumnKind, ColumnTable } from './column-table.js';
import { type DomainClassifierResult, domainClassifierDrift } from './domain-classifier.js';
import { type DatasetDriftResult, type DriftOptions, detectDrift, learnThresholds } from './drift-detector.js';
import { compareColumns, compareProfiles, type FeatureComparison } from './feature-comparison.js';
import { type DatasetProfile, type LearnedThreshold, PROFILE_FORMAT, profileColumn } from './profile.js';
import { type ColumnSchema, openTable, type ReadTableOptions, type TableSource } from './table-reader.js';

export interface DriftReportJson {
  readonly dataset: {
    readonly rows_reference: number;
    readonly rows_current: number;
    readonly drifted_share: number;
    readonly weighted_drifted_share: number;
    readonly drifted: boolean;
    /** Features with a data-quality alarm. */
    readonly quality_alarms: number;
  };
  readonly features: readonly {
    readonly name: string;
    readonly kind: ColumnKind;
    readonly null_share_reference: number;
    readonly null_share_current: number;
    readonly method: string;
    readonly score: number | null;
    readonly threshold: number | null;
    readonly drifted: boolean;
    readonly stats: {
      readonly ks_statistic: number | null;
      readonly ks_pvalue: number | null;
      readonly wasserstein_norm: number | null;
      readonly psi: number | null;
      readonly js_distance: number | null;
      readonly chi2_statistic: number | null;
      readonly chi2_pvalue: number | null;
      readonly linf: number | null;
    };
    /** Data quality against the reference; `issues` empty when fine. */
    readonly quality: {
      readonly out_of_range_share: number | null;
      readonly unseen_category_share: number | null;
      readonly unseen_categories: readonly string[];
      readonly issues: readonly string[];
    };
    /** Drifted or a data-quality issue. */
    readonly alarm: boolean;
  }[];
}

const fin = (x: number | null): number | null => (x === null || !Number.isFinite(x) ? null : x);

export function driftReportJson(r: DatasetDriftResult): DriftReportJson {
  return {
    dataset: {
      rows_reference: r.rowsReference,
      rows_current: r.rowsCurrent,
      drifted_share: r.driftedShare,
      weighted_drifted_share: r.weightedDriftedShare,
      drifted: r.drifted,
      quality_alarms: r.qualityAlarms,
    },
    features: r.features.map((f) => {
      const s = f.comparison.stats;
      return {
        name: f.comparison.name,
        kind: f.comparison.kind,
        null_share_reference: f.comparison.nullShareReference,
        null_share_current: f.comparison.nullShareCurrent,
        method: f.method,
        score: fin(f.score),
        threshold: fin(f.threshold),
        drifted: f.drifted,
        stats: {
          ks_statistic: fin(s.ksStatistic),
          ks_pvalue: fin(s.ksPvalue),
          wasserstein_norm: fin(s.wassersteinNorm),
          psi: fin(s.psi),
          js_distance: fin(s.jsDistance),
          chi2_statistic: fin(s.chi2Statistic),
          chi2_pvalue: fin(s.chi2Pvalue),
          linf: fin(s.linf),
        },
        quality: {
          out_of_range_share: fin(f.comparison.quality.outOfRangeShare),
          unseen_category_share: fin(f.comparison.quality.unseenCategoryShare),
          unseen_categories: f.comparison.quality.unseenCategories,
          issues: f.quality.issues,
        },
        alarm: f.alarm,
      };
    }),
  };
}

const KIND_WORD: Record<ColumnKind, string> = { numeric: 'numeric', categorical: 'text' };

/** Same column names and kinds in both inputs, or an InvalidInputError that lists the differences. */
export function checkSameSchema(
  reference: readonly Pick<ColumnSchema, 'name' | 'kind'>[],
  current: readonly Pick<ColumnSchema, 'name' | 'kind'>[],
  labels = { reference: 'reference', current: 'current' },
): void {
  const cur = new Map(current.map((c) => [c.name, c]));
  const ref = new Map(reference.map((c) => [c.name, c]));
  const missing = reference.filter((c) => !cur.has(c.name)).map((c) => c.name);
  const extra = current.filter((c) => !ref.has(c.name)).map((c) => c.name);
  if (missing.length > 0 || extra.length > 0) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing from ${labels.current}: ${missing.join(', ')}`);
    if (extra.length) parts.push(`only in ${labels.current}: ${extra.join(', ')}`);
    throw new InvalidInputError(
      `${labels.reference} and ${labels.current} must have the same columns (${parts.join('; ')})`,
    );
  }
  const changed = reference.filter((c) => (cur.get(c.name) as { kind: ColumnKind }).kind !== c.kind);
  if (changed.length > 0) {
    throw new InvalidInputError(
      `column types differ: ${changed
        .map(
          (c) =>
            `"${c.name}" is ${KIND_WORD[c.kind]} in ${labels.reference} but ${KIND_WORD[(cur.get(c.name) as { kind: ColumnKind }).kind]} in ${labels.current}`,
        )
        .join('; ')}`,
    );
  }
}

/** Exact comparison of two in-memory tables. */
export function compareTables(reference: ColumnTable, current: ColumnTable): FeatureComparison[] {
  checkSameSchema(reference.columns, current.columns);
  const cur = new Map(current.columns.map((c) => [c.name, c]));
  return reference.columns.map((c) => compareColumns(c, cur.get(c.name) as (typeof current.columns)[number]));
}

/**
 * Chunks for learned thresholds by the value of a column (e.g. a date: one chunk per day): the row order that groups
 * the reference by it (groups in order of value, rows in file order within one) and the group sizes.
 */
export interface ChunkLayout {
  readonly order: Uint32Array;
  readonly sizes: readonly number[];
}

/** Smallest median chunk `--chunk-col` accepts: statistics of fewer rows are mostly noise. */
export const MIN_CHUNK_ROWS = 20;

export async function chunkLayoutOf(source: TableSource, column: string): Promise<ChunkLayout> {
  if (!source.schema.some((c) => c.name === column)) {
    throw new InvalidInputError(
      `--chunk-col: the reference has no column "${column}"; columns are ${source.schema.map((c) => c.name).join(', ')}`,
    );
  }
  const col = (await source.readColumns([column])).columns[0] as ColumnTable['columns'][number];
  const n = col.kind === 'numeric' ? col.values.length : col.codes.length;
  const keyOf =
    col.kind === 'numeric'
      ? (i: number) => col.values[i] as number
      : (i: number) => {
          const code = col.codes[i] as number;
          return code < 0 ? Number.NaN : code;
        };
  // numeric keys sort by value; text keys by their text (dates as text sort by date)
  const rank =
    col.kind === 'numeric'
      ? (a: number, b: number) => a - b
      : (a: number, b: number) => (col.dictionary[a] as string).localeCompare(col.dictionary[b] as string);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  const nan = (x: number) => Number.isNaN(x);
  order.sort((a, b) => {
    const ka = keyOf(a);
    const kb = keyOf(b);
    if (nan(ka) || nan(kb)) return nan(ka) === nan(kb) ? a - b : nan(ka) ? 1 : -1;
    return rank(ka, kb) || a - b;
  });
  // rows without a value (sorted last) belong to no chunk
  let kept = n;
  while (kept > 0 && nan(keyOf(order[kept - 1] as number))) kept--;
  const sizes: number[] = [];
  let prev = Number.NaN;
  for (let j = 0; j < kept; j++) {
    const k = keyOf(order[j] as number);
    if (sizes.length === 0 || k !== prev) sizes.push(1);
    else sizes[sizes.length - 1] = (sizes[sizes.length - 1] as number) + 1;
    prev = k;
  }
  const median = [...sizes].sort((a, b) => a - b)[Math.floor(sizes.length / 2)] ?? 0;
  if (median < MIN_CHUNK_ROWS) {
    throw new InvalidInputError(
      `--chunk-col ${column}: one chunk per distinct value gives ${sizes.length} chunks of median ${median} rows; chunks need at least ${MIN_CHUNK_ROWS} rows (a timestamp makes one chunk per row: use a date column, or --chunk-rows)`,
    );
  }
  return { order: order.subarray(0, kept), sizes };
}

/** The table's rows in the given order. */
export function reorderRows(t: ColumnTable, order: Uint32Array): ColumnTable {
  return {
    rows: order.length,
    columns: t.columns.map((c) =>
      c.kind === 'numeric'
        ? { ...c, values: Float64Array.from(order, (i) => c.values[i] as number) }
        : { ...c, codes: Int32Array.from(order, (i) => c.codes[i] as number) },
    ),
  };
}

function learnFrom(table: ColumnTable, chunking: { chunkRows?: number; layout?: ChunkLayout }) {
  return chunking.layout
    ? learnThresholds(reorderRows(table, chunking.layout.order), { chunkSizes: chunking.layout.sizes })
    : learnThresholds(table, { chunkRows: chunking.chunkRows as number });
}

export interface DriftFilesOptions extends ReadTableOptions {
  readonly reference?: string;
  readonly referenceProfile?: DatasetProfile;
  readonly current: string;
  readonly drift?: Partial<DriftOptions>;
  /** Learn per-feature thresholds from the reference file with chunks of this many rows (default: current rows). */
  readonly learnThresholds?: boolean;
  readonly chunkRows?: number;
  /** Learn with one chunk per value of this reference column (e.g. a date); the column is not compared. */
  readonly chunkColumn?: string;
  /** Columns read per group (memory bound for wide files). */
  readonly groupSize?: number;
  /** Also train a domain classifier (needs the reference file, reads all columns of both). */
  readonly domainClassifier?: boolean;
}

export interface DriftRun {
  readonly result: DatasetDriftResult;
  readonly comparisons: readonly FeatureComparison[];
  readonly multivariate?: DomainClassifierResult;
}

/** `monitor drift` over files (or a stored reference profile and a file), column groups at a time. */
export async function driftFromFiles(options: DriftFilesOptions): Promise<DriftRun> {
  if (!options.reference && !options.referenceProfile) {
    throw new InvalidInputError('drift needs a reference: a reference file or a reference profile');
  }
  if (options.domainClassifier && !options.reference) {
    throw new InvalidInputError('the domain classifier needs the reference file (--reference), not a profile');
  }
  const groupSize = options.groupSize ?? 200;
  const sources: TableSource[] = [];
  try {
    const cur = await openTable(options.current, options);
    sources.push(cur);
    const comparisons: FeatureComparison[] = [];
    let rowsReference: number;
    let multivariate: DomainClassifierResult | undefined;
    let thresholds = options.referenceProfile?.thresholds;
    if (options.referenceProfile) {
      const p = options.referenceProfile;
      const chunkColumn = options.chunkColumn ?? p.chunkColumn;
      checkSameSchema(
        p.features,
        cur.schema.filter((c) => c.name !== chunkColumn),
        { reference: 'the reference profile', current: options.current },
      );
      rowsReference = p.rows;
      const byName = new Map(p.features.map((f) => [f.name, f]));
      const names = p.features.map((f) => f.name);
      for (let g = 0; g < names.length; g += groupSize) {
        const table = await cur.readColumns(names.slice(g, g + groupSize));
        for (const col of table.columns) {
          const refProfile = byName.get(col.name);
          if (!refProfile) continue;
          comparisons.push(compareProfiles(refProfile, profileColumn(col, refProfile)));
        }
      }
    } else {
      const ref = await openTable(options.reference as string, options);
      sources.push(ref);
      const compared = (schema: readonly ColumnSchema[]) => schema.filter((c) => c.name !== options.chunkColumn);
      checkSameSchema(compared(ref.schema), compared(cur.schema), {
        reference: options.reference as string,
        current: options.current,
      });
      rowsReference = ref.rows;
      const names = compared(ref.schema).map((c) => c.name);
      const layout =
        options.learnThresholds && options.chunkColumn ? await chunkLayoutOf(ref, options.chunkColumn) : undefined;
      const learned: Record<string, LearnedThreshold> = {};
      for (let g = 0; g < names.length; g += groupSize) {
        const group = names.slice(g, g + groupSize);
        const refTable = await ref.readColumns(group);
        const curTable = await cur.readColumns(group);
        comparisons.push(...compareTables(refTable, curTable));
        if (options.learnThresholds) {
          Object.assign(
            learned,
            learnFrom(refTable, layout ? { layout } : { chunkRows: options.chunkRows ?? cur.rows }),
          );
        }
      }
      if (options.learnThresholds) thresholds = learned;
      if (options.domainClassifier) multivariate = domainClassifierDrift(await ref.readAll(), await cur.readAll());
    }
    const result = detectDrift(
      comparisons,
      { reference: rowsReference, current: cur.rows },
      { ...options.drift, ...(thresholds ? { thresholds } : {}) },
    );
    return { result, comparisons, ...(multivariate ? { multivariate } : {}) };
  } finally {
    for (const s of sources) s.close();
  }
}

/** Reference profile of a file (optionally with learned thresholds), column groups at a time. */
export async function profileFile(
  path: string,
  options: ReadTableOptions & { learnChunkRows?: number; learnChunkColumn?: string; groupSize?: number } = {},
): Promise<DatasetProfile> {
  const source = await openTable(path, options);
  try {
    const groupSize = options.groupSize ?? 200;
    const names = source.schema.map((c) => c.name).filter((n) => n !== options.learnChunkColumn);
    const features: DatasetProfile['features'][number][] = [];
    const thresholds: Record<string, LearnedThreshold> = {};
    const layout = options.learnChunkColumn ? await chunkLayoutOf(source, options.learnChunkColumn) : undefined;
    const learn = layout !== undefined || options.learnChunkRows !== undefined;
    for (let g = 0; g < names.length; g += groupSize) {
      const table = await source.readColumns(names.slice(g, g + groupSize));
      for (const col of table.columns) features.push(profileColumn(col, undefined));
      if (learn)
        Object.assign(
          thresholds,
          learnFrom(table, layout ? { layout } : { chunkRows: options.learnChunkRows as number }),
        );
    }
    return {
      format: PROFILE_FORMAT,
      rows: source.rows,
      features,
      ...(learn ? { thresholds } : {}),
      ...(options.learnChunkColumn ? { chunkColumn: options.learnChunkColumn } : {}),
    };
  } finally {
    source.close();
  }
}
