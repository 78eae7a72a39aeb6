import { InvalidInputError } from '../core/index.js';
import {
  ARTIFACT_FORMAT,
  ARTIFACT_FORMAT_VERSION,
  type ArtifactColumn,
  type ArtifactHeader,
  binsToHeader,
  hashTrainingData,
  type ImportanceEntry,
  type ModelArtifact,
  type SplitPart,
  type SplitSummary,
} from './artifact.js';
import { fitBins } from './binning.js';
import {
  CALIBRATION_AUC_TOLERANCE,
  type CalibrationMethod,
  calibrate,
  distinctValues,
  fitGuardedCalibration,
} from './calibration.js';
import { ALGORITHMS } from './choices.js';
import { type GbdtParams, parseGbdtParams, trainGbdt } from './gbdt-trainer.js';
import { type LogisticParams, trainLogisticRegression } from './logistic-regression.js';
import { type BinaryMetrics, binaryMetrics, metricsBySegment, rocAuc } from './metrics.js';
import { type ModelMatrix, selectRows } from './model-matrix.js';
import { buildReferenceProfile } from './reference-profile.js';
import { compileModel } from './scoring/compiled-model.js';

export { ALGORITHMS };
export type Algorithm = (typeof ALGORITHMS)[number];

export interface TrainModelOptions {
  readonly algorithm?: Algorithm;
  readonly gbdt?: Partial<GbdtParams>;
  readonly logistic?: Partial<LogisticParams>;
  /** Held-out share at the end (after sorting by `time` when given). Default 0.3. */
  readonly testFraction?: number;
  /**
   * Share of the remaining rows (their end) used for early stopping and calibration. Default 0.2; 0 means no
   * validation rows, so no early stopping and no calibration.
   */
  readonly validFraction?: number;
  /** Default `auto`: none, Platt or isotonic by cross-fitted log loss and ROC AUC (`chooseCalibration`). */
  readonly calibration?: CalibrationMethod;
  /**
   * After training on the train rows (early stopping on validation choosing the number of trees, calibration
   * fitted on the validation scores), train again on train + validation with that number of trees; the
   * calibration map stays the one fitted on scores the first model had not seen.
   */
  readonly refit?: boolean;
  /** Per-row times (epoch ms) for a temporal split; rows are ordered by it before splitting. */
  readonly time?: ArrayLike<number>;
  /** Segment name -> per-row segment value, for metrics by segment. */
  readonly segments?: Readonly<Record<string, readonly string[]>>;
  readonly weights?: ArrayLike<number>;
  readonly name?: string;
  readonly goal?: string;
  readonly label?: { readonly column: string; readonly positive: string };
  readonly featureService?: { readonly name: string; readonly version: number | string };
  readonly source?: string;
  readonly now?: () => Date;
  /** Trees built so far and the most there can be, after each tree (a refit's trees count after the first fit's). */
  readonly onProgress?: (treesDone: number, treesTotal: number) => void;
}

export interface TrainModelResult {
  readonly artifact: ModelArtifact;
  /** Test metrics of the served (calibrated) score. */
  readonly test: BinaryMetrics | null;
  /** Test metrics of the raw (uncalibrated) score. */
  readonly testRaw: BinaryMetrics | null;
  readonly trainingTimeMs: number;
  readonly rows: { readonly train: number; readonly validation: number; readonly test: number };
  /** Which rows each part holds (see `SplitSummary`). */
  readonly split: SplitSummary;
  /** Warnings for the training summary (also in the artifact's `warnings`). */
  readonly warnings: readonly string[];
}

/** Splits rows into train / validation / test by order (temporal when `time` is given). */
export function splitRows(
  n: number,
  testFraction: number,
  validFraction: number,
  time?: ArrayLike<number>,
): { train: Uint32Array; valid: Uint32Array; test: Uint32Array } {
  if (!(testFraction >= 0 && testFraction < 1))
    throw new InvalidInputError(`test fraction must be in [0, 1), got ${testFraction}`);
  if (!(validFraction >= 0 && validFraction < 1))
    throw new InvalidInputError(`validation fraction must be in [0, 1), got ${validFraction}`);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  if (time) {
    if (time.length !== n) throw new InvalidInputError(`time has ${time.length} values, expected ${n}`);
    order.sort((a, b) => {
      const ta = time[a] as number;
      const tb = time[b] as number;
      // missing times first (oldest), ties by row order
      return (Number.isNaN(ta) ? -Infinity : ta) - (Number.isNaN(tb) ? -Infinity : tb) || a - b;
    });
  }
  const nTest = Math.floor(n * testFraction);
  const rest = n - nTest;
  const nValid = Math.floor(rest * validFraction);
  const nTrain = rest - nValid;
  if (nTrain < 2)
    throw new InvalidInputError(
      `only ${nTrain} training rows after holding out test and validation rows; need more data`,
    );
  return { train: order.slice(0, nTrain), valid: order.slice(nTrain, rest), test: order.slice(rest) };
}

