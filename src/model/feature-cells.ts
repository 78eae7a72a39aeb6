import { CellReader, categoryOf, DEFAULT_NA_VALUES } from '../tables/cells.js';
import type { ArtifactColumn } from './artifact.js';

/** Vocabulary names that are their own category key, matched against a cell's characters without slicing it. */
const MAX_MATCHED_NAMES = 32;

/**
 * The cell rule applied to the model's features when scoring a CSV: a numeric feature's cell is its number (NaN
 * for missing and text, text cells counted for a note), a categorical feature's cell its vocabulary code (-1 for an
 * unknown category, NaN for missing). Shared by the record reader (CsvChunkReader) and the byte-level piece scorer
 * (csv-pieces.ts), so both read every cell alike.
 */
export class FeatureCells {
  readonly cells: CellReader;
  readonly #specs: readonly ArtifactColumn[];
  readonly #vocab: (Map<string, number> | null)[];
  /**
   * Per categorical feature, the vocabulary names whose cell is its own category key (categoryOf(name) === name),
   * so a cell equal to the name is that code; null for a numeric feature.
   */
  readonly matched: ({ readonly names: string[]; readonly bytes: Uint8Array[]; readonly codes: number[] } | null)[];
  /** Text cells read as missing per numeric feature, and the first of them. */
  readonly textAsMissing: Float64Array;
  readonly textExample: (string | undefined)[];

  constructor(specs: readonly ArtifactColumn[], naValues: readonly string[] = DEFAULT_NA_VALUES) {
    this.#specs = specs;
    this.cells = new CellReader(naValues);
    this.#vocab = specs.map((s) =>
      s.kind === 'categorical' && s.vocabulary ? new Map(s.vocabulary.map((t, i) => [t, i])) : null,
    );
    this.matched = this.#vocab.map((codes) => {
      if (!codes) return null;
      const names: string[] = [];
      const ids: number[] = [];
      if (codes.size <= MAX_MATCHED_NAMES)
        for (const [name, code] of codes)
          if (categoryOf(this.cells, name) === name) {
            names.push(name);
            ids.push(code);
          }
      return { names, bytes: names.map((n) => Buffer.from(n, 'utf8')), codes: ids };
    });
    this.textAsMissing = new Float64Array(specs.length);
    this.textExample = specs.map(() => undefined);
  }

  /** Whether feature j is categorical (a vocabulary code) rather than a number. */
  isCategorical(j: number): boolean {
    return this.#vocab[j] !== null;
  }

  /** Feature j's value of a cell by the cell rule: a category code (-1 unknown, NaN missing) or a number. */
  value(j: number, cell: string): number {
    const cells = this.cells;
    const codes = this.#vocab[j];
    if (codes) {
      const k = cells.classify(cell);
      if (k === 'missing') return Number.NaN;
      return codes.get(k === 'number' || k === 'infinity' ? String(cells.value) : cell) ?? -1;
    }
    const v = cells.number(cell);
    if (Number.isNaN(v) && !cells.isMissing(cell)) {
      this.textAsMissing[j] = (this.textAsMissing[j] as number) + 1;
      this.textExample[j] ??= cell;
    }
    return v;
  }

  /** Adds counts and examples gathered elsewhere (another thread's share of the file, in file order). */
  merge(textAsMissing: ArrayLike<number>, textExample: readonly (string | undefined)[]): void {
    for (let j = 0; j < this.#specs.length; j++) {
      this.textAsMissing[j] = (this.textAsMissing[j] as number) + (textAsMissing[j] as number);
      this.textExample[j] ??= textExample[j];
    }
  }

  /** One line per numeric model column that had text cells (read as missing). */
  notes(): string[] {
    const notes: string[] = [];
    this.#specs.forEach((s, j) => {
      if ((this.textAsMissing[j] as number) > 0)
        notes.push(
          `column ${JSON.stringify(s.name)}: ${this.textAsMissing[j]} text cells (e.g. ${JSON.stringify(this.textExample[j])}) in a numeric model column read as missing`,
        );
    });
    return notes;
  }
}
