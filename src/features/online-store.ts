import {
  createFeatureMatrix,
  type FeatureMatrix,
  FeatureStatusCode,
  InvalidInputError,
  isValidEntityId,
} from '../core/index.js';
import type { LayoutRun, ServiceLayout } from './definitions.js';
import { ttlStatus } from './ttl-rule.js';

/** What the online store needs to know about a view to write it. */
export interface OnlineViewRef {
  readonly storageKey: string;
  /** Number of features in the view's vector. */
  readonly width: number;
  /** The view's TTL: stores may use it to garbage-collect (never to decide status); +Infinity: keep forever. */
  readonly ttlMs?: number | undefined;
}

/**
 * Many entities of one view at once. `values` is row-major (`values[row * width + feature]`): each entity's
 * vector is stored as one packed record.
 */
export interface OnlineWriteBatch {
  readonly entityIds: readonly string[];
  readonly eventTs: Float64Array;
  readonly createdTs: Float64Array;
  readonly values: Float32Array;
}

export interface OnlineWriteResult {
  /** Records that replaced an older one or were new. */
  readonly written: number;
  /** Records ignored because the stored one is newer or equal by (eventTs, createdTs): replays are no-ops. */
  readonly skipped: number;
}

/**
 * The serving-side store. Reads apply the TTL rule at `atMs`; stores keep only the newest record per entity
 * and view (last write wins by eventTs, then createdTs).
 */
export interface OnlineStore {
  readonly kind: string;
  write(view: OnlineViewRef, batch: OnlineWriteBatch): Promise<OnlineWriteResult>;
  /**
   * Fills the layout's stored runs; request and transform runs are left `missing` for the caller. With `buffers`
   * the matrix's arrays are views into them (see `ReadBuffers`) instead of new allocations.
   */
  read(
    layout: ServiceLayout,
    entityIds: readonly string[],
    atMs: number,
    buffers?: ReadBuffers,
  ): Promise<FeatureMatrix>;
  /** Removes every view's record of these entities (privacy deletion); returns how many entities had data. */
  deleteEntities(entityIds: readonly string[]): Promise<number>;
  /** Every entity holding a record of any view, for stores that can list them (privacy verifiers scan these). */
  listEntityIds?(): AsyncIterable<string>;
  /**
   * What serving sees of one view at `nowMs`: how many entities hold a record with `eventTs <= nowMs`, the newest
   * such `eventTs`, and how many are at least `slaMs` old (the offline store's freshness rule, applied to what
   * was actually written online). A store may look at a sample of its entities (`sampled`), at most `sample`.
   */
  freshness(view: OnlineViewRef, nowMs: number, slaMs: number, sample?: number): Promise<OnlineFreshness>;
  close(): Promise<void>;
}

/** An online store's freshness of one view (see `OnlineStore.freshness`). */
export interface OnlineFreshness {
  readonly entities: number;
  /** NaN when no entity holds a record at or before the instant. */
  readonly newestEventTs: number;
  readonly staleEntities: number;
  /** True when the counts come from a sample of the view's entities rather than all of them. */
  readonly sampled: boolean;
}

/** Counts records' event times into an `OnlineFreshness`: one rule for every store. */
export class FreshnessCount {
  entities = 0;
  staleEntities = 0;
  newestEventTs = Number.NaN;

  constructor(
    readonly nowMs: number,
    readonly slaMs: number,
  ) {}

  /** A record with this eventTs: counted when at or before `nowMs`, stale when at least `slaMs` old. */
  add(eventTs: number): void {
    if (!(eventTs <= this.nowMs)) return;
    this.entities++;
    if (eventTs <= this.nowMs - this.slaMs) this.staleEntities++;
    if (!(eventTs <= this.newestEventTs)) this.newestEventTs = eventTs;
  }

  result(sampled: boolean, newestEventTs = this.newestEventTs): OnlineFreshness {
    return { entities: this.entities, newestEventTs, staleEntities: this.staleEntities, sampled };
  }
}

