import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { describeError, InvalidInputError } from '../core/index.js';
import { CellReader, CsvReader, DEFAULT_NA_VALUES, type TableReadOptions } from '../tables/index.js';
import type { ModelArtifact } from './artifact.js';
import type { CompiledModel } from './compile-model.js';
import { withConnection } from './duckdb-table-io.js';
import { ScorerPool } from './scorer-pool.js';

/**
 * `model score` on a CSV file, streamed: records are read in blocks, turned into the model's columns by the shared
 * cell rule (src/tables), scored a chunk at a time (on a ScorerPool once a chunk fills, the next chunk parsed while
 * the workers score) and written out as the input's own text plus a score field: same separator, same cells.
 */

/** Rows per scoring chunk: at least SCORER_POOL_MIN_ROWS, so a file that fills one is worth the pool. */
export const SCORE_CHUNK_ROWS = 65_536;

export interface CsvScoreOptions extends Pick<TableReadOptions, 'sep' | 'header' | 'naValues'> {
  readonly data: string;
  readonly out: string;
  readonly outFormat: 'csv' | 'parquet';
  readonly threads: number;
  readonly scoreColumn: string;
  /** Input bytes written out so far and the file's size, after each chunk (characters as bytes: ASCII exact). */
  readonly onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

export interface CsvScoreResult {
  readonly rows: number;
  readonly meanScore: number;
  readonly notes: readonly string[];
}

interface Chunk {
  readonly rows: number;
  readonly values: Float32Array;
  readonly raws: string[];
  readonly fields: string[][] | null;
}

export async function scoreCsvFile(
  artifact: ModelArtifact,
  model: CompiledModel,
  options: CsvScoreOptions,
): Promise<CsvScoreResult> {
  const reader = new CsvReader(options.data, options);
  try {
    return await scoreWithReader(reader, artifact, model, options);
  } finally {
    reader.close();
  }
}

async function scoreWithReader(
  reader: CsvReader,
  artifact: ModelArtifact,
  model: CompiledModel,
  options: CsvScoreOptions,
): Promise<CsvScoreResult> {
  const specs = artifact.header.columns;
  const index = specs.map((spec) => {
    const i = reader.columns.indexOf(spec.name);
    if (i < 0)
      throw new InvalidInputError(
        `feature column "${spec.name}" is not in ${options.data}; columns are: ${reader.columns.map((c) => JSON.stringify(c)).join(', ')}`,
      );
    return i;
  });
  if (reader.columns.includes(options.scoreColumn))
    throw new InvalidInputError(
      `${options.data} already has a column "${options.scoreColumn}"; drop it before scoring (the scored copy keeps every input column)`,
    );
  const cells = new CellReader(options.naValues ?? DEFAULT_NA_VALUES);
  const vocab = specs.map((s) =>
    s.kind === 'categorical' && s.vocabulary ? new Map(s.vocabulary.map((t, i) => [t, i])) : null,
  );
  const textAsMissing = new Float64Array(specs.length);
  const textExample: (string | undefined)[] = specs.map(() => undefined);
  const keepFields = options.outFormat === 'parquet';
  const nf = specs.length;

  const readChunk = (): Chunk | null => {
    let values = new Float32Array(nf * SCORE_CHUNK_ROWS);
    const raws: string[] = [];
    const fields: string[][] | null = keepFields ? [] : null;
    let r = 0;
    for (; r < SCORE_CHUNK_ROWS; r++) {
      const rec = reader.next();
      if (!rec) break;
      raws.push(rec.raw);
      fields?.push(rec.fields);
      const f = rec.fields;
      for (let j = 0; j < nf; j++) {
        const cell = f[index[j] as number] as string;
        const codes = vocab[j];
        let v: number;
        if (codes) {
          const k = cells.classify(cell);
          if (k === 'missing') v = Number.NaN;
          else v = codes.get(k === 'number' || k === 'infinity' ? String(cells.value) : cell) ?? -1;
        } else {
          v = cells.number(cell);
          if (Number.isNaN(v) && !cells.isMissing(cell)) {
            textAsMissing[j] = (textAsMissing[j] as number) + 1;
            textExample[j] ??= cell;
          }
        }
        values[j * SCORE_CHUNK_ROWS + r] = v;
      }
    }
    if (r === 0) return null;
    if (r < SCORE_CHUNK_ROWS) {
      const compact = new Float32Array(nf * r);
      for (let j = 0; j < nf; j++) compact.set(values.subarray(j * SCORE_CHUNK_ROWS, j * SCORE_CHUNK_ROWS + r), j * r);
      values = compact;
    }
    return { rows: r, values, raws, fields };
  };

  const out = options.outFormat === 'csv' ? openSync(options.out, 'w') : null;
  const parquetRows: { fields: string[][]; scores: Float64Array[] } = { fields: [], scores: [] };
  const sep = reader.sep;
  const lineEnd = reader.lineEnd;
  let pool: ScorerPool | null = null;
  let rows = 0;
  let sum = 0;
  // a .gz file's size says nothing of its text: no progress for it
  const progress = options.data.endsWith('.gz') ? undefined : options.onProgress;
  const bytesTotal = progress ? statSync(options.data).size : 0;
  let bytesDone = reader.headerRaw === null ? 0 : reader.headerRaw.length + lineEnd.length;
  const emit = (chunk: Chunk, scores: Float64Array): void => {
    rows += chunk.rows;
    if (progress) {
      for (const raw of chunk.raws) bytesDone += raw.length + lineEnd.length;
      progress(bytesDone, bytesTotal);
    }
    for (let i = 0; i < chunk.rows; i++) sum += scores[i] as number;
    if (out !== null) {
      const lines = new Array<string>(chunk.rows);
      for (let i = 0; i < chunk.rows; i++) lines[i] = `${chunk.raws[i]}${sep}${scores[i]}${lineEnd}`;
      writeSync(out, lines.join(''));
    } else {
      parquetRows.fields.push(...(chunk.fields as string[][]));
      parquetRows.scores.push(scores);
    }
  };
  try {
    if (out !== null && reader.headerRaw !== null)
      writeSync(out, `${reader.headerRaw}${sep}${csvField(options.scoreColumn, sep)}${lineEnd}`);
    let pending: { chunk: Chunk; scores: Promise<Float64Array> } | null = null;
    for (let chunk = readChunk(); chunk; chunk = readChunk()) {
      if (
        !pool &&
        chunk.rows === SCORE_CHUNK_ROWS &&
        options.threads > 1 &&
        artifact.header.modelKind !== 'logistic-regression'
      )
        pool = ScorerPool.fromArtifact(artifact, { threads: options.threads });
      const scores = pool ? pool.predict(chunk) : Promise.resolve(model.predict(chunk));
      // the workers score this chunk while the main thread writes the previous one and parses the next
      if (pending) emit(pending.chunk, await pending.scores);
      pending = { chunk, scores };
    }
    if (pending) emit(pending.chunk, await pending.scores);
  } finally {
    if (out !== null) closeSync(out);
    if (pool) await pool.close();
  }
  if (rows === 0) throw new InvalidInputError(`${options.data} has a header but no rows; nothing to score`);
  if (options.outFormat === 'parquet') await writeTextParquet(reader.columns, parquetRows, options);
  const notes: string[] = [];
  specs.forEach((s, j) => {
    if ((textAsMissing[j] as number) > 0)
      notes.push(
        `column ${JSON.stringify(s.name)}: ${textAsMissing[j]} text cells (e.g. ${JSON.stringify(textExample[j])}) in a numeric model column read as missing`,
      );
  });
  return { rows, meanScore: sum / rows, notes };
}

function csvField(text: string, sep: string): string {
  return text.includes(sep) || text.includes('"') || /[\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const quoteIdent = (s: string): string => `"${s.replaceAll('"', '""')}"`;

/** A CSV scored into Parquet: the input's cells as text columns (empty cells null) plus the score as DOUBLE. */
async function writeTextParquet(
  columns: readonly string[],
  data: { fields: string[][]; scores: Float64Array[] },
  options: CsvScoreOptions,
): Promise<void> {
  await withConnection(async (_run, conn) => {
    const defs = [...columns.map((c) => `${quoteIdent(c)} VARCHAR`), `${quoteIdent(options.scoreColumn)} DOUBLE`];
    await conn.run(`CREATE TABLE scored (${defs.join(', ')})`);
    const appender = await conn.createAppender('scored');
    try {
      let row = 0;
      for (const scores of data.scores) {
        for (let i = 0; i < scores.length && row < data.fields.length; i++, row++) {
          const f = data.fields[row] as string[];
          for (let c = 0; c < columns.length; c++) {
            const t = f[c] as string;
            if (t === '') appender.appendNull();
            else appender.appendVarchar(t);
          }
          appender.appendDouble(scores[i] as number);
          appender.endRow();
        }
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    try {
      await conn.run(`COPY scored TO '${options.out.replaceAll("'", "''")}' (FORMAT parquet)`);
    } catch (err) {
      throw new InvalidInputError(`could not write ${options.out}: ${describeError(err).split('\n')[0]}`, {
        cause: err,
      });
    }
  });
}
