/**
 * Drift of a current file against a model artifact's reference profile (the training data's distribution on the
 * model's own bins, stored with the model by src/model): each feature is binned with the model's training bins and
 * compared bin by bin (chi-square, JS distance, PSI, L-inf: the categorical statistics on the bin counts, so KS and
 * Wasserstein are null), and the model's scores on the current rows are compared with the training scores'
 * histogram (prediction drift). The detector and thresholds are those of `detectDrift`. Bins alone hide new
 * values (a value beyond the training range lands in an outer bin, a constant training column has one bin that
 * takes everything, a new category joins "(other)"), so the data-quality checks are measured on the raw current
 * values: out of range against the training [min, max] stored with the profile, unseen categories against the
 * model's vocabulary. The model's label column, when the current file has it, is label drift against the
 * training base rate.
 */
import { InvalidInputError } from '../core/index.js';
import {
  binsFromHeader,
  buildReferenceProfile,
  compileModel,
  loadArtifact,
  matrixFromTable,
  type ReferenceFeatureProfile,
  type ReferenceProfile,
  readTable,
  SCORE_PROFILE_BINS,
} from '../model/index.js';
import type { TableReadOptions } from '../tables/index.js';
import type { ColumnKind } from './column-table.js';
import { type DatasetDriftResult, type DriftOptions, detectDrift } from './drift-detector.js';
import { checkSkippedColumns, type LabelDriftReport } from './drift-report.js';
import { compareProfiles, type FeatureComparison, type QualityMeasures } from './feature-comparison.js';
import { emptyHll } from './hyperloglog.js';
import type { CategoricalProfile } from './profile.js';
import { labelCounts, labelDriftFromCounts, labelValue } from './target-drift.js';

export interface ModelDriftOptions {
  /** Model artifact directory (`adnova model train` output). */
  readonly model: string;
  /** Current CSV or Parquet file with the model's feature columns (others are ignored). */
  readonly current: string;
  readonly sep?: string;
  /** CSV parsing (src/tables): header row, missing-value tokens, notes on mixed-content columns. */
  readonly parse?: Pick<TableReadOptions, 'header' | 'naValues' | 'onNote'>;
  readonly drift?: Partial<DriftOptions>;
  /** Model features not compared. */
  readonly exclude?: readonly string[];
  /** Label column of the current file (default: the model's label column, when the file has it). */
  readonly labelColumn?: string;
  /** Steps done of 3, after each: the current file read, its rows scored, its features compared. */
  readonly onProgress?: (stepsDone: number, stepsTotal: number) => void;
}

export interface ModelDriftRun {
  /** Per-feature drift on the model's bins, importance-weighted by the model's split gain. */
  readonly result: DatasetDriftResult;
  /** The model's scores on the current rows vs its training scores (20 equal-width bins over [0, 1]). */
  readonly prediction: DatasetDriftResult['features'][number];
  /** The model's kind of each feature (the comparisons themselves are on bins). */
  readonly kinds: Readonly<Record<string, ColumnKind>>;
  /** Label drift against the training rows' base rate, when the current file has the label column. */
  readonly label?: LabelDriftReport;
}

type CurrentTable = Awaited<ReturnType<typeof readTable>>;
type CurrentColumn = CurrentTable['columns'][number];

function cellText(col: CurrentColumn, r: number): string | null {
  if (col.type === 'number') {
    const v = col.numbers?.[r] as number;
    return Number.isNaN(v) ? null : String(v);
  }
  return col.texts?.[r] ?? null;
}

/**
 * Quality measures of one model column on the raw current values: numeric values outside the training [min, max]
 * (compared in float32, the precision the model stores them in), text values outside the model's vocabulary.
 */
