/**
 * Batch execution of stream views' aggregations in DuckDB over an event log (Parquet or CSV with the World's
 * event columns), for backfills, corrections and the stream/batch parity check. It applies the window rule of
 * aggregation-plan.ts in SQL; the streaming tiles apply it in JS. This file is the stream module's only DuckDB
 * adapter.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { BackendUnavailableError, describeError, InvalidInputError } from '../core/index.js';
import type { OfflineRowBatch } from '../features/index.js';
import {
  type AggregationPlan,
  DISTINCT_SKETCH_BITS,
  type EventFilter,
  NUMERIC_EVENT_FIELDS,
  type PlanFeature,
} from './aggregation-plan.js';

export interface BatchAggregateRequest {
  /** Event log files (Parquet or CSV) with columns event_id, user_id, event_type, event_ts and the event fields. */
  readonly files: readonly string[];
  /** Evaluation times (epoch ms); every user with an event in a window before a time gets a row for it. */
  readonly atMs: readonly number[];
  /** Event ids to leave out: those the stream rejected (invalid, late). */
  readonly excludeEventIds?: Iterable<string>;
  /** Only these users (default: all). */
  readonly userIds?: readonly string[];
  /**
   * Keep only events of these types (the contract's types), leaving out what the stream would dead-letter as an
   * unknown type.
   */
  readonly eventTypes?: readonly string[];
  /** Leave out rows whose `raw` column is set (a World log keeps messages that broke the typed columns there). */
  readonly skipRawRows?: boolean;
}

/** Row-major results: row r is (userIds[r], atMs[r]) and its values are values[r * width ...], width = plan features. */
export interface BatchAggregateResult {
  readonly userIds: string[];
  readonly atMs: Float64Array;
  readonly width: number;
  readonly values: Float64Array;
}

const q = (s: string): string => `'${s.replaceAll("'", "''")}'`;
const ident = (s: string): string => `"${s.replaceAll('"', '""')}"`;

function filterSql(filter: EventFilter | undefined): string {
  if (filter === undefined) return 'TRUE';
  return filter.clauses
    .map((c) => `CAST(${ident(c.field)} AS VARCHAR) IN (${[...c.values].map(q).join(', ')})`)
    .join(' AND ');
}

function featureSql(plan: AggregationPlan, f: PlanFeature): string {
  const group = plan.groups[f.group]!;
  const slot = group.slots[f.slot]!;
  const s = group.tileMs;
  const inWindow = `e.event_ts >= (p.at_ms // ${s}) * ${s} - ${f.windowMs}`;
  const cond = `${inWindow} AND ${filterSql(slot.filter >= 0 ? plan.filters[slot.filter] : undefined)}`;
  const col = slot.column === undefined ? '' : `e.${ident(slot.column)}`;
  const present = `${cond} AND ${col} IS NOT NULL`;
  switch (f.op) {
    case 'count':
      return `count(*) FILTER (WHERE ${cond})`;
    case 'sum':
      return `coalesce(sum(${col}) FILTER (WHERE ${present}), 0)`;
    case 'mean':
      return `sum(${col}) FILTER (WHERE ${present}) / count(${col}) FILTER (WHERE ${present})`;
    case 'min':
      return `min(${col}) FILTER (WHERE ${present})`;
    case 'max':
      return `max(${col}) FILTER (WHERE ${present})`;
    case 'last':
      // latest event wins, ties by the largest value: the order of a struct (t, v)
      return `(max(struct_pack(t := e.event_ts, v := ${col})) FILTER (WHERE ${present})).v`;
    case 'time_since_last':
      return `(p.at_ms - max(e.event_ts) FILTER (WHERE ${cond})) / 1000.0`;
    case 'approx_distinct': {
      const bits = `count(DISTINCT ('0x' || left(md5(CAST(${col} AS VARCHAR)), 2))::INTEGER) FILTER (WHERE ${present})`;
      const m = DISTINCT_SKETCH_BITS;
      return `CASE WHEN ${bits} = 0 THEN 0 ELSE ${m} * ln(${m} / greatest(1, ${m} - ${bits})) END`;
    }
  }
}

