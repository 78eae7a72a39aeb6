import { InvalidInputError } from '../../core/errors.js';
import { binsFromHeader, ensembleOf, type ModelArtifact } from '../artifact.js';
import { binColumnMajor } from '../binning.js';
import { type Calibration, calibrate, probabilitiesFromMargins } from '../calibration.js';
import { LinearScorer } from '../logistic-regression.js';
import { CompiledScorer, type ScoreInput } from './compiled-scorer.js';

/**
 * A loaded model ready to score: trees through the compiled scorer, logistic regression through a linear scorer,
 * calibration applied on top. `*Raw` methods skip calibration (they equal the trainer's own predictions).
 */
export class CompiledModel {
  readonly columns: readonly string[];
  readonly calibration: Calibration;
  readonly #trees: CompiledScorer | null;
  readonly #linear: LinearScorer | null;
  readonly #artifact: ModelArtifact;

  constructor(artifact: ModelArtifact) {
    this.#artifact = artifact;
    this.columns = artifact.header.columns.map((c) => c.name);
    this.calibration = artifact.header.calibration ?? { method: 'none' };
    if (artifact.header.modelKind === 'logistic-regression') {
      if (!artifact.header.linear)
        throw new InvalidInputError('logistic-regression artifact has no "linear" parameters');
      this.#linear = new LinearScorer(artifact.header.linear, this.columns.length);
      this.#trees = null;
    } else {
      const bins = binsFromHeader(artifact.header);
      this.#trees = new CompiledScorer(ensembleOf(artifact), bins ? { bins } : {});
      this.#linear = null;
    }
  }

  get numFeatures(): number {
    return this.columns.length;
  }

  /** The tree scorer (null for linear models), for callers that want the raw engine. */
  get treeScorer(): CompiledScorer | null {
    return this.#trees;
  }

  predictMargin(input: ScoreInput, out: Float64Array = new Float64Array(input.rows)): Float64Array {
    if (this.#trees) return this.#trees.predictMargin(input, out);
    const lin = this.#linear as LinearScorer;
    if (input.values.length !== input.rows * this.columns.length) {
      throw new InvalidInputError(
        `scorer expects ${this.columns.length} columns x ${input.rows} rows, got ${input.values.length} values`,
      );
    }
    for (let r = 0; r < input.rows; r++) out[r] = lin.marginAt(input.values, input.rows, r);
    return out;
  }

  /** Uncalibrated probabilities. */
  predictRaw(input: ScoreInput, out: Float64Array = new Float64Array(input.rows)): Float64Array {
    return probabilitiesFromMargins(this.predictMargin(input, out), input.rows);
  }

  /** Calibrated probabilities. */
  predict(input: ScoreInput, out: Float64Array = new Float64Array(input.rows)): Float64Array {
    return probabilitiesFromMargins(this.predictMargin(input, out), input.rows, this.calibration);
  }

  /** Calibrated probability of one row in column order; no allocation on the tree path. */
  predictRow(row: ArrayLike<number>): number {
    const m = this.#trees ? this.#trees.predictRowMargin(row) : (this.#linear as LinearScorer).marginAt(row, 1, 0);
    const p = 1 / (1 + Math.exp(-m));
    return this.calibration.method === 'none' ? p : calibrate(this.calibration, p);
  }

  /** Column-major Uint8 bins of a matrix with this model's training bins (trees trained here only). */
  binInput(input: ScoreInput): Uint8Array {
    const bins = binsFromHeader(this.#artifact.header);
    if (!bins) throw new InvalidInputError(`a ${this.#artifact.header.modelKind} model has no training bins`);
    return binColumnMajor(bins, { rows: input.rows, columns: this.columns, values: input.values });
  }
}

/** Compiles an artifact for scoring. */
export function compileModel(artifact: ModelArtifact): CompiledModel {
  return new CompiledModel(artifact);
}
