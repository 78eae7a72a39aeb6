import { existsSync, readFileSync } from 'node:fs';
import { InvalidInputError, NotFoundError } from '../core/index.js';
import { loadArtifact, type ModelArtifact, type SplitPart, type SplitSummary, saveArtifact } from './artifact.js';
import type { CalibrationMethod } from './calibration.js';
import { MODEL_IMPORT_FORMATS } from './choices.js';
import { compileModel } from './compile-model.js';
import { readTable, type Table, writeScoredTable } from './duckdb-table-io.js';
import type { GbdtParams } from './gbdt-trainer.js';
import { importLightgbmText } from './lightgbm-import.js';
import { type BinaryMetrics, binaryMetrics, metricsBySegment } from './metrics.js';
import { importedModelArtifact } from './model-import.js';
import { SCORER_POOL_MIN_ROWS, ScorerPool } from './scorer-pool.js';
import { buildTabularDataset, matrixFromTable, numericColumn, parseLabels, segmentValues } from './tabular-dataset.js';
import { type Algorithm, trainModel } from './train-pipeline.js';
import { importXgboostJson } from './xgboost-import.js';

export { MODEL_IMPORT_FORMATS };
export type ModelImportFormat = (typeof MODEL_IMPORT_FORMATS)[number];

export interface TableTrainOptions {
  readonly data: string;
  readonly label: string;
  readonly out: string;
  readonly sep?: string;
  readonly positive?: string;
  readonly exclude?: readonly string[];
  readonly timeColumn?: string;
  readonly testFraction?: number;
  /** Share of the non-test rows held back for early stopping and calibration (default 0.2; 0 = none). */
  readonly validationFraction?: number;
  /** Refit on train + validation with the early-stopped number of trees. */
  readonly refit?: boolean;
  readonly calibration?: CalibrationMethod;
  readonly algorithm?: Algorithm;
  readonly segments?: readonly string[];
  readonly gbdt?: Partial<GbdtParams>;
  readonly name?: string;
  readonly goal?: string;
}

export interface TableTrainSummary {
  readonly out: string;
  readonly modelKind: string;
  /** Each part's row count and its row range (file order) or time range (`--time-col`). */
  readonly rows: { readonly train: SplitPart; readonly validation: SplitPart; readonly test: SplitPart };
  readonly split: Pick<SplitSummary, 'by' | 'testFraction' | 'validationFraction' | 'refit'>;
  readonly features: number;
  readonly categorical: number;
  readonly trees: number;
  readonly trainingTimeMs: number;
  /** Test metrics of the served (calibrated) score, and of the raw score. */
  readonly test: BinaryMetrics | null;
  readonly testRaw: BinaryMetrics | null;
  /** The calibration kept, and the one asked for. */
  readonly calibration: string;
  readonly calibrationRequested: string;
  readonly distinctCalibratedScores: { readonly validation: number | null; readonly test: number | null };
  readonly warnings: readonly string[];
}

/** `adnova model train`: reads a CSV/Parquet file, trains, evaluates on the held-out end, writes the artifact. */
export async function trainModelOnTable(options: TableTrainOptions): Promise<TableTrainSummary> {
  const table = await readTable(options.data, options.sep === undefined ? {} : { sep: options.sep });
  const exclude = [...(options.exclude ?? [])];
  if (options.timeColumn) exclude.push(options.timeColumn);
  const dataset = buildTabularDataset(table, {
    label: options.label,
    exclude,
    ...(options.positive === undefined ? {} : { positive: options.positive }),
  });
  const time = options.timeColumn ? numericColumn(table, options.timeColumn, '--time-col') : undefined;
  const segments = segmentMap(table, options.segments ?? []);
  const result = trainModel(dataset.matrix, dataset.labels, dataset.columns, {
    ...(options.algorithm ? { algorithm: options.algorithm } : {}),
    ...(options.gbdt ? { gbdt: options.gbdt } : {}),
    testFraction: options.testFraction ?? 0.3,
    ...(options.validationFraction === undefined ? {} : { validFraction: options.validationFraction }),
    ...(options.refit ? { refit: true } : {}),
    ...(options.calibration ? { calibration: options.calibration } : {}),
    ...(time ? { time } : {}),
    ...(segments ? { segments } : {}),
    label: { column: options.label, positive: dataset.positive },
    source: options.data,
    ...(options.name ? { name: options.name } : {}),
    ...(options.goal ? { goal: options.goal } : {}),
  });
  saveArtifact(options.out, result.artifact);
  return {
    out: options.out,
    modelKind: result.artifact.header.modelKind,
    rows: { train: result.split.train, validation: result.split.validation, test: result.split.test },
    split: {
      by: result.split.by,
      testFraction: result.split.testFraction,
      validationFraction: result.split.validationFraction,
      refit: result.split.refit,
    },
    features: dataset.columns.length,
    categorical: dataset.columns.filter((c) => c.kind === 'categorical').length,
    trees: result.artifact.trees.length,
    trainingTimeMs: Math.round(result.trainingTimeMs),
    test: result.test,
    testRaw: result.testRaw,
    calibration: result.artifact.header.calibration.method,
    calibrationRequested: options.calibration ?? 'auto',
    distinctCalibratedScores: result.artifact.header.distinctCalibratedScores ?? { validation: null, test: null },
    warnings: result.warnings,
  };
}