const pick = (a: ArrayLike<number>, idx: Uint32Array): Float64Array => Float64Array.from(idx, (i) => a[i] as number);

/** Trains, calibrates, evaluates and profiles a model; returns the artifact (not yet written). */
export function trainModel(
  matrix: ModelMatrix,
  labels: ArrayLike<number>,
  columns: readonly ArtifactColumn[],
  options: TrainModelOptions = {},
): TrainModelResult {
  const algorithm = options.algorithm ?? 'gbdt';
  const calibrationMethod = options.calibration ?? 'auto';
  const gbdtParams = parseGbdtParams(options.gbdt);
  const testFraction = options.testFraction ?? 0.3;
  const validFraction = options.validFraction ?? 0.2;
  const split = splitRows(matrix.rows, testFraction, validFraction, options.time);
  const refit = options.refit ?? false;
  if (split.valid.length === 0) {
    if (gbdtParams.earlyStoppingRounds > 0)
      throw new InvalidInputError(
        `early stopping (${gbdtParams.earlyStoppingRounds} rounds) needs validation rows, got a validation fraction of ${validFraction}`,
      );
    if (refit)
      throw new InvalidInputError(`refit needs validation rows, got a validation fraction of ${validFraction}`);
  }
  const trainM = selectRows(matrix, split.train);
  const validM = selectRows(matrix, split.valid);
  const testM = selectRows(matrix, split.test);
  const yTrain = pick(labels, split.train);
  const yValid = pick(labels, split.valid);
  const yTest = pick(labels, split.test);
  const positivesOf = (y: Float64Array) => {
    let n = 0;
    for (const v of y) n += v;
    return n;
  };
  const trainPositives = positivesOf(yTrain);
  if (trainPositives === 0 || trainPositives === yTrain.length) {
    throw new InvalidInputError(
      `the training rows have only one label value (${trainPositives === 0 ? 0 : 1}); need both classes`,
    );
  }
  const kinds = columns.map((c) => c.kind);
  const started = performance.now();
  const fitModel = (
    m: ModelMatrix,
    y: Float64Array,
    rows: Uint32Array,
    params: GbdtParams,
    validation: boolean,
    onProgress?: (treesDone: number, treesTotal: number) => void,
  ): {
    base: Pick<ArtifactHeader, 'modelKind' | 'baseMargin' | 'params' | 'linear'>;
    trees: ModelArtifact['trees'];
    importance: ImportanceEntry[];
    bins: ReturnType<typeof fitBins>;
    bestIteration: number;
  } => {
    const bins = fitBins(m, {
      maxBins: params.maxBins,
      categorical: kinds.map((k) => k === 'categorical'),
      seed: params.seed,
    });
    const weights = options.weights ? pick(options.weights, rows) : undefined;
    if (algorithm === 'gbdt') {
      const model = trainGbdt(m, y, params, {
        featureKinds: kinds,
        bins,
        ...(weights ? { weights } : {}),
        ...(validation && validM.rows > 0 ? { validation: { matrix: validM, labels: yValid } } : {}),
        ...(onProgress ? { onProgress } : {}),
      });
      return {
        base: {
          modelKind: 'gbdt',
          baseMargin: model.ensemble.baseMargin,
          params: { ...params, bestIteration: model.bestIteration },
          linear: null,
        },
        trees: model.ensemble.trees,
        importance: columns
          .map((c, i) => ({
            feature: c.name,
            gain: model.importance.gain[i] as number,
            split: model.importance.split[i] as number,
          }))
          .sort((a, b) => b.gain - a.gain),
        bins,
        bestIteration: model.bestIteration,
      };
    }
    const linear = trainLogisticRegression(m, y, bins, options.logistic, weights);
    return {
      base: { modelKind: 'logistic-regression', baseMargin: 0, params: { ...options.logistic }, linear },
      trees: [],
      importance: columns
        .map((c, i) => {
          let g = 0;
          linear.inputs.forEach((inp, j) => {
            if (inp.column === i) g += Math.abs(linear.weights[j] as number);
          });
          return { feature: c.name, gain: g, split: 0 };
        })
        .sort((a, b) => b.gain - a.gain),
      bins,
      bestIteration: 0,
    };
  };
  const progress = options.onProgress;
  const maxTrees = gbdtParams.trees;
  let built = 0;
  const first = fitModel(
    trainM,
    yTrain,
    split.train,
    gbdtParams,
    true,
    progress &&
      ((done) => {
        built = done;
        progress(done, refit ? 2 * maxTrees : maxTrees);
      }),
  );
  const now = options.now?.() ?? new Date();
  const headerOf = (f: typeof first): ArtifactHeader => ({
    format: ARTIFACT_FORMAT,
    formatVersion: ARTIFACT_FORMAT_VERSION,
    ...f.base,
    createdAt: now.toISOString(),
    ...(options.name ? { name: options.name } : {}),
    ...(options.goal ? { goal: options.goal } : {}),
    featureService: options.featureService ?? null,
    columns,
    label: options.label ?? null,
    bins: binsToHeader(f.bins),
    trees: null,
    calibration: { method: 'none' },
    metrics: {},
    importance: f.importance,
    training: null,
    referenceProfile: null,
  });
  const warnings: string[] = [];
  // calibration on the validation rows, scored by the model that did not see them
  let calibration: ArtifactHeader['calibration'] = { method: 'none' };
  let calibrationEffect: ArtifactHeader['calibrationEffect'] = null;
  let calibrationSelection: ArtifactHeader['calibrationSelection'] = null;
  const firstRaw = compileModel({ header: headerOf(first), trees: first.trees });
  const validRaw = validM.rows > 0 ? firstRaw.predictRaw(validM) : new Float64Array(0);
  if (validM.rows === 0) {
    warnings.push('no validation rows (validation fraction 0): no early stopping and no calibration');
  } else {
    const auc = rocAuc(yValid, validRaw);
    if (auc < 0.5)
      warnings.push(
        `the model ranks its ${validM.rows} validation rows backwards (ROC AUC ${auc.toFixed(4)}): drift between the train and validation rows, or leakage?`,
      );
  }
  if (validM.rows > 0 && calibrationMethod !== 'none') {
    const g = fitGuardedCalibration(calibrationMethod, validRaw, yValid);
    calibration = g.calibration;
    warnings.push(...g.warnings);
    calibrationSelection = {
      requested: calibrationMethod,
      fitted: g.fitted.method,
      kept: g.calibration.method,
      ...(g.choice
        ? {
            crossFittedLogLoss: g.choice.crossFittedLogLoss,
            crossFittedRocAuc: g.choice.crossFittedRocAuc,
            rankingLosers: g.choice.rankingLosers,
          }
        : {}),
    };
    if (g.fitted.method !== 'none') {
      const before = binaryMetrics(yValid, validRaw);
      const after = binaryMetrics(
        yValid,
        Float64Array.from(validRaw, (p) => calibrateOne(g, p)),
      );
      calibrationEffect = {
        before: { logLoss: before.logLoss, brier: before.brier, ece: before.ece, rocAuc: before.rocAuc },
        after: { logLoss: after.logLoss, brier: after.brier, ece: after.ece, rocAuc: after.rocAuc },
      };
    }
  }
  let served = first;
  let trainRows = split.train;
  if (refit) {
    trainRows = Uint32Array.from([...split.train, ...split.valid]);
    const trees = algorithm === 'gbdt' ? first.bestIteration || gbdtParams.trees : gbdtParams.trees;
    served = fitModel(
      selectRows(matrix, trainRows),
      pick(labels, trainRows),
      trainRows,
      { ...gbdtParams, trees, earlyStoppingRounds: 0 },
      false,
      progress && ((done) => progress(built + done, built + trees)),
    );
  }
  const trainingTimeMs = performance.now() - started;
  let header: ArtifactHeader = { ...headerOf(served), calibration };
  const model = compileModel({ header, trees: served.trees });
  let test: BinaryMetrics | null = null;
  let testRaw: BinaryMetrics | null = null;
  let testDistinct: number | null = null;
  let bySegment: Record<string, Record<string, BinaryMetrics>> | undefined;
  if (testM.rows > 0) {
    const testProbs = model.predict(testM);
    test = binaryMetrics(yTest, testProbs);
    testRaw = binaryMetrics(yTest, model.predictRaw(testM));
    testDistinct = distinctValues(testProbs);
    // reported, not acted on: the test rows choose nothing
    if (test.rocAuc < testRaw.rocAuc - CALIBRATION_AUC_TOLERANCE)
      warnings.push(
        `${calibration.method} calibration lowers test ROC AUC from ${testRaw.rocAuc.toFixed(4)} to ${test.rocAuc.toFixed(4)} (${testDistinct} distinct scores on ${testM.rows} test rows): its ties lose ranking; compare --calibration platt or none`,
      );
    if (options.segments) {
      bySegment = {};
      for (const [name, values] of Object.entries(options.segments)) {
        bySegment[name] = metricsBySegment(
          yTest,
          testProbs,
          Array.from(split.test, (i) => values[i] as string),
          30,
        );
      }
    }
  }
  // validation metrics of the model that did not train on them (the first one when refit)
  const validProbs =
    validM.rows > 0
      ? compileModel({ header: { ...headerOf(first), calibration }, trees: first.trees }).predict(validM)
      : null;
  const validMetrics = validProbs ? binaryMetrics(yValid, validProbs) : undefined;
  const servedTrainM = refit ? selectRows(matrix, trainRows) : trainM;
  const servedYTrain = refit ? pick(labels, trainRows) : yTrain;
  const trainScores = model.predict(servedTrainM);
  const vocabularies = columns.map((c) => c.vocabulary ?? null);
  const splitSummary = summarizeSplit(split, testFraction, validFraction, refit, options.time);
  header = {
    ...header,
    calibrationEffect,
    calibrationSelection,
    distinctCalibratedScores: { validation: validProbs ? distinctValues(validProbs) : null, test: testDistinct },
    warnings,
    split: splitSummary,
    metrics: {
      ...(test ? { test } : {}),
      ...(testRaw ? { testRaw } : {}),
      ...(validMetrics ? { validation: validMetrics } : {}),
      ...(bySegment ? { bySegment } : {}),
    },
    training: {
      rows: servedTrainM.rows,
      positives: positivesOf(servedYTrain),
      dataHash: hashTrainingData(servedTrainM.values, servedYTrain),
      window: options.time ? timeWindow(options.time, trainRows) : null,
      trainingTimeMs: Math.round(trainingTimeMs),
      ...(options.source ? { source: options.source } : {}),
    },
    referenceProfile: buildReferenceProfile(served.bins, servedTrainM, trainScores, vocabularies),
  };
  return {
    artifact: { header, trees: served.trees },
    test,
    testRaw,
    trainingTimeMs,
    rows: { train: servedTrainM.rows, validation: validM.rows, test: testM.rows },
    split: splitSummary,
    warnings,
  };
}

