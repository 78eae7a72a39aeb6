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
  /**
   * `read_parquet(...)` over a fixed list of the view's files with `file_index` and `file_row_number`, so a row id
   * taken in one statement names the same row in the next; undefined when the view has no data yet.
   */
  readonly source: string | undefined;
}

export interface PitQueryInput {
  readonly layout: ServiceLayout;
  /** A table with the label rows stored in `label_row` order: the join keys, `__t` (epoch ms BIGINT) and `label_row` (0, 1, ...). */
  readonly labelsTable: string;
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
  /**
   * Leakage guard: a label at time t reads only rows written by then (`created_ts <= t`), as a model serving at t
   * could have; backfills and late corrections written after t are ignored. Default false: every row counts.
   */
  readonly knownAtLabelTime?: boolean | undefined;
  readonly joinKeyOf: (entity: string) => string;
}

/** The point-in-time join as statements: temporary tables to create in order, then the output query over them. */
export interface PitPlan {
  /** Run in order as `CREATE TEMP TABLE <table> AS <select>`; drop them all afterwards. */
  readonly stages: readonly { readonly table: string; readonly select: string }[];
  /** One row per label (label row, label columns, features, per-view status and age), in no particular order. */
  readonly output: string;
}

/** Row id of a Parquet row in a `ViewScan` source: (file index, row number) in one BIGINT. */
const ROW_ID_SQL = '((file_index::BIGINT << 40) | file_row_number)';
/** The row id that names a view's defaults row (status not present). */
const DEFAULTS_ROW = -1;

/**
 * The point-in-time join as a few statements, each holding one view's narrow match or the final streaming join, so
 * memory stays bounded at 1M labels x 10 views x 500 features (1M x 500 here: 86 s, 1.2x a latest-row join, peak RSS
 * 3.0 GB). Measured and replaced: one query with an ASOF join per view on VARCHAR keys and a HUGEINT
 * (event_ts, created_ts) order key, hash-joined on the label row: 7-10 s of ASOF join per view at 1M labels (now
 * 0.4-2 s per view for the whole match); a per-view table of all the view's features sorted by label row: 16-19 s
 * per view at 1M, then a single-threaded positional zip of 500 columns.
 *
 * 1. Each join key's distinct label values get a dense integer id (`<p>k<j>`), and the labels a narrow copy
 *    (`<p>n`: label row, time, key ids).
 * 2. Per view (`<p>m<i>`): the view's rows of labelled entities, one per (entity, event_ts) keeping the latest
 *    created_ts, ASOF-joined on integer keys to the narrow labels; the status comes from `ttlStatusSql` (the rule
 *    online reads share) and the row to read is the matched row when present, else the view's defaults row.
 *    Stored narrow, one row per label.
 * 3. `<p>z`: labels and every view's match joined on the label row (a hash join on a unique BIGINT; every label must
 *    find its row in every match, checked on each row). It was a POSITIONAL JOIN of tables sorted by label row:
 *    with DuckDB 1.5 on several threads that zip sometimes paired rows out of order (about 1 read in 6 of 3,000 ids
 *    on a 12-day World at 4 threads, while a count over the same zip found no mismatch), so order is not relied on.
 * 4. Output: `<p>z` hash-joined to each view's matched rows plus its defaults row on the row id, so the value
 *    choice is made once per view and row, not once per feature.
 */
