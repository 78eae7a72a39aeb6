import type { FeatureDtype, FeatureViewDef, LayoutRun, ServiceLayout } from './definitions.js';
import { storageKeyOf, ttlMsOf } from './definitions.js';
import { compileExpressionSql, expressionRefs } from './transform-expression.js';
import { ttlStatusSql } from './ttl-rule.js';

/** Column names every offline row carries besides its features. */
export const OFFLINE_KEY_COLUMNS = {
  entityId: 'entity_id',
  eventTs: 'event_ts',
  createdTs: 'created_ts',
  partition: 'dt',
} as const;
/** Output column with the label's original row number (ASOF joins do not keep input order). */
export const LABEL_ROW_COLUMN = 'label_row';

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

export function sqlTypeOf(dtype: FeatureDtype): string {
  return dtype === 'float' ? 'FLOAT' : dtype === 'bool' ? 'BOOLEAN' : 'INTEGER';
}

export function statusColumnOf(view: string): string {
  return `${view}.__status`;
}

export function ageColumnOf(view: string): string {
  return `${view}.__age_ms`;
}

/** Where a view's append-only Parquet files live: `<root>/<storageKey>/dt=YYYY-MM-DD/part-<uuid>.parquet`. */
export function viewGlob(offlineRoot: string, view: Pick<FeatureViewDef, 'name' | 'version'>): string {
  return `${offlineRoot}/${storageKeyOf(view)}/*/*.parquet`;
}

export interface ViewScan {
  readonly view: FeatureViewDef;
  /** `read_parquet(...)` over the view's files (with filename and file_row_number when asked), or undefined when the view has no data yet. */
  readonly source: ((withRowIdentity: boolean) => string) | undefined;
}

export interface PitQueryInput {
  readonly layout: ServiceLayout;
  /** A relation with the label rows: must have the join keys, `__t` (epoch ms BIGINT) and `label_row`. */
  readonly labelsRelation: string;
  /** Label columns to carry into the output, in order (besides `label_row`). */
  readonly labelColumns: readonly string[];
  readonly scans: ReadonlyMap<string, ViewScan>;
  /** Partition pruning: files after maxT's day are never read. */
  readonly minTs: number;
  readonly maxTs: number;
  /**
   * Also skip files older than `minT - ttl - lookbackMs`. Values are unchanged (a row that old is expired and gives
   * the default either way) but its status reads `missing` instead of `expired`; undefined keeps statuses exact.
   */
  readonly lookbackMs?: number | undefined;
  readonly joinKeyOf: (entity: string) => string;
}

const TS_SENTINEL = '9223372036854775807';

/**
 * The point-in-time join as one DuckDB query. Per input view: an ASOF LEFT JOIN of the narrow label rows
 * (row, key, time) on (join key, event time) whose ordering key packs (event_ts, created_ts) into one HUGEINT, so
 * the latest event wins and ties go to the latest created_ts without a window sort; then the matched row's
 * features are fetched by (file, row number) with hash joins. Status and value choice use `ttlStatusSql`.
 * (Chaining ASOF joins over the full rows was measured first: each join re-sorts the growing wide intermediate.)
 */
