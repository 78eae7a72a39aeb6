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
} from './artifact.js';
import { fitBins } from './binning.js';
import { type CalibrationMethod, calibrate, fitCalibration } from './calibration.js';
import { ALGORITHMS } from './choices.js';
import { compileModel } from './compile-model.js';
import { type GbdtParams, parseGbdtParams, trainGbdt } from './gbdt-trainer.js';
import { type LogisticParams, trainLogisticRegression } from './logistic-regression.js';
import { type BinaryMetrics, binaryMetrics, metricsBySegment } from './metrics.js';
import { type ModelMatrix, selectRows } from './model-matrix.js';
import { buildReferenceProfile } from './reference-profile.js';

export { ALGORITHMS };
export type Algorithm = (typeof ALGORITHMS)[number];

export interface TrainModelOptions {
  readonly algorithm?: Algorithm;
  readonly gbdt?: Partial<GbdtParams>;
  readonly logistic?: Partial<LogisticParams>;
  /** Held-out share at the end (after sorting by `time` when given). Default 0.3. */
  readonly testFraction?: number;
  /** Share of the remaining rows (their end) used for early stopping and calibration. Default 0.2. */
  readonly validFraction?: number;
  /** Default `auto`: isotonic or Platt, whichever has the lower cross-fitted log loss on the validation rows. */
  readonly calibration?: CalibrationMethod;
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
}

export interface TrainModelResult {
  readonly artifact: ModelArtifact;
  readonly test: BinaryMetrics | null;
  readonly trainingTimeMs: number;
  readonly rows: { readonly train: number; readonly validation: number; readonly test: number };
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
  const split = splitRows(matrix.rows, options.testFraction ?? 0.3, options.validFraction ?? 0.2, options.time);
  const trainM = selectRows(matrix, split.train);
  const validM = selectRows(matrix, split.valid);
  const testM = selectRows(matrix, split.test);
  const yTrain = pick(labels, split.train);
  const yValid = pick(labels, split.valid);
  const yTest = pick(labels, split.test);
  let positives = 0;
  for (const v of yTrain) positives += v;
  if (positives === 0 || positives === yTrain.length) {
    throw new InvalidInputError(
      `the training rows have only one label value (${positives === 0 ? 0 : 1}); need both classes`,
    );
  }
  const kinds = columns.map((c) => c.kind);
  const bins = fitBins(trainM, {
    maxBins: gbdtParams.maxBins,
    categorical: kinds.map((k) => k === 'categorical'),
    seed: gbdtParams.seed,
  });
  const started = performance.now();
  const weights = options.weights ? pick(options.weights, split.train) : undefined;
  let baseHeader: Pick<ArtifactHeader, 'modelKind' | 'baseMargin' | 'params' | 'linear'>;
  let trees: ModelArtifact['trees'] = [];
  let importance: ImportanceEntry[] = [];
  if (algorithm === 'gbdt') {
    const model = trainGbdt(trainM, yTrain, gbdtParams, {
      featureKinds: kinds,
      bins,
      ...(weights ? { weights } : {}),
      ...(validM.rows > 0 ? { validation: { matrix: validM, labels: yValid } } : {}),
    });
    trees = model.ensemble.trees;
    baseHeader = {
      modelKind: 'gbdt',
      baseMargin: model.ensemble.baseMargin,
      params: { ...gbdtParams, bestIteration: model.bestIteration },
      linear: null,
    };
    importance = columns
      .map((c, i) => ({
        feature: c.name,
        gain: model.importance.gain[i] as number,
        split: model.importance.split[i] as number,
      }))
      .sort((a, b) => b.gain - a.gain);
  } else {
    const linear = trainLogisticRegression(trainM, yTrain, bins, options.logistic, weights);
    baseHeader = { modelKind: 'logistic-regression', baseMargin: 0, params: { ...options.logistic }, linear };
    importance = columns
      .map((c, i) => {
        let g = 0;
        linear.inputs.forEach((inp, j) => {
          if (inp.column === i) g += Math.abs(linear.weights[j] as number);
        });
        return { feature: c.name, gain: g, split: 0 };
      })
      .sort((a, b) => b.gain - a.gain);
  }
  const trainingTimeMs = performance.now() - started;
  const now = options.now?.() ?? new Date();
  let header: ArtifactHeader = {
    format: ARTIFACT_FORMAT,
    formatVersion: ARTIFACT_FORMAT_VERSION,
    ...baseHeader,
    createdAt: now.toISOString(),
    ...(options.name ? { name: options.name } : {}),
    ...(options.goal ? { goal: options.goal } : {}),
    featureService: options.featureService ?? null,
    columns,
    label: options.label ?? null,
    bins: binsToHeader(bins),
    trees: null,
    calibration: { method: 'none' },
    metrics: {},
    importance,
    training: null,
    referenceProfile: null,
  };
  // calibration on the validation rows
  const raw = compileModel({ header, trees });
  let calibrationEffect: ArtifactHeader['calibrationEffect'] = null;
  if (calibrationMethod !== 'none' && validM.rows > 0) {
    const pv = raw.predictRaw(validM);
    let vp = 0;
    for (const v of yValid) vp += v;
    if (vp > 0 && vp < yValid.length) {
      const cal = fitCalibration(calibrationMethod, pv, yValid);
      const before = binaryMetrics(yValid, pv);
      const after = binaryMetrics(
        yValid,
        Float64Array.from(pv, (p) => calibrate(cal, p)),
      );
      header = { ...header, calibration: cal };
      calibrationEffect = {
        before: { logLoss: before.logLoss, brier: before.brier, ece: before.ece },
        after: { logLoss: after.logLoss, brier: after.brier, ece: after.ece },
      };
    }
  }
  const model = compileModel({ header, trees });
  const testProbs = testM.rows > 0 ? model.predict(testM) : new Float64Array(0);
  let test: BinaryMetrics | null = null;
  let bySegment: Record<string, Record<string, BinaryMetrics>> | undefined;
  if (testM.rows > 0) {
    test = binaryMetrics(yTest, testProbs);
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
  const validMetrics = validM.rows > 0 ? binaryMetrics(yValid, model.predict(validM)) : undefined;
  const trainScores = model.predict(trainM);
  const vocabularies = columns.map((c) => c.vocabulary ?? null);
  header = {
    ...header,
    calibrationEffect,
    metrics: {
      ...(test ? { test } : {}),
      ...(validMetrics ? { validation: validMetrics } : {}),
      ...(bySegment ? { bySegment } : {}),
    },
    training: {
      rows: trainM.rows,
      positives,
      dataHash: hashTrainingData(trainM.values, yTrain),
      window: options.time ? timeWindow(options.time, split.train) : null,
      trainingTimeMs: Math.round(trainingTimeMs),
      ...(options.source ? { source: options.source } : {}),
    },
    referenceProfile: buildReferenceProfile(bins, trainM, trainScores, vocabularies),
  };
  return {
    artifact: { header, trees },
    test,
    trainingTimeMs,
    rows: { train: trainM.rows, validation: validM.rows, test: testM.rows },
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