function rawQuality(
  values: Float32Array,
  rf: ReferenceFeatureProfile,
  col: CurrentColumn,
  vocabulary: readonly string[] | undefined,
): QualityMeasures {
  const none: QualityMeasures = {
    outOfRangeShare: null,
    referenceRange: null,
    unseenCategoryShare: null,
    unseenCategories: [],
    referenceSingletonShare: null,
  };
  if (rf.kind === 'numeric') {
    if (rf.min === undefined || rf.max === undefined) return none; // artifacts written before ranges were stored
    let present = 0;
    let outside = 0;
    for (const v of values) {
      if (Number.isNaN(v)) continue;
      present++;
      if (v < rf.min || v > rf.max) outside++;
    }
    return {
      ...none,
      outOfRangeShare: present === 0 ? 0 : outside / present,
      referenceRange: { min: rf.min, max: rf.max },
    };
  }
  if (!vocabulary) return none;
  const known = new Set(vocabulary);
  const unseen = new Map<string, number>();
  let present = 0;
  for (let r = 0; r < values.length; r++) {
    const t = cellText(col, r);
    if (t === null) continue;
    present++;
    if (!known.has(t)) unseen.set(t, (unseen.get(t) ?? 0) + 1);
  }
  let unseenCount = 0;
  for (const c of unseen.values()) unseenCount += c;
  return {
    ...none,
    unseenCategoryShare: present === 0 ? 0 : unseenCount / present,
    unseenCategories: [...unseen.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 20)
      .map(([t]) => t),
    // the model keeps every training category, so a singleton share is not known: 0 (no new-category noise)
    referenceSingletonShare: 0,
  };
}

function binLabels(f: ReferenceFeatureProfile): string[] {
  if (f.kind === 'categorical') {
    const labels = (f.categories ?? []).map((c) => c.label ?? `code ${c.code}`);
    // the last bin holds categories outside the model's vocabulary; the bin number keeps labels unique
    return f.binShares.map((_, b) => `${b}: ${labels[b] ?? '(other)'}`);
  }
  const cuts = f.cuts ?? [];
  return f.binShares.map((_, b) =>
    cuts.length === 0
      ? 'all'
      : b === 0
        ? `< ${cuts[0]}`
        : b === cuts.length
          ? `>= ${cuts[b - 1]}`
          : `[${cuts[b - 1]}, ${cuts[b]})`,
  );
}

/** A histogram on fixed bins as a categorical profile (bins as categories), so every categorical check applies. */
function binnedProfile(
  name: string,
  labels: readonly string[],
  shares: readonly number[],
  rows: number,
  nullShare: number,
): CategoricalProfile {
  const present = Math.round(rows * (1 - nullShare));
  const counts = Float64Array.from(shares, (s) => s * present);
  return {
    kind: 'categorical',
    name,
    count: present,
    nulls: rows - present,
    categories: [...labels],
    counts,
    otherCount: 0,
    hll: emptyHll(),
  };
}

function compareBinned(
  name: string,
  labels: readonly string[],
  ref: { shares: readonly number[]; rows: number; nullShare: number },
  cur: { shares: readonly number[]; rows: number; nullShare: number },
): FeatureComparison {
  // bins empty on both sides are no cells (they would only inflate the noise floor's degrees of freedom)
  const keep = labels.map((_, b) => (ref.shares[b] ?? 0) > 0 || (cur.shares[b] ?? 0) > 0);
  const pick = <T>(xs: readonly T[]): T[] => xs.filter((_, b) => keep[b]);
  const r = binnedProfile(name, pick(labels), pick(ref.shares), ref.rows, ref.nullShare);
  const c = binnedProfile(name, pick(labels), pick(cur.shares), cur.rows, cur.nullShare);
  return compareProfiles(r, c);
}

