import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, NotFoundError } from '../core/errors.js';
import type { BinMapper } from './binning.js';
import type { Calibration, CalibrationMethod } from './calibration.js';
import { ModelArtifactError } from './errors.js';
import type { BinaryMetrics } from './metrics.js';
import type { FeatureKind } from './model-matrix.js';
import type { ReferenceProfile } from './reference-profile.js';
import { decodeTrees, encodeTrees } from './tree-codec.js';
import type { Tree, TreeEnsemble } from './tree-ensemble.js';

export const ARTIFACT_FORMAT = 'adnova-model';
export const ARTIFACT_FORMAT_VERSION = 1;
export const MODEL_KINDS = ['gbdt', 'logistic-regression', 'xgboost-json', 'lightgbm-text'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];
const HEADER_FILE = 'model.json';
const TREES_FILE = 'trees.bin';

export interface ArtifactColumn {
  readonly name: string;
  readonly kind: FeatureKind;
  /** For categorical columns read from text: the label of each integer code (code = index). */
  readonly vocabulary?: readonly string[];
}

export interface LinearModelParams {
  /** Per expanded input (see `inputs`), on standardized values. */
  readonly weights: readonly number[];
  readonly intercept: number;
  /** Numeric column: standardisation; categorical column: one indicator per listed code. */
  readonly inputs: ReadonlyArray<
    | { readonly column: number; readonly kind: 'numeric'; readonly mean: number; readonly std: number }
    | { readonly column: number; readonly kind: 'indicator'; readonly code: number }
  >;
}

export interface ImportanceEntry {
  readonly feature: string;
  readonly gain: number;
  readonly split: number;
}

/**
 * One part of the split: its row count and, without a time column, its rows as 1-based data-row numbers in file
 * order (header excluded; `firstRow`..`lastRow`, inclusive); with one, the time range of its rows (ISO, missing
 * times excluded).
 */
export interface SplitPart {
  readonly count: number;
  readonly firstRow?: number;
  readonly lastRow?: number;
  readonly from?: string | null;
  readonly to?: string | null;
}

export interface SplitSummary {
  readonly by: 'row-order' | 'time';
  readonly testFraction: number;
  readonly validationFraction: number;
  /** True when the artifact's model was refit on train + validation. */
  readonly refit: boolean;
  readonly train: SplitPart;
  readonly validation: SplitPart;
  readonly test: SplitPart;
}

/** Everything about a model except the tree arrays: `model.json` in the artifact directory. */
export interface ArtifactHeader {
  readonly format: typeof ARTIFACT_FORMAT;
  readonly formatVersion: number;
  readonly modelKind: ModelKind;
  readonly createdAt: string;
  readonly name?: string;
  readonly goal?: string;
  readonly featureService?: { readonly name: string; readonly version: number | string } | null;
  /** The exact column layout the scorer expects, in order. */
  readonly columns: readonly ArtifactColumn[];
  readonly label?: { readonly column: string; readonly positive: string } | null;
  readonly baseMargin: number;
  /** Training bins (trees trained here); null for imported models. */
  readonly bins: ReadonlyArray<{ readonly cuts?: readonly number[]; readonly categories?: readonly number[] }> | null;
  readonly params: Readonly<Record<string, unknown>>;
  readonly trees: {
    readonly file: string;
    readonly count: number;
    readonly bytes: number;
    readonly sha256: string;
  } | null;
  readonly linear?: LinearModelParams | null;
  readonly calibration: Calibration;
  /** Metrics before and after calibration on the data it was fitted on. */
  readonly calibrationEffect?: {
    readonly before: Partial<BinaryMetrics>;
    readonly after: Partial<BinaryMetrics>;
  } | null;
  /** How the calibration was chosen on the validation rows (absent in artifacts from before it was recorded). */
  readonly calibrationSelection?: {
    readonly requested: CalibrationMethod;
    /** The map fitted (auto: the one chosen) and the one kept after the guard. */
    readonly fitted: Calibration['method'];
    readonly kept: Calibration['method'];
    readonly crossFittedLogLoss?: Readonly<Record<'none' | 'platt' | 'isotonic', number>>;
    readonly crossFittedRocAuc?: Readonly<Record<'none' | 'platt' | 'isotonic', number>>;
    readonly rankingLosers?: readonly string[];
  } | null;
  /** Distinct served (calibrated) score values on the validation and test rows: few means ties, not a ranking. */
  readonly distinctCalibratedScores?: { readonly validation: number | null; readonly test: number | null };
  /** What training warned about (a calibration dropped by the guard, no validation rows), shown by describe. */
  readonly warnings?: readonly string[];
  /** Which rows trained, validated and tested the model. */
  readonly split?: SplitSummary;
  readonly metrics: {
    readonly test?: BinaryMetrics;
    /** Test metrics of the raw (uncalibrated) score. */
    readonly testRaw?: BinaryMetrics;
    readonly validation?: BinaryMetrics;
    /** segment column -> segment value -> metrics */
    readonly bySegment?: Readonly<Record<string, Readonly<Record<string, BinaryMetrics>>>>;
  };
  readonly importance: readonly ImportanceEntry[];
  readonly training: {
    readonly rows: number;
    readonly positives: number;
    readonly dataHash: string;
    readonly window?: { readonly from: string; readonly to: string } | null;
    readonly trainingTimeMs?: number;
    readonly source?: string;
  } | null;
  readonly referenceProfile: ReferenceProfile | null;
}

