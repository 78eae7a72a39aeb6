/**
 * The monitor's only DuckDB adapter: reads a CSV or Parquet file into column-major typed arrays, a group of columns
 * at a time (so 2,500 wide files never sit in JS memory whole). Numeric columns come back as Float64Array with NaN
 * for null; text columns as Int32 codes into a dictionary that DuckDB builds (an ENUM per column), so no JS object
 * is created per row.
 */
import { existsSync, statSync } from 'node:fs';
import { type DuckDBConnection, DuckDBInstance, DuckDBTypeId } from '@duckdb/node-api';
import { BackendUnavailableError, describeError, InvalidInputError } from '../core/index.js';
import { readCsvTable, type TableReadOptions } from '../tables/index.js';
import type { Column, ColumnKind, ColumnTable } from './column-table.js';

export interface ColumnSchema {
  readonly name: string;
  readonly kind: ColumnKind;
  /** The file's own type as DuckDB read it (e.g. DOUBLE, BIGINT, VARCHAR). */
  readonly sourceType: string;
}

/**
 * CSV files are read by src/tables (the parser model train/score/eval use: separator, header, missing-value tokens,
 * one typing rule); Parquet keeps its own types. `categorical` names columns read as categorical whatever they hold.
 */
export type ReadTableOptions = Pick<TableReadOptions, 'sep' | 'header' | 'naValues' | 'categorical' | 'onNote'>;

/** An open file: its schema and row count, and reads of any subset of its columns. */
export interface TableSource {
  readonly path: string;
  readonly rows: number;
  readonly schema: readonly ColumnSchema[];
  /** How CSV columns of mixed content were typed, header warnings (empty for Parquet). */
  readonly notes: readonly string[];
  readColumns(names: readonly string[]): Promise<ColumnTable>;
  readAll(): Promise<ColumnTable>;
  close(): void;
}

/** A CSV parsed by src/tables, held as typed columns. */
class ParsedTableSource implements TableSource {
  constructor(
    readonly path: string,
    readonly rows: number,
    readonly schema: readonly ColumnSchema[],
    readonly notes: readonly string[],
    private readonly columns: ReadonlyMap<string, Column>,
  ) {}

  async readAll(): Promise<ColumnTable> {
    return this.readColumns(this.schema.map((c) => c.name));
  }

  async readColumns(names: readonly string[]): Promise<ColumnTable> {
    const columns = names.map((n) => {
      const c = this.columns.get(n);
      if (!c)
        throw new InvalidInputError(
          `${this.path}: no column "${n}"; columns are ${[...this.columns.keys()].join(', ')}`,
        );
      return c;
    });
    return { rows: this.rows, columns };
  }

  close(): void {}
}

const NUMERIC_TYPES = new Set<number>([
  DuckDBTypeId.BOOLEAN,
  DuckDBTypeId.TINYINT,
  DuckDBTypeId.SMALLINT,
  DuckDBTypeId.INTEGER,
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.UTINYINT,
  DuckDBTypeId.USMALLINT,
  DuckDBTypeId.UINTEGER,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UHUGEINT,
  DuckDBTypeId.FLOAT,
  DuckDBTypeId.DOUBLE,
  DuckDBTypeId.DECIMAL,
]);
const TIME_TYPES = new Set<number>([
  DuckDBTypeId.DATE,
  DuckDBTypeId.TIMESTAMP,
  DuckDBTypeId.TIMESTAMP_S,
  DuckDBTypeId.TIMESTAMP_MS,
  DuckDBTypeId.TIMESTAMP_NS,
  DuckDBTypeId.TIMESTAMP_TZ,
]);

const quoteIdent = (s: string): string => `"${s.replaceAll('"', '""')}"`;
const quoteLiteral = (s: string): string => `'${s.replaceAll("'", "''")}'`;

const isParquet = (path: string): boolean => /\.parq(uet)?$/i.test(path);

function sourceSql(paths: readonly string[], sep: string | undefined): string {
  const list = `[${paths.map(quoteLiteral).join(', ')}]`;
  if (paths.every(isParquet)) return `read_parquet(${list})`;
  const opts = ['header = true', 'sample_size = -1'];
  if (sep !== undefined) opts.push(`delim = ${quoteLiteral(sep)}`);
  return `read_csv(${list}, ${opts.join(', ')})`;
}