export function buildPitQuery(input: PitQueryInput): string {
  const { layout, scans } = input;
  const views = [...layout.inputViews.values()].filter((v) => v.source.kind !== 'request');
  const alias = new Map(views.map((v, i) => [v.name, `__v${i}`]));
  const keys = [...new Set(views.map((v) => input.joinKeyOf(v.entity)))];
  // materialized: label_row comes from row_number() and must be computed exactly once for both references
  const ctes: string[] = [
    `__labels AS MATERIALIZED (SELECT * FROM ${input.labelsRelation})`,
    `__narrow AS (SELECT ${LABEL_ROW_COLUMN}, __t, ${keys.map(quoteIdent).join(', ') || 'NULL AS __none'} FROM __labels)`,
  ];
  const joins: string[] = [];
  for (const v of views) {
    const a = alias.get(v.name) as string;
    const scan = scans.get(v.name);
    const feats = v.features.map((f, k) => `${quoteIdent(f.name)} AS ${a}_${k}`).join(', ');
    const key = quoteIdent(input.joinKeyOf(v.entity));
    if (scan?.source === undefined) {
      const nulls = v.features.map((f, k) => `NULL::${sqlTypeOf(f.dtype)} AS ${a}_${k}`).join(', ');
      ctes.push(
        `${a}_m AS (SELECT ${LABEL_ROW_COLUMN} AS ${a}_l, NULL::BIGINT AS ${a}__e, NULL::VARCHAR AS ${a}_f, NULL::BIGINT AS ${a}_r FROM __narrow)`,
      );
      ctes.push(`${a}_v AS (SELECT NULL::VARCHAR AS ${a}_f, NULL::BIGINT AS ${a}_r, ${nulls} WHERE false)`);
    } else {
      const part = OFFLINE_KEY_COLUMNS.partition;
      const range = [`${part} <= DATE ${quoteString(dayOf(input.maxTs))}`];
      if (input.lookbackMs !== undefined)
        range.push(`${part} >= DATE ${quoteString(dayOf(input.minTs - ttlMsOf(v) - input.lookbackMs))}`);
      const where = `WHERE ${range.join(' AND ')}`;
      // 1) match on narrow rows: the ASOF join sorts only (key, time, row id), never the feature payload
      ctes.push(
        `${a}_k AS (SELECT entity_id, event_ts, (event_ts::HUGEINT << 64) + created_ts AS __k, filename AS __f, file_row_number AS __r FROM ${scan.source(true)} ${where})`,
      );
      ctes.push(
        `${a}_m AS (SELECT __narrow.${LABEL_ROW_COLUMN} AS ${a}_l, ${a}_k.event_ts AS ${a}__e, ${a}_k.__f AS ${a}_f, ${a}_k.__r AS ${a}_r FROM __narrow ` +
          `ASOF LEFT JOIN ${a}_k ON __narrow.${key} = ${a}_k.entity_id AND (__narrow.__t::HUGEINT << 64) + ${TS_SENTINEL} >= ${a}_k.__k)`,
      );
      // 2) fetch the matched row's features by its physical identity (file, row): unique, so no duplicates
      ctes.push(
        `${a}_v AS (SELECT filename AS ${a}_f, file_row_number AS ${a}_r, ${feats} FROM ${scan.source(true)} ${where})`,
      );
    }
    joins.push(`JOIN ${a}_m ON __labels.${LABEL_ROW_COLUMN} = ${a}_m.${a}_l`);
    joins.push(`LEFT JOIN ${a}_v ON ${a}_m.${a}_f = ${a}_v.${a}_f AND ${a}_m.${a}_r = ${a}_v.${a}_r`);
  }
  // one status per view, computed once, then every column picks value or default from it
  const statusSelect = views.map((v) => {
    const a = alias.get(v.name) as string;
    return `${ttlStatusSql(`${a}__e`, '__labels.__t', ttlMsOf(v))} AS ${a}__s, ${a}__e`;
  });
  const valueCols = views.flatMap((v) => v.features.map((_, k) => `${alias.get(v.name)}_${k}`));
  ctes.push(
    `__joined AS (SELECT __labels.*, ${[...statusSelect, ...valueCols].join(', ')} FROM __labels ${joins.join(' ')})`,
  );

  const featureSql = (viewName: string, featureName: string): string => {
    const v = layout.inputViews.get(viewName) as FeatureViewDef;
    const k = v.features.findIndex((f) => f.name === featureName);
    const f = v.features[k];
    if (f === undefined) throw new RangeError(`view ${viewName} has no feature ${featureName}`);
    if (v.source.kind === 'request') return `CAST(${quoteIdent(featureName)} AS FLOAT)`;
    const a = alias.get(viewName) as string;
    return `(CASE WHEN ${a}__s = 0 THEN CAST(${a}_${k} AS FLOAT) ELSE CAST(${f.default} AS FLOAT) END)`;
  };
  const select: string[] = [LABEL_ROW_COLUMN, ...input.labelColumns.map(quoteIdent)];
  for (const run of layout.runs) select.push(...runColumns(run, featureSql));
  for (const v of views) {
    const a = alias.get(v.name) as string;
    select.push(`${a}__s AS ${quoteIdent(statusColumnOf(v.name))}`);
    select.push(`CASE WHEN ${a}__e IS NULL THEN -1 ELSE __t - ${a}__e END AS ${quoteIdent(ageColumnOf(v.name))}`);
  }
  return `WITH ${ctes.join(',\n')}\nSELECT ${select.join(', ')} FROM __joined`;
}

function runColumns(run: LayoutRun, featureSql: (view: string, feature: string) => string): string[] {
  if (run.kind === 'transform') {
    return run.features.map((o, k) => {
      const expr = run.expressions[k];
      if (expr === undefined) throw new RangeError(`transform ${run.name} has no expression for ${o.name}`);
      for (const r of expressionRefs(expr)) if (!r.includes('.')) throw new RangeError(r);
      const sql = compileExpressionSql(expr, (ref) => {
        const dot = ref.indexOf('.');
        return featureSql(ref.slice(0, dot), ref.slice(dot + 1));
      });
      return `${sql} AS ${quoteIdent(`${run.name}.${o.name}`)}`;
    });
  }
  return run.features.map((f) => `${featureSql(run.name, f.name)} AS ${quoteIdent(`${run.name}.${f.name}`)}`);
}

export function dayOf(ms: number): string {
  const d = new Date(Math.max(-8.64e15, Math.min(8.64e15, ms)));
  return Number.isNaN(d.getTime()) ? '1970-01-01' : d.toISOString().slice(0, 10);
}