/** Evaluates every feature of `plan` for every (user, time) that has events in its windows. */
export async function batchAggregates(
  plan: AggregationPlan,
  request: BatchAggregateRequest,
): Promise<BatchAggregateResult> {
  if (request.files.length === 0) throw new InvalidInputError('batch aggregates: expected at least one event file');
  for (const t of request.atMs)
    if (!Number.isFinite(t)) throw new InvalidInputError(`batch aggregates: evaluation times must be finite, got ${t}`);
  const list = `[${request.files.map(q).join(', ')}]`;
  const source = request.files.every((f) => /\.parq(uet)?$/i.test(f))
    ? `read_parquet(${list}, union_by_name = true)`
    : `read_csv(${list}, header = true, union_by_name = true)`;
  const numeric = new Set<string>(NUMERIC_EVENT_FIELDS);
  // only the fields the plan reads, so event logs without the others still work
  const used = new Set<string>();
  for (const g of plan.groups) for (const slot of g.slots) if (slot.column !== undefined) used.add(slot.column);
  for (const f of plan.filters) for (const c of f.clauses) used.add(c.field);
  used.delete('event_type');
  const fieldCols = [...used]
    .sort()
    .map((c) =>
      numeric.has(c) ? `CAST(${ident(c)} AS DOUBLE) AS ${ident(c)}` : `CAST(${ident(c)} AS VARCHAR) AS ${ident(c)}`,
    );
  const maxSpan = Math.max(...plan.features.map((f) => f.windowMs + plan.groups[f.group]!.tileMs));
  let instance: DuckDBInstance | undefined;
  try {
    instance = await DuckDBInstance.create(':memory:');
    const c = await instance.connect();
    await c.run('CREATE TEMP TABLE excluded (event_id VARCHAR PRIMARY KEY)');
    const excluded = [...new Set(request.excludeEventIds ?? [])];
    if (excluded.length > 0) {
      const appender = await c.createAppender('excluded');
      for (const id of excluded) {
        appender.appendVarchar(id);
        appender.endRow();
      }
      appender.closeSync();
    }
    await c.run('CREATE TEMP TABLE points (at_ms BIGINT)');
    if (request.atMs.length > 0)
      await c.run(
        `INSERT INTO points VALUES ${[...new Set(request.atMs)].map((t) => `(${Math.trunc(t)})`).join(', ')}`,
      );
    const userFilter =
      request.userIds === undefined ? '' : `AND user_id IN (${request.userIds.map(q).join(', ') || 'NULL'})`;
    const typeFilter =
      request.eventTypes === undefined ? '' : `AND event_type IN (${request.eventTypes.map(q).join(', ') || 'NULL'})`;
    const rawFilter = request.skipRawRows === true ? 'AND raw IS NULL' : '';
    const sql = `
      WITH ev AS (
        SELECT CAST(event_id AS VARCHAR) AS event_id, CAST(user_id AS VARCHAR) AS user_id,
               CAST(event_type AS VARCHAR) AS event_type, CAST(event_ts AS BIGINT) AS event_ts${fieldCols.map((c) => `, ${c}`).join('')}
        FROM ${source}
        WHERE user_id IS NOT NULL AND event_ts IS NOT NULL AND event_id IS NOT NULL ${userFilter} ${typeFilter} ${rawFilter}
          AND CAST(event_id AS VARCHAR) NOT IN (SELECT event_id FROM excluded)
        QUALIFY row_number() OVER (PARTITION BY CAST(event_id AS VARCHAR) ORDER BY event_ts) = 1
      )
      SELECT e.user_id AS user_id, p.at_ms AS at_ms,
        ${plan.features.map((f, i) => `CAST(${featureSql(plan, f)} AS DOUBLE) AS f${i}`).join(',\n        ')}
      FROM ev e JOIN points p ON e.event_ts < p.at_ms AND e.event_ts >= p.at_ms - ${maxSpan}
      GROUP BY e.user_id, p.at_ms
      ORDER BY e.user_id, p.at_ms`;
    const reader = await c.runAndReadAll(sql);
    const rows = reader.currentRowCount;
    const width = plan.features.length;
    const cols = reader.getColumns();
    const userIds = (cols[0] as unknown[]).map((v) => String(v));
    const atMs = Float64Array.from(cols[1] as unknown[], (v) => Number(v));
    const values = new Float64Array(rows * width);
    for (let k = 0; k < width; k++) {
      const col = cols[k + 2] as unknown[];
      for (let r = 0; r < rows; r++) {
        const v = col[r];
        values[r * width + k] = v === null || v === undefined ? Number.NaN : Number(v);
      }
    }
    c.closeSync();
    return { userIds, atMs, width, values };
  } catch (err) {
    if (err instanceof InvalidInputError) throw err;
    throw new BackendUnavailableError(
      `batch aggregates over ${request.files.join(', ')} failed: ${describeError(err)}`,
      {
        cause: err,
      },
    );
  } finally {
    instance?.closeSync();
  }
}

/** Appends rows of a view to the offline store (the Feature store's `writeOffline`). */
export interface OfflineSink {
  writeOffline(viewName: string, batch: OfflineRowBatch): Promise<number>;
}

export interface BackfillResult {
  readonly atMs: readonly number[];
  /** Rows appended per view. */
  readonly rows: Readonly<Record<string, number>>;
}

/**
 * The batch path of stream views for training sets and corrections: evaluates the plan over an event log at each
 * of `atMs` and appends one row per (user with events in a window, time) to the offline store, `event_ts` = the
 * time (the vector covers events before it). Late events the stream set aside are in the log, so these rows are
 * the corrected values; point-in-time joins prefer them over a stream row of the same `event_ts` by `created_ts`.
 */
export async function backfillStreamViews(
  plan: AggregationPlan,
  request: BatchAggregateRequest,
  sink: OfflineSink,
  createdTs: number,
): Promise<BackfillResult> {
  const result = await batchAggregates(plan, request);
  const n = result.userIds.length;
  const rows: Record<string, number> = {};
  let first = 0;
  for (const view of plan.views) {
    const width = view.features.length;
    const values = new Float32Array(n * width);
    for (let r = 0; r < n; r++)
      for (let k = 0; k < width; k++) values[r * width + k] = result.values[r * result.width + first + k]!;
    first += width;
    rows[view.def.name] =
      n === 0
        ? 0
        : await sink.writeOffline(view.def.name, {
            entityIds: result.userIds,
            eventTs: result.atMs,
            createdTs: new Float64Array(n).fill(createdTs),
            values,
          });
  }
  return { atMs: request.atMs, rows };
}
