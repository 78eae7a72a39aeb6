/**
 * The only file in src/world that touches DuckDB. Writers stage typed-array columns into a DuckDB table through
 * data chunks (no object per row) and COPY them to Parquet with a projection that turns codes into strings and
 * doubles into BIGINT epoch-ms. Staging lives in an on-disk database so memory stays bounded.
 */
import {
  BOOLEAN,
  DOUBLE,
  DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  type DuckDBType,
  FLOAT,
  INTEGER,
  SMALLINT,
  UTINYINT,
  VARCHAR,
} from '@duckdb/node-api';
import bindings from '@duckdb/node-bindings';
import { BackendUnavailableError, describeError } from '../core/index.js';

export type StagingType = 'BOOLEAN' | 'UTINYINT' | 'SMALLINT' | 'INTEGER' | 'FLOAT' | 'DOUBLE' | 'VARCHAR';

/** Column data: numbers in a typed array of the staging type's width, strings (or null) in an array. */
export type ColumnData =
  | Uint8Array
  | Int16Array
  | Int32Array
  | Float32Array
  | Float64Array
  | readonly (string | null)[];

export interface StagingColumn {
  readonly name: string;
  readonly type: StagingType;
}

const DUCK_TYPES: Record<StagingType, DuckDBType> = {
  BOOLEAN,
  UTINYINT,
  SMALLINT,
  INTEGER,
  FLOAT,
  DOUBLE,
  VARCHAR,
};

const VECTOR_SIZE = 2048;
/** Values (rows x columns) buffered in the appender before a flush to the table. */
const FLUSH_VALUES = 16_000_000;

export interface WorldDbOptions {
  /** On-disk staging database; `:memory:` for small jobs. */
  readonly path: string;
  readonly memoryLimit?: string;
  readonly threads?: number;
  readonly tempDirectory?: string;
}

/** A plain JS row (BIGINT cast to DOUBLE in SQL by callers who want numbers). */
export type SqlRow = Record<string, unknown>;

export class WorldDb {
  #instance: DuckDBInstance | undefined;
  #conn: DuckDBConnection | undefined;
  #closed = false;

  private constructor(instance: DuckDBInstance, conn: DuckDBConnection) {
    this.#instance = instance;
    this.#conn = conn;
  }

  static async open(options: WorldDbOptions): Promise<WorldDb> {
    try {
      const config: Record<string, string> = { preserve_insertion_order: 'true' };
      if (options.memoryLimit) config['memory_limit'] = options.memoryLimit;
      if (options.threads) config['threads'] = String(options.threads);
      if (options.tempDirectory) config['temp_directory'] = options.tempDirectory;
      const instance = await DuckDBInstance.create(options.path, config);
      const conn = await DuckDBConnection.create(instance);
      return new WorldDb(instance, conn);
    } catch (err) {
      throw new BackendUnavailableError(`cannot open DuckDB at ${options.path}: ${describeError(err)}`, { cause: err });
    }
  }

  #c(): DuckDBConnection {
    if (this.#conn === undefined) throw new BackendUnavailableError('world database is closed');
    return this.#conn;
  }

  async exec(sql: string): Promise<void> {
    try {
      await this.#c().run(sql);
    } catch (err) {
      throw new BackendUnavailableError(`DuckDB failed: ${describeError(err)}; SQL: ${sql.slice(0, 300)}`, {
        cause: err,
      });
    }
  }

  /** All rows as JS values (BIGINT comes back as bigint; cast in SQL if a number is wanted). */
  async query(sql: string): Promise<SqlRow[]> {
    try {
      const reader = await this.#c().runAndReadAll(sql);
      return reader.getRowObjectsJS() as SqlRow[];
    } catch (err) {
      throw new BackendUnavailableError(`DuckDB query failed: ${describeError(err)}; SQL: ${sql.slice(0, 300)}`, {
        cause: err,
      });
    }
  }

  /** Streams rows in batches (one DuckDB chunk each) without materializing the result. */
  async *stream(sql: string): AsyncGenerator<SqlRow[]> {
    let result: Awaited<ReturnType<DuckDBConnection['stream']>>;
    try {
      result = await this.#c().stream(sql);
    } catch (err) {
      throw new BackendUnavailableError(`DuckDB query failed: ${describeError(err)}; SQL: ${sql.slice(0, 300)}`, {
        cause: err,
      });
    }
    for await (const rows of result.yieldRowObjectJs()) yield rows as SqlRow[];
  }

  /** Creates (or replaces) a staging table and returns a writer appending typed-array columns to it. */
  async createStaging(table: string, columns: readonly StagingColumn[], catalog?: string): Promise<StagingWriter> {
    const cols = columns.map((c) => `"${c.name}" ${c.type}`).join(', ');
    await this.exec(`CREATE OR REPLACE TABLE ${catalog ? `"${catalog}".` : ''}"${table}" (${cols})`);
    const appender = await this.#c().createAppender(table, catalog ? 'main' : null, catalog ?? null);
    return new StagingWriter(table, columns, appender);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn?.closeSync();
    this.#instance?.closeSync();
    this.#conn = undefined;
    this.#instance = undefined;
  }
}