export async function driftAgainstModel(options: ModelDriftOptions): Promise<ModelDriftRun> {
  const artifact = loadArtifact(options.model);
  const reference: ReferenceProfile | null = artifact.header.referenceProfile;
  const bins = binsFromHeader(artifact.header);
  if (!reference || !bins) {
    throw new InvalidInputError(
      `the model in ${options.model} has no reference profile (imported models have none); use --reference FILE with its training data`,
    );
  }
  const table = await readTable(options.current, {
    ...(options.sep === undefined ? {} : { sep: options.sep }),
    ...(options.parse?.header === undefined ? {} : { header: options.parse.header }),
    ...(options.parse?.naValues === undefined ? {} : { naValues: options.parse.naValues }),
  });
  for (const note of table.notes ?? []) options.parse?.onNote?.(note);
  if (table.rows === 0) throw new InvalidInputError(`${options.current} has a header but no rows; nothing to compare`);
  options.onProgress?.(1, 3);
  const columns = artifact.header.columns;
  const labelColumn = options.labelColumn ?? artifact.header.label?.column;
  checkSkippedColumns(
    [
      ...(options.exclude ?? []).map((name) => ({ flag: '--exclude', name })),
      ...(options.labelColumn !== undefined ? [{ flag: '--label-col', name: options.labelColumn }] : []),
    ],
    [...new Set([...columns.map((c) => c.name), ...table.columns.map((c) => c.name)])],
    `the model's features or ${options.current}`,
  );
  const skip = new Set(options.exclude ?? []);
  const matrix = matrixFromTable(table, columns);
  const scores = compileModel(artifact).predict(matrix);
  options.onProgress?.(2, 3);
  const current = buildReferenceProfile(
    bins,
    matrix,
    scores,
    columns.map((c) => c.vocabulary ?? null),
  );
  const comparisons: FeatureComparison[] = [];
  reference.features.forEach((rf, i) => {
    if (skip.has(rf.name)) return;
    const cf = current.features[i] as ReferenceFeatureProfile;
    const c = compareBinned(
      rf.name,
      binLabels(rf),
      { shares: rf.binShares, rows: reference.rows, nullShare: rf.nullShare },
      { shares: cf.binShares, rows: current.rows, nullShare: cf.nullShare },
    );
    const col = table.columns.find((x) => x.name === rf.name) as CurrentColumn;
    const values = matrix.values.subarray(i * matrix.rows, (i + 1) * matrix.rows);
    comparisons.push({
      ...c,
      quality: rawQuality(values, rf, col, columns[i]?.vocabulary),
      binned: { featureKind: rf.kind === 'categorical' ? 'categorical' : 'numeric' },
    });
  });
  options.onProgress?.(3, 3);
  const importance = Object.fromEntries(artifact.header.importance.map((e) => [e.feature, Math.max(0, e.gain)]));
  const result = detectDrift(
    comparisons,
    { reference: reference.rows, current: current.rows },
    { importance, ...options.drift },
  );
  const scoreLabels = Array.from(
    { length: SCORE_PROFILE_BINS },
    (_, b) => `[${b / SCORE_PROFILE_BINS}, ${(b + 1) / SCORE_PROFILE_BINS})`,
  );
  const scoreComparison = compareBinned(
    'score',
    scoreLabels,
    { shares: reference.score.shares, rows: reference.rows, nullShare: 0 },
    { shares: current.score.shares, rows: current.rows, nullShare: 0 },
  );
  const prediction = detectDrift(
    [{ ...scoreComparison, binned: { featureKind: 'numeric' } }],
    { reference: reference.rows, current: current.rows },
    options.drift ?? {},
  ).features[0] as DatasetDriftResult['features'][number];
  let label: LabelDriftReport | undefined;
  const labelCol = table.columns.find((c) => c.name === labelColumn);
  const training = artifact.header.training;
  if (labelColumn !== undefined && labelCol && training) {
    const positive = artifact.header.label?.column === labelColumn ? artifact.header.label.positive : undefined;
    const labels = Float64Array.from({ length: table.rows }, (_, r) => {
      const t = cellText(labelCol, r);
      return t === null ? Number.NaN : labelValue(t, labelColumn, positive);
    });
    label = {
      column: labelColumn,
      ...labelDriftFromCounts({ matured: training.rows, positives: training.positives }, labelCounts(labels)),
    };
  }
  return {
    result,
    prediction,
    ...(label ? { label } : {}),
    kinds: Object.fromEntries(columns.map((c) => [c.name, c.kind === 'categorical' ? 'categorical' : 'numeric'])),
  };
}
