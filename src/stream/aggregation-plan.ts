import { createHash } from 'node:crypto';
import { InvalidInputError } from '../core/index.js';
import {
  type AggregationDef,
  type AggregationOp,
  type FeatureDefinitions,
  type FeatureViewDef,
  parseWindowMs,
  storageKeyOf,
} from '../features/index.js';

/**
 * The window rule both executions share (streaming tiles here, DuckDB in batch-aggregates.ts).
 *
 * A window of length W has a tile size s (tileSizeFor). Evaluated at time t (exclusive), it covers the events with
 *     floor(t / s) * s - W  <=  event_ts  <  t
 * i.e. the whole tiles of the last W before t's tile, plus t's own tile up to t. The tail moves in steps of s, so
 * a window is between W and W + s long; in exchange each window needs only W / s + 1 partial aggregates.
 * Evaluations at tile boundaries (t a multiple of s) cover exactly [t - W, t).
 */
export const TILE_SIZES_MS = [5 * 60_000, 3_600_000, 86_400_000] as const;

/** 5-minute tiles up to 1 h windows, hourly tiles up to 2 days, daily tiles beyond. */
export function tileSizeFor(windowMs: number): number {
  if (windowMs <= 3_600_000) return TILE_SIZES_MS[0];
  if (windowMs <= 2 * 86_400_000) return TILE_SIZES_MS[1];
  return TILE_SIZES_MS[2];
}

/** Start of the window of length `windowMs` (tile `tileMs`) evaluated at `atMs`: the rule above. */
export function windowStartMs(atMs: number, windowMs: number, tileMs: number): number {
  return Math.floor(atMs / tileMs) * tileMs - windowMs;
}

/** Event fields an aggregation can read or filter on, by wire name; numeric ones can be summed. */
export const NUMERIC_EVENT_FIELDS = ['amount', 'quantity', 'session_id'] as const;
export const STRING_EVENT_FIELDS = [
  'event_type',
  'platform',
  'category',
  'item_id',
  'channel',
  'campaign_id',
  'send_id',
  'order_id',
] as const;
export type EventFieldName = (typeof NUMERIC_EVENT_FIELDS)[number] | (typeof STRING_EVENT_FIELDS)[number];

/** What aggregation needs of a validated event (src/stream/contracts.ts produces it). */
export interface AggregatableEvent {
  readonly eventId: string;
  readonly userId: string;
  readonly eventType: string;
  readonly eventTs: number;
  /** When the pipeline received it; decides lateness (see WindowAggregatorOptions.allowedLatenessMs). */
  readonly arrivalTs?: number | undefined;
  readonly platform?: string | undefined;
  readonly category?: string | undefined;
  readonly itemId?: string | undefined;
  readonly channel?: string | undefined;
  readonly campaignId?: string | undefined;
  readonly sendId?: string | undefined;
  readonly orderId?: string | undefined;
  readonly amount?: number | undefined;
  readonly quantity?: number | undefined;
  readonly sessionId?: number | undefined;
}

type FieldReader = (e: AggregatableEvent) => string | number | undefined;

const FIELD_READERS: Readonly<Record<EventFieldName, FieldReader>> = {
  event_type: (e) => e.eventType,
  platform: (e) => e.platform,
  category: (e) => e.category,
  item_id: (e) => e.itemId,
  channel: (e) => e.channel,
  campaign_id: (e) => e.campaignId,
  send_id: (e) => e.sendId,
  order_id: (e) => e.orderId,
  amount: (e) => e.amount,
  quantity: (e) => e.quantity,
  session_id: (e) => e.sessionId,
};

export function isEventField(name: string): name is EventFieldName {
  return Object.hasOwn(FIELD_READERS, name);
}

export function readEventField(e: AggregatableEvent, field: EventFieldName): string | number | undefined {
  return FIELD_READERS[field](e);
}

/** Partial-aggregate kinds kept per tile; features finalize from one slot. */
export type SlotKind = 'count' | 'sum' | 'min' | 'max' | 'last' | 'last_ts' | 'bitmap';
/** Float64 words a slot occupies in a tile. */
export const SLOT_WIDTH: Readonly<Record<SlotKind, number>> = {
  count: 1,
  sum: 2, // sum of present values, number of present values
  min: 1,
  max: 1,
  last: 2, // event time, value
  last_ts: 1,
  bitmap: 8, // 256 bits as eight uint32 words
};
export const SLOT_INIT: Readonly<Record<SlotKind, readonly number[]>> = {
  count: [0],
  sum: [0, 0],
  min: [Number.POSITIVE_INFINITY],
  max: [Number.NEGATIVE_INFINITY],
  last: [Number.NEGATIVE_INFINITY, Number.NaN],
  last_ts: [Number.NEGATIVE_INFINITY],
  bitmap: [0, 0, 0, 0, 0, 0, 0, 0],
};
const SLOT_OF_OP: Readonly<Record<AggregationOp, SlotKind>> = {
  count: 'count',
  sum: 'sum',
  mean: 'sum',
  min: 'min',
  max: 'max',
  last: 'last',
  time_since_last: 'last_ts',
  approx_distinct: 'bitmap',
};

