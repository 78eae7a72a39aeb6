import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  type Clock,
  type FeatureMatrix,
  InvalidInputError,
  type MetricsRegistry,
  NO_TOMBSTONES,
  systemClock,
  type TombstoneCheck,
} from '../core/index.js';
import {
  type FeatureDefinitions,
  type FeatureViewDef,
  resolveService,
  type ServiceLayout,
  storageKeyOf,
  ttlMsOf,
  withTransformInputs,
} from './definitions.js';
import { DuckDbOfflineStore } from './duckdb-offline-store.js';
import { FeatureNotFoundError } from './errors.js';
import { MemoryOnlineStore } from './memory-online-store.js';
import type { OfflineRowBatch, OfflineStore, TrainingSetResult } from './offline-store.js';
import { fillRequestAndTransforms, type RequestData, readOnlineFeatures, truncateMatrix } from './online-features.js';
import type { OnlineStore, OnlineViewRef, OnlineWriteBatch, OnlineWriteResult, ReadBuffers } from './online-store.js';
import { quoteIdent, quoteString } from './pit-sql.js';
import { type ApplyOutcome, FeatureRegistry } from './registry.js';

export interface FeatureStoreOptions {
  /** Store directory: registry, offline Parquet, materialization marks, memory snapshot. */
  readonly dir: string;
  /** Defaults to an in-memory store with its snapshot at `<dir>/online-snapshot.json`. */
  readonly online?: OnlineStore | undefined;
  readonly clock?: Clock | undefined;
  readonly metrics?: MetricsRegistry | undefined;
  readonly memoryLimit?: string | undefined;
  readonly threads?: number | undefined;
  /**
   * Users whose deletion was requested: never written online or offline (writes, stream ingest, imports,
   * materialization) nor into a training set. Default NO_TOMBSTONES.
   */
  readonly tombstones?: TombstoneCheck | undefined;
}

/** A training set the store wrote (`training-sets.jsonl`): privacy deletions rewrite these files too. */
export interface TrainingSetRecord {
  readonly path: string;
  readonly service: string;
  readonly createdAtMs: number;
  readonly rows: number;
  /** The label columns that hold entity ids (the views' join keys). */
  readonly keyColumns: readonly string[];
}

export interface MaterializeOptions {
  /** Only rows created after each view's high-water mark (then the mark moves). */
  readonly incremental?: boolean | undefined;
  /** Values with event time up to this instant; default now. */
  readonly asOfMs?: number | undefined;
  /** Default: every batch view. */
  readonly views?: readonly string[] | undefined;
}

export interface MaterializeViewResult {
  readonly view: string;
  readonly storageKey: string;
  readonly mode: 'full' | 'incremental';
  readonly entitiesRead: number;
  readonly written: number;
  readonly skipped: number;
  readonly highWaterCreatedTs: number | null;
}

export interface ParityOptions {
  readonly service: string;
  readonly atMs: number;
  /** Entities to compare; otherwise `sample` entities drawn deterministically from the offline store. */
  readonly entityIds?: readonly string[] | undefined;
  readonly sample?: number | undefined;
  readonly seed?: number | undefined;
}

export interface ParityReport {
  readonly service: string;
  readonly atMs: number;
  readonly entities: number;
  readonly features: ReadonlyArray<{
    readonly feature: string;
    readonly mismatches: number;
    readonly mismatchRate: number;
  }>;
  readonly views: ReadonlyArray<{ readonly view: string; readonly statusMismatches: number }>;
  readonly totalMismatches: number;
  readonly mismatchRate: number;
  /** A few mismatching cells, for debugging. */
  readonly examples: ReadonlyArray<{ entityId: string; feature: string; online: number; offline: number }>;
}

export interface FreshnessReport {
  readonly view: string;
  readonly entities: number;
  readonly newestAgeSeconds: number | null;
  readonly staleEntities: number;
  readonly staleRatio: number;
  readonly slaSeconds: number;
  /**
   * The same measures over what the online store serves: the offline figures say what the pipeline produced, these
   * what reads see (a stalled materialization or stream writer shows here first).
   */
  readonly online: OnlineFreshnessReport;
}

export interface OnlineFreshnessReport {
  readonly entities: number;
  readonly newestAgeSeconds: number | null;
  readonly staleEntities: number;
  readonly staleRatio: number;
  /** Counted over a sample of the online entities (Redis: up to `sample`, default 10,000). */
  readonly sampled: boolean;
}

interface DefinitionsCache {
  readonly entries: number;
  readonly defs: FeatureDefinitions;
  readonly layouts: Map<string, ServiceLayout>;
}

