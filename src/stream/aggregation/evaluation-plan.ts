import {
  type AggregationPlan,
  DISTINCT_SKETCH_BITS,
  distinctEstimate,
  popcount32,
  SLOT_INIT,
} from '../aggregation-plan.js';
import type { TileList } from './tile-pool.js';
import { K_COUNT, K_LAST, K_LAST_TS, K_MAX, K_MIN, K_SUM, KIND_CODE, maskWordsOf } from './update-plan.js';

const OP_CODE: Readonly<Record<string, number>> = {
  count: 0,
  sum: 1,
  mean: 2,
  min: 3,
  max: 4,
  last: 5,
  time_since_last: 6,
  approx_distinct: 7,
};
const OP_COUNT = 8;
export const OP_TIME_SINCE_LAST = OP_CODE.time_since_last!;

/** distinctEstimate of every possible number of set bits: a read costs no logarithm. */
const DISTINCT_ESTIMATES = Float64Array.from({ length: DISTINCT_SKETCH_BITS + 1 }, (_, bits) => distinctEstimate(bits));

/**
 * One view's reads of one tile group. The group's distinct windows (longest first) cut its tiles into bands: band
 * b holds the tiles inside window b but outside window b + 1. A read merges each tile once into its band's
 * accumulator (every slot the view reads, in one loop per slot kind), then folds the bands from the shortest
 * window up, so band b ends up holding all of window b: one merge per tile and slot, not per tile and feature.
 */
export interface GroupEvalPlan {
  readonly group: number;
  readonly tileMs: number;
  /** Distinct window lengths, longest first. */
  readonly windows: Float64Array;
  /** Scratch: each window's start for the current read (ascending). */
  readonly from: Float64Array;
  /** Words per band: the group's tile width, so a slot sits at the same offset in a tile and in a band. */
  readonly width: number;
  /** Band accumulators, `windows.length * width` words. */
  readonly acc: Float64Array;
  /** A band's initial words repeated for every band: what `acc` starts a read with. */
  readonly accInit: Float64Array;
  /** Word offsets of the slots the view reads, by how they merge. */
  readonly add: Int32Array;
  readonly min: Int32Array;
  readonly max: Int32Array;
  /** `last` slots: [event time, value] pairs. */
  readonly last: Int32Array;
  /** approx_distinct slots: eight uint32 words each. */
  readonly bitmap: Int32Array;
  /** Per slot of the group: kind code and word offset; the slots the view reads as mask words (see TilePool). */
  readonly slotKind: Int32Array;
  readonly slotOffset: Int32Array;
  readonly usedMask: Int32Array;
  /** Where a tile's slot words start (past its mask). */
  readonly slotsAt: number;
  /**
   * Per feature of the view in this group, ordered by op code: its index in the view and word in `acc`;
   * features of op code c are at [opStart[c], opStart[c + 1]) (one loop per op, no switch per feature).
   */
  readonly outIndex: Int32Array;
  readonly accIndex: Int32Array;
  readonly opStart: Int32Array;
  /** Where this group's time_since_last features start among the view's (see VectorCache). */
  readonly timesAt: number;
}

export interface ViewEvalPlan {
  readonly width: number;
  readonly groups: readonly GroupEvalPlan[];
  /** The view's time_since_last features, over all groups. */
  readonly timesWidth: number;
  /** The vector of a user without state: empty windows (0 for count/sum/approx_distinct, NaN otherwise). */
  readonly empty: Float32Array;
}