/** Packed record: eventTs (f64 LE), createdTs (f64 LE), then `width` float32 LE values. */
export const RECORD_HEADER_BYTES = 16;

export function validateWriteBatch(view: OnlineViewRef, batch: OnlineWriteBatch): void {
  const n = batch.entityIds.length;
  if (batch.eventTs.length !== n || batch.createdTs.length !== n)
    throw new InvalidInputError(
      `online write to ${view.storageKey}: ${n} entity ids but ${batch.eventTs.length} eventTs and ${batch.createdTs.length} createdTs`,
    );
  if (batch.values.length !== n * view.width)
    throw new InvalidInputError(
      `online write to ${view.storageKey}: expected ${n} x ${view.width} = ${n * view.width} values, got ${batch.values.length}`,
    );
  for (let i = 0; i < n; i++) {
    const id = batch.entityIds[i] as string;
    if (!isValidEntityId(id))
      throw new InvalidInputError(`online write to ${view.storageKey}: invalid entity id ${JSON.stringify(id)}`);
    if (!Number.isFinite(batch.eventTs[i]) || !Number.isFinite(batch.createdTs[i]))
      throw new InvalidInputError(
        `online write to ${view.storageKey}: entity ${id} has a non-finite eventTs or createdTs`,
      );
  }
}

/** Last write wins by (eventTs, createdTs); an equal record is a replay and changes nothing. */
export function isNewer(eventTs: number, createdTs: number, oldEventTs: number, oldCreatedTs: number): boolean {
  return eventTs > oldEventTs || (eventTs === oldEventTs && createdTs > oldCreatedTs);
}

export function emptyMatrixFor(layout: ServiceLayout, entityIds: readonly string[]): FeatureMatrix {
  return createFeatureMatrix(entityIds, layout.columns, layout.views);
}

/** A layout's stored runs grouped by the view record (storage key) they read, computed once per layout. */
export interface StoredReadPlan {
  /** Distinct storage keys of the stored runs, in first-use order. */
  readonly fields: readonly string[];
  /** For each field, the indexes (into `layout.runs`) of the stored runs that read it. */
  readonly runsOfField: readonly (readonly number[])[];
}

const readPlans = new WeakMap<ServiceLayout, StoredReadPlan>();

/** The layout's read plan (cached: layouts are immutable once resolved). */
export function readPlanOf(layout: ServiceLayout): StoredReadPlan {
  let plan = readPlans.get(layout);
  if (plan === undefined) {
    const fields: string[] = [];
    const runsOfField: number[][] = [];
    layout.runs.forEach((run, r) => {
      if (run.kind !== 'stored') return;
      let f = fields.indexOf(run.storageKey);
      if (f < 0) {
        f = fields.push(run.storageKey) - 1;
        runsOfField.push([]);
      }
      (runsOfField[f] as number[]).push(r);
    });
    plan = { fields, runsOfField };
    readPlans.set(layout, plan);
  }
  return plan;
}

/**
 * Memory a caller lends to online reads so that a serving loop allocates nothing per request. A read given these
 * buffers returns a matrix whose `values`, `status` and `ageMs` are views into them: valid until the next read
 * given the same buffers, so one `ReadBuffers` per concurrent request. Why it matters: a 100-entity read of a
 * 2,500-feature service is a 1 MB matrix, allocated outside the JS heap, and V8 answers that allocation rate with
 * young-generation collections ("external memory pressure") of 1-10 ms every 50-60 reads: a p99 cost, not a p50 one.
 */
export class ReadBuffers {
  #values = new Float32Array(0);
  #status = new Uint8Array(0);
  #ageMs = new Float64Array(0);

