import {
  type AggregatableEvent,
  type AggregationPlan,
  distinctBit,
  type EventFieldName,
  type SlotKind,
  type TileGroup,
} from '../aggregation-plan.js';

/** Words of a tile's touched-slot mask: 32 slots a word. */
export function maskWordsOf(group: TileGroup): number {
  return Math.max(1, Math.ceil(group.slots.length / 32));
}

/** Slot kinds as small integers for the hot loops. */
export const K_COUNT = 0;
export const K_SUM = 1;
export const K_MIN = 2;
export const K_MAX = 3;
export const K_LAST = 4;
export const K_LAST_TS = 5;
const K_BITMAP = 6;
export const KIND_CODE: Readonly<Record<SlotKind, number>> = {
  count: K_COUNT,
  sum: K_SUM,
  min: K_MIN,
  max: K_MAX,
  last: K_LAST,
  last_ts: K_LAST_TS,
  bitmap: K_BITMAP,
};

/** Event fields as small integers: a switch reads them (a table of closures is a megamorphic call per read). */
const FIELD_CODE: Readonly<Record<EventFieldName, number>> = {
  event_type: 0,
  platform: 1,
  category: 2,
  item_id: 3,
  channel: 4,
  campaign_id: 5,
  send_id: 6,
  order_id: 7,
  amount: 8,
  quantity: 9,
  session_id: 10,
};

function readField(e: AggregatableEvent, code: number): string | number | undefined {
  switch (code) {
    case 0:
      return e.eventType;
    case 1:
      return e.platform;
    case 2:
      return e.category;
    case 3:
      return e.itemId;
    case 4:
      return e.channel;
    case 5:
      return e.campaignId;
    case 6:
      return e.sendId;
    case 7:
      return e.orderId;
    case 8:
      return e.amount;
    case 9:
      return e.quantity;
    case 10:
      return e.sessionId;
    default:
      return undefined;
  }
}

/**
 * What one event adds, computed once per event and shared by every tile group: groups repeat the same slots (one
 * aggregation in several windows), so a filter, a field read or a sketch bit is worked out once, not per group.
 */
export interface UpdatePlan {
  /** Per filter: its clauses as field codes and value sets. */
  readonly filters: readonly { readonly fields: Int32Array; readonly values: readonly ReadonlySet<string>[] }[];
  /** Filters testing only event_type: their outcome per event type is cached. */
  readonly typeOnly: Uint8Array;
  readonly typeHits: Map<string, Uint8Array>;
  readonly hit: Uint8Array;
  /** Distinct (kind, column, filter) across groups: kind code, field code (-1: none), filter (-1: all events). */
  readonly uKind: Int32Array;
  readonly uField: Int32Array;
  readonly uFilter: Int32Array;
  /** Per event, per distinct slot: applies (0/1), the numeric value, the sketch bit. */
  readonly uPass: Uint8Array;
  readonly uValue: Float64Array;
  readonly uBit: Int32Array;
  /** Per event: the distinct slots it applies to, the first `nPass` of `passList`. */
  readonly passList: Int32Array;
  nPass: number;
  /**
   * Per tile group: per slot its kind code, word offset in a tile (past the mask) and distinct slot; per distinct slot
   * the group's slot (-1: none); whether the mask is one word.
   */
  readonly groups: readonly {
    readonly kind: Int32Array;
    readonly offset: Int32Array;
    readonly u: Int32Array;
    readonly slotOf: Int32Array;
    readonly oneMaskWord: boolean;
  }[];
}

export function updatePlan(plan: AggregationPlan): UpdatePlan {
  const uKey = new Map<string, number>();
  const uKind: number[] = [];
  const uField: number[] = [];
  const uFilter: number[] = [];
  const groups = plan.groups.map((group) => {
    const u = group.slots.map((slot) => {
      const key = `${slot.kind}:${slot.column ?? ''}:${slot.filter}`;
      let i = uKey.get(key);
      if (i === undefined) {
        i = uKind.length;
        uKey.set(key, i);
        uKind.push(KIND_CODE[slot.kind]);
        uField.push(slot.column === undefined ? -1 : FIELD_CODE[slot.column]);
        uFilter.push(slot.filter);
      }
      return i;
    });
    return {
      kind: Int32Array.from(group.slots, (slot) => KIND_CODE[slot.kind]),
      offset: Int32Array.from(group.slots, (slot) => maskWordsOf(group) + slot.offset),
      u: Int32Array.from(u),
      oneMaskWord: maskWordsOf(group) === 1,
    };
  });
  const n = uKind.length;
  const withSlotOf = groups.map((gu) => {
    const slotOf = new Int32Array(n).fill(-1);
    gu.u.forEach((u, s) => {
      slotOf[u] = s;
    });
    return { ...gu, slotOf };
  });
  return {
    filters: plan.filters.map((f) => ({
      fields: Int32Array.from(f.clauses, (c) => FIELD_CODE[c.field]),
      values: f.clauses.map((c) => c.values),
    })),
    typeOnly: Uint8Array.from(plan.filters, (f) => (f.clauses.every((c) => c.field === 'event_type') ? 1 : 0)),
    typeHits: new Map(),
    hit: new Uint8Array(plan.filters.length),
    uKind: Int32Array.from(uKind),
    uField: Int32Array.from(uField),
    uFilter: Int32Array.from(uFilter),
    uPass: new Uint8Array(n),
    uValue: new Float64Array(n),
    uBit: new Int32Array(n),
    passList: new Int32Array(n),
    nPass: 0,
    groups: withSlotOf,
  };
}

