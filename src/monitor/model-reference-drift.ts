/**
 * Drift of a current file against a model artifact's reference profile (the training data's distribution on the
 * model's own bins, stored with the model by src/model): each feature is binned with the model's training bins and
 * compared bin by bin (chi-square, JS distance, PSI, L-inf: the categorical statistics on the bin counts, so KS and
 * Wasserstein are null), and the model's scores on the current rows are compared with the training scores'
 * histogram (prediction drift). The detector and thresholds are those of `detectDrift`; of its data-quality
 * checks only the null share applies (bins are the same on both sides: values beyond the training range land in
 * the outer bins and new categories in the "(other)" bin, which show as drift of those bins, not as alarms).
 */
import { InvalidInputError } from '../core/index.js';
import {
  binsFromHeader,
  buildReferenceProfile,
  compileModel,
  loadArtifact,
  type FeatureProfile as ModelFeatureProfile,
  matrixFromTable,
  type ReferenceProfile,
  readTable,
  SCORE_PROFILE_BINS,
} from '../model/index.js';
import type { TableReadOptions } from '../tables/index.js';
import type { ColumnKind } from './column-table.js';
import { type DatasetDriftResult, type DriftOptions, detectDrift } from './drift-detector.js';
import { compareProfiles, type FeatureComparison } from './feature-comparison.js';
import { emptyHll } from './hyperloglog.js';
import type { CategoricalProfile } from './profile.js';

export interface ModelDriftOptions {
  /** Model artifact directory (`adnova model train` output). */
  readonly model: string;
  /** Current CSV or Parquet file with the model's feature columns (others are ignored). */
  readonly current: string;
  readonly sep?: string;
  /** CSV parsing (src/tables): header row, missing-value tokens, notes on mixed-content columns. */
  readonly parse?: Pick<TableReadOptions, 'header' | 'naValues' | 'onNote'>;
  readonly drift?: Partial<DriftOptions>;
}

export interface ModelDriftRun {
  /** Per-feature drift on the model's bins, importance-weighted by the model's split gain. */
  readonly result: DatasetDriftResult;
  /** The model's scores on the current rows vs its training scores (20 equal-width bins over [0, 1]). */
  readonly prediction: DatasetDriftResult['features'][number];
  /** The model's kind of each feature (the comparisons themselves are on bins). */
  readonly kinds: Readonly<Record<string, ColumnKind>>;
}

function binLabels(f: ModelFeatureProfile): string[] {
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
  const columns = artifact.header.columns;
  const matrix = matrixFromTable(table, columns);
  const scores = compileModel(artifact).predict(matrix);
  const current = buildReferenceProfile(
    bins,
    matrix,
    scores,
    columns.map((c) => c.vocabulary ?? null),
  );
  const comparisons = reference.features.map((rf, i) => {
    const cf = current.features[i] as ModelFeatureProfile;
    return compareBinned(
      rf.name,
      binLabels(rf),
      { shares: rf.binShares, rows: reference.rows, nullShare: rf.nullShare },
      { shares: cf.binShares, rows: current.rows, nullShare: cf.nullShare },
    );
  });
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
  const prediction = detectDrift(
    [
      compareBinned(
        'score',
        scoreLabels,
        { shares: reference.score.shares, rows: reference.rows, nullShare: 0 },
        { shares: current.score.shares, rows: current.rows, nullShare: 0 },
      ),
    ],
    { reference: reference.rows, current: current.rows },
    options.drift ?? {},
  ).features[0] as DatasetDriftResult['features'][number];
  return {
    result,
    prediction,
    kinds: Object.fromEntries(columns.map((c) => [c.name, c.kind === 'categorical' ? 'categorical' : 'numeric'])),
  };
}
