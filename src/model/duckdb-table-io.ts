import { existsSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { BackendUnavailableError, describeError, InvalidInputError, NotFoundError } from '../core/index.js';
import { readCsvTable, type TableReadOptions } from '../tables/index.js';

/**
 * The only file in src/model that knows DuckDB: reads Parquet into plain columns (CSV through src/tables, the
 * parser the monitor shares) and writes scored Parquet copies.
 */

export interface TableColumn {
  readonly name: string;
  /** number: numeric or temporal (epoch ms) column, null -> NaN; text: anything else, null stays null. */
  readonly type: 'number' | 'text';
  readonly numbers?: Float64Array;
  readonly texts?: (string | null)[];
}

export interface Table {
  readonly rows: number;
  readonly columns: readonly TableColumn[];
  /** How mixed-content columns were typed, header warnings (CSV only; see src/tables). */
  readonly notes?: readonly string[];
}

/** CSV reading options (src/tables' rule: separator, header, missing-value tokens); Parquet keeps its types. */
export type ReadTableOptions = Pick<TableReadOptions, 'sep' | 'header' | 'naValues'>;

export const TABLE_FORMATS = ['csv', 'parquet'] as const;
export type TableFormat = (typeof TABLE_FORMATS)[number];

export function tableFormatOf(path: string): TableFormat {
  const ext = extname(path.endsWith('.gz') ? path.slice(0, -3) : path).toLowerCase();
  return ext === '.parquet' || ext === '.pq' ? 'parquet' : 'csv';
}

const NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|REAL|DECIMAL.*)$/;
const TEMPORAL = /^(DATE|TIMESTAMP.*|TIMESTAMPTZ)$/;

function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

function sqlIdent(s: string): string {
  return `"${s.replaceAll('"', '""')}"`;
}

function sourceSql(path: string, options: ReadTableOptions): string {
  if (tableFormatOf(path) === 'parquet') return `read_parquet(${sqlString(path)})`;
  const sep = options.sep === undefined ? '' : `, delim=${sqlString(options.sep === '\\t' ? '\t' : options.sep)}`;
  return `read_csv(${sqlString(path)}, header=true${sep})`;
}