export interface ModelArtifact {
  readonly header: ArtifactHeader;
  readonly trees: readonly Tree[];
}

export function binsToHeader(bins: BinMapper): ArtifactHeader['bins'] {
  return bins.features.map((f) =>
    f.kind === 'numeric' ? { cuts: Array.from(f.cuts) } : { categories: Array.from(f.categories) },
  );
}

export function binsFromHeader(header: ArtifactHeader): BinMapper | undefined {
  if (!header.bins) return undefined;
  return {
    features: header.bins.map((b, i) => {
      const col = header.columns[i] as ArtifactColumn;
      return {
        name: col.name,
        kind: col.kind,
        cuts: Float32Array.from(b.cuts ?? []),
        categories: Int32Array.from(b.categories ?? []),
      };
    }),
  };
}

export function ensembleOf(artifact: ModelArtifact): TreeEnsemble {
  return { numFeatures: artifact.header.columns.length, baseMargin: artifact.header.baseMargin, trees: artifact.trees };
}

/** SHA-256 over a matrix's values and labels: identifies the training data. */
export function hashTrainingData(values: Float32Array, labels: ArrayLike<number>): string {
  const h = createHash('sha256');
  h.update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  h.update(Uint8Array.from(labels));
  return h.digest('hex');
}

/**
 * Writes `dir/model.json` and `dir/trees.bin`. Written to a sibling temp directory and renamed, so a reader
 * never sees half an artifact.
 */
export function saveArtifact(dir: string, artifact: ModelArtifact): void {
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    let header = artifact.header;
    if (artifact.trees.length > 0 || header.modelKind !== 'logistic-regression') {
      const bytes = encodeTrees(artifact.trees);
      writeFileSync(join(tmp, TREES_FILE), bytes);
      header = {
        ...header,
        trees: { file: TREES_FILE, count: artifact.trees.length, bytes: bytes.byteLength, sha256: sha256(bytes) },
      };
    }
    writeFileSync(join(tmp, HEADER_FILE), `${JSON.stringify(header, jsonReplacer, 2)}\n`);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** NaN and infinities are not JSON: store them as null. */
function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'number' && !Number.isFinite(value) ? null : value;
}

/**
 * Reads an artifact directory. A missing directory or header is NotFoundError (a wrong path); anything wrong
 * inside it (bad JSON, another format or version, a tree file that is missing, tampered or malformed) is
 * ModelArtifactError with the file and the problem.
 */
export function loadArtifact(dir: string): ModelArtifact {
  const headerPath = join(dir, HEADER_FILE);
  if (!existsSync(headerPath)) throw new NotFoundError(`no model artifact at ${dir} (missing ${HEADER_FILE})`);
  let header: ArtifactHeader;
  try {
    header = JSON.parse(readFileSync(headerPath, 'utf8')) as ArtifactHeader;
  } catch (err) {
    throw new ModelArtifactError(headerPath, `not valid JSON (${describeError(err)})`, { cause: err });
  }
  if (header === null || typeof header !== 'object')
    throw new ModelArtifactError(headerPath, `expected a JSON object, got ${JSON.stringify(header)}`);
  if (header.format !== ARTIFACT_FORMAT)
    throw new ModelArtifactError(
      headerPath,
      `format is ${JSON.stringify(header.format)}, expected "${ARTIFACT_FORMAT}"`,
    );
  if (header.formatVersion !== ARTIFACT_FORMAT_VERSION)
    throw new ModelArtifactError(
      headerPath,
      `format version is ${JSON.stringify(header.formatVersion)}, this build reads ${ARTIFACT_FORMAT_VERSION}`,
    );
  if (!Array.isArray(header.columns)) throw new ModelArtifactError(headerPath, 'has no "columns" array');
  let trees: Tree[] = [];
  if (header.trees) {
    const treePath = join(dir, header.trees.file);
    let bytes: Buffer;
    try {
      bytes = readFileSync(treePath);
    } catch (err) {
      throw new ModelArtifactError(treePath, `cannot be read (${describeError(err)})`, { cause: err });
    }
    const digest = sha256(bytes);
    if (digest !== header.trees.sha256)
      throw new ModelArtifactError(treePath, `has sha256 ${digest}, the header expects ${header.trees.sha256}`);
    try {
      trees = decodeTrees(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (err) {
      throw new ModelArtifactError(treePath, describeError(err), { cause: err });
    }
    trees.forEach((t, k) => {
      for (let i = 0; i < t.feature.length; i++) {
        if (
          (t.left[i] as number) >= 0 &&
          ((t.feature[i] as number) < 0 || (t.feature[i] as number) >= header.columns.length)
        ) {
          throw new ModelArtifactError(
            treePath,
            `tree ${k} node ${i} splits on feature ${t.feature[i]}, the model has ${header.columns.length} columns`,
          );
        }
      }
    });
  }
  return { header, trees };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