function calibrateOne(g: ReturnType<typeof fitGuardedCalibration>, p: number): number {
  return calibrate(g.fittedCalibration, p);
}

function summarizeSplit(
  split: { train: Uint32Array; valid: Uint32Array; test: Uint32Array },
  testFraction: number,
  validationFraction: number,
  refit: boolean,
  time?: ArrayLike<number>,
): SplitSummary {
  const part = (rows: Uint32Array, offset: number): SplitPart => {
    if (time) {
      const w = timeWindow(time, rows);
      return { count: rows.length, from: w?.from ?? null, to: w?.to ?? null };
    }
    return rows.length === 0
      ? { count: 0 }
      : { count: rows.length, firstRow: offset + 1, lastRow: offset + rows.length };
  };
  return {
    by: time ? 'time' : 'row-order',
    testFraction,
    validationFraction,
    refit,
    train: part(split.train, 0),
    validation: part(split.valid, split.train.length),
    test: part(split.test, split.train.length + split.valid.length),
  };
}

function timeWindow(time: ArrayLike<number>, rows: Uint32Array): { from: string; to: string } | null {
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const r of rows) {
    const t = time[r] as number;
    if (t < lo) lo = t;
    if (t > hi) hi = t;
  }
  return Number.isFinite(lo) ? { from: new Date(lo).toISOString(), to: new Date(hi).toISOString() } : null;
}
