import { FeatureDefinitionError, FeatureNotFoundError } from './errors.js';
import { type Expr, expressionRefs, parseExpression } from './transform-expression.js';

export const SOURCE_KINDS = ['batch', 'stream', 'request'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];
/** Every dtype travels as float32 in a FeatureMatrix; `int`/`category` must stay within +-2^24 to be exact. */
export const FEATURE_DTYPES = ['float', 'int', 'bool', 'category'] as const;
export type FeatureDtype = (typeof FEATURE_DTYPES)[number];
export const SOURCE_FORMATS = ['parquet', 'csv'] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];
/** A view's `ttlSeconds` for "never expires": any earlier value is present (Feast's `ttl=0`). */
export const NO_TTL = 'none' as const;
export type TtlSeconds = number | typeof NO_TTL;

const NAME = /^[a-z][a-z0-9_]{0,62}$/;

export interface EntityDef {
  readonly name: string;
  /** The column that holds this entity's id in label files and sources, e.g. `user_id`. */
  readonly joinKey: string;
  readonly description: string;
}

export interface FeatureDef {
  readonly name: string;
  readonly dtype: FeatureDtype;
  /** Served and joined when the view's value is missing or expired. */
  readonly default: number;
  readonly description: string;
  /**
   * Stream views: the windowed aggregate over the view's events that computes this feature. Batch views: a rolling
   * `mean`, `sum`, `min` or `max` of a source `column` over the entity's source rows (snapshots) whose event time
   * lies in (t - window, t] of each row's time t (`SNAPSHOT_AGGREGATION_OPS`), computed at import: a nightly score
   * with day-to-day noise averaged over a week.
   */
  readonly aggregation?: AggregationDef | undefined;
}

/**
 * Windowed aggregates a stream view declares per feature, executed by the streaming tiles (src/stream) and by
 * DuckDB over the event log with the same window rule (see src/stream/windows.ts).
 * - count: matching events; sum/mean/min/max: of `column` over matching events where it is present;
 *   last: `column` of the latest matching event (ties on event time: the largest value);
 *   time_since_last: seconds from the latest matching event to the evaluation time;
 *   approx_distinct: distinct values of `column` (a 256-bit linear-counting sketch, exact up to a few dozen).
 * Empty windows give 0 for count, sum and approx_distinct, and NaN (missing) for the others.
 */
export const AGGREGATION_OPS = [
  'count',
  'sum',
  'mean',
  'min',
  'max',
  'last',
  'time_since_last',
  'approx_distinct',
] as const;
export type AggregationOp = (typeof AGGREGATION_OPS)[number];
/** Aggregations a batch view may declare over its own snapshots (see `FeatureDef.aggregation`). */
export const SNAPSHOT_AGGREGATION_OPS = ['mean', 'sum', 'min', 'max'] as const satisfies readonly AggregationOp[];

/** Operations that read an event field (`column`); the rest count or time events. */
export const COLUMN_AGGREGATION_OPS: ReadonlySet<AggregationOp> = new Set([
  'sum',
  'mean',
  'min',
  'max',
  'last',
  'approx_distinct',
]);

export interface AggregationDef {
  readonly op: AggregationOp;
  /** The event field aggregated (snake_case wire name, e.g. `amount`); required by COLUMN_AGGREGATION_OPS. */
  readonly column?: string | undefined;
  /** Window length: a number and a unit m, h or d, e.g. `1h`, `24h`, `7d`, `28d`. */
  readonly window: string;
  /** Keeps events whose field equals one of the listed values; fields are ANDed, e.g. `{ event_type: [purchase] }`. */
  readonly where?: Readonly<Record<string, readonly string[]>> | undefined;
}

export interface FeatureSourceDef {
  readonly kind: SourceKind;
  /** Stream sources: the event-bus topic the view aggregates (default `events`). */
  readonly topic?: string | undefined;
  /** Batch sources declared in a definitions file: a Parquet/CSV path or glob with the join key, timestamps and features. */
  readonly path?: string | undefined;
  readonly format?: SourceFormat | undefined;
  readonly eventTsColumn?: string | undefined;
  readonly createdTsColumn?: string | undefined;
}

export interface FeatureViewDef {
  readonly name: string;
  readonly version: number;
  readonly entity: string;
  readonly source: FeatureSourceDef;
  readonly features: readonly FeatureDef[];
  /** Seconds a value stays present after its event time, or `NO_TTL` (`'none'`): present however old. */
  readonly ttlSeconds: TtlSeconds;
  /**
   * A value older than this is stale for the freshness metric (it is still served until the TTL). Defaults to the
   * TTL; a view with no TTL must give one.
   */
  readonly freshnessSlaSeconds: number;
  readonly owner: string;
  readonly tags: readonly string[];
  readonly description: string;
}