interface MaterializationMarks {
  [storageKey: string]: { highWaterCreatedTs: number; lastRunAtMs: number };
}

/** The feature store: registry + offline store + online store, and the jobs that connect them. */
export class FeatureStore {
  readonly dir: string;
  readonly registry: FeatureRegistry;
  readonly offline: OfflineStore;
  readonly online: OnlineStore;
  readonly clock: Clock;
  readonly tombstones: TombstoneCheck;
  readonly #metrics: MetricsRegistry | undefined;
  #defsCache: DefinitionsCache | undefined;
  #closed = false;

  private constructor(
    dir: string,
    registry: FeatureRegistry,
    offline: OfflineStore,
    online: OnlineStore,
    clock: Clock,
    metrics?: MetricsRegistry,
    tombstones: TombstoneCheck = NO_TOMBSTONES,
  ) {
    this.tombstones = tombstones;
    this.dir = dir;
    this.registry = registry;
    this.offline = offline;
    this.online = online;
    this.clock = clock;
    this.#metrics = metrics;
  }

  static async open(options: FeatureStoreOptions): Promise<FeatureStore> {
    const dir = resolve(options.dir);
    mkdirSync(dir, { recursive: true });
    const registry = FeatureRegistry.open(dir);
    const offline = await DuckDbOfflineStore.open({ dir, memoryLimit: options.memoryLimit, threads: options.threads });
    const online = options.online ?? new MemoryOnlineStore({ snapshotPath: join(dir, 'online-snapshot.json') });
    return new FeatureStore(
      dir,
      registry,
      offline,
      online,
      options.clock ?? systemClock,
      options.metrics,
      options.tombstones,
    );
  }

  apply(defs: FeatureDefinitions): ApplyOutcome[] {
    return this.registry.apply(defs, this.clock.now());
  }

