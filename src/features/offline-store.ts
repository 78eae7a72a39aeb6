import type { FeatureMatrix } from '../core/index.js';

import type { FeatureViewDef, ServiceLayout } from './definitions.js';

/** Rows of one view to append: `values` is row-major (`values[row * features + k]`). */
export interface OfflineRowBatch {
  readonly entityIds: readonly string[];
  readonly eventTs: Float64Array;
  readonly createdTs: Float64Array;
  readonly values: Float32Array;
}

export interface TrainingSetRequest {
  readonly layout: ServiceLayout;
  readonly labelsPath: string;
  readonly outPath: string;
  /** Label timestamp column: epoch-ms integer or TIMESTAMP. */
  readonly timestampColumn: string;
  readonly joinKeyOf: (entity: string) => string;
  /** Skip partitions older than each view's TTL plus this (see `PitQueryInput.lookbackMs`); default: read all. */
  readonly lookbackMs?: number | undefined;
  /** Only rows written by each label's time (`created_ts <= t`): see `PitQueryInput.knownAtLabelTime`. */
  readonly knownAtLabelTime?: boolean | undefined;
  /** Stages done and their number, after each: the labels' load, each point-in-time stage table, the COPY. */
  readonly onProgress?: ((stagesDone: number, stagesTotal: number) => void) | undefined;
}

export interface TrainingSetResult {
  readonly rows: number;
  readonly columns: number;
  readonly outPath: string;
  readonly durationMs: number;
}

/** One entity's newest row of a view, as materialization reads them (chunked, row-major values). */
export interface LatestRowsChunk extends OfflineRowBatch {}

export interface LatestRowsQuery {
  readonly asOfMs: number;
  /** Only rows written after this `created_ts` (incremental materialization). */
  readonly createdAfterMs?: number | undefined;
}

export interface OfflineDeleteOptions {
  /** Called after each file is replaced (progress; a test's crash point). */
  readonly onFileRewritten?: ((file: string) => void) | undefined;
}

export interface OfflineDeleteResult {
  /** Rows removed. */
  readonly rows: number;
  /** Files rewritten (or removed, when no row was left). */
  readonly files: number;
  /** The given entities that had rows, sorted. */
  readonly entities: readonly string[];
}

/**
 * The offline store port: append-only history per feature view, the point-in-time joins over it, and the newest
 * rows materialization copies online. `DuckDbOfflineStore` (DuckDB over Parquet) is the adapter; `execute` and
 * `query` take its SQL dialect (tooling, benchmarks, evaluations that join the store's files with others).
 */
export interface OfflineStore {
  /** Where the view files live (`<dir>/offline`): tooling that reads them directly. */
  readonly offlineRoot: string;
  /** Appends rows; never rewrites what is there (but for `deleteEntities`). Returns the rows appended. */
  appendRows(view: FeatureViewDef, batch: OfflineRowBatch): Promise<number>;
  /** Appends the rows of a query with columns entity_id, event_ts, created_ts (epoch ms) and the view's features. */
  appendFromQuery(view: FeatureViewDef, query: string): Promise<void>;
  /** Imports the Parquet/CSV source a view declares; returns the rows added. */
  importSource(view: FeatureViewDef, joinKey: string, nowMs: number, sourceRoot?: string): Promise<number>;
  hasData(view: Pick<FeatureViewDef, 'name' | 'version'>): boolean;
  /** Removes all rows of a view version (tests, resets). */
  dropView(view: Pick<FeatureViewDef, 'name' | 'version'>): void;
  /** A point-in-time training set written to a Parquet file, label columns kept. */
  trainingSet(req: TrainingSetRequest): Promise<TrainingSetResult>;
  /** The same join for (entity, time) pairs, read back as a FeatureMatrix. */
  pointInTime(
    layout: ServiceLayout,
    entityIds: readonly string[],
    atMs: number | readonly number[],
    joinKeyOf: (entity: string) => string,
  ): Promise<FeatureMatrix>;
  /** Newest row per entity with event_ts <= asOf, in chunks (materialization). */
  latestRows(
    view: FeatureViewDef,
    q: LatestRowsQuery,
    chunkRows?: number,
  ): AsyncGenerator<LatestRowsChunk & { maxCreatedTs: number }>;
  freshness(
    view: FeatureViewDef,
    nowMs: number,
  ): Promise<{ entities: number; newestEventTs: number; staleEntities: number }>;
  sampleEntities(views: readonly FeatureViewDef[], n: number, seed: number): Promise<string[]>;
  rowCount(view: FeatureViewDef): Promise<number>;
  /** Removes every row of these entities from every view (privacy deletion: the only rewrite of history). */
  deleteEntities(entityIds: readonly string[], options?: OfflineDeleteOptions): Promise<OfflineDeleteResult>;
  /** Rows of these entities left in any view. */
  countEntities(entityIds: readonly string[]): Promise<number>;
  /** Distinct entity ids with rows in any view (or in one view). */
  distinctEntityIds(view?: Pick<FeatureViewDef, 'name' | 'version'>): Promise<string[]>;
  execute(sql: string): Promise<void>;
  query(sql: string): Promise<Array<Record<string, unknown>>>;
  close(): Promise<void>;
}
