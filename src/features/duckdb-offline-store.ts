import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { type DuckDBConnection, DuckDBInstance, type DuckDBValue } from '@duckdb/node-api';
import {
  BackendUnavailableError,
  createFeatureMatrix,
  describeError,
  type FeatureMatrix,
  InvalidInputError,
  isValidEntityId,
} from '../core/index.js';
import { type FeatureViewDef, parseWindowMs, type ServiceLayout, storageKeyOf } from './definitions.js';
import type {
  LatestRowsChunk,
  LatestRowsQuery,
  OfflineDeleteOptions,
  OfflineDeleteResult,
  OfflineRowBatch,
  OfflineStore,
  TrainingSetRequest,
  TrainingSetResult,
} from './offline-store.js';
import {
  ageColumnOf,
  buildPitPlan,
  LABEL_ROW_COLUMN,
  OFFLINE_KEY_COLUMNS,
  type PitQueryInput,
  quoteIdent,
  quoteString,
  sqlTypeOf,
  statusColumnOf,
  type ViewScan,
  viewGlob,
} from './pit-sql.js';

/** A file being rewritten without deleted entities (not `.parquet`: no view glob reads it). */
const REWRITE_SUFFIX = '.privacy-rewrite';

/** Rows per row group of a training set file (also the unit its writer threads share). */
const TRAINING_ROW_GROUP_ROWS = 100_000;

export interface OfflineStoreOptions {
  /** The store directory; Parquet lives under `<dir>/offline/`. */
  readonly dir: string;
  /** DuckDB memory limit, e.g. `4GB`; spills to `<dir>/tmp` beyond it. */
  readonly memoryLimit?: string | undefined;
  readonly threads?: number | undefined;
}

/**
 * The offline store: append-only Parquet files per view, partitioned by event day, queried by DuckDB. Training
 * sets stream from DuckDB straight to Parquet (COPY), never through JavaScript rows.
 */
export class DuckDbOfflineStore implements OfflineStore {
  readonly dir: string;
  readonly offlineRoot: string;
  readonly #instance: DuckDBInstance;
  readonly #conn: DuckDBConnection;
  #closed = false;

  private constructor(dir: string, instance: DuckDBInstance, conn: DuckDBConnection) {
    this.dir = dir;
    this.offlineRoot = join(dir, 'offline');
    this.#instance = instance;
    this.#conn = conn;
  }

  static async open(options: OfflineStoreOptions): Promise<DuckDbOfflineStore> {
    const dir = resolve(options.dir);
    mkdirSync(join(dir, 'offline'), { recursive: true });
    const tmp = join(dir, 'tmp');
    mkdirSync(tmp, { recursive: true });
    try {
      const instance = await DuckDBInstance.create(':memory:');
      const conn = await instance.connect();
      // every TIMESTAMPTZ <-> TIMESTAMP conversion (and every offset-less time in a TIMESTAMPTZ column) is UTC,
      // whatever the process TZ (DuckDB's default TimeZone comes from it)
      await conn.run(`SET TimeZone = 'UTC'`);
      await conn.run(`SET temp_directory = ${quoteString(tmp)}`);
      await conn.run('SET preserve_insertion_order = false');
      if (options.memoryLimit) await conn.run(`SET memory_limit = ${quoteString(options.memoryLimit)}`);
      if (options.threads) await conn.run(`SET threads = ${Math.max(1, Math.floor(options.threads))}`);
      return new DuckDbOfflineStore(dir, instance, conn);
    } catch (err) {
      throw new BackendUnavailableError(`cannot open DuckDB for ${dir}: ${describeError(err)}`, { cause: err });
    }
  }