export interface TransformOutputDef extends FeatureDef {
  readonly expression: string;
}

/** Pure functions of other features (including request features), executed online in JS and offline in DuckDB. */
export interface TransformDef {
  readonly name: string;
  readonly version: number;
  readonly outputs: readonly TransformOutputDef[];
  readonly description: string;
}

/** A named, versioned, ordered list of `view.feature` / `transform.output` references: a model's column layout. */
export interface FeatureServiceDef {
  readonly name: string;
  readonly version: number;
  readonly features: readonly string[];
  readonly description: string;
}

export interface FeatureDefinitions {
  readonly entities: readonly EntityDef[];
  readonly views: readonly FeatureViewDef[];
  readonly transforms: readonly TransformDef[];
  readonly services: readonly FeatureServiceDef[];
}

type Optional<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;

export function defineEntity(e: Optional<EntityDef, 'description' | 'joinKey'>): EntityDef {
  return { description: '', joinKey: `${e.name}_id`, ...e };
}

export function defineFeatureView(
  v: Optional<
    Omit<FeatureViewDef, 'features'>,
    'version' | 'freshnessSlaSeconds' | 'owner' | 'tags' | 'description' | 'source'
  > & {
    readonly features: readonly Optional<FeatureDef, 'default' | 'description' | 'dtype'>[];
  },
): FeatureViewDef {
  return {
    version: 1,
    source: { kind: 'batch' },
    // NaN: no default (validation asks for one), as "never expires" says nothing about staleness
    freshnessSlaSeconds: v.ttlSeconds === NO_TTL ? Number.NaN : v.ttlSeconds,
    owner: 'unowned',
    tags: [],
    description: '',
    ...v,
    features: v.features.map((f) => ({ dtype: 'float', default: 0, description: '', ...f })),
  };
}

export function defineTransform(
  t: Optional<Omit<TransformDef, 'outputs'>, 'version' | 'description'> & {
    readonly outputs: readonly Optional<TransformOutputDef, 'default' | 'description' | 'dtype'>[];
  },
): TransformDef {
  return {
    version: 1,
    description: '',
    ...t,
    outputs: t.outputs.map((o) => ({ dtype: 'float', default: 0, description: '', ...o })),
  };
}

export function defineFeatureService(s: Optional<FeatureServiceDef, 'version' | 'description'>): FeatureServiceDef {
  return { version: 1, description: '', ...s };
}

export function defineFeatures(d: Partial<FeatureDefinitions>): FeatureDefinitions {
  return {
    entities: d.entities ?? [],
    views: d.views ?? [],
    transforms: d.transforms ?? [],
    services: d.services ?? [],
  };
}

/** The name a view's data is stored under (offline directory, online field): versions never share storage. */
export function storageKeyOf(view: Pick<FeatureViewDef, 'name' | 'version'>): string {
  return `${view.name}__v${view.version}`;
}