/** A conjunction of `field IN (values)` tests. */
export interface EventFilter {
  readonly key: string;
  readonly clauses: readonly { readonly field: EventFieldName; readonly values: ReadonlySet<string> }[];
}

export interface PlanSlot {
  readonly kind: SlotKind;
  readonly column: EventFieldName | undefined;
  /** Index into AggregationPlan.filters, or -1 for all events. */
  readonly filter: number;
  /** Offset of the slot's words in its group's tile. */
  readonly offset: number;
}

export interface TileGroup {
  readonly tileMs: number;
  readonly slots: readonly PlanSlot[];
  /** Float64 words per tile. */
  readonly width: number;
  /** The longest window using this group: tiles older than that are never read again. */
  readonly maxWindowMs: number;
}

export interface PlanFeature {
  /** `view.feature`. */
  readonly ref: string;
  readonly view: number;
  readonly name: string;
  readonly op: AggregationOp;
  readonly aggregation: AggregationDef;
  readonly windowMs: number;
  readonly group: number;
  readonly slot: number;
}

export interface PlanView {
  readonly def: FeatureViewDef;
  readonly storageKey: string;
  readonly topic: string;
  /** Indices into AggregationPlan.features, in the view's feature order. */
  readonly features: readonly number[];
}

/** Stream views compiled for execution: shared filters, tile groups of deduplicated slots, and features. */
export interface AggregationPlan {
  readonly views: readonly PlanView[];
  readonly filters: readonly EventFilter[];
  readonly groups: readonly TileGroup[];
  readonly features: readonly PlanFeature[];
  /** The longest window of any feature. */
  readonly maxWindowMs: number;
}