  /** Appends rows (one new Parquet file per touched event day); never rewrites existing files. */
  async appendRows(view: FeatureViewDef, batch: OfflineRowBatch): Promise<number> {
    const n = batch.entityIds.length;
    const width = view.features.length;
    if (batch.eventTs.length !== n || batch.createdTs.length !== n || batch.values.length !== n * width)
      throw new InvalidInputError(
        `offline append to ${view.name}: expected ${n} eventTs, ${n} createdTs and ${n} x ${width} values, got ${batch.eventTs.length}, ${batch.createdTs.length}, ${batch.values.length}`,
      );
    if (n === 0) return 0;
    const stage = `__stage_${randomUUID().replaceAll('-', '')}`;
    const cols = view.features.map((f) => `${quoteIdent(f.name)} ${sqlTypeOf(f.dtype)}`).join(', ');
    await this.#sql(`CREATE TABLE ${stage} (entity_id VARCHAR, event_ts BIGINT, created_ts BIGINT, ${cols})`);
    try {
      const app = await this.#conn.createAppender(stage);
      try {
        for (let i = 0; i < n; i++) {
          const id = batch.entityIds[i] as string;
          const e = batch.eventTs[i] as number;
          const c = batch.createdTs[i] as number;
          if (!isValidEntityId(id) || !Number.isInteger(e) || !Number.isInteger(c))
            throw new InvalidInputError(
              `offline append to ${view.name}: row ${i} has a bad entity id or timestamps (${id}, ${e}, ${c})`,
            );
          app.appendVarchar(id);
          app.appendBigInt(BigInt(e));
          app.appendBigInt(BigInt(c));
          for (let k = 0; k < width; k++) {
            const x = batch.values[i * width + k] as number;
            const dtype = (view.features[k] as FeatureViewDef['features'][number]).dtype;
            if (dtype === 'float') app.appendFloat(x);
            else if (Number.isNaN(x)) app.appendNull();
            else if (dtype === 'bool') app.appendBoolean(x !== 0);
            else app.appendInteger(Math.trunc(x));
          }
          app.endRow();
        }
        app.flushSync();
      } finally {
        app.closeSync();
      }
      await this.appendFromQuery(view, `SELECT * FROM ${stage}`);
    } finally {
      await this.#sql(`DROP TABLE IF EXISTS ${stage}`);
    }
    return n;
  }