export function buildPitPlan(input: PitQueryInput, prefix: string): PitPlan {
  const { layout } = input;
  const views = [...layout.inputViews.values()].filter((v) => v.source.kind !== 'request');
  const keys = [...new Set(views.map((v) => input.joinKeyOf(v.entity)))];
  const keyTable = (j: number) => `${prefix}k${j}`;
  const keyId = (j: number) => `__kid${j}`;
  const stages: { table: string; select: string }[] = [];
  keys.forEach((key, j) => {
    stages.push({
      table: keyTable(j),
      select: `SELECT __k, (row_number() OVER ())::BIGINT AS __id FROM (SELECT DISTINCT ${quoteIdent(key)}::VARCHAR AS __k FROM ${input.labelsTable} WHERE ${quoteIdent(key)} IS NOT NULL)`,
    });
  });
  const narrow = `${prefix}n`;
  const keyJoins = keys.map(
    (key, j) => `LEFT JOIN ${keyTable(j)} ON ${keyTable(j)}.__k = __l.${quoteIdent(key)}::VARCHAR`,
  );
  stages.push({
    table: narrow,
    select: `SELECT __l.${LABEL_ROW_COLUMN}, __l.__t${keys.map((_, j) => `, ${keyTable(j)}.__id AS ${keyId(j)}`).join('')} FROM ${input.labelsTable} __l ${keyJoins.join(' ')}`,
  });

  const rowSources: string[] = [];
  views.forEach((v, i) => {
    const a = aliasOf(i);
    const match = `${prefix}m${i}`;
    const ttl = ttlMsOf(v);
    const scan = input.scans.get(v.name);
    const defaults = `SELECT ${DEFAULTS_ROW}::BIGINT AS ${a}_id${v.features.map((f, k) => `, CAST(${f.default} AS FLOAT) AS ${a}_${k}`).join('')}`;
    if (scan?.source === undefined) {
      stages.push({
        table: match,
        select: `SELECT ${LABEL_ROW_COLUMN} AS ${a}_l, ${ttlStatusSql('NULL::BIGINT', '__t', ttl)} AS ${a}__s, -1::BIGINT AS ${a}__age, ${DEFAULTS_ROW}::BIGINT AS ${a}_r FROM ${narrow}`,
      });
      rowSources.push(`(${defaults}) ${a}_q`);
      return;
    }
    const part = OFFLINE_KEY_COLUMNS.partition;
    const range = [`${part} <= DATE ${quoteString(dayOf(input.maxTs))}`];
    // a view with no TTL needs all its history: nothing is old enough to skip
    if (input.lookbackMs !== undefined && Number.isFinite(ttl))
      range.push(`${part} >= DATE ${quoteString(dayOf(input.minTs - ttl - input.lookbackMs))}`);
    const where = range.join(' AND ');
    const j = keys.indexOf(input.joinKeyOf(v.entity));
    const matched = input.knownAtLabelTime
      ? knownAtLabelTimeMatch(narrow, keyTable(j), keyId(j), scan.source, where)
      : latestMatch(narrow, keyTable(j), keyId(j), scan.source, where);
    const statused = `SELECT *, ${ttlStatusSql('__e', '__t', ttl)} AS __s FROM (${matched})`;
    stages.push({
      table: match,
      select:
        `SELECT __l AS ${a}_l, __s AS ${a}__s, CASE WHEN __e IS NULL THEN -1 ELSE __t - __e END AS ${a}__age, ` +
        `CASE WHEN __s = 0 THEN __r ELSE ${DEFAULTS_ROW} END AS ${a}_r FROM (${statused})`,
    });
    // only the rows some label reads, plus the defaults row
    const feats = v.features.map((f, k) => `, CAST(${quoteIdent(f.name)} AS FLOAT) AS ${a}_${k}`).join('');
    rowSources.push(
      `(SELECT ${ROW_ID_SQL} AS ${a}_id${feats} FROM ${scan.source} WHERE ${where} AND ${ROW_ID_SQL} IN (SELECT ${a}_r FROM ${match}) ` +
        `UNION ALL ${defaults}) ${a}_q`,
    );
  });

  const zipped = `${prefix}z`;
  const matchJoins = views.map(
    (_, i) => `LEFT JOIN ${prefix}m${i} ON ${prefix}m${i}.${aliasOf(i)}_l = __labels.${LABEL_ROW_COLUMN}`,
  );
  // each match holds one row per label by construction; a label without its row would read defaults silently
  const complete = views.map((_, i) => `${aliasOf(i)}_l IS NOT NULL`).join(' AND ') || 'true';
  stages.push({
    table: zipped,
    select:
      `SELECT * FROM ${input.labelsTable} __labels ${matchJoins.join(' ')} ` +
      `WHERE CASE WHEN ${complete} THEN true ELSE error('point-in-time stages lost a label row') END`,
  });
  const joins = views.map(
    (_, i) => `LEFT JOIN ${rowSources[i]} ON ${aliasOf(i)}_q.${aliasOf(i)}_id = __labels.${aliasOf(i)}_r`,
  );
  return {
    stages,
    output: `SELECT ${selectList(input, views).join(', ')} FROM ${zipped} __labels ${joins.join(' ')}`,
  };
}