  values(n: number): Float32Array {
    if (this.#values.length < n) this.#values = new Float32Array(grown(this.#values.length, n));
    return this.#values.subarray(0, n);
  }

  status(n: number): Uint8Array {
    if (this.#status.length < n) this.#status = new Uint8Array(grown(this.#status.length, n));
    return this.#status.subarray(0, n);
  }

  ageMs(n: number): Float64Array {
    if (this.#ageMs.length < n) this.#ageMs = new Float64Array(grown(this.#ageMs.length, n));
    return this.#ageMs.subarray(0, n);
  }
}

function grown(have: number, need: number): number {
  return Math.max(need, have * 2);
}

/**
 * The matrix a store read returns before filling: like `emptyMatrixFor`, but the stored runs' values are left
 * unset (zero) because `fillStoredRun` writes every one of their cells; other runs are NaN and every status is
 * `missing`. Saves a NaN pass over the whole matrix (a 100 x 2,500 read is 1 MB).
 */
export function storeReadMatrixFor(
  layout: ServiceLayout,
  entityIds: readonly string[],
  buffers?: ReadBuffers,
): FeatureMatrix {
  const rows = entityIds.length;
  const runs = layout.runs;
  const size = rows * layout.columns.length;
  const values = buffers === undefined ? new Float32Array(size) : buffers.values(size);
  let nanFrom = -1;
  for (let r = 0; r < runs.length; r++) {
    const run = runs[r] as LayoutRun;
    if (run.kind !== 'stored') {
      if (nanFrom < 0) nanFrom = run.start;
      continue;
    }
    if (nanFrom >= 0) values.fill(Number.NaN, nanFrom * rows, run.start * rows);
    nanFrom = -1;
  }
  if (nanFrom >= 0) values.fill(Number.NaN, nanFrom * rows);
  const cells = rows * runs.length;
  const status = (buffers === undefined ? new Uint8Array(cells) : buffers.status(cells)).fill(
    FeatureStatusCode.missing,
  );
  const ageMs = (buffers === undefined ? new Float64Array(cells) : buffers.ageMs(cells)).fill(-1);
  return { entityIds, columns: layout.columns, views: layout.views, values, status, ageMs };
}

/**
 * Where each row's stored vector starts in `src`: `base + row * stride` (the memory store's tile), or any start per
 * row (`rowStart`: the Redis store reads records in place where its replies landed). The uniform form has its own
 * loop: an indirection per value cost the memory store 15-20% of its read rate.
 */
export type RowStarts = { readonly base: number; readonly stride: number } | Int32Array;

/**
 * Fills one stored run for rows `[rowFrom, rowTo)` (default: every row), applying the TTL rule (the same result as
 * `fillRun` per row). Row `row`'s stored vector starts in `src` as `starts` says, `rowWidth[row]` floats long, with
 * event time `eventTs[row]` (NaN: no record). The matrix is filled column by column, so its writes are sequential.
 * `rowWidth` is scratch: it is overwritten with 0 for rows that read defaults.
 */
export function fillStoredRun(
  m: FeatureMatrix,
  runIndex: number,
  run: LayoutRun,
  src: Float32Array,
  starts: RowStarts,
  rowWidth: Int32Array,
  eventTs: Float64Array,
  atMs: number,
  rowFrom = 0,
  rowTo = m.entityIds.length,
): void {
  const rows = m.entityIds.length;
  const status = m.status;
  const age = m.ageMs as Float64Array;
  const idx = run.featureIndex;
  const defaults = run.defaults;
  const ttlMs = run.ttlMs;
  let need = 0;
  for (let k = 0; k < idx.length; k++) if ((idx[k] as number) >= need) need = (idx[k] as number) + 1;
  let allFull = true;
  let cell = runIndex * rows + rowFrom;
  for (let row = rowFrom; row < rowTo; row++, cell++) {
    const ts = eventTs[row] as number;
    const st = ttlStatus(ts, atMs, ttlMs);
    status[cell] = st;
    age[cell] = Number.isNaN(ts) ? -1 : atMs - ts;
    if (st !== FeatureStatusCode.present) rowWidth[row] = 0;
    if ((rowWidth[row] as number) < need) allFull = false;
  }
  const out = m.values;
  const skip = rows - (rowTo - rowFrom);
  let dst = run.start * rows + rowFrom;
  if (starts instanceof Int32Array) {
    let k = 0;
    if (allFull)
      // four columns per pass over the rows: one row-start load per four values (1.5x the one-column loop)
      for (; k + 3 < idx.length; k += 4, dst += 3 * rows + skip) {
        const f0 = idx[k] as number;
        const f1 = idx[k + 1] as number;
        const f2 = idx[k + 2] as number;
        const f3 = idx[k + 3] as number;
        for (let row = rowFrom; row < rowTo; row++, dst++) {
          const at = starts[row] as number;
          out[dst] = src[at + f0] as number;
          out[dst + rows] = src[at + f1] as number;
          out[dst + 2 * rows] = src[at + f2] as number;
          out[dst + 3 * rows] = src[at + f3] as number;
        }
      }
    for (; k < idx.length; k++, dst += skip) {
      const f = idx[k] as number;
      const d = defaults[k] as number;
      if (allFull)
        for (let row = rowFrom; row < rowTo; row++, dst++) out[dst] = src[(starts[row] as number) + f] as number;
      else
        for (let row = rowFrom; row < rowTo; row++, dst++)
          out[dst] = f < (rowWidth[row] as number) ? (src[(starts[row] as number) + f] as number) : d;
    }
    return;
  }
  const { stride } = starts;
  const base = starts.base + rowFrom * stride;
  if (allFull) {
    let k = 0;
    for (; k + 3 < idx.length; k += 4, dst += 3 * rows + skip) {
      const f0 = idx[k] as number;
      const f1 = idx[k + 1] as number;
      const f2 = idx[k + 2] as number;
      const f3 = idx[k + 3] as number;
      for (let row = rowFrom, at = base; row < rowTo; row++, dst++, at += stride) {
        out[dst] = src[at + f0] as number;
        out[dst + rows] = src[at + f1] as number;
        out[dst + 2 * rows] = src[at + f2] as number;
        out[dst + 3 * rows] = src[at + f3] as number;
      }
    }
    for (; k < idx.length; k++, dst += skip) {
      const f = idx[k] as number;
      for (let row = rowFrom, at = base + f; row < rowTo; row++, dst++, at += stride) out[dst] = src[at] as number;
    }
  } else {
    for (let k = 0; k < idx.length; k++, dst += skip) {
      const f = idx[k] as number;
      const d = defaults[k] as number;
      for (let row = rowFrom, at = base + f; row < rowTo; row++, dst++, at += stride)
        out[dst] = f < (rowWidth[row] as number) ? (src[at] as number) : d;
    }
  }
}

/**
 * Fills one run for one row from a stored vector (or from nothing when `eventTs` is NaN), applying the TTL rule:
 * present copies the selected features, missing/expired write the declared defaults. `values[offset + k]` is the
 * view's feature k; a vector shorter than the view (written before features were appended) reads defaults.
 * The per-row definition: the stores use the batched `fillStoredRun`, which online-store.test.ts checks against it.
 */
export function fillRun(
  m: FeatureMatrix,
  runIndex: number,
  run: LayoutRun,
  row: number,
  values: ArrayLike<number> | undefined,
  offset: number,
  storedWidth: number,
  eventTs: number,
  atMs: number,
): void {
  const rows = m.entityIds.length;
  const status = ttlStatus(eventTs, atMs, run.ttlMs);
  const cell = runIndex * rows + row;
  m.status[cell] = status;
  (m.ageMs as Float64Array)[cell] = Number.isNaN(eventTs) ? -1 : atMs - eventTs;
  const out = m.values;
  const idx = run.featureIndex;
  const defaults = run.defaults;
  let dst = run.start * rows + row;
  if (status === FeatureStatusCode.present && values !== undefined) {
    for (let k = 0; k < idx.length; k++, dst += rows) {
      const f = idx[k] as number;
      out[dst] = f < storedWidth ? (values[offset + f] as number) : (defaults[k] as number);
    }
  } else {
    for (let k = 0; k < idx.length; k++, dst += rows) out[dst] = defaults[k] as number;
  }
}