/** Compiles every stream view of `defs` (or only `viewNames`); throws InvalidInputError on what cannot run. */
export function compileAggregationPlan(defs: FeatureDefinitions, viewNames?: readonly string[]): AggregationPlan {
  const streamViews = defs.views.filter((v) => v.source.kind === 'stream');
  let chosen = streamViews;
  if (viewNames !== undefined) {
    chosen = viewNames.map((name) => {
      const v = streamViews.find((x) => x.name === name);
      if (v === undefined)
        throw new InvalidInputError(
          `stream view "${name}" not found; stream views are ${streamViews.map((x) => x.name).join(', ') || '(none)'}`,
        );
      return v;
    });
  }
  if (chosen.length === 0)
    throw new InvalidInputError('no stream views to aggregate: declare a view with source kind stream');

  const filters: EventFilter[] = [];
  const filterIndex = new Map<string, number>();
  const groupSlots = new Map<
    number,
    { slots: PlanSlot[]; keys: Map<string, number>; width: number; maxWindowMs: number }
  >();
  const features: PlanFeature[] = [];
  const views: PlanView[] = [];

  for (const def of chosen) {
    const featureIdx: number[] = [];
    for (const f of def.features) {
      const where = `stream view ${def.name}.${f.name}`;
      const a = f.aggregation;
      if (a === undefined) throw new InvalidInputError(`${where}: no aggregation declared`);
      const windowMs = parseWindowMs(a.window);
      const tileMs = tileSizeFor(windowMs);
      if (windowMs % tileMs !== 0)
        throw new InvalidInputError(
          `${where}: window ${a.window} must be a whole number of its ${tileMs / 60_000}-minute tiles`,
        );
      let column: EventFieldName | undefined;
      if (a.column !== undefined) {
        if (!isEventField(a.column))
          throw new InvalidInputError(
            `${where}: column must be an event field (${[...NUMERIC_EVENT_FIELDS, ...STRING_EVENT_FIELDS].join(', ')}), got ${JSON.stringify(a.column)}`,
          );
        column = a.column;
        const numeric = (NUMERIC_EVENT_FIELDS as readonly string[]).includes(column);
        if (a.op !== 'approx_distinct' && !numeric)
          throw new InvalidInputError(
            `${where}: ${a.op} needs a numeric column (${NUMERIC_EVENT_FIELDS.join(', ')}), got ${column}`,
          );
        if (a.op === 'approx_distinct' && numeric)
          throw new InvalidInputError(
            `${where}: approx_distinct counts text fields (${STRING_EVENT_FIELDS.join(', ')}), got ${column}`,
          );
      }
      const clauses = Object.entries(a.where ?? {})
        .map(([field, values]) => {
          if (!(STRING_EVENT_FIELDS as readonly string[]).includes(field))
            throw new InvalidInputError(
              `${where}: where.${field}: filters test text fields (${STRING_EVENT_FIELDS.join(', ')}), got ${field}`,
            );
          return { field: field as EventFieldName, values: new Set(values) };
        })
        .sort((x, y) => (x.field < y.field ? -1 : 1));
      let filter = -1;
      if (clauses.length > 0) {
        const key = clauses.map((c) => `${c.field}=${[...c.values].sort().join('|')}`).join('&');
        filter = filterIndex.get(key) ?? -1;
        if (filter < 0) {
          filter = filters.length;
          filters.push({ key, clauses });
          filterIndex.set(key, filter);
        }
      }
      let group = groupSlots.get(tileMs);
      if (group === undefined) {
        group = { slots: [], keys: new Map(), width: 0, maxWindowMs: 0 };
        groupSlots.set(tileMs, group);
      }
      group.maxWindowMs = Math.max(group.maxWindowMs, windowMs);
      const kind = SLOT_OF_OP[a.op];
      const slotKey = `${kind}:${column ?? ''}:${filter}`;
      let slot = group.keys.get(slotKey);
      if (slot === undefined) {
        slot = group.slots.length;
        group.slots.push({ kind, column, filter, offset: group.width });
        group.width += SLOT_WIDTH[kind];
        group.keys.set(slotKey, slot);
      }
      featureIdx.push(features.length);
      features.push({
        ref: `${def.name}.${f.name}`,
        view: views.length,
        name: f.name,
        op: a.op,
        aggregation: a,
        windowMs,
        group: tileMs, // replaced by the group index below
        slot,
      });
    }
    views.push({ def, storageKey: storageKeyOf(def), topic: def.source.topic ?? 'events', features: featureIdx });
  }
  const tileSizes = [...groupSlots.keys()].sort((a, b) => a - b);
  const groups: TileGroup[] = tileSizes.map((tileMs) => {
    const g = groupSlots.get(tileMs)!;
    return { tileMs, slots: g.slots, width: g.width, maxWindowMs: g.maxWindowMs };
  });
  const resolved = features.map((f) => ({ ...f, group: tileSizes.indexOf(f.group) }));
  return {
    views,
    filters,
    groups,
    features: resolved,
    maxWindowMs: Math.max(...resolved.map((f) => f.windowMs)),
  };
}

export function matchesFilter(filter: EventFilter, e: AggregatableEvent): boolean {
  for (const c of filter.clauses) {
    const v = readEventField(e, c.field);
    if (v === undefined || !c.values.has(String(v))) return false;
  }
  return true;
}

/** Bits of the approx_distinct sketch. */
export const DISTINCT_SKETCH_BITS = 256;

const bitCache = new Map<string, number>();
/**
 * The sketch bit of a value: the first byte of MD5 of its text. DuckDB computes the same with
 * `('0x' || left(md5(v), 2))::INTEGER`, so both executions set the same bits.
 */
export function distinctBit(value: string | number): number {
  const text = String(value);
  let bit = bitCache.get(text);
  if (bit === undefined) {
    bit = createHash('md5').update(text).digest()[0] as number;
    if (bitCache.size >= 200_000) bitCache.clear();
    bitCache.set(text, bit);
  }
  return bit;
}

/** Linear-counting estimate from the number of set bits: m * ln(m / zeros); saturates when every bit is set. */
export function distinctEstimate(setBits: number): number {
  if (setBits === 0) return 0;
  const m = DISTINCT_SKETCH_BITS;
  const zeros = Math.max(1, m - setBits);
  return m * Math.log(m / zeros);
}

export function popcount32(x: number): number {
  let v = x >>> 0;
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** A fingerprint of what the plan computes (views, versions, aggregations): saved state is only valid for it. */
export function planKeyOf(plan: AggregationPlan): string {
  const shape = plan.views.map((v) => ({
    view: v.storageKey,
    features: v.features.map((i) => {
      const f = plan.features[i]!;
      return [
        f.name,
        f.aggregation.op,
        f.aggregation.column ?? null,
        f.windowMs,
        plan.filters[plan.groups[f.group]!.slots[f.slot]!.filter]?.key ?? null,
      ];
    }),
  }));
  return createHash('sha256').update(JSON.stringify(shape)).digest('hex').slice(0, 16);
}