  /**
   * Appends the rows of a SQL query with columns entity_id, event_ts (epoch ms), created_ts (epoch ms) and the
   * view's features (bulk loads, imports from Parquet/CSV sources, benchmarks).
   */
  async appendFromQuery(view: FeatureViewDef, query: string): Promise<void> {
    const dest = join(this.offlineRoot, storageKeyOf(view));
    mkdirSync(dest, { recursive: true });
    const feats = view.features.map(
      (f) => `CAST(${quoteIdent(f.name)} AS ${sqlTypeOf(f.dtype)}) AS ${quoteIdent(f.name)}`,
    );
    await this.#sql(
      `COPY (SELECT CAST(entity_id AS VARCHAR) AS entity_id, CAST(event_ts AS BIGINT) AS event_ts, CAST(created_ts AS BIGINT) AS created_ts, ${feats.join(', ')}, ` +
        `CAST(epoch_ms(CAST(event_ts AS BIGINT)) AS DATE) AS ${OFFLINE_KEY_COLUMNS.partition} FROM (${query})) ` +
        `TO ${quoteString(dest)} (FORMAT parquet, PARTITION_BY (${OFFLINE_KEY_COLUMNS.partition}), FILENAME_PATTERN 'part-{uuid}', APPEND)`,
    );
  }

  /** Imports a Parquet/CSV source declared on a view (join key, timestamp columns, feature columns by name). */
  async importSource(view: FeatureViewDef, joinKey: string, nowMs: number, sourceRoot = '.'): Promise<number> {
    const src = view.source;
    if (src.path === undefined) throw new InvalidInputError(`view ${view.name} declares no source path to import`);
    const path = src.path.includes('://') ? src.path : resolve(sourceRoot, src.path);
    const reader = this.#readerFor(path, src.format);
    const before = await this.rowCount(view);
    const ev = src.eventTsColumn ?? 'event_ts';
    const columns = await this.#describe(reader);
    const need = [
      joinKey,
      ev,
      ...(src.createdTsColumn ? [src.createdTsColumn] : []),
      ...view.features.map((f) => f.aggregation?.column ?? f.name),
    ];
    const absent = need.filter((c) => !columns.has(c));
    if (absent.length > 0)
      throw new InvalidInputError(
        `source ${path} for view ${view.name} lacks column(s) ${absent.join(', ')}; it has ${[...columns.keys()].join(', ')}`,
      );
    const created = src.createdTsColumn
      ? this.#epochMsSql(src.createdTsColumn, columns)
      : `${Math.floor(nowMs)}::BIGINT`;
    const eventTs = this.#epochMsSql(ev, columns);
    // a snapshot aggregation reads the entity's source rows of (t - window, t]: each row only its own past
    const value = (f: FeatureViewDef['features'][number]): string => {
      const a = f.aggregation;
      if (!a) return quoteIdent(f.name);
      const fn = { mean: 'avg', sum: 'sum', min: 'min', max: 'max' }[a.op as 'mean' | 'sum' | 'min' | 'max'];
      return `${fn}(${quoteIdent(a.column as string)}) OVER (PARTITION BY ${quoteIdent(joinKey)} ORDER BY ${eventTs} RANGE BETWEEN ${parseWindowMs(a.window) - 1} PRECEDING AND CURRENT ROW) AS ${quoteIdent(f.name)}`;
    };
    await this.appendFromQuery(
      view,
      `SELECT ${quoteIdent(joinKey)} AS entity_id, ${eventTs} AS event_ts, ${created} AS created_ts, ${view.features.map(value).join(', ')} FROM ${reader}`,
    );
    return (await this.rowCount(view)) - before;
  }

  hasData(view: Pick<FeatureViewDef, 'name' | 'version'>): boolean {
    const dir = join(this.offlineRoot, storageKeyOf(view));
    if (!existsSync(dir)) return false;
    return readdirSync(dir, { withFileTypes: true }).some(
      (d) => d.isDirectory() && readdirSync(join(dir, d.name)).some((f) => f.endsWith('.parquet')),
    );
  }

  /** Removes all offline rows of a view version (tests, resets). */
  dropView(view: Pick<FeatureViewDef, 'name' | 'version'>): void {
    rmSync(join(this.offlineRoot, storageKeyOf(view)), { recursive: true, force: true });
  }

  /** Point-in-time training set streamed to Parquet. Label columns are kept; `label_row` gives the input order. */
  async trainingSet(req: TrainingSetRequest): Promise<TrainingSetResult> {
    const started = performance.now();
    const reader = this.#readerFor(req.labelsPath);
    const columns = await this.#describe(reader);
    const ts = req.timestampColumn;
    const tsType = columns.get(ts);
    if (tsType === undefined)
      throw new InvalidInputError(
        `label file ${req.labelsPath} has no timestamp column "${ts}"; its columns are ${[...columns.keys()].join(', ')}`,
      );
    if (!isTimeType(tsType))
      throw new InvalidInputError(
        `label column "${ts}" must hold epoch milliseconds (integer) or TIMESTAMP values, got ${tsType}`,
      );
    for (const v of req.layout.inputViews.values()) {
      const key = v.source.kind === 'request' ? undefined : req.joinKeyOf(v.entity);
      if (key !== undefined && !columns.has(key))
        throw new InvalidInputError(
          `label file ${req.labelsPath} has no "${key}" column (the ${v.entity} join key for view ${v.name})`,
        );
      if (v.source.kind === 'request')
        for (const f of v.features)
          if (!columns.has(f.name))
            throw new InvalidInputError(
              `label file ${req.labelsPath} lacks request feature column "${f.name}" of view ${v.name}`,
            );
    }
    const clash = [...columns.keys()].find((c) => req.layout.columns.includes(c) || c === LABEL_ROW_COLUMN);
    if (clash !== undefined)
      throw new InvalidInputError(`label column "${clash}" collides with an output column; rename it`);
    const tsSql = this.#epochMsSql(ts, columns);
    const stage = `__train_${randomUUID().replaceAll('-', '')}`;
    const labels = `${stage}_labels`;
    try {
      // label_row is the row's position in the file: read in order, numbered once, stored in that order
      await this.#sql('SET preserve_insertion_order = true');
      try {
        await this.#sql(
          `CREATE TEMP TABLE ${labels} AS SELECT *, ${tsSql} AS __t, (row_number() OVER () - 1)::BIGINT AS ${LABEL_ROW_COLUMN} FROM ${reader}`,
        );
      } finally {
        await this.#sql('SET preserve_insertion_order = false');
      }
      const range = await this.#sqlRead(`SELECT min(__t)::DOUBLE, max(__t)::DOUBLE FROM ${labels}`);
      const [minTs, maxTs] = (range.getRows()[0] ?? []).map(Number) as [number, number];
      const out = resolve(req.outPath);
      const rows = await this.#withPitPlan(
        {
          layout: req.layout,
          labelsTable: labels,
          labelColumns: [...columns.keys()],
          scans: this.#scans(req.layout),
          minTs: Number.isFinite(minTs) ? minTs : 0,
          maxTs: Number.isFinite(maxTs) ? maxTs : 0,
          joinKeyOf: req.joinKeyOf,
          lookbackMs: req.lookbackMs,
          knownAtLabelTime: req.knownAtLabelTime,
        },
        stage,
        async (output) => {
          const copied = await this.#sqlRead(
            `COPY (${output}) TO ${quoteString(out)} (FORMAT parquet, ROW_GROUP_SIZE ${TRAINING_ROW_GROUP_ROWS})`,
          );
          return Number(copied.getRows()[0]?.[0] ?? 0);
        },
        req.onProgress,
      );
      return { rows, columns: req.layout.columns.length, outPath: out, durationMs: performance.now() - started };
    } finally {
      await this.#sql(`DROP TABLE IF EXISTS ${labels}`);
    }
  }

  /**
   * Creates the plan's stage tables in order, runs `consume` on its output query, then drops them. `onProgress` counts
   * one stage before the plan (the caller's label load, done) and one for `consume`.
   */
  async #withPitPlan<T>(
    input: PitQueryInput,
    prefix: string,
    consume: (output: string) => Promise<T>,
    onProgress?: (stagesDone: number, stagesTotal: number) => void,
  ): Promise<T> {
    const plan = buildPitPlan(input, `${prefix}_`);
    const created: string[] = [];
    const total = plan.stages.length + 2;
    try {
      onProgress?.(1, total);
      for (const stage of plan.stages) {
        created.push(stage.table);
        await this.#sql(`CREATE TEMP TABLE ${stage.table} AS ${stage.select}`);
        onProgress?.(created.length + 1, total);
      }
      const result = await consume(plan.output);
      onProgress?.(total, total);
      return result;
    } finally {
      for (const t of created.reverse()) await this.#sql(`DROP TABLE IF EXISTS ${t}`);
    }
  }

  /**
   * The same point-in-time join for a handful of (entity, time) pairs, read back as a FeatureMatrix (parity checks,
   * tests). Every entity is read `atMs` (one number) or its own time (an array).
   */
  async pointInTime(
    layout: ServiceLayout,
    entityIds: readonly string[],
    atMs: number | readonly number[],
    joinKeyOf: (entity: string) => string,
  ): Promise<FeatureMatrix> {
    const m = createFeatureMatrix(entityIds, layout.columns, layout.views);
    if (entityIds.length === 0) return m;
    const keys = [
      ...new Set(
        [...layout.inputViews.values()].filter((v) => v.source.kind !== 'request').map((v) => joinKeyOf(v.entity)),
      ),
    ];
    const stage = `__pit_${randomUUID().replaceAll('-', '')}`;
    // request features are not known offline for ad-hoc reads: they take their defaults, as an online read without them
    const requestFeatures = [...layout.inputViews.values()]
      .filter((v) => v.source.kind === 'request')
      .flatMap((v) => v.features);
    const requestCols = requestFeatures.map((f) => `, ${quoteIdent(f.name)} FLOAT`);
    await this.#sql(
      `CREATE TABLE ${stage} (${LABEL_ROW_COLUMN} BIGINT, __t BIGINT${keys.map((k) => `, ${quoteIdent(k)} VARCHAR`).join('')}${requestCols.join('')})`,
    );
    try {
      const app = await this.#conn.createAppender(stage);
      let minTs = Number.POSITIVE_INFINITY;
      let maxTs = Number.NEGATIVE_INFINITY;
      try {
        for (let i = 0; i < entityIds.length; i++) {
          const t = typeof atMs === 'number' ? atMs : (atMs[i] as number);
          minTs = Math.min(minTs, t);
          maxTs = Math.max(maxTs, t);
          app.appendBigInt(BigInt(i));
          app.appendBigInt(BigInt(Math.floor(t)));
          for (let k = 0; k < keys.length; k++) app.appendVarchar(entityIds[i] as string);
          for (const f of requestFeatures) app.appendFloat(f.default);
          app.endRow();
        }
        app.flushSync();
      } finally {
        app.closeSync();
      }
      const reader = await this.#withPitPlan(
        { layout, labelsTable: stage, labelColumns: [], scans: this.#scans(layout), minTs, maxTs, joinKeyOf },
        stage,
        (output) => this.#sqlRead(output),
      );
      const names = reader.columnNames();
      const cols = reader.getColumns();
      const rowOf = (cols[0] as DuckDBValue[]).map((v) => Number(v));
      const rows = entityIds.length;
      for (let c = 0; c < layout.columns.length; c++) {
        const src = cols[names.indexOf(layout.columns[c] as string)] as DuckDBValue[];
        for (let j = 0; j < src.length; j++) m.values[c * rows + (rowOf[j] as number)] = toNumber(src[j]);
      }
      layout.runs.forEach((run, r) => {
        if (run.kind !== 'stored') return;
        const st = cols[names.indexOf(statusColumnOf(run.name))] as DuckDBValue[];
        const age = cols[names.indexOf(ageColumnOf(run.name))] as DuckDBValue[];
        for (let j = 0; j < st.length; j++) {
          m.status[r * rows + (rowOf[j] as number)] = Number(st[j]);
          (m.ageMs as Float64Array)[r * rows + (rowOf[j] as number)] = Number(age[j]);
        }
      });
      return m;
    } finally {
      await this.#sql(`DROP TABLE IF EXISTS ${stage}`);
    }
  }

  /** Newest row per entity with `event_ts <= asOf` (optionally only rows created after a mark), in chunks. */
  async *latestRows(
    view: FeatureViewDef,
    q: LatestRowsQuery,
    chunkRows = 10_000,
  ): AsyncGenerator<LatestRowsChunk & { maxCreatedTs: number }> {
    if (!this.hasData(view)) return;
    const src = this.#viewSource(view);
    const feats = view.features.map((f) => `CAST(${quoteIdent(f.name)} AS FLOAT) AS ${quoteIdent(f.name)}`).join(', ');
    const where = [`event_ts <= ${Math.floor(q.asOfMs)}`];
    if (q.createdAfterMs !== undefined) where.push(`created_ts > ${Math.floor(q.createdAfterMs)}`);
    const sql =
      `SELECT entity_id, event_ts::DOUBLE AS e, created_ts::DOUBLE AS c, ${feats} FROM ${src} WHERE ${where.join(' AND ')} ` +
      'QUALIFY row_number() OVER (PARTITION BY entity_id ORDER BY event_ts DESC, created_ts DESC) = 1';
    const result = await this.#run(() => this.#conn.stream(sql));
    const width = view.features.length;
    let ids: string[] = [];
    let ev: number[] = [];
    let cr: number[] = [];
    let vals: number[] = [];
    let maxCreated = Number.NEGATIVE_INFINITY;
    const flush = () => {
      const chunk = {
        entityIds: ids,
        eventTs: Float64Array.from(ev),
        createdTs: Float64Array.from(cr),
        values: Float32Array.from(vals),
        maxCreatedTs: maxCreated,
      };
      ids = [];
      ev = [];
      cr = [];
      vals = [];
      return chunk;
    };
    for (;;) {
      const chunk = await this.#run(() => result.fetchChunk());
      if (chunk === null || chunk.rowCount === 0) break;
      const cols = chunk.getColumns();
      const n = chunk.rowCount;
      for (let i = 0; i < n; i++) {
        ids.push(String(cols[0]?.[i]));
        ev.push(Number(cols[1]?.[i]));
        const c = Number(cols[2]?.[i]);
        cr.push(c);
        if (c > maxCreated) maxCreated = c;
        for (let k = 0; k < width; k++) vals.push(toNumber(cols[3 + k]?.[i] ?? null));
      }
      if (ids.length >= chunkRows) yield flush();
    }
    if (ids.length > 0) yield flush();
  }

  /** Newest event time per entity: the newest value's age and the share of entities older than the SLA. */
  async freshness(
    view: FeatureViewDef,
    nowMs: number,
  ): Promise<{ entities: number; newestEventTs: number; staleEntities: number }> {
    if (!this.hasData(view)) return { entities: 0, newestEventTs: Number.NaN, staleEntities: 0 };
    const sla = Math.ceil(view.freshnessSlaSeconds * 1000);
    const r = await this.#sqlRead(
      `SELECT count(*)::DOUBLE, max(latest)::DOUBLE, count(*) FILTER (WHERE latest <= ${Math.floor(nowMs)} - ${sla})::DOUBLE ` +
        `FROM (SELECT entity_id, max(event_ts) AS latest FROM ${this.#viewSource(view)} WHERE event_ts <= ${Math.floor(nowMs)} GROUP BY entity_id)`,
    );
    const [entities, newest, stale] = (r.getRows()[0] ?? []).map((v) => (v === null ? Number.NaN : Number(v))) as [
      number,
      number,
      number,
    ];
    return { entities, newestEventTs: newest, staleEntities: stale };
  }

  /** Up to `n` distinct entity ids with data in any of the views, chosen deterministically by hash with `seed`. */
  async sampleEntities(views: readonly FeatureViewDef[], n: number, seed: number): Promise<string[]> {
    const sources = views
      .filter((v) => this.hasData(v))
      .map((v) => `SELECT DISTINCT entity_id FROM ${this.#viewSource(v)}`);
    if (sources.length === 0) return [];
    const r = await this.#sqlRead(
      `SELECT entity_id FROM (${sources.join(' UNION ')}) ORDER BY hash(entity_id || ${quoteString(String(seed))}), entity_id LIMIT ${Math.floor(n)}`,
    );
    return r.getRows().map((row) => String(row[0]));
  }

  /** Count of rows stored for a view (all versions of its files). */
  async rowCount(view: FeatureViewDef): Promise<number> {
    if (!this.hasData(view)) return 0;
    const r = await this.#sqlRead(`SELECT count(*)::DOUBLE FROM ${this.#viewSource(view)}`);
    return Number(r.getRows()[0]?.[0] ?? 0);
  }

  /**
   * Rewrites every Parquet file (of every view and version) that holds rows of these entities without them: one
   * query finds the files, then each is copied without the rows to a temporary name beside it and renamed over
   * the original (a file with no row left is removed), so a reader sees the old file or the new one and a crash
   * leaves every other entity's rows as they were. Temporaries left by a crash are removed first.
   */
  async deleteEntities(entityIds: readonly string[], options: OfflineDeleteOptions = {}): Promise<OfflineDeleteResult> {
    this.#removeRewriteTemporaries();
    const files = this.#allFiles();
    if (entityIds.length === 0 || files.length === 0) return { rows: 0, files: 0, entities: [] };
    const stage = await this.#stageIds(entityIds);
    try {
      const hits = await this.#sqlRead(
        `SELECT filename, list(DISTINCT entity_id), count(*)::DOUBLE FROM read_parquet([${files.map(quoteString).join(', ')}], union_by_name = true, filename = true) ` +
          `WHERE entity_id IN (SELECT id FROM ${stage}) GROUP BY filename ORDER BY filename`,
      );
      const found = new Set<string>();
      let rows = 0;
      let rewritten = 0;
      for (const [file, ids, n] of hits.getRows()) {
        for (const id of (ids as { items: unknown[] }).items) found.add(String(id));
        const path = String(file);
        const tmp = `${path}${REWRITE_SUFFIX}`;
        const copied = await this.#sqlRead(
          `COPY (SELECT * FROM read_parquet(${quoteString(path)}) WHERE entity_id NOT IN (SELECT id FROM ${stage})) TO ${quoteString(tmp)} (FORMAT parquet)`,
        );
        if (Number(copied.getRows()[0]?.[0] ?? 0) === 0) {
          rmSync(tmp, { force: true });
          rmSync(path, { force: true });
        } else renameSync(tmp, path);
        rows += Number(n);
        rewritten++;
        options.onFileRewritten?.(path);
      }
      return { rows, files: rewritten, entities: [...found].sort() };
    } finally {
      await this.#sql(`DROP TABLE IF EXISTS ${stage}`);
    }
  }

  /** Rows of these entities in every view file (the deletion's verifier). */
  async countEntities(entityIds: readonly string[]): Promise<number> {
    const files = this.#allFiles();
    if (entityIds.length === 0 || files.length === 0) return 0;
    const stage = await this.#stageIds(entityIds);
    try {
      const r = await this.#sqlRead(
        `SELECT count(*)::DOUBLE FROM read_parquet([${files.map(quoteString).join(', ')}], union_by_name = true) WHERE entity_id IN (SELECT id FROM ${stage})`,
      );
      return Number(r.getRows()[0]?.[0] ?? 0);
    } finally {
      await this.#sql(`DROP TABLE IF EXISTS ${stage}`);
    }
  }

  /** Every distinct entity id with a row in any view file, or in one view's. */
  async distinctEntityIds(view?: Pick<FeatureViewDef, 'name' | 'version'>): Promise<string[]> {
    const files = view === undefined ? this.#allFiles() : this.#filesOf(view);
    if (files.length === 0) return [];
    const r = await this.#sqlRead(
      `SELECT DISTINCT entity_id FROM read_parquet([${files.map(quoteString).join(', ')}], union_by_name = true)`,
    );
    return r.getRows().map((row) => String(row[0]));
  }

  async #stageIds(entityIds: readonly string[]): Promise<string> {
    const stage = `__ids_${randomUUID().replaceAll('-', '')}`;
    await this.#sql(`CREATE TEMP TABLE ${stage} (id VARCHAR)`);
    const app = await this.#conn.createAppender(stage);
    try {
      for (const id of entityIds) {
        app.appendVarchar(id);
        app.endRow();
      }
      app.flushSync();
    } finally {
      app.closeSync();
    }
    return stage;
  }

  /** Every view file under the offline root (all views and versions). */
  #allFiles(): string[] {
    if (!existsSync(this.offlineRoot)) return [];
    const files: string[] = [];
    for (const d of readdirSync(this.offlineRoot, { withFileTypes: true }))
      if (d.isDirectory()) files.push(...this.#filesIn(join(this.offlineRoot, d.name)));
    return files.sort();
  }

  #removeRewriteTemporaries(): void {
    if (!existsSync(this.offlineRoot)) return;
    for (const d of readdirSync(this.offlineRoot, { withFileTypes: true, recursive: true }))
      if (d.isFile() && d.name.endsWith(REWRITE_SUFFIX)) rmSync(join(d.parentPath, d.name), { force: true });
  }

  /** Runs arbitrary SQL for benchmarks and tooling that need DuckDB directly (e.g. writing a labels file). */
  async execute(sql: string): Promise<void> {
    await this.#sql(sql);
  }

  /** Runs a query and returns its rows as plain JSON-safe objects (small results: tooling, tests, CLI). */
  async query(sql: string): Promise<Array<Record<string, unknown>>> {
    const r = await this.#sqlRead(sql);
    return r.getRowObjectsJson() as Array<Record<string, unknown>>;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.closeSync();
    this.#instance.closeSync();
  }

  /** The views' files as of now, listed once: row ids (file index, row number) stay valid across the plan's statements. */
  #scans(layout: ServiceLayout): Map<string, ViewScan> {
    const scans = new Map<string, ViewScan>();
    for (const v of layout.inputViews.values()) {
      if (v.source.kind === 'request') continue;
      const files = this.#filesOf(v);
      const list = files.map(quoteString).join(', ');
      scans.set(v.name, {
        view: v,
        source:
          files.length === 0
            ? undefined
            : `read_parquet([${list}], hive_partitioning = true, union_by_name = true, file_row_number = true)`,
      });
    }
    return scans;
  }

  #filesOf(view: Pick<FeatureViewDef, 'name' | 'version'>): string[] {
    return this.#filesIn(join(this.offlineRoot, storageKeyOf(view)));
  }

  #filesIn(dir: string): string[] {
    if (!existsSync(dir)) return [];
    const files: string[] = [];
    for (const d of readdirSync(dir, { withFileTypes: true }))
      if (d.isDirectory())
        for (const f of readdirSync(join(dir, d.name))) if (f.endsWith('.parquet')) files.push(join(dir, d.name, f));
    return files.sort();
  }

  #viewSource(view: FeatureViewDef): string {
    return `read_parquet(${quoteString(viewGlob(this.offlineRoot, view))}, hive_partitioning = true, union_by_name = true)`;
  }

  #readerFor(path: string, format?: string): string {
    const f = format ?? (extname(path).toLowerCase() === '.csv' ? 'csv' : 'parquet');
    if (!path.includes('://') && !path.includes('*') && !existsSync(path))
      throw new InvalidInputError(`file ${path} does not exist`);
    return f === 'csv' ? `read_csv(${quoteString(path)}, header = true)` : `read_parquet(${quoteString(path)})`;
  }

  async #describe(relation: string): Promise<Map<string, string>> {
    const r = await this.#sqlRead(`DESCRIBE SELECT * FROM ${relation}`);
    return new Map(r.getRows().map((row) => [String(row[0]), String(row[1])]));
  }

  #epochMsSql(column: string, types: ReadonlyMap<string, string>): string {
    return epochMsSql(quoteIdent(column), types.get(column) ?? '');
  }

  async #sql(sql: string): Promise<void> {
    await this.#run(() => this.#conn.run(sql));
  }

  async #sqlRead(sql: string) {
    return this.#run(() => this.#conn.runAndReadAll(sql));
  }

  async #run<T>(op: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new BackendUnavailableError('offline store is closed');
    try {
      return await op();
    } catch (err) {
      if (err instanceof InvalidInputError || err instanceof BackendUnavailableError) throw err;
      const msg = describeError(err);
      // conversion errors come from the caller's files, not from DuckDB being unavailable
      if (/Conversion Error|Could not convert|Binder Error/i.test(msg))
        throw new InvalidInputError(`offline query rejected the input: ${msg}`, { cause: err });
      throw new BackendUnavailableError(`offline store query failed: ${msg}`, { cause: err });
    }
  }
}

/**
 * Epoch ms of a time column, never through the session's clock time: TIMESTAMPTZ is an instant already; a naive
 * TIMESTAMP (any precision) or DATE is read as UTC. (Casting TIMESTAMPTZ to TIMESTAMP gives local clock time,
 * which shifted label and event times by the process TZ.)
 */
function epochMsSql(col: string, type: string): string {
  if (type === 'TIMESTAMP WITH TIME ZONE' || type === 'TIMESTAMPTZ' || type === 'TIMESTAMP') return `epoch_ms(${col})`;
  if (/^(TIMESTAMP_(S|MS|NS)|DATE)$/.test(type)) return `epoch_ms(CAST(${col} AS TIMESTAMP))`;
  return `CAST(${col} AS BIGINT)`;
}

function isTimeType(t: string): boolean {
  return /^(BIGINT|INTEGER|HUGEINT|UBIGINT|UINTEGER|TIMESTAMP.*|DATE)$/.test(t);
}

function toNumber(v: DuckDBValue | undefined): number {
  if (v === null || v === undefined) return Number.NaN;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return Number(v);
}