export function viewEvalPlans(plan: AggregationPlan): ViewEvalPlan[] {
  return plan.views.map((v) => {
    const byGroup = new Map<number, number[]>(); // group -> positions in the view
    v.features.forEach((fi, k) => {
      const g = plan.features[fi]!.group;
      const list = byGroup.get(g);
      if (list === undefined) byGroup.set(g, [k]);
      else list.push(k);
    });
    let timesWidth = 0;
    const groups = [...byGroup].map(([g, positions]): GroupEvalPlan => {
      const group = plan.groups[g]!;
      const feats = positions.map((k) => plan.features[v.features[k]!]!);
      const windows = Float64Array.from(new Set(feats.map((f) => f.windowMs)))
        .sort()
        .reverse();
      const width = Math.max(1, group.width);
      const init = new Float64Array(width);
      for (const slot of group.slots) init.set(SLOT_INIT[slot.kind], slot.offset);
      const usedSlots = [...new Set(feats.map((f) => f.slot))].sort((a, b) => a - b);
      const used = usedSlots.map((s) => group.slots[s]!);
      const usedMask = new Int32Array(maskWordsOf(group));
      for (const s of usedSlots) usedMask[s >>> 5]! |= 1 << (s & 31);
      const add: number[] = [];
      const min: number[] = [];
      const max: number[] = [];
      const last: number[] = [];
      const bitmap: number[] = [];
      for (const slot of used) {
        const o = slot.offset;
        if (slot.kind === 'count') add.push(o);
        else if (slot.kind === 'sum') add.push(o, o + 1);
        else if (slot.kind === 'min') min.push(o);
        else if (slot.kind === 'max' || slot.kind === 'last_ts') max.push(o);
        else if (slot.kind === 'last') last.push(o);
        else bitmap.push(o);
      }
      const timesAt = timesWidth;
      timesWidth += feats.filter((f) => OP_CODE[f.op] === OP_TIME_SINCE_LAST).length;
      return {
        group: g,
        tileMs: group.tileMs,
        windows,
        from: new Float64Array(windows.length),
        width,
        acc: new Float64Array(windows.length * width),
        accInit: Float64Array.from({ length: windows.length * width }, (_, w) => init[w % width]!),
        add: Int32Array.from(add),
        min: Int32Array.from(min),
        max: Int32Array.from(max),
        last: Int32Array.from(last),
        bitmap: Int32Array.from(bitmap),
        slotKind: Int32Array.from(group.slots, (slot) => KIND_CODE[slot.kind]),
        slotOffset: Int32Array.from(group.slots, (slot) => slot.offset),
        usedMask,
        slotsAt: maskWordsOf(group),
        ...finalizeOrder(
          positions,
          feats.map((f) => OP_CODE[f.op]!),
          feats.map((f) => windows.indexOf(f.windowMs) * width + group.slots[f.slot]!.offset),
        ),
        timesAt,
      };
    });
    const empty = new Float32Array(v.features.length);
    for (const gp of groups) {
      gp.acc.set(gp.accInit);
      finalizeGroup(gp, gp.acc, 0, empty, 0);
    }
    return { width: v.features.length, groups, empty, timesWidth };
  });
}

/** A group's features sorted by op code (stable), with where each op's run starts. */
function finalizeOrder(
  positions: readonly number[],
  ops: readonly number[],
  accIndex: readonly number[],
): Pick<GroupEvalPlan, 'outIndex' | 'accIndex' | 'opStart'> {
  const order = positions.map((_, i) => i).sort((a, b) => ops[a]! - ops[b]! || a - b);
  const opStart = new Int32Array(OP_COUNT + 1);
  for (const op of ops) opStart[op + 1]!++;
  for (let c = 0; c < OP_COUNT; c++) opStart[c + 1]! += opStart[c]!;
  return {
    outIndex: Int32Array.from(order, (i) => positions[i]!),
    accIndex: Int32Array.from(order, (i) => accIndex[i]!),
    opStart,
  };
}

/** Writes a group's features from its band accumulators, one loop per op code (see OP_CODE). */
export function finalizeGroup(
  gp: GroupEvalPlan,
  acc: Float64Array,
  atMs: number,
  out: Float32Array,
  offset: number,
): void {
  const outIndex = gp.outIndex;
  const accIndex = gp.accIndex;
  const start = gp.opStart;
  let i = 0;
  // count, sum
  for (const end = start[2]!; i < end; i++) out[offset + outIndex[i]!] = acc[accIndex[i]!]!;
  // mean
  for (const end = start[3]!; i < end; i++) {
    const a = accIndex[i]!;
    out[offset + outIndex[i]!] = acc[a + 1]! > 0 ? acc[a]! / acc[a + 1]! : Number.NaN;
  }
  // min, max
  for (const end = start[5]!; i < end; i++) {
    const v = acc[accIndex[i]!]!;
    out[offset + outIndex[i]!] = Number.isFinite(v) ? v : Number.NaN;
  }
  // last
  for (const end = start[6]!; i < end; i++) {
    const a = accIndex[i]!;
    out[offset + outIndex[i]!] = Number.isFinite(acc[a]) ? acc[a + 1]! : Number.NaN;
  }
  // time_since_last
  for (const end = start[7]!; i < end; i++) {
    const t = acc[accIndex[i]!]!;
    out[offset + outIndex[i]!] = Number.isFinite(t) ? (atMs - t) / 1000 : Number.NaN;
  }
  // approx_distinct
  for (const end = start[8]!; i < end; i++) {
    const a = accIndex[i]!;
    let bits = 0;
    for (let w = 0; w < 8; w++) bits += popcount32(acc[a + w]!);
    out[offset + outIndex[i]!] = DISTINCT_ESTIMATES[bits]!;
  }
}

