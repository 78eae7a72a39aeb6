/**
 * The drift report: running a comparison over whole files or profiles (column groups at a time) and the JSON
 * shape of `adnova monitor drift --json`.
 */
import { InvalidInputError } from '../core/index.js';
import type { ColumnKind, ColumnTable } from './column-table.js';
import { type DomainClassifierResult, domainClassifierDrift } from './domain-classifier.js';
import {
  type DatasetDriftResult,
  type DriftOptions,
  detectDrift,
  type FeatureDriftResult,
  learnThresholds,
} from './drift-detector.js';
import { SchemaMismatchError } from './errors.js';
import { compareColumns, compareProfiles, type FeatureComparison, featureKindOf } from './feature-comparison.js';
import { type DatasetProfile, type LearnedThreshold, PROFILE_FORMAT, profileColumn } from './profile.js';
import { type ColumnSchema, openTable, type ReadTableOptions, type TableSource } from './table-reader.js';
import {
  type LabelCounts,
  type LabelDriftResult,
  labelCounts,
  labelCountsFromProfile,
  labelDriftFromCounts,
  labelsFromColumn,
} from './target-drift.js';

/** Label drift of a named label column (reported apart from feature drift). */
export interface LabelDriftReport extends LabelDriftResult {
  readonly column: string;
}

export interface FeatureDriftJson {
  readonly name: string;
  /** The feature's own kind (a feature compared on a model's bins keeps its kind; see `binned`). */
  readonly kind: ColumnKind;
  /** Present (true) when the statistics were computed on a model's training bins. */
  readonly binned?: true;
  readonly nullShareReference: number;
  readonly nullShareCurrent: number;
  readonly method: string;
  readonly score: number | null;
  readonly threshold: number | null;
  /** The feature's unadjusted test p-value (KS, or chi-square for categorical and binned features). */
  readonly pvalue: number | null;
  /** The ranking quantity: max(drift severity, data-quality severity); > 1 is an alarm. Features are sorted by it. */
  readonly rank: number | null;
  readonly drifted: boolean;
  readonly stats: {
    readonly ksStatistic: number | null;
    readonly ksPvalue: number | null;
    readonly wassersteinNorm: number | null;
    readonly psi: number | null;
    readonly jsDistance: number | null;
    readonly chi2Statistic: number | null;
    readonly chi2Pvalue: number | null;
    readonly linf: number | null;
  };
  /** Data quality against the reference; `issues` empty when fine. */
  readonly quality: {
    readonly outOfRangeShare: number | null;
    readonly unseenCategoryShare: number | null;
    readonly unseenCategories: readonly string[];
    readonly issues: readonly string[];
  };
  /** Drifted or a data-quality issue. */
  readonly alarm: boolean;
}

export interface LabelDriftJson {
  readonly column: string;
  readonly maturedReference: number;
  readonly maturedCurrent: number;
  readonly baseRateReference: number | null;
  readonly baseRateCurrent: number | null;
  readonly difference: number | null;
  readonly pvalue: number | null;
  readonly drifted: boolean;
}

export interface DriftReportJson {
  readonly dataset: {
    readonly rowsReference: number;
    readonly rowsCurrent: number;
    readonly driftedShare: number;
    readonly weightedDriftedShare: number;
    readonly drifted: boolean;
    /** Features with a data-quality alarm. */
    readonly qualityAlarms: number;
  };
  readonly features: readonly FeatureDriftJson[];
  /** Label drift of the label column (the model's label or the one named), kept out of the features. */
  readonly label?: LabelDriftJson;
  /** Drift of the model's scores. */
  readonly prediction?: FeatureDriftJson;
}

const fin = (x: number | null): number | null => (x === null || !Number.isFinite(x) ? null : x);