function passes(up: UpdatePlan, f: number, e: AggregatableEvent): number {
  const filter = up.filters[f]!;
  for (let c = 0; c < filter.fields.length; c++) {
    const v = readField(e, filter.fields[c]!);
    if (v === undefined || !filter.values[c]!.has(typeof v === 'string' ? v : String(v))) return 0;
  }
  return 1;
}

/** Fills `up`'s per-event arrays for `e`. */
export function prepareUpdate(up: UpdatePlan, e: AggregatableEvent): void {
  const hit = up.hit;
  let byType = up.typeHits.get(e.eventType);
  if (byType === undefined) {
    byType = new Uint8Array(hit.length);
    for (let f = 0; f < hit.length; f++) if (up.typeOnly[f] === 1) byType[f] = passes(up, f, e);
    if (up.typeHits.size >= 1024) up.typeHits.clear();
    up.typeHits.set(e.eventType, byType);
  }
  for (let f = 0; f < hit.length; f++) hit[f] = up.typeOnly[f] === 1 ? byType[f]! : passes(up, f, e);
  const uKind = up.uKind;
  const uPass = up.uPass;
  const passList = up.passList;
  let nPass = 0;
  for (let u = 0; u < uKind.length; u++) {
    const filter = up.uFilter[u]!;
    if (filter >= 0 && hit[filter] === 0) {
      uPass[u] = 0;
      continue;
    }
    const kind = uKind[u]!;
    if (kind === K_COUNT || kind === K_LAST_TS) {
      uPass[u] = 1;
    } else if (kind === K_BITMAP) {
      const v = readField(e, up.uField[u]!);
      if (v === undefined) uPass[u] = 0;
      else {
        uPass[u] = 1;
        up.uBit[u] = distinctBit(v);
      }
    } else {
      const v = readField(e, up.uField[u]!);
      if (typeof v === 'number' && Number.isFinite(v)) {
        uPass[u] = 1;
        up.uValue[u] = v;
      } else uPass[u] = 0;
    }
    if (uPass[u] === 1) passList[nPass++] = u;
  }
  up.nPass = nPass;
}

/**
 * Adds the event `up` was prepared for to the tile at `tile[b...]`: only the slots it applies to (a few of a group's
 * slots), each marked in the tile's mask (reads merge only marked slots).
 */
export function updateTile(
  gu: UpdatePlan['groups'][number],
  up: UpdatePlan,
  tile: Float64Array,
  b: number,
  ts: number,
): void {
  const kinds = gu.kind;
  const offsets = gu.offset;
  const slotOf = gu.slotOf;
  const passList = up.passList;
  const nPass = up.nPass;
  const oneMaskWord = gu.oneMaskWord;
  let mask = 0;
  for (let j = 0; j < nPass; j++) {
    const u = passList[j]!;
    const s = slotOf[u]!;
    if (s < 0) continue;
    if (oneMaskWord) mask |= 1 << s;
    else {
      const m = b + (s >>> 5);
      tile[m] = tile[m]! | (1 << (s & 31));
    }
    const o = b + offsets[s]!;
    switch (kinds[s]) {
      case K_COUNT:
        tile[o]! += 1;
        break;
      case K_LAST_TS:
        if (ts > tile[o]!) tile[o] = ts;
        break;
      case K_BITMAP: {
        const bit = up.uBit[u]!;
        const word = o + (bit >>> 5);
        tile[word] = ((tile[word]! | (1 << (bit & 31))) >>> 0) as number;
        break;
      }
      case K_SUM:
        tile[o]! += up.uValue[u]!;
        tile[o + 1]! += 1;
        break;
      case K_MIN: {
        const v = up.uValue[u]!;
        if (v < tile[o]!) tile[o] = v;
        break;
      }
      case K_MAX: {
        const v = up.uValue[u]!;
        if (v > tile[o]!) tile[o] = v;
        break;
      }
      default: {
        // last: the latest event wins; on equal times the largest value, so arrival order never matters
        const v = up.uValue[u]!;
        if (ts > tile[o]! || (ts === tile[o] && v > tile[o + 1]!)) {
          tile[o] = ts;
          tile[o + 1] = v;
        }
      }
    }
  }
  if (mask !== 0) tile[b] = tile[b]! | mask;
}

/** Op codes: finalizeGroup writes the features of each op in this order (one loop per op, no switch per feature). */