  definitions(): FeatureDefinitions {
    const n = this.registry.entries().length;
    if (this.#defsCache?.entries !== n)
      this.#defsCache = { entries: n, defs: this.registry.current(), layouts: new Map() };
    return this.#defsCache.defs;
  }

  /** The service's resolved layout, cached until the registry changes (online reads resolve no definitions). */
  layout(service: string): ServiceLayout {
    const defs = this.definitions();
    const cache = this.#defsCache as DefinitionsCache;
    let layout = cache.layouts.get(service);
    if (layout === undefined) {
      layout = resolveService(defs, service);
      cache.layouts.set(service, layout);
    }
    return layout;
  }

  view(name: string): FeatureViewDef {
    const v = this.definitions().views.find((x) => x.name === name);
    if (!v) throw new FeatureNotFoundError(`feature view "${name}" is not registered`);
    return v;
  }

  joinKeyOf = (entity: string): string => {
    const e = this.definitions().entities.find((x) => x.name === entity);
    if (!e) throw new FeatureNotFoundError(`entity "${entity}" is not registered`);
    return e.joinKey;
  };

  async writeOffline(viewName: string, batch: OfflineRowBatch): Promise<number> {
    return this.offline.appendRows(this.view(viewName), this.#live(batch));
  }

  async writeOnline(viewName: string, batch: OnlineWriteBatch): Promise<OnlineWriteResult> {
    const v = this.view(viewName);
    return this.online.write(onlineViewRef(v), this.#live(batch));
  }

  /**
   * Appends a view's declared Parquet/CSV source (paths relative to `sourceRoot`) to the offline store; rows of
   * deleted users are removed again before this returns (the import is a COPY in DuckDB, which cannot ask the
   * ledger per row), so the count is of the rows kept.
   */
  async importSource(viewName: string, sourceRoot = '.'): Promise<number> {
    const v = this.view(viewName);
    const added = await this.offline.importSource(v, this.joinKeyOf(v.entity), this.clock.now(), sourceRoot);
    if (this.tombstones === NO_TOMBSTONES || added === 0) return added;
    const deleted = (await this.offline.distinctEntityIds(v)).filter((id) => this.tombstones.isDeleted(id));
    if (deleted.length === 0) return added;
    const before = await this.offline.rowCount(v);
    await this.offline.deleteEntities(deleted);
    return added - (before - (await this.offline.rowCount(v)));
  }

  /** Stream path: the same rows to both stores (offline history for training, online for serving). */
  async ingest(viewName: string, batch: OfflineRowBatch): Promise<OnlineWriteResult> {
    const live = this.#live(batch);
    await this.offline.appendRows(this.view(viewName), live);
    return this.online.write(onlineViewRef(this.view(viewName)), live);
  }

  /** The batch without rows of deleted users (the same object when it has none). */
  #live<B extends OfflineRowBatch>(batch: B): B {
    const t = this.tombstones;
    if (t === NO_TOMBSTONES) return batch;
    const ids = batch.entityIds;
    const n = ids.length;
    let keep: number[] | undefined;
    for (let i = 0; i < n; i++)
      if (t.isDeleted(ids[i] as string)) {
        keep ??= Array.from({ length: i }, (_, k) => k);
      } else keep?.push(i);
    if (keep === undefined) return batch;
    const width = n === 0 ? 0 : batch.values.length / n;
    const values = new Float32Array(keep.length * width);
    for (let k = 0; k < keep.length; k++) {
      const row = keep[k] as number;
      values.set(batch.values.subarray(row * width, (row + 1) * width), k * width);
    }
    return {
      ...batch,
      entityIds: keep.map((row) => ids[row] as string),
      eventTs: Float64Array.from(keep, (row) => batch.eventTs[row] as number),
      createdTs: Float64Array.from(keep, (row) => batch.createdTs[row] as number),
      values,
    };
  }

  async readOnline(
    service: string,
    entityIds: readonly string[],
    options: {
      atMs?: number;
      request?: RequestData;
      /** Lend the read its memory (see `ReadBuffers`): the result is valid until the next read with them. */
      buffers?: ReadBuffers;
    } = {},
  ): Promise<FeatureMatrix> {
    return readOnlineFeatures(
      this.online,
      this.definitions(),
      this.layout(service),
      entityIds,
      options.atMs ?? this.clock.now(),
      options.request,
      options.buffers,
    );
  }

  /** The offline point-in-time answer for (entity, time) pairs, as a FeatureMatrix (transforms computed in SQL). */
  async readPointInTime(
    service: string,
    entityIds: readonly string[],
    atMs: number | readonly number[],
  ): Promise<FeatureMatrix> {
    const defs = this.definitions();
    const { layout: full, hiddenFrom } = withTransformInputs(defs, resolveService(defs, service));
    const m = await this.offline.pointInTime(full, entityIds, atMs, this.joinKeyOf);
    // request/transform statuses are not SQL columns: derive them the online way, on a scratch copy of the values
    if (full.runs.some((r) => r.kind === 'transform' || r.kind === 'request'))
      fillRequestAndTransforms(full, { ...m, values: m.values.slice() }, {});
    return hiddenFrom === full.columns.length ? m : truncateMatrix(resolveService(defs, service), m, hiddenFrom);
  }

  async trainingSet(options: {
    service: string;
    labelsPath: string;
    outPath: string;
    timestampColumn?: string;
    lookbackMs?: number;
    /** Leakage guard: each label reads only rows written (created) by its time; backfills after it are ignored. */
    knownAtLabelTime?: boolean;
    /** Stages done and their number, after each (`TrainingSetRequest.onProgress`). */
    onProgress?: (stagesDone: number, stagesTotal: number) => void;
  }): Promise<TrainingSetResult> {
    const layout = this.layout(options.service);
    const result = await this.offline.trainingSet({
      lookbackMs: options.lookbackMs,
      knownAtLabelTime: options.knownAtLabelTime,
      onProgress: options.onProgress,
      layout,
      labelsPath: options.labelsPath,
      outPath: options.outPath,
      timestampColumn: options.timestampColumn ?? 'ts',
      joinKeyOf: this.joinKeyOf,
    });
    const keyColumns = [
      ...new Set(
        [...layout.inputViews.values()].filter((v) => v.source.kind !== 'request').map((v) => this.joinKeyOf(v.entity)),
      ),
    ];
    const rows = result.rows - (await this.#dropDeletedRows(result.outPath, keyColumns));
    const record: TrainingSetRecord = {
      path: result.outPath,
      service: options.service,
      createdAtMs: this.clock.now(),
      rows,
      keyColumns,
    };
    appendFileSync(join(this.dir, TRAINING_SETS_FILE), `${JSON.stringify(record)}\n`);
    return { ...result, rows };
  }

  /** The training sets this store wrote, oldest first (files since removed included: check before reading). */
  trainingSets(): TrainingSetRecord[] {
    const file = join(this.dir, TRAINING_SETS_FILE);
    if (!existsSync(file)) return [];
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l) as TrainingSetRecord);
  }

  /** Rewrites a training set without the rows whose key columns name a deleted user; returns the rows removed. */
  async #dropDeletedRows(path: string, keyColumns: readonly string[]): Promise<number> {
    if (this.tombstones === NO_TOMBSTONES || keyColumns.length === 0) return 0;
    const src = `read_parquet(${quoteString(path)})`;
    const deleted = new Set<string>();
    for (const k of keyColumns)
      for (const row of await this.offline.query(`SELECT DISTINCT CAST(${quoteIdent(k)} AS VARCHAR) AS id FROM ${src}`))
        if (typeof row['id'] === 'string' && this.tombstones.isDeleted(row['id'])) deleted.add(row['id']);
    if (deleted.size === 0) return 0;
    const list = [...deleted].map(quoteString).join(', ');
    const where = keyColumns.map((k) => `CAST(${quoteIdent(k)} AS VARCHAR) NOT IN (${list})`).join(' AND ');
    const tmp = `${path}.privacy-rewrite`;
    const before = Number((await this.offline.query(`SELECT count(*)::DOUBLE AS n FROM ${src}`))[0]?.['n'] ?? 0);
    await this.offline.execute(`COPY (SELECT * FROM ${src} WHERE ${where}) TO ${quoteString(tmp)} (FORMAT parquet)`);
    renameSync(tmp, path);
    const after = Number(
      (await this.offline.query(`SELECT count(*)::DOUBLE AS n FROM read_parquet(${quoteString(path)})`))[0]?.['n'] ?? 0,
    );
    return before - after;
  }

