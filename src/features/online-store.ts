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
  /** The view's TTL: stores may use it to garbage-collect (never to decide status). */
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
  /** Fills the layout's stored runs; request and transform runs are left `missing` for the caller. */
  read(layout: ServiceLayout, entityIds: readonly string[], atMs: number): Promise<FeatureMatrix>;
  /** Removes every view's record of these entities (privacy deletion); returns how many entities had data. */
  deleteEntities(entityIds: readonly string[]): Promise<number>;
  close(): Promise<void>;
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

/**
 * Fills one run for one row from a stored vector (or from nothing when `eventTs` is NaN), applying the TTL rule:
 * present copies the selected features, missing/expired write the declared defaults. `values[offset + k]` is the
 * view's feature k; a vector shorter than the view (written before features were appended) reads defaults.
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
