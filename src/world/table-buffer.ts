import type { ColumnData, StagingColumn, StagingWriter } from './duckdb-world-db.js';

const CAPACITY = 32_768;

type NumericArray = Uint8Array | Int16Array | Int32Array | Float32Array | Float64Array;

function allocate(type: StagingColumn['type'], n: number): NumericArray {
  switch (type) {
    case 'BOOLEAN':
    case 'UTINYINT':
      return new Uint8Array(n);
    case 'SMALLINT':
      return new Int16Array(n);
    case 'INTEGER':
      return new Int32Array(n);
    case 'FLOAT':
      return new Float32Array(n);
    case 'DOUBLE':
      return new Float64Array(n);
    case 'VARCHAR':
      throw new RangeError('TableBuffer holds numeric columns only');
  }
}

/** A fixed-capacity columnar buffer of numeric staging columns; `row(...)` appends, flushing when full. */
export class TableBuffer {
  readonly #w: StagingWriter;
  readonly #cols: NumericArray[];
  #n = 0;

  constructor(writer: StagingWriter) {
    this.#w = writer;
    this.#cols = writer.columns.map((c) => allocate(c.type, CAPACITY));
  }

  row(...values: number[]): void {
    const k = this.#n;
    for (let c = 0; c < values.length; c++) (this.#cols[c] as NumericArray)[k] = values[c] as number;
    this.#n = k + 1;
    if (this.#n === CAPACITY) this.flush();
  }

  flush(): void {
    if (this.#n === 0) return;
    this.#w.append(this.#cols as ColumnData[], this.#n);
    this.#n = 0;
  }
}