type Appender = Awaited<ReturnType<DuckDBConnection['createAppender']>>;

export class StagingWriter {
  readonly table: string;
  readonly columns: readonly StagingColumn[];
  #appender: Appender | undefined;
  #types: DuckDBType[];
  #rows = 0;
  #pendingValues = 0;

  constructor(table: string, columns: readonly StagingColumn[], appender: Appender) {
    this.table = table;
    this.columns = columns;
    this.#appender = appender;
    this.#types = columns.map((c) => DUCK_TYPES[c.type]);
  }

  get rows(): number {
    return this.#rows;
  }

  /**
   * Appends the first `rowCount` values of each column (same order as the staging columns). Numeric columns are
   * copied into DuckDB vectors as whole byte ranges; NaN in FLOAT/DOUBLE columns becomes NULL, as does null in
   * VARCHAR columns. (Going through the per-value `setItem` API measured ~120 ns per value: too slow here.)
   */
  append(data: readonly ColumnData[], rowCount: number): void {
    const appender = this.#appender;
    if (appender === undefined) throw new BackendUnavailableError(`staging writer ${this.table} is closed`);
    if (data.length !== this.columns.length) {
      throw new RangeError(`staging ${this.table}: expected ${this.columns.length} columns, got ${data.length}`);
    }
    for (let start = 0; start < rowCount; start += VECTOR_SIZE) {
      const n = Math.min(VECTOR_SIZE, rowCount - start);
      const chunk = DuckDBDataChunk.create(this.#types, n);
      for (let c = 0; c < data.length; c++) {
        const vector = bindings.data_chunk_get_vector(chunk.chunk, c);
        const col = data[c] as ColumnData;
        if (Array.isArray(col)) {
          writeStrings(vector, col as readonly (string | null)[], start, n, this.#validity);
          continue;
        }
        const typed = col as Exclude<ColumnData, readonly (string | null)[]>;
        const bpe = typed.BYTES_PER_ELEMENT;
        bindings.copy_data_to_vector(vector, 0, typed.buffer as ArrayBuffer, typed.byteOffset + start * bpe, n * bpe);
        if (typed instanceof Float32Array || typed instanceof Float64Array)
          writeNaNValidity(vector, typed, start, n, this.#validity);
      }
      appender.appendDataChunk(chunk);
      // The appender buffers ~200K rows before it writes to the table; for 2,500-column tables that is 2 GB, so
      // flush by volume instead (bounded memory, and the buffer manager can spill what it holds).
      this.#pendingValues += n * data.length;
      if (this.#pendingValues >= FLUSH_VALUES) {
        appender.flushSync();
        this.#pendingValues = 0;
      }
    }
    this.#rows += rowCount;
  }

  readonly #validity = new Uint8Array(VECTOR_SIZE / 8);

  flush(): void {
    this.#appender?.flushSync();
  }

  close(): void {
    if (this.#appender === undefined) return;
    this.#appender.closeSync();
    this.#appender = undefined;
  }
}

type RawVector = ReturnType<typeof bindings.data_chunk_get_vector>;

function writeNaNValidity(
  vector: RawVector,
  col: Float32Array | Float64Array,
  start: number,
  n: number,
  mask: Uint8Array,
): void {
  let anyNull = false;
  mask.fill(0xff);
  for (let i = 0; i < n; i++) {
    const v = col[start + i] as number;
    if (Number.isNaN(v)) {
      mask[i >> 3] = (mask[i >> 3] as number) & ~(1 << (i & 7));
      anyNull = true;
    }
  }
  if (anyNull) copyValidity(vector, mask);
}

function writeStrings(
  vector: RawVector,
  col: readonly (string | null)[],
  start: number,
  n: number,
  mask: Uint8Array,
): void {
  let anyNull = false;
  mask.fill(0xff);
  for (let i = 0; i < n; i++) {
    const v = col[start + i];
    if (v === null || v === undefined) {
      mask[i >> 3] = (mask[i >> 3] as number) & ~(1 << (i & 7));
      anyNull = true;
    } else {
      bindings.vector_assign_string_element(vector, i, v);
    }
  }
  if (anyNull) copyValidity(vector, mask);
}

function copyValidity(vector: RawVector, mask: Uint8Array): void {
  bindings.vector_ensure_validity_writable(vector);
  bindings.copy_data_to_vector_validity(vector, 0, mask.buffer as ArrayBuffer, mask.byteOffset, mask.byteLength);
}

/** `'a','b'` list literal for `list[code + 1]` lookups in projections. */
export function sqlList(values: readonly string[]): string {
  return `[${values.map((v) => `'${v.replaceAll("'", "''")}'`).join(', ')}]`;
}

export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