class DuckDbTableSource implements TableSource {
  readonly notes: readonly string[] = [];
  #closed = false;
  #enumTypes = new Map<string, string>();
  constructor(
    readonly path: string,
    readonly rows: number,
    readonly schema: readonly ColumnSchema[],
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    private readonly relation: string,
    private readonly timeColumns: ReadonlySet<string>,
  ) {}

  async readAll(): Promise<ColumnTable> {
    return this.readColumns(this.schema.map((c) => c.name));
  }

  async readColumns(names: readonly string[]): Promise<ColumnTable> {
    const byName = new Map(this.schema.map((c) => [c.name, c]));
    const cols = names.map((n) => {
      const c = byName.get(n);
      if (!c)
        throw new InvalidInputError(`${this.path}: no column "${n}"; columns are ${[...byName.keys()].join(', ')}`);
      return c;
    });
    const dictionaries: (readonly string[] | undefined)[] = [];
    const exprs: string[] = [];
    for (const c of cols) {
      const id = quoteIdent(c.name);
      if (c.kind === 'numeric') {
        dictionaries.push(undefined);
        // NULL becomes NaN in SQL, so the vectors carry no validity mask (its per-item check costs a BigInt).
        const v = this.timeColumns.has(c.name) ? `CAST(epoch_ms(${id}) AS DOUBLE)` : `CAST(${id} AS DOUBLE)`;
        exprs.push(`COALESCE(${v}, 'NaN'::DOUBLE)`);
      } else {
        const enumType = await this.#enumFor(c.name);
        const dict = await this.conn.runAndReadAll(`SELECT unnest(enum_range(NULL::${enumType}))`);
        dictionaries.push(dict.getColumnsJS()[0]?.map(String) ?? []);
        exprs.push(`COALESCE(CAST(enum_code(CAST(CAST(${id} AS VARCHAR) AS ${enumType})) AS INTEGER), -1)`);
      }
    }
    const numeric = cols.map((c) => (c.kind === 'numeric' ? new Float64Array(this.rows) : undefined));
    const codes = cols.map((c) => (c.kind === 'categorical' ? new Int32Array(this.rows) : undefined));
    if (cols.length > 0) {
      const result = await this.conn.stream(`SELECT ${exprs.join(', ')} FROM ${this.relation}`);
      let offset = 0;
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        const n = chunk.rowCount;
        for (let j = 0; j < cols.length; j++) {
          const vec = chunk.getColumnVector(j);
          const num = numeric[j];
          // Fast path: DOUBLE/INTEGER vectors keep their values in a typed array (`items`, not part of the typed
          // API); with no NULLs left it is copied in one call. Any other shape falls back to getItem.
          const items = (vec as unknown as { items?: unknown }).items;
          if (num && items instanceof Float64Array && items.length === n) {
            num.set(items, offset);
            continue;
          }
          if (!num && items instanceof Int32Array && items.length === n) {
            (codes[j] as Int32Array).set(items, offset);
            continue;
          }
          if (num) {
            for (let i = 0; i < n; i++) {
              const v = vec.getItem(i) as number | null;
              num[offset + i] = v === null ? Number.NaN : v;
            }
          } else {
            const out = codes[j] as Int32Array;
            for (let i = 0; i < n; i++) {
              const v = vec.getItem(i) as number | null;
              out[offset + i] = v === null ? -1 : v;
            }
          }
        }
        offset += n;
      }
    }
    const columns: Column[] = cols.map((c, j) =>
      c.kind === 'numeric'
        ? { name: c.name, kind: 'numeric', values: numeric[j] as Float64Array }
        : { name: c.name, kind: 'categorical', codes: codes[j] as Int32Array, dictionary: dictionaries[j] ?? [] },
    );
    return { rows: this.rows, columns };
  }

  async #enumFor(name: string): Promise<string> {
    const known = this.#enumTypes.get(name);
    if (known) return known;
    const type = `adnova_enum_${this.#enumTypes.size}`;
    const id = quoteIdent(name);
    await this.conn.run(
      `CREATE TYPE ${type} AS ENUM (SELECT DISTINCT CAST(${id} AS VARCHAR) FROM ${this.relation} WHERE ${id} IS NOT NULL ORDER BY 1)`,
    );
    this.#enumTypes.set(name, type);
    return type;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

