import { existsSync, readFileSync } from 'node:fs';
import { InvalidInputError, NotFoundError } from '../core/index.js';
import {
  type ArtifactHeader,
  loadArtifact,
  type ModelArtifact,
  type SplitPart,
  type SplitSummary,
  saveArtifact,
} from './artifact.js';
import type { CalibrationMethod } from './calibration.js';
import { MODEL_IMPORT_FORMATS } from './choices.js';
import { scoreCsvFile } from './csv-scoring.js';
import { type ReadTableOptions, readTable, type Table, tableFormatOf, writeScoredTable } from './duckdb-table-io.js';
import type { GbdtParams } from './gbdt-trainer.js';
import { importLightgbmText } from './lightgbm-import.js';
import { type BinaryMetrics, binaryMetrics, metricsBySegment } from './metrics.js';
import { importedModelArtifact } from './model-import.js';
import { SCORER_POOL_MIN_ROWS, ScorerPool } from './scorer-pool.js';
import { compileModel } from './scoring/compiled-model.js';
import { buildTabularDataset, matrixFromTable, numericColumn, parseLabels, segmentValues } from './tabular-dataset.js';
import { type Algorithm, trainModel } from './train-pipeline.js';
import { importXgboostJson } from './xgboost-import.js';

export { MODEL_IMPORT_FORMATS };
export type ModelImportFormat = (typeof MODEL_IMPORT_FORMATS)[number];

/** How CSV files are read (separator, header, missing-value tokens): the same for train, score, eval and drift. */
export interface TableParseOptions {
  readonly sep?: string;
  /** false: the file has no header row; columns are c1..cN. */
  readonly header?: boolean;
  /** Cells read as missing; default src/tables' DEFAULT_NA_VALUES. */
  readonly naValues?: readonly string[];
}

function parseOptions(o: TableParseOptions): ReadTableOptions {
  return {
    ...(o.sep === undefined ? {} : { sep: o.sep }),
    ...(o.header === undefined ? {} : { header: o.header }),
    ...(o.naValues === undefined ? {} : { naValues: o.naValues }),
  };
}

export interface TableTrainOptions extends TableParseOptions {
  readonly data: string;
  readonly label: string;
  readonly out: string;
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
  /** Trees built and the most there can be, after each tree (`TrainModelOptions.onProgress`). */
  readonly onProgress?: (treesDone: number, treesTotal: number) => void;
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
  /** `auto`'s cross-fitted comparison and what it left out for the ranking; null without calibration rows. */
  readonly calibrationSelection: NonNullable<ArtifactHeader['calibrationSelection']> | null;
  readonly warnings: readonly string[];
  /** One line per column typed from mixed content, and header warnings (see docs/model.md, Reading tables). */
  readonly parsing: readonly string[];
}

/** `adnova model train`: reads a CSV/Parquet file, trains, evaluates on the held-out end, writes the artifact. */
export async function trainModelOnTable(options: TableTrainOptions): Promise<TableTrainSummary> {
  const table = await readTable(options.data, parseOptions(options));
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
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
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
    calibrationSelection: result.artifact.header.calibrationSelection ?? null,
    warnings: result.warnings,
    parsing: table.notes ?? [],
  };
}

function segmentMap(table: Table, names: readonly string[]): Record<string, string[]> | undefined {
  if (names.length === 0) return undefined;
  return Object.fromEntries(names.map((n) => [n, segmentValues(table, n)]));
}

/**
 * `adnova model score`: a copy of the data with a `score` column (calibrated probability) added. A CSV is streamed
 * through the compiled model and written back as it was (same separator, same cell text) plus the score field;
 * Parquet keeps its columns and types.
 */
export async function scoreTableFile(
  options: TableParseOptions & {
    model: string;
    data: string;
    out: string;
    /**
     * Threads for tree models on files of at least `SCORER_POOL_MIN_ROWS` rows (a `ScorerPool`, bit-identical to
     * the calling thread's scores, so the output is the same whatever the count); 1 (the default) scores here.
     */
    threads?: number;
    /** A CSV's bytes scored so far and its size, after each chunk of rows (Parquet input reports nothing). */
    onProgress?: (bytesDone: number, bytesTotal: number) => void;
  },
): Promise<{ rows: number; out: string; meanScore: number; parsing: readonly string[] }> {
  const artifact = loadArtifact(options.model);
  const model = compileModel(artifact);
  const threads = options.threads ?? 1;
  if (tableFormatOf(options.data) === 'csv') {
    const r = await scoreCsvFile(artifact, model, {
      ...parseOptions(options),
      data: options.data,
      out: options.out,
      outFormat: tableFormatOf(options.out),
      threads,
      scoreColumn: 'score',
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    return { rows: r.rows, out: options.out, meanScore: r.meanScore, parsing: r.notes };
  }
  const table = await readTable(options.data, parseOptions(options));
  if (table.rows === 0) throw new InvalidInputError(`${options.data} has a header but no rows; nothing to score`);
  if (table.columns.some((c) => c.name === 'score'))
    throw new InvalidInputError(
      `${options.data} already has a column "score"; drop it before scoring (the scored copy keeps every input column)`,
    );
  const matrix = matrixFromTable(table, artifact.header.columns);
  let scores: Float64Array;
  if (threads > 1 && artifact.header.modelKind !== 'logistic-regression' && table.rows >= SCORER_POOL_MIN_ROWS) {
    const pool = ScorerPool.fromArtifact(artifact, { threads });
    try {
      scores = await pool.predict(matrix);
    } finally {
      await pool.close();
    }
  } else scores = model.predict(matrix);
  await writeScoredTable(options.data, options.out, scores);
  let s = 0;
  for (const v of scores) s += v;
  return { rows: table.rows, out: options.out, meanScore: s / scores.length, parsing: table.notes ?? [] };
}

/** `adnova model eval`: metrics of a model on a labelled file, overall and per segment column. */
export async function evaluateModelOnTable(
  options: TableParseOptions & {
    model: string;
    data: string;
    label: string;
    positive?: string;
    segments?: readonly string[];
  },
): Promise<{
  overall: BinaryMetrics;
  bySegment: Record<string, Record<string, BinaryMetrics>>;
  parsing: readonly string[];
}> {
  const artifact = loadArtifact(options.model);
  const table = await readTable(options.data, parseOptions(options));
  if (table.rows === 0) throw new InvalidInputError(`${options.data} has a header but no rows; nothing to evaluate`);
  const { labels } = parseLabels(table, options.label, options.positive ?? artifact.header.label?.positive);
  const probs = compileModel(artifact).predict(matrixFromTable(table, artifact.header.columns));
  const bySegment: Record<string, Record<string, BinaryMetrics>> = {};
  for (const name of options.segments ?? [])
    bySegment[name] = metricsBySegment(labels, probs, segmentValues(table, name));
  return { overall: binaryMetrics(labels, probs), bySegment, parsing: table.notes ?? [] };
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