function segmentMap(table: Table, names: readonly string[]): Record<string, string[]> | undefined {
  if (names.length === 0) return undefined;
  return Object.fromEntries(names.map((n) => [n, segmentValues(table, n)]));
}

/** `adnova model score`: adds a `score` column (calibrated probability) to a copy of the data. */
export async function scoreTableFile(options: {
  model: string;
  data: string;
  out: string;
  sep?: string;
  /**
   * Threads for tree models on files of at least `SCORER_POOL_MIN_ROWS` rows (a `ScorerPool`, bit-identical to
   * the calling thread's scores, so the output is the same whatever the count); 1 (the default) scores here.
   */
  threads?: number;
}): Promise<{ rows: number; out: string; meanScore: number }> {
  const artifact = loadArtifact(options.model);
  const table = await readTable(options.data, options.sep === undefined ? {} : { sep: options.sep });
  if (table.rows === 0) throw new InvalidInputError(`${options.data} has a header but no rows; nothing to score`);
  const model = compileModel(artifact);
  const matrix = matrixFromTable(table, artifact.header.columns);
  const threads = options.threads ?? 1;
  let scores: Float64Array;
  if (threads > 1 && artifact.header.modelKind !== 'logistic-regression' && table.rows >= SCORER_POOL_MIN_ROWS) {
    const pool = ScorerPool.fromArtifact(artifact, { threads });
    try {
      scores = await pool.predict(matrix);
    } finally {
      await pool.close();
    }
  } else scores = model.predict(matrix);
  await writeScoredTable(options.data, options.out, scores, options.sep === undefined ? {} : { sep: options.sep });
  let s = 0;
  for (const v of scores) s += v;
  return { rows: table.rows, out: options.out, meanScore: s / scores.length };
}

/** `adnova model eval`: metrics of a model on a labelled file, overall and per segment column. */
export async function evaluateModelOnTable(options: {
  model: string;
  data: string;
  label: string;
  sep?: string;
  positive?: string;
  segments?: readonly string[];
}): Promise<{ overall: BinaryMetrics; bySegment: Record<string, Record<string, BinaryMetrics>> }> {
  const artifact = loadArtifact(options.model);
  const table = await readTable(options.data, options.sep === undefined ? {} : { sep: options.sep });
  if (table.rows === 0) throw new InvalidInputError(`${options.data} has a header but no rows; nothing to evaluate`);
  const { labels } = parseLabels(table, options.label, options.positive ?? artifact.header.label?.positive);
  const probs = compileModel(artifact).predict(matrixFromTable(table, artifact.header.columns));
  const bySegment: Record<string, Record<string, BinaryMetrics>> = {};
  for (const name of options.segments ?? [])
    bySegment[name] = metricsBySegment(labels, probs, segmentValues(table, name));
  return { overall: binaryMetrics(labels, probs), bySegment };
}

/** `adnova model import`: converts an XGBoost JSON or LightGBM text model into an artifact directory. */
export function importModelFile(options: {
  format: ModelImportFormat;
  file: string;
  out: string;
  name?: string;
}): ModelArtifact {
  if (!(MODEL_IMPORT_FORMATS as readonly string[]).includes(options.format)) {
    throw new InvalidInputError(
      `--format must be one of ${MODEL_IMPORT_FORMATS.join(', ')}, got ${JSON.stringify(options.format)}`,
    );
  }
  if (!existsSync(options.file)) throw new NotFoundError(`model file ${options.file} does not exist`);
  const text = readFileSync(options.file, 'utf8');
  const imported = options.format === 'xgboost-json' ? importXgboostJson(text) : importLightgbmText(text);
  const artifact = importedModelArtifact(imported, options.name ? { name: options.name } : {});
  saveArtifact(options.out, artifact);
  return artifact;
}