export function featureDriftJson(f: FeatureDriftResult): FeatureDriftJson {
  const s = f.comparison.stats;
  return {
    name: f.comparison.name,
    kind: featureKindOf(f.comparison),
    ...(f.comparison.binned ? { binned: true as const } : {}),
    nullShareReference: f.comparison.nullShareReference,
    nullShareCurrent: f.comparison.nullShareCurrent,
    method: f.method,
    score: fin(f.score),
    threshold: fin(f.threshold),
    pvalue: fin(f.pvalue),
    rank: fin(f.rank),
    drifted: f.drifted,
    stats: {
      ksStatistic: fin(s.ksStatistic),
      ksPvalue: fin(s.ksPvalue),
      wassersteinNorm: fin(s.wassersteinNorm),
      psi: fin(s.psi),
      jsDistance: fin(s.jsDistance),
      chi2Statistic: fin(s.chi2Statistic),
      chi2Pvalue: fin(s.chi2Pvalue),
      linf: fin(s.linf),
    },
    quality: {
      outOfRangeShare: fin(f.comparison.quality.outOfRangeShare),
      unseenCategoryShare: fin(f.comparison.quality.unseenCategoryShare),
      unseenCategories: f.comparison.quality.unseenCategories,
      issues: f.quality.issues,
    },
    alarm: f.alarm,
  };
}

export function labelDriftJson(l: LabelDriftReport): LabelDriftJson {
  return {
    column: l.column,
    maturedReference: l.maturedReference,
    maturedCurrent: l.maturedCurrent,
    baseRateReference: fin(l.baseRateReference),
    baseRateCurrent: fin(l.baseRateCurrent),
    difference: fin(l.difference),
    pvalue: fin(l.pvalue),
    drifted: l.drifted,
  };
}