/** Per label: the matched row (`__r`) and its event time (`__e`), NULL when none; the latest row wins. */
function latestMatch(narrow: string, keys: string, keyId: string, source: string, where: string): string {
  // latest created_ts per (entity, event_ts) first, so the ASOF join orders by event_ts alone
  const candidates =
    `SELECT ${keys}.__id AS __id, __v.event_ts, max_by(${ROW_ID_SQL}, __v.created_ts) AS __r FROM ${source} __v ` +
    `JOIN ${keys} ON ${keys}.__k = __v.entity_id WHERE ${where} GROUP BY ALL`;
  return (
    `SELECT __n.${LABEL_ROW_COLUMN} AS __l, __n.__t, __c.event_ts AS __e, __c.__r FROM ${narrow} __n ` +
    `ASOF LEFT JOIN (${candidates}) __c ON __n.${keyId} = __c.__id AND __n.__t >= __c.event_ts`
  );
}

/**
 * `latestMatch` among the rows each label could have seen (`created_ts <= t`). Which rows count depends on the
 * label, so no per-(entity, event_ts) winner can be chosen ahead: a range join per entity, then the latest
 * (event_ts, created_ts) per label. Costs rows x labels per entity, which is why it is opt-in.
 */
function knownAtLabelTimeMatch(narrow: string, keys: string, keyId: string, source: string, where: string): string {
  const rows =
    `SELECT ${keys}.__id AS __id, __v.event_ts, __v.created_ts, ${ROW_ID_SQL} AS __r FROM ${source} __v ` +
    `JOIN ${keys} ON ${keys}.__k = __v.entity_id WHERE ${where}`;
  return (
    `SELECT __n.${LABEL_ROW_COLUMN} AS __l, __n.__t, max(__c.event_ts) AS __e, ` +
    `arg_max(__c.__r, (__c.event_ts, __c.created_ts)) AS __r FROM ${narrow} __n LEFT JOIN (${rows}) __c ` +
    `ON __n.${keyId} = __c.__id AND __c.event_ts <= __n.__t AND __c.created_ts <= __n.__t ` +
    `GROUP BY __n.${LABEL_ROW_COLUMN}, __n.__t`
  );
}

function aliasOf(viewIndex: number): string {
  return `__v${viewIndex}`;
}

/** The output columns over `__labels` and the views' match columns: label row, label columns, features, status, age. */
function selectList(input: PitQueryInput, views: readonly FeatureViewDef[]): string[] {
  const { layout } = input;
  const alias = new Map(views.map((v, i) => [v.name, aliasOf(i)]));
  const featureSql = (viewName: string, featureName: string): string => {
    const v = layout.inputViews.get(viewName) as FeatureViewDef;
    const k = v.features.findIndex((f) => f.name === featureName);
    if (k < 0) throw new RangeError(`view ${viewName} has no feature ${featureName}`);
    if (v.source.kind === 'request') return `CAST(__labels.${quoteIdent(featureName)} AS FLOAT)`;
    return `${alias.get(viewName) as string}_${k}`;
  };
  const select: string[] = [
    `__labels.${LABEL_ROW_COLUMN}`,
    ...input.labelColumns.map((c) => `__labels.${quoteIdent(c)}`),
  ];
  for (const run of layout.runs) select.push(...runColumns(run, featureSql));
  for (const v of views) {
    const a = alias.get(v.name) as string;
    select.push(`${a}__s AS ${quoteIdent(statusColumnOf(v.name))}`);
    select.push(`${a}__age AS ${quoteIdent(ageColumnOf(v.name))}`);
  }
  return select;
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