  /** Copies each batch view's newest values (event time <= asOf) from offline to online. */
  async materialize(options: MaterializeOptions = {}): Promise<MaterializeViewResult[]> {
    const asOfMs = options.asOfMs ?? this.clock.now();
    const marks = this.#readMarks();
    const views = this.definitions().views.filter(
      (v) => v.source.kind === 'batch' && (options.views === undefined || options.views.includes(v.name)),
    );
    if (options.views)
      for (const name of options.views)
        if (!views.some((v) => v.name === name))
          throw new InvalidInputError(`"${name}" is not a registered batch view`);
    const results: MaterializeViewResult[] = [];
    const rowsMetric = this.#metrics?.counter({
      name: 'adnova_features_materialized_rows_total',
      help: 'online records written by materialization',
      labelNames: ['view'],
    });
    for (const view of views) {
      const key = storageKeyOf(view);
      const mark = options.incremental ? marks[key]?.highWaterCreatedTs : undefined;
      let entitiesRead = 0;
      let written = 0;
      let skipped = 0;
      let high = mark ?? Number.NEGATIVE_INFINITY;
      for await (const chunk of this.offline.latestRows(view, { asOfMs, createdAfterMs: mark })) {
        entitiesRead += chunk.entityIds.length;
        const r = await this.online.write(onlineViewRef(view), this.#live(chunk));
        written += r.written;
        skipped += r.skipped;
        if (chunk.maxCreatedTs > high) high = chunk.maxCreatedTs;
      }
      rowsMetric?.inc({ view: view.name }, written);
      const highWaterCreatedTs = Number.isFinite(high) ? high : null;
      if (highWaterCreatedTs !== null) marks[key] = { highWaterCreatedTs, lastRunAtMs: this.clock.now() };
      results.push({
        view: view.name,
        storageKey: key,
        mode: options.incremental ? 'incremental' : 'full',
        entitiesRead,
        written,
        skipped,
        highWaterCreatedTs,
      });
    }
    this.#writeMarks(marks);
    return results;
  }

  /** Online vs offline point-in-time at the same instant, per feature (Chronon-style consistency). */
  async parity(options: ParityOptions): Promise<ParityReport> {
    const layout = this.layout(options.service);
    const ids = options.entityIds ?? (await this.#sampleEntities(layout, options.sample ?? 100, options.seed ?? 1));
    const online = await this.readOnline(options.service, ids, { atMs: options.atMs });
    const offline = await this.readPointInTime(options.service, ids, options.atMs);
    const rows = ids.length;
    const features = layout.columns.map((feature, c) => {
      let mismatches = 0;
      for (let row = 0; row < rows; row++)
        if (!sameValue(online.values[c * rows + row] as number, offline.values[c * rows + row] as number)) mismatches++;
      return { feature, mismatches, mismatchRate: rows === 0 ? 0 : mismatches / rows };
    });
    const examples: Array<{ entityId: string; feature: string; online: number; offline: number }> = [];
    for (let c = 0; c < layout.columns.length && examples.length < 5; c++)
      for (let row = 0; row < rows && examples.length < 5; row++) {
        const a = online.values[c * rows + row] as number;
        const b = offline.values[c * rows + row] as number;
        if (!sameValue(a, b))
          examples.push({ entityId: ids[row] as string, feature: layout.columns[c] as string, online: a, offline: b });
      }
    const views = layout.runs.map((run, r) => {
      let statusMismatches = 0;
      for (let row = 0; row < rows; row++)
        if (online.status[r * rows + row] !== offline.status[r * rows + row]) statusMismatches++;
      return { view: run.name, statusMismatches };
    });
    const totalMismatches = features.reduce((s, f) => s + f.mismatches, 0);
    const cells = rows * layout.columns.length;
    return {
      service: options.service,
      atMs: options.atMs,
      entities: rows,
      features,
      views,
      totalMismatches,
      mismatchRate: cells === 0 ? 0 : totalMismatches / cells,
      examples,
    };
  }

  /** Per batch/stream view: age of the newest value and share of entities past the SLA; exported as gauges. */
  async freshness(nowMs = this.clock.now(), options: { sample?: number } = {}): Promise<FreshnessReport[]> {
    const out: FreshnessReport[] = [];
    const onlineAgeGauge = this.#metrics?.gauge({
      name: 'adnova_features_online_newest_value_age_seconds',
      help: 'age of the newest value per feature view in the online store',
      labelNames: ['view'],
    });
    const onlineStaleGauge = this.#metrics?.gauge({
      name: 'adnova_features_online_stale_entity_ratio',
      help: 'share of online entities whose value is older than the view freshness SLA (sampled on Redis)',
      labelNames: ['view'],
    });
    const ageGauge = this.#metrics?.gauge({
      name: 'adnova_features_newest_value_age_seconds',
      help: 'age of the newest value per feature view',
      labelNames: ['view'],
    });
    const staleGauge = this.#metrics?.gauge({
      name: 'adnova_features_stale_entity_ratio',
      help: 'share of entities whose newest value is older than the view freshness SLA',
      labelNames: ['view'],
    });
    for (const v of this.definitions().views) {
      if (v.source.kind === 'request') continue;
      const f = await this.offline.freshness(v, nowMs);
      const newestAgeSeconds = Number.isNaN(f.newestEventTs) ? null : (nowMs - f.newestEventTs) / 1000;
      const staleRatio = f.entities === 0 ? 0 : f.staleEntities / f.entities;
      if (newestAgeSeconds !== null) ageGauge?.set({ view: v.name }, newestAgeSeconds);
      staleGauge?.set({ view: v.name }, staleRatio);
      const o = await this.online.freshness(onlineViewRef(v), nowMs, v.freshnessSlaSeconds * 1000, options.sample);
      const online: OnlineFreshnessReport = {
        entities: o.entities,
        newestAgeSeconds: Number.isNaN(o.newestEventTs) ? null : (nowMs - o.newestEventTs) / 1000,
        staleEntities: o.staleEntities,
        staleRatio: o.entities === 0 ? 0 : o.staleEntities / o.entities,
        sampled: o.sampled,
      };
      if (online.newestAgeSeconds !== null) onlineAgeGauge?.set({ view: v.name }, online.newestAgeSeconds);
      onlineStaleGauge?.set({ view: v.name }, online.staleRatio);
      out.push({
        view: v.name,
        entities: f.entities,
        newestAgeSeconds,
        staleEntities: f.staleEntities,
        staleRatio,
        slaSeconds: v.freshnessSlaSeconds,
        online,
      });
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.online.close();
    } finally {
      await this.offline.close();
    }
  }

  async #sampleEntities(layout: ServiceLayout, n: number, seed: number): Promise<string[]> {
    if (!Number.isInteger(n) || n < 1)
      throw new InvalidInputError(`parity sample must be a positive integer, got ${n}`);
    const views = [...layout.inputViews.values()].filter((v) => v.source.kind !== 'request');
    return this.offline.sampleEntities(views, n, seed);
  }

  #marksPath(): string {
    return join(this.dir, 'materialization.json');
  }

  #readMarks(): MaterializationMarks {
    const p = this.#marksPath();
    return existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as MaterializationMarks) : {};
  }

  #writeMarks(marks: MaterializationMarks): void {
    const p = this.#marksPath();
    writeFileSync(`${p}.tmp`, JSON.stringify(marks, null, 2));
    renameSync(`${p}.tmp`, p);
  }
}

/** The record of training sets written by `trainingSet`, one JSON object a line. */
const TRAINING_SETS_FILE = 'training-sets.jsonl';

/** Float32 equality where NaN equals NaN (a missing value on both sides agrees). */
function sameValue(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

/** What the online store needs of a view: its storage key, width and TTL (+Infinity: never expires). */
function onlineViewRef(v: FeatureViewDef): OnlineViewRef {
  return { storageKey: storageKeyOf(v), width: v.features.length, ttlMs: ttlMsOf(v) };
}