/** The `--json` report; `label` and `prediction` only when there are such results. */
export function driftReportJson(
  r: DatasetDriftResult,
  extras: { readonly label?: LabelDriftReport; readonly prediction?: FeatureDriftResult } = {},
): DriftReportJson {
  return {
    dataset: {
      rowsReference: r.rowsReference,
      rowsCurrent: r.rowsCurrent,
      driftedShare: r.driftedShare,
      weightedDriftedShare: r.weightedDriftedShare,
      drifted: r.drifted,
      qualityAlarms: r.qualityAlarms,
    },
    features: r.features.map(featureDriftJson),
    ...(extras.label ? { label: labelDriftJson(extras.label) } : {}),
    ...(extras.prediction ? { prediction: featureDriftJson(extras.prediction) } : {}),
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
    throw new SchemaMismatchError(
      `${labels.reference} and ${labels.current} must have the same columns (${parts.join('; ')})`,
    );
  }
  const changed = reference.filter((c) => (cur.get(c.name) as { kind: ColumnKind }).kind !== c.kind);
  if (changed.length > 0) {
    throw new SchemaMismatchError(
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
  /** Columns not compared (ids, leaky columns); each must be a column of the reference or the current file. */
  readonly exclude?: readonly string[];
  /**
   * The label column: not compared as a feature but reported as label drift (base rate of matured labels; empty
   * cells are not matured). Values 1/0, true/false or yes/no, or `labelPositive` for the value that means 1.
   */
  readonly labelColumn?: string;
  readonly labelPositive?: string;
  /** The label column came from a model artifact, not the user: no error when the files do not have it. */
  readonly labelColumnFromModel?: boolean;
  /**
   * Steps done and their number, after each: every table read, every column group compared, the domain
   * classifier. The first total is estimated from the current file's columns.
   */
  readonly onProgress?: (stepsDone: number, stepsTotal: number) => void;
}

export interface DriftRun {
  readonly result: DatasetDriftResult;
  readonly comparisons: readonly FeatureComparison[];
  readonly multivariate?: DomainClassifierResult;
  readonly label?: LabelDriftReport;
}

/** The excluded and label columns must exist somewhere: a typo would otherwise compare what it meant to skip. */
export function checkSkippedColumns(
  skipped: readonly { flag: string; name: string }[],
  columns: readonly string[],
  where: string,
): void {
  for (const { flag, name } of skipped) {
    if (!columns.includes(name))
      throw new InvalidInputError(`${flag} "${name}" is not a column of ${where}; columns are ${columns.join(', ')}`);
  }
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
    let stepsDone = 0;
    let stepsTotal = 0;
    const step = (total?: number): void => {
      if (total !== undefined) stepsTotal = total;
      options.onProgress?.(++stepsDone, stepsTotal);
    };
    const groups = (columns: number): number => Math.ceil(columns / groupSize);
    step((options.referenceProfile ? 1 : 2) + groups(cur.schema.length) + (options.domainClassifier ? 1 : 0));
    const comparisons: FeatureComparison[] = [];
    let rowsReference: number;
    let multivariate: DomainClassifierResult | undefined;
    let thresholds = options.referenceProfile?.thresholds;
    const labelColumn = options.labelColumn;
    const skip = new Set([...(options.exclude ?? []), ...(labelColumn !== undefined ? [labelColumn] : [])]);
    const skipped = [
      ...(options.exclude ?? []).map((name) => ({ flag: '--exclude', name })),
      ...(labelColumn !== undefined && !options.labelColumnFromModel
        ? [{ flag: '--label-col', name: labelColumn }]
        : []),
    ];
    let labelRef: LabelCounts | undefined;
    const currentLabels = async (): Promise<LabelCounts | undefined> => {
      if (labelColumn === undefined || !cur.schema.some((c) => c.name === labelColumn)) return undefined;
      const col = (await cur.readColumns([labelColumn])).columns[0] as ColumnTable['columns'][number];
      return labelCounts(labelsFromColumn(col, options.labelPositive));
    };
    if (options.referenceProfile) {
      const p = options.referenceProfile;
      const chunkColumn = options.chunkColumn ?? p.chunkColumn;
      checkSkippedColumns(
        skipped,
        [...new Set([...p.features.map((f) => f.name), ...cur.schema.map((c) => c.name)])],
        `the reference profile or ${options.current}`,
      );
      const features = p.features.filter((f) => !skip.has(f.name));
      checkSameSchema(
        features,
        cur.schema.filter((c) => c.name !== chunkColumn && !skip.has(c.name)),
        { reference: 'the reference profile', current: options.current },
      );
      rowsReference = p.rows;
      const byName = new Map(features.map((f) => [f.name, f]));
      const names = features.map((f) => f.name);
      const labelProfile = p.features.find((f) => f.name === labelColumn);
      if (labelProfile) labelRef = labelCountsFromProfile(labelProfile, options.labelPositive);
      stepsTotal = 1 + groups(names.length);
      for (let g = 0; g < names.length; g += groupSize) {
        const table = await cur.readColumns(names.slice(g, g + groupSize));
        for (const col of table.columns) {
          const refProfile = byName.get(col.name);
          if (!refProfile) continue;
          comparisons.push(compareProfiles(refProfile, profileColumn(col, refProfile)));
        }
        step();
      }
    } else {
      const ref = await openTable(options.reference as string, options);
      sources.push(ref);
      checkSkippedColumns(
        skipped,
        [...new Set([...ref.schema.map((c) => c.name), ...cur.schema.map((c) => c.name)])],
        `${options.reference} or ${options.current}`,
      );
      const compared = (schema: readonly ColumnSchema[]) =>
        schema.filter((c) => c.name !== options.chunkColumn && !skip.has(c.name));
      if (labelColumn !== undefined && ref.schema.some((c) => c.name === labelColumn)) {
        const col = (await ref.readColumns([labelColumn])).columns[0] as ColumnTable['columns'][number];
        labelRef = labelCounts(labelsFromColumn(col, options.labelPositive));
      }
      checkSameSchema(compared(ref.schema), compared(cur.schema), {
        reference: options.reference as string,
        current: options.current,
      });
      rowsReference = ref.rows;
      const names = compared(ref.schema).map((c) => c.name);
      const layout =
        options.learnThresholds && options.chunkColumn ? await chunkLayoutOf(ref, options.chunkColumn) : undefined;
      const learned: Record<string, LearnedThreshold> = {};
      step(2 + groups(names.length) + (options.domainClassifier ? 1 : 0));
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
        step();
      }
      if (options.learnThresholds) thresholds = learned;
      if (options.domainClassifier) {
        const keep = (t: ColumnTable): ColumnTable => ({ ...t, columns: t.columns.filter((c) => !skip.has(c.name)) });
        multivariate = domainClassifierDrift(keep(await ref.readAll()), keep(await cur.readAll()));
        step();
      }
    }
    const labelCur = await currentLabels();
    const result = detectDrift(
      comparisons,
      { reference: rowsReference, current: cur.rows },
      { ...options.drift, ...(thresholds ? { thresholds } : {}) },
    );
    const label =
      labelColumn !== undefined && labelRef && labelCur
        ? { column: labelColumn, ...labelDriftFromCounts(labelRef, labelCur) }
        : undefined;
    return { result, comparisons, ...(multivariate ? { multivariate } : {}), ...(label ? { label } : {}) };
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
