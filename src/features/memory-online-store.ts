import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { BackendUnavailableError, describeError, type FeatureMatrix, FeatureStatusCode } from '../core/index.js';
import type { ServiceLayout } from './definitions.js';
import {
  emptyMatrixFor,
  isNewer,
  type OnlineStore,
  type OnlineViewRef,
  type OnlineWriteBatch,
  type OnlineWriteResult,
  validateWriteBatch,
} from './online-store.js';
import { ttlStatus } from './ttl-rule.js';

interface MemoryRecord {
  eventTs: number;
  createdTs: number;
  values: Float32Array;
}

export interface MemoryOnlineStoreOptions {
  /** Loaded when present at open; written by `saveSnapshot()` and on `close()`. */
  readonly snapshotPath?: string | undefined;
}

interface SnapshotFile {
  readonly format: 'adnova-online-snapshot';
  readonly version: 1;
  readonly views: readonly string[];
  /** [entityId, [[viewSlot, eventTs, createdTs, base64 float32 LE values], ...]] */
  readonly entities: ReadonlyArray<readonly [string, ReadonlyArray<readonly [number, number, number, string]>]>;
}

/** The embedded online store: one record array per entity, one slot per view; one Map lookup per entity read. */
export class MemoryOnlineStore implements OnlineStore {
  readonly kind = 'memory';
  readonly #entities = new Map<string, Array<MemoryRecord | undefined>>();
  readonly #slots = new Map<string, number>();
  readonly #snapshotPath: string | undefined;
  #closed = false;

  constructor(options: MemoryOnlineStoreOptions = {}) {
    this.#snapshotPath = options.snapshotPath;
    if (this.#snapshotPath !== undefined && existsSync(this.#snapshotPath)) this.#load(this.#snapshotPath);
  }

  get entityCount(): number {
    return this.#entities.size;
  }

  async write(view: OnlineViewRef, batch: OnlineWriteBatch): Promise<OnlineWriteResult> {
    validateWriteBatch(view, batch);
    const slot = this.#slotOf(view.storageKey);
    let written = 0;
    for (let i = 0; i < batch.entityIds.length; i++) {
      const id = batch.entityIds[i] as string;
      const eventTs = batch.eventTs[i] as number;
      const createdTs = batch.createdTs[i] as number;
      let records = this.#entities.get(id);
      if (records === undefined) {
        records = [];
        this.#entities.set(id, records);
      }
      const old = records[slot];
      if (old !== undefined && !isNewer(eventTs, createdTs, old.eventTs, old.createdTs)) continue;
      records[slot] = { eventTs, createdTs, values: batch.values.slice(i * view.width, (i + 1) * view.width) };
      written++;
    }
    return { written, skipped: batch.entityIds.length - written };
  }

  async read(layout: ServiceLayout, entityIds: readonly string[], atMs: number): Promise<FeatureMatrix> {
    return this.readSync(layout, entityIds, atMs);
  }

  /** The same read without a promise, for in-process serving hot paths. */
  readSync(layout: ServiceLayout, entityIds: readonly string[], atMs: number): FeatureMatrix {
    const m = emptyMatrixFor(layout, entityIds);
    const rows = entityIds.length;
    const records: Array<Array<MemoryRecord | undefined> | undefined> = new Array(rows);
    for (let row = 0; row < rows; row++) records[row] = this.#entities.get(entityIds[row] as string);
    const out = m.values;
    const status = m.status;
    const age = m.ageMs as Float64Array;
    const runs = layout.runs;
    for (let r = 0; r < runs.length; r++) {
      const run = runs[r] as (typeof runs)[number];
      if (run.kind !== 'stored') continue;
      const slot = this.#slots.get(run.storageKey) ?? -1;
      const idx = run.featureIndex;
      const defaults = run.defaults;
      const width = idx.length;
      const base = run.start * rows;
      // one run at a time, row by row: the inner copy is a tight typed-array loop (measured in bench/features.ts)
      for (let row = 0; row < rows; row++) {
        const rec = slot >= 0 ? records[row]?.[slot] : undefined;
        const eventTs = rec === undefined ? Number.NaN : rec.eventTs;
        const st = ttlStatus(eventTs, atMs, run.ttlMs);
        status[r * rows + row] = st;
        age[r * rows + row] = rec === undefined ? -1 : atMs - eventTs;
        let dst = base + row;
        if (st === FeatureStatusCode.present && rec !== undefined) {
          const vals = rec.values;
          const stored = vals.length;
          for (let k = 0; k < width; k++, dst += rows) {
            const f = idx[k] as number;
            out[dst] = f < stored ? (vals[f] as number) : (defaults[k] as number);
          }
        } else {
          for (let k = 0; k < width; k++, dst += rows) out[dst] = defaults[k] as number;
        }
      }
    }
    return m;
  }

  async deleteEntities(entityIds: readonly string[]): Promise<number> {
    let n = 0;
    for (const id of entityIds) if (this.#entities.delete(id)) n++;
    return n;
  }

  /** Writes the snapshot atomically (temp file + rename). */
  saveSnapshot(path = this.#snapshotPath): void {
    if (path === undefined) throw new BackendUnavailableError('memory online store has no snapshot path to save to');
    const views = [...this.#slots.keys()];
    const entities: Array<[string, Array<[number, number, number, string]>]> = [];
    for (const [id, records] of this.#entities) {
      const recs: Array<[number, number, number, string]> = [];
      records.forEach((rec, slot) => {
        if (rec)
          recs.push([
            slot,
            rec.eventTs,
            rec.createdTs,
            Buffer.from(rec.values.buffer, rec.values.byteOffset, rec.values.byteLength).toString('base64'),
          ]);
      });
      entities.push([id, recs]);
    }
    const file: SnapshotFile = { format: 'adnova-online-snapshot', version: 1, views, entities };
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(file));
    renameSync(tmp, path);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#snapshotPath !== undefined) this.saveSnapshot();
  }

  #slotOf(storageKey: string): number {
    let slot = this.#slots.get(storageKey);
    if (slot === undefined) {
      slot = this.#slots.size;
      this.#slots.set(storageKey, slot);
    }
    return slot;
  }

  #load(path: string): void {
    let file: SnapshotFile;
    try {
      file = JSON.parse(readFileSync(path, 'utf8')) as SnapshotFile;
    } catch (err) {
      throw new BackendUnavailableError(`online snapshot ${path} is unreadable: ${describeError(err)}`, { cause: err });
    }
    if (file.format !== 'adnova-online-snapshot' || file.version !== 1)
      throw new BackendUnavailableError(
        `online snapshot ${path} has format ${file.format} v${file.version}; expected adnova-online-snapshot v1`,
      );
    const slotMap = file.views.map((key) => this.#slotOf(key));
    for (const [id, recs] of file.entities) {
      const records: Array<MemoryRecord | undefined> = [];
      for (const [slot, eventTs, createdTs, b64] of recs) {
        const bytes = Buffer.from(b64, 'base64');
        const values = new Float32Array(bytes.byteLength / 4);
        new Uint8Array(values.buffer).set(bytes);
        records[slotMap[slot] as number] = { eventTs, createdTs, values };
      }
      this.#entities.set(id, records);
    }
  }
}