/**
 * Opens a CSV or Parquet file (or several with the same columns, read as one table in order). Throws
 * InvalidInputError for a missing, unreadable or empty file.
 */
export async function openTable(
  pathOrPaths: string | readonly string[],
  options: ReadTableOptions = {},
): Promise<TableSource> {
  const paths = typeof pathOrPaths === 'string' ? [pathOrPaths] : [...pathOrPaths];
  if (paths.length === 0) throw new InvalidInputError('expected at least one CSV or Parquet file');
  const path = paths.length === 1 ? (paths[0] as string) : `${paths[0]} (+${paths.length - 1} more)`;
  for (const p of paths) {
    if (!existsSync(p) || !statSync(p).isFile()) {
      throw new InvalidInputError(`expected a CSV or Parquet file, ${p} does not exist`);
    }
    if (statSync(p).size === 0) {
      throw new InvalidInputError(`${p} is empty: expected a header row and at least one data row`);
    }
  }
  if (!paths.every(isParquet)) {
    if (paths.some(isParquet))
      throw new InvalidInputError(`expected all CSV or all Parquet files, got a mix: ${paths.join(', ')}`);
    const parsed = readCsvTable(paths, options);
    if (parsed.rows === 0 || parsed.columns.length === 0)
      throw new InvalidInputError(`${path} has no data rows: expected a header row and at least one data row`);
    const schema: ColumnSchema[] = parsed.columns.map((c) => ({
      name: c.name,
      kind: c.kind,
      sourceType: c.kind === 'categorical' ? 'VARCHAR' : c.temporal ? 'TIMESTAMP' : 'DOUBLE',
    }));
    const columns = new Map<string, Column>(
      parsed.columns.map((c) => [
        c.name,
        c.kind === 'numeric'
          ? { name: c.name, kind: 'numeric', values: c.values }
          : { name: c.name, kind: 'categorical', codes: c.codes, dictionary: c.dictionary },
      ]),
    );
    return new ParsedTableSource(path, parsed.rows, schema, parsed.notes, columns);
  }
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(':memory:');
  } catch (err) {
    throw new BackendUnavailableError(`could not start DuckDB: ${describeError(err)}`, { cause: err });
  }
  const conn = await instance.connect();
  try {
    const parquet = paths.every(isParquet);
    const relation = parquet ? sourceSql(paths, options.sep) : 'adnova_input';
    try {
      if (!parquet) await conn.run(`CREATE TEMP TABLE adnova_input AS SELECT * FROM ${sourceSql(paths, options.sep)}`);
    } catch (err) {
      throw new InvalidInputError(`could not read ${path} as CSV: ${describeError(err)}`, { cause: err });
    }
    const described = await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${relation}`);
    const names = (described.getColumnsJS()[0] ?? []).map(String);
    const probe = await conn.stream(`SELECT * FROM ${relation} LIMIT 0`);
    const categoricalSet = new Set(options.categorical ?? []);
    const timeColumns = new Set<string>();
    const schema: ColumnSchema[] = names.map((name, i) => {
      const typeId = probe.columnTypeId(i);
      const sourceType = probe.columnType(i).toString();
      if (TIME_TYPES.has(typeId)) timeColumns.add(name);
      const numeric = (NUMERIC_TYPES.has(typeId) || TIME_TYPES.has(typeId)) && !categoricalSet.has(name);
      return { name, kind: numeric ? 'numeric' : 'categorical', sourceType };
    });
    const countResult = await conn.runAndReadAll(`SELECT count(*) FROM ${relation}`);
    const rows = Number(countResult.getColumnsJS()[0]?.[0] ?? 0);
    if (rows === 0 || schema.length === 0) {
      throw new InvalidInputError(`${path} has no data rows: expected a header row and at least one data row`);
    }
    return new DuckDbTableSource(path, rows, schema, instance, conn, relation, timeColumns);
  } catch (err) {
    conn.closeSync();
    instance.closeSync();
    throw err;
  }
}

/** Reads a whole file (small and medium files; wide files should use openTable and readColumns in groups). */
export async function readColumnTable(
  path: string | readonly string[],
  options: ReadTableOptions = {},
): Promise<ColumnTable> {
  const source = await openTable(path, options);
  try {
    return await source.readAll();
  } finally {
    source.close();
  }
}
