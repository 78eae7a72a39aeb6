import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError, NotFoundError } from '../core/index.js';
import { WorldDb } from './duckdb-world-db.js';
import type { ManifestColumn, ManifestTable } from './manifest.js';
import type { ColumnType, TableRole } from './schema.js';

export interface ImportOptions {
  /** The source CSV, plain or gzip-compressed. */
  readonly file: string;
  readonly outDir: string;
  readonly overwrite?: boolean;
}

export function prepareImport(o: ImportOptions): void {
  if (!existsSync(o.file)) throw new NotFoundError(`source file ${o.file} does not exist`);
  if (existsSync(o.outDir) && readdirSync(o.outDir).length > 0) {
    if (!o.overwrite) {
      throw new InvalidInputError(
        `output directory ${o.outDir} is not empty; expected an empty or new directory (or --overwrite)`,
      );
    }
    const entries = readdirSync(o.outDir);
    // only ever empty something that is a world (a typo must not wipe an unrelated directory)
    if (!entries.includes('manifest.json') && !entries.every((e) => e === 'batch')) {
      throw new InvalidInputError(
        `refusing to overwrite ${o.outDir}: it holds files but no manifest.json (not a world)`,
      );
    }
    for (const e of entries) rmSync(join(o.outDir, e), { recursive: true, force: true });
  }
  mkdirSync(join(o.outDir, 'batch'), { recursive: true });
}

/**
 * One thread keeps CSV rows in file order, which the row numbers (ids) rely on. Source times are read in UTC
 * whatever the process TZ: a naive time is UTC, and no TIMESTAMPTZ conversion goes through local clock time.
 */
export async function openImportDb(): Promise<WorldDb> {
  const db = await WorldDb.open({ path: ':memory:', threads: 1, memoryLimit: '2GB' });
  try {
    await db.exec(`SET TimeZone = 'UTC'`);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

export function sqlPath(path: string): string {
  return `'${path.replaceAll("'", "''")}'`;
}

/** Checks the CSV header against the expected columns before anything is parsed. */
export async function checkHeader(db: WorldDb, file: string, expected: readonly string[]): Promise<void> {
  const rows = await db.query(`DESCRIBE SELECT * FROM read_csv(${sqlPath(file)}, header = true, all_varchar = true)`);
  const got = rows.map((r) => String(r['column_name']));
  if (got.join(',') !== expected.join(',')) {
    throw new InvalidInputError(`${file}: expected CSV columns ${expected.join(',')}; got ${got.join(',')}`);
  }
}

const TYPE_MAP: Record<string, ColumnType> = {
  VARCHAR: 'VARCHAR',
  BIGINT: 'BIGINT',
  INTEGER: 'INTEGER',
  SMALLINT: 'SMALLINT',
  DOUBLE: 'DOUBLE',
  FLOAT: 'FLOAT',
  BOOLEAN: 'BOOLEAN',
};

/** COPY a query to DIR/file and describe it for the manifest. */
export async function writeTable(
  db: WorldDb,
  dir: string,
  file: string,
  query: string,
  role: TableRole = 'data',
): Promise<ManifestTable> {
  await db.exec(`COPY (${query}) TO ${sqlPath(join(dir, file))} (FORMAT parquet, COMPRESSION snappy)`);
  return describeFiles(db, dir, [file], role);
}

export async function describeFiles(
  db: WorldDb,
  dir: string,
  files: readonly string[],
  role: TableRole,
): Promise<ManifestTable> {
  const first = sqlPath(join(dir, files[0] as string));
  const desc = await db.query(`DESCRIBE SELECT * FROM read_parquet(${first})`);
  const columns: ManifestColumn[] = desc.map((r) => ({
    name: String(r['column_name']),
    type: TYPE_MAP[String(r['column_type'])] ?? 'VARCHAR',
  }));
  const list = files.map((f) => sqlPath(join(dir, f))).join(', ');
  const [n] = await db.query(`SELECT count(*)::DOUBLE AS n FROM read_parquet([${list}])`);
  return { role, files, rows: Number(n?.['n'] ?? 0), columns };
}