/** Checks one consistent set of definitions (names, references, TTLs, dtypes); throws on the first problem. */
export function validateDefinitions(defs: FeatureDefinitions): void {
  const bad = (msg: string): never => {
    throw new FeatureDefinitionError(msg);
  };
  const checkName = (what: string, name: string) => {
    if (typeof name !== 'string' || !NAME.test(name))
      bad(`${what} name must match ${NAME} (lowercase, digits, _), got ${JSON.stringify(name)}`);
  };
  const checkVersion = (what: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) bad(`${what}: version must be an integer >= 1, got ${v}`);
  };
  const checkFeature = (where: string, f: FeatureDef, seen: Set<string>) => {
    checkName(`${where} feature`, f.name);
    if (seen.has(f.name)) bad(`${where}: duplicate feature "${f.name}"`);
    seen.add(f.name);
    if (!(FEATURE_DTYPES as readonly string[]).includes(f.dtype))
      bad(`${where}.${f.name}: dtype must be one of ${FEATURE_DTYPES.join(', ')}, got ${JSON.stringify(f.dtype)}`);
    if (typeof f.default !== 'number') bad(`${where}.${f.name}: default must be a number, got ${typeof f.default}`);
    if (f.dtype !== 'float' && !Number.isInteger(f.default))
      bad(`${where}.${f.name}: default of a ${f.dtype} feature must be an integer, got ${f.default}`);
  };

  const entities = new Map<string, EntityDef>();
  for (const e of defs.entities) {
    checkName('entity', e.name);
    if (entities.has(e.name)) bad(`duplicate entity "${e.name}"`);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(e.joinKey))
      bad(`entity ${e.name}: joinKey must be a column name, got ${JSON.stringify(e.joinKey)}`);
    entities.set(e.name, e);
  }
  const namespaces = new Set<string>();
  for (const v of defs.views) {
    checkName('feature view', v.name);
    if (namespaces.has(v.name)) bad(`duplicate feature view or transform "${v.name}"`);
    namespaces.add(v.name);
    checkVersion(`view ${v.name}`, v.version);
    if (!entities.has(v.entity))
      bad(
        `view ${v.name}: unknown entity "${v.entity}"; known entities are ${[...entities.keys()].join(', ') || '(none)'}`,
      );
    if (!(SOURCE_KINDS as readonly string[]).includes(v.source.kind))
      bad(
        `view ${v.name}: source kind must be one of ${SOURCE_KINDS.join(', ')}, got ${JSON.stringify(v.source.kind)}`,
      );
    if (v.source.format !== undefined && !(SOURCE_FORMATS as readonly string[]).includes(v.source.format))
      bad(
        `view ${v.name}: source format must be one of ${SOURCE_FORMATS.join(', ')}, got ${JSON.stringify(v.source.format)}`,
      );
    if (
      v.ttlSeconds !== NO_TTL &&
      !(typeof v.ttlSeconds === 'number' && Number.isFinite(v.ttlSeconds) && v.ttlSeconds > 0)
    )
      bad(
        `view ${v.name}: ttlSeconds must be a number > 0 or "${NO_TTL}" (never expires; Feast's ttl=0), got ${JSON.stringify(v.ttlSeconds)}`,
      );
    if (v.ttlSeconds === NO_TTL && Number.isNaN(v.freshnessSlaSeconds))
      bad(
        `view ${v.name}: ttlSeconds is "${NO_TTL}", so freshnessSlaSeconds has no default; give it (seconds after which the newest value counts as stale)`,
      );
    if (
      !(
        typeof v.freshnessSlaSeconds === 'number' &&
        Number.isFinite(v.freshnessSlaSeconds) &&
        v.freshnessSlaSeconds > 0
      )
    )
      bad(`view ${v.name}: freshnessSlaSeconds must be a number > 0, got ${v.freshnessSlaSeconds}`);
    if (v.features.length === 0) bad(`view ${v.name}: at least one feature is required`);
    const seen = new Set<string>();
    for (const f of v.features) {
      checkFeature(`view ${v.name}`, f, seen);
      if (v.source.kind === 'stream') {
        if (f.aggregation === undefined)
          bad(`view ${v.name}.${f.name}: features of a stream view need an aggregation { op, window, ... }`);
        else checkAggregation(`view ${v.name}.${f.name}`, f.aggregation, bad);
      } else if (f.aggregation !== undefined) {
        const a = f.aggregation;
        const where = `view ${v.name}.${f.name}`;
        if (v.source.kind !== 'batch')
          bad(`${where}: only stream and batch views aggregate; this view's source is ${v.source.kind}`);
        if (!(SNAPSHOT_AGGREGATION_OPS as readonly string[]).includes(a.op))
          bad(
            `${where}: a batch view aggregates its snapshots by ${SNAPSHOT_AGGREGATION_OPS.join(', ')}, got ${JSON.stringify(a.op)}`,
          );
        if (a.where !== undefined) bad(`${where}: a batch view's aggregation takes no where filter`);
        checkAggregation(where, a, bad);
      }
    }
  }
  const featureIndex = new Map<string, FeatureDef>();
  for (const v of defs.views) for (const f of v.features) featureIndex.set(`${v.name}.${f.name}`, f);
  for (const t of defs.transforms) {
    checkName('transform', t.name);
    if (namespaces.has(t.name)) bad(`duplicate feature view or transform "${t.name}"`);
    namespaces.add(t.name);
    checkVersion(`transform ${t.name}`, t.version);
    if (t.outputs.length === 0) bad(`transform ${t.name}: at least one output is required`);
    const seen = new Set<string>();
    for (const o of t.outputs) {
      checkFeature(`transform ${t.name}`, o, seen);
      const expr = parseExpression(o.expression);
      for (const ref of expressionRefs(expr)) {
        if (!featureIndex.has(ref))
          bad(`transform ${t.name}.${o.name}: expression reads "${ref}", which is not a feature of any view`);
      }
    }
  }
  for (const t of defs.transforms) for (const o of t.outputs) featureIndex.set(`${t.name}.${o.name}`, o);
  const services = new Set<string>();
  for (const s of defs.services) {
    checkName('feature service', s.name);
    if (services.has(s.name)) bad(`duplicate feature service "${s.name}"`);
    services.add(s.name);
    checkVersion(`service ${s.name}`, s.version);
    if (s.features.length === 0) bad(`service ${s.name}: at least one feature is required`);
    const seen = new Set<string>();
    for (const ref of s.features) {
      if (seen.has(ref)) bad(`service ${s.name}: feature "${ref}" is listed twice`);
      seen.add(ref);
      if (!featureIndex.has(ref))
        bad(`service ${s.name}: feature "${ref}" does not exist; expected view.feature or transform.output`);
    }
  }
}