/** A private in-memory DuckDB for one job (closed after `fn`, whatever happens). */
export async function withConnection<T>(
  fn: (
    run: (sql: string) => Promise<Record<string, unknown>[]>,
    conn: Awaited<ReturnType<DuckDBInstance['connect']>>,
  ) => Promise<T>,
): Promise<T> {
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(':memory:');
  } catch (err) {
    throw new BackendUnavailableError(`could not start DuckDB: ${describeError(err)}`, { cause: err });
  }
  const conn = await instance.connect();
  try {
    return await fn(
      async (sql) => (await conn.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[],
      conn,
    );
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** Reads a whole CSV (src/tables' parser and typing rule) or Parquet file (its own types) into columns. */
export async function readTable(path: string, options: ReadTableOptions = {}): Promise<Table> {
  if (!existsSync(path)) throw new NotFoundError(`data file ${path} does not exist`);
  if (statSync(path).size === 0)
    throw new InvalidInputError(`data file ${path} is empty (0 bytes); expected a header row and data rows`);
  const format = tableFormatOf(path);
  if (format === 'csv') {
    const parsed = readCsvTable(path, options);
    return {
      rows: parsed.rows,
      notes: parsed.notes,
      columns: parsed.columns.map((c): TableColumn => {
        if (c.kind === 'numeric') return { name: c.name, type: 'number', numbers: c.values };
        const texts = new Array<string | null>(parsed.rows);
        for (let r = 0; r < parsed.rows; r++) {
          const code = c.codes[r] as number;
          texts[r] = code < 0 ? null : (c.dictionary[code] as string);
        }
        return { name: c.name, type: 'text', texts };
      }),
    };
  }
  return withConnection(async (run, conn) => {
    const src = sourceSql(path, options);
    let described: Record<string, unknown>[];
    try {
      described = await run(`DESCRIBE SELECT * FROM ${src}`);
    } catch (err) {
      throw new InvalidInputError(
        `could not read ${path} as ${format.toUpperCase()}: ${describeError(err).split('\n')[0]}`,
        { cause: err },
      );
    }
    const specs = described.map((d) => ({ name: String(d['column_name']), type: String(d['column_type']) }));
    const select = specs
      .map((c) => {
        const id = sqlIdent(c.name);
        if (NUMERIC.test(c.type)) return `CAST(${id} AS DOUBLE)`;
        if (TEMPORAL.test(c.type)) return `CAST(epoch_ms(CAST(${id} AS TIMESTAMP)) AS DOUBLE)`;
        return `CAST(${id} AS VARCHAR)`;
      })
      .join(', ');
    const kinds = specs.map((c) => (NUMERIC.test(c.type) || TEMPORAL.test(c.type) ? 'number' : 'text'));
    let result: Awaited<ReturnType<typeof conn.run>>;
    try {
      result = await conn.run(`SELECT ${select} FROM ${src}`);
    } catch (err) {
      throw new InvalidInputError(`could not read ${path}: ${describeError(err).split('\n')[0]}`, { cause: err });
    }
    const numberParts: number[][] = specs.map(() => []);
    const texts: (string | null)[][] = specs.map(() => []);
    let rows = 0;
    for (;;) {
      let chunk: Awaited<ReturnType<typeof result.fetchChunk>>;
      try {
        chunk = await result.fetchChunk();
      } catch (err) {
        throw new InvalidInputError(`could not read ${path}: ${describeError(err).split('\n')[0]}`, { cause: err });
      }
      if (!chunk || chunk.rowCount === 0) break;
      for (let c = 0; c < specs.length; c++) {
        const vals = chunk.getColumnValues(c);
        if (kinds[c] === 'number') {
          const target = numberParts[c] as number[];
          for (const v of vals) target.push(v === null ? Number.NaN : (v as number));
        } else {
          const target = texts[c] as (string | null)[];
          for (const v of vals) target.push(v === null ? null : String(v));
        }
      }
      rows += chunk.rowCount;
    }
    const columns: TableColumn[] = specs.map((s, c) =>
      kinds[c] === 'number'
        ? { name: s.name, type: 'number', numbers: Float64Array.from(numberParts[c] as number[]) }
        : { name: s.name, type: 'text', texts: texts[c] as (string | null)[] },
    );
    return { rows, columns };
  });
}

/** Writes `input` plus one DOUBLE column `scoreColumn` to `outPath` (CSV or Parquet by extension), row order kept. */
export async function writeScoredTable(
  inputPath: string,
  outPath: string,
  scores: Float64Array,
  options: ReadTableOptions & { readonly scoreColumn?: string } = {},
): Promise<void> {
  const col = options.scoreColumn ?? 'score';
  await withConnection(async (run, conn) => {
    await run('CREATE TABLE scores (rn BIGINT, s DOUBLE)');
    const appender = await conn.createAppender('scores');
    try {
      for (let i = 0; i < scores.length; i++) {
        appender.appendBigInt(BigInt(i + 1));
        appender.appendDouble(scores[i] as number);
        appender.endRow();
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    const src = sourceSql(inputPath, options);
    const fmt = tableFormatOf(outPath) === 'parquet' ? '(FORMAT parquet)' : '(FORMAT csv, HEADER true)';
    try {
      await run(
        `COPY (SELECT t.* EXCLUDE (rn), s.s AS ${sqlIdent(col)} FROM (SELECT *, row_number() OVER () AS rn FROM ${src}) t JOIN scores s USING (rn) ORDER BY rn) TO ${sqlString(outPath)} ${fmt}`,
      );
    } catch (err) {
      throw new InvalidInputError(`could not write ${outPath}: ${describeError(err).split('\n')[0]}`, { cause: err });
    }
  });
}