/**
 * Merges the tile at `src[o...]` into the band at `acc[a...]`: only the slots the view reads that the tile's mask
 * marks as touched (an untouched slot holds its initial words, which merge as a no-op). Tiles are sparse (an event
 * touches a few of a group's slots), so this is a few words rather than the whole tile.
 */
export function mergeTile(gp: GroupEvalPlan, acc: Float64Array, a: number, src: Float64Array, o: number): void {
  const used = gp.usedMask;
  const kinds = gp.slotKind;
  const offsets = gp.slotOffset;
  const slotsAt = o + gp.slotsAt;
  for (let w = 0; w < used.length; w++) {
    let m = src[o + w]! & used[w]!;
    while (m !== 0) {
      const low = m & -m;
      m ^= low;
      const s = (w << 5) + 31 - Math.clz32(low);
      const x = a + offsets[s]!;
      const y = slotsAt + offsets[s]!;
      switch (kinds[s]) {
        case K_COUNT:
          acc[x]! += src[y]!;
          break;
        case K_SUM:
          acc[x]! += src[y]!;
          acc[x + 1]! += src[y + 1]!;
          break;
        case K_MIN:
          if (src[y]! < acc[x]!) acc[x] = src[y]!;
          break;
        case K_MAX:
        case K_LAST_TS:
          if (src[y]! > acc[x]!) acc[x] = src[y]!;
          break;
        case K_LAST: {
          // the latest event wins; on equal times the largest value
          const t = src[y]!;
          if (t > acc[x]! || (t === acc[x] && src[y + 1]! > acc[x + 1]!)) {
            acc[x] = t;
            acc[x + 1] = src[y + 1]!;
          }
          break;
        }
        default:
          for (let k = 0; k < 8; k++) acc[x + k] = ((acc[x + k]! | src[y + k]!) >>> 0) as number;
      }
    }
  }
}

/** Merges the partial aggregates at `src[o...]` (a band) into the band at `acc[a...]`. */
export function mergeInto(gp: GroupEvalPlan, acc: Float64Array, a: number, src: Float64Array, o: number): void {
  const add = gp.add;
  for (let i = 0; i < add.length; i++) {
    const x = add[i]!;
    acc[a + x]! += src[o + x]!;
  }
  const min = gp.min;
  for (let i = 0; i < min.length; i++) {
    const x = min[i]!;
    if (src[o + x]! < acc[a + x]!) acc[a + x] = src[o + x]!;
  }
  const max = gp.max;
  for (let i = 0; i < max.length; i++) {
    const x = max[i]!;
    if (src[o + x]! > acc[a + x]!) acc[a + x] = src[o + x]!;
  }
  const last = gp.last;
  for (let i = 0; i < last.length; i++) {
    const x = last[i]!;
    const t = src[o + x]!;
    // the latest event wins; on equal times the largest value
    if (t > acc[a + x]! || (t === acc[a + x] && src[o + x + 1]! > acc[a + x + 1]!)) {
      acc[a + x] = t;
      acc[a + x + 1] = src[o + x + 1]!;
    }
  }
  const bitmap = gp.bitmap;
  for (let i = 0; i < bitmap.length; i++) {
    const x = a + bitmap[i]!;
    const y = o + bitmap[i]!;
    for (let w = 0; w < 8; w++) acc[x + w] = ((acc[x + w]! | src[y + w]!) >>> 0) as number;
  }
}

/**
 * Whether one of the group's windows lost a tile between reads at `fromMs` and `toMs` (a tile starting in
 * [floor(fromMs / s) * s - W, floor(toMs / s) * s - W) for a window W: see windowStartMs), for a user whose tiles
 * did not change since `fromMs` (an event clears its cachedAtMs).
 */
export function lostTile(gp: GroupEvalPlan, tiles: TileList, fromMs: number, toMs: number): boolean {
  const n = tiles.length;
  if (n === 0) return false;
  const s = gp.tileMs;
  const q1 = Math.floor(fromMs / s) * s;
  const q2 = Math.floor(toMs / s) * s;
  if (q1 === q2) return false;
  const windows = gp.windows;
  for (let w = 0; w < windows.length; w++) {
    const lo = q1 - windows[w]!;
    const hi = q2 - windows[w]!;
    // ascending: the first tile at or past `lo` decides
    for (let i = 0; i < n; i += 2) {
      const start = tiles[i]! * s;
      if (start < lo) continue;
      if (start < hi) return true;
      break;
    }
  }
  return false;
}