const WINDOW = /^([1-9][0-9]*)(m|h|d)$/;
const WINDOW_UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Parses a window length such as `30m`, `24h` or `7d` into milliseconds; throws FeatureDefinitionError. */
export function parseWindowMs(window: string): number {
  const m = typeof window === 'string' ? WINDOW.exec(window) : null;
  if (m === null)
    throw new FeatureDefinitionError(
      `window must be a positive whole number of minutes, hours or days such as 1h, 24h, 7d, got ${JSON.stringify(window)}`,
    );
  return Number(m[1]) * WINDOW_UNIT_MS[m[2] as keyof typeof WINDOW_UNIT_MS];
}

function checkAggregation(where: string, a: AggregationDef, bad: (msg: string) => never): void {
  if (!(AGGREGATION_OPS as readonly string[]).includes(a.op))
    bad(`${where}: aggregation op must be one of ${AGGREGATION_OPS.join(', ')}, got ${JSON.stringify(a.op)}`);
  const needsColumn = COLUMN_AGGREGATION_OPS.has(a.op);
  if (needsColumn && (typeof a.column !== 'string' || a.column.length === 0))
    bad(`${where}: aggregation ${a.op} needs a column (the event field it reads)`);
  if (!needsColumn && a.column !== undefined)
    bad(`${where}: aggregation ${a.op} reads no column, got column ${JSON.stringify(a.column)}`);
  try {
    parseWindowMs(a.window);
  } catch (err) {
    bad(`${where}: ${(err as Error).message}`);
  }
  for (const [field, values] of Object.entries(a.where ?? {})) {
    if (!/^[a-z][a-z0-9_]*$/.test(field)) bad(`${where}: where field must be an event field name, got ${field}`);
    if (!Array.isArray(values) || values.length === 0 || values.some((x) => typeof x !== 'string'))
      bad(`${where}: where.${field} must be a non-empty list of strings, got ${JSON.stringify(values)}`);
  }
}

/** How a run of service columns is filled: from the online/offline store, from request data, or by a transform. */
export type LayoutRunKind = 'stored' | 'request' | 'transform';

export interface LayoutRun {
  readonly kind: LayoutRunKind;
  /** View or transform name (the FeatureMatrix view name). */
  readonly name: string;
  readonly storageKey: string;
  readonly entity: string;
  readonly joinKey: string;
  readonly start: number;
  readonly end: number;
  /** Stored/request runs: index of each column's feature inside the view's full vector. */
  readonly featureIndex: Int32Array;
  readonly features: readonly FeatureDef[];
  readonly defaults: Float32Array;
  readonly ttlMs: number;
  /** Full feature count of the view (length of its stored vector). */
  readonly viewWidth: number;
  /** Transform runs: one compiled expression per column. */
  readonly expressions: readonly Expr[];
}

/** A feature service resolved against definitions: the exact columns and how to fill each run of them. */
export interface ServiceLayout {
  readonly service: FeatureServiceDef;
  readonly columns: readonly string[];
  readonly runs: readonly LayoutRun[];
  readonly views: readonly { name: string; start: number; end: number }[];
  /** Every stored/request view the service (and its transforms) needs, keyed by view name. */
  readonly inputViews: ReadonlyMap<string, FeatureViewDef>;
}

export function resolveService(defs: FeatureDefinitions, serviceName: string): ServiceLayout {
  const service = defs.services.find((s) => s.name === serviceName);
  if (!service)
    throw new FeatureNotFoundError(
      `feature service "${serviceName}" does not exist; known services are ${defs.services.map((s) => s.name).join(', ') || '(none)'}`,
    );
  return resolveLayout(defs, service);
}

/**
 * The service's layout plus, appended, every transform input the service does not list itself, so one online
 * read fetches everything the transforms need. `hiddenFrom` is where the appended columns start.
 */
export function withTransformInputs(
  defs: FeatureDefinitions,
  layout: ServiceLayout,
): { layout: ServiceLayout; hiddenFrom: number } {
  const extra: string[] = [];
  for (const run of layout.runs)
    for (const e of run.expressions)
      for (const ref of expressionRefs(e)) if (!layout.columns.includes(ref) && !extra.includes(ref)) extra.push(ref);
  if (extra.length === 0) return { layout, hiddenFrom: layout.columns.length };
  extra.sort();
  const service = { ...layout.service, features: [...layout.service.features, ...extra] };
  return { layout: resolveLayout(defs, service), hiddenFrom: layout.columns.length };
}

function resolveLayout(defs: FeatureDefinitions, service: FeatureServiceDef): ServiceLayout {
  const views = new Map(defs.views.map((v) => [v.name, v]));
  const transforms = new Map(defs.transforms.map((t) => [t.name, t]));
  const entities = new Map(defs.entities.map((e) => [e.name, e]));
  const runs: LayoutRun[] = [];
  const inputViews = new Map<string, FeatureViewDef>();
  let i = 0;
  while (i < service.features.length) {
    const ref = service.features[i] as string;
    const owner = ref.slice(0, ref.indexOf('.'));
    let j = i;
    while (j < service.features.length && (service.features[j] as string).startsWith(`${owner}.`)) j++;
    const names = service.features.slice(i, j).map((r) => r.slice(owner.length + 1));
    const view = views.get(owner);
    if (view) {
      inputViews.set(view.name, view);
      const idx = names.map((n) => view.features.findIndex((f) => f.name === n));
      if (idx.some((k) => k < 0))
        throw new FeatureDefinitionError(`service ${service.name}: unknown feature in ${owner}`);
      const features = idx.map((k) => view.features[k] as FeatureDef);
      runs.push({
        kind: view.source.kind === 'request' ? 'request' : 'stored',
        name: view.name,
        storageKey: storageKeyOf(view),
        entity: view.entity,
        joinKey: entities.get(view.entity)?.joinKey ?? `${view.entity}_id`,
        start: i,
        end: j,
        featureIndex: Int32Array.from(idx),
        features,
        defaults: Float32Array.from(features.map((f) => f.default)),
        ttlMs: ttlMsOf(view),
        viewWidth: view.features.length,
        expressions: [],
      });
    } else {
      const t = transforms.get(owner);
      if (!t) throw new FeatureDefinitionError(`service ${service.name}: "${ref}" names no view or transform`);
      const outs = names.map((n) => {
        const o = t.outputs.find((x) => x.name === n);
        if (!o) throw new FeatureDefinitionError(`service ${service.name}: transform ${t.name} has no output "${n}"`);
        return o;
      });
      const expressions = outs.map((o) => parseExpression(o.expression));
      for (const e of expressions) {
        for (const r of expressionRefs(e)) {
          const v = views.get(r.slice(0, r.indexOf('.')));
          if (v) inputViews.set(v.name, v);
        }
      }
      runs.push({
        kind: 'transform',
        name: t.name,
        storageKey: t.name,
        entity: '',
        joinKey: '',
        start: i,
        end: j,
        featureIndex: new Int32Array(0),
        features: outs,
        defaults: Float32Array.from(outs.map((o) => o.default)),
        ttlMs: Number.POSITIVE_INFINITY,
        viewWidth: 0,
        expressions,
      });
    }
    i = j;
  }
  return {
    service,
    columns: [...service.features],
    runs,
    views: runs.map((r) => ({ name: r.name, start: r.start, end: r.end })),
    inputViews,
  };
}

/**
 * The TTL in whole milliseconds, as both the online read and the point-in-time join use it; `NO_TTL` is
 * `Number.POSITIVE_INFINITY` (`ttlStatus` and `ttlStatusSql` then never say expired).
 */
export function ttlMsOf(view: Pick<FeatureViewDef, 'ttlSeconds'>): number {
  return view.ttlSeconds === NO_TTL ? Number.POSITIVE_INFINITY : Math.ceil(view.ttlSeconds * 1000);
}
