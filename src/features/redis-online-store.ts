import { Redis } from 'ioredis';
import { BackendUnavailableError, describeError, type FeatureMatrix } from '../core/index.js';
import type { ServiceLayout } from './definitions.js';
import {
  emptyMatrixFor,
  fillRun,
  type OnlineStore,
  type OnlineViewRef,
  type OnlineWriteBatch,
  type OnlineWriteResult,
  RECORD_HEADER_BYTES,
  validateWriteBatch,
} from './online-store.js';

export interface RedisOnlineStoreOptions {
  readonly url: string;
  /** Prepended to every key (`<prefix>e:<entityId>`); tests use their own. */
  readonly keyPrefix: string;
  /** Keys expire this long after their last write beyond the view's TTL: garbage collection only. */
  readonly gcGraceSeconds?: number;
  /** Entities per write script call. */
  readonly writeChunk?: number;
}

// Compare-and-set per entity in one script call: last write wins by (eventTs, createdTs), so replays are no-ops.
const WRITE_SCRIPT = `
local field = ARGV[1]
local gc = tonumber(ARGV[2])
local written = 0
for i, key in ipairs(KEYS) do
  local rec = ARGV[i + 2]
  local old = redis.call('HGET', key, field)
  local ok = true
  if old then
    local oe, oc = struct.unpack('<d<d', old)
    local ne, nc = struct.unpack('<d<d', rec)
    ok = ne > oe or (ne == oe and nc > oc)
  end
  if ok then
    redis.call('HSET', key, field, rec)
    written = written + 1
    if gc > 0 then
      local cur = redis.call('TTL', key)
      if cur < gc then redis.call('EXPIRE', key, gc) end
    end
  end
end
return written
`;

/**
 * Production online store. Layout: one hash per entity (`<prefix>e:<id>`), one field per view storage key holding
 * a packed record (eventTs f64, createdTs f64, float32 values). A read is one pipelined HMGET per entity for all
 * the service's views: one round trip for the whole request. Key expiry is only GC; the TTL rule decides status.
 */
export class RedisOnlineStore implements OnlineStore {
  readonly kind = 'redis';
  readonly #client: Redis;
  readonly #prefix: string;
  readonly #gcGraceSeconds: number;
  readonly #writeChunk: number;
  #scratch = new Float32Array(256);
  #connecting: Promise<void> | undefined;
  #closed = false;

  constructor(options: RedisOnlineStoreOptions) {
    this.#prefix = options.keyPrefix;
    this.#gcGraceSeconds = options.gcGraceSeconds ?? 86_400;
    this.#writeChunk = options.writeChunk ?? 500;
    this.#client = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 2, enableAutoPipelining: false });
    this.#client.defineCommand('adnovaOnlineWrite', { lua: WRITE_SCRIPT });
    this.#client.on('error', () => {
      // surfaced to callers through rejected commands; the listener keeps ioredis from logging unhandled errors
    });
  }

  keyOf(entityId: string): string {
    return `${this.#prefix}e:${entityId}`;
  }

  async write(view: OnlineViewRef, batch: OnlineWriteBatch): Promise<OnlineWriteResult> {
    validateWriteBatch(view, batch);
    const n = batch.entityIds.length;
    const gc = view.ttlMs === undefined ? 0 : Math.ceil(view.ttlMs / 1000) + this.#gcGraceSeconds;
    const pipeline = this.#client.pipeline();
    for (let start = 0; start < n; start += this.#writeChunk) {
      const end = Math.min(n, start + this.#writeChunk);
      const keys: string[] = [];
      const args: Array<string | Buffer> = [view.storageKey, String(gc)];
      for (let i = start; i < end; i++) {
        keys.push(this.keyOf(batch.entityIds[i] as string));
        args.push(packRecord(batch, i, view.width));
      }
      (pipeline as unknown as Record<string, (...a: unknown[]) => void>)['adnovaOnlineWrite']?.(
        keys.length,
        ...keys,
        ...args,
      );
    }
    const results = await this.#run('write', () => pipeline.exec());
    let written = 0;
    for (const [err, value] of results ?? []) {
      if (err) throw new BackendUnavailableError(`redis online write failed: ${describeError(err)}`, { cause: err });
      written += Number(value);
    }
    return { written, skipped: n - written };
  }

  async read(layout: ServiceLayout, entityIds: readonly string[], atMs: number): Promise<FeatureMatrix> {
    const m = emptyMatrixFor(layout, entityIds);
    const runs = layout.runs;
    const storedRuns: number[] = [];
    const fields: string[] = [];
    for (let r = 0; r < runs.length; r++) {
      const run = runs[r] as (typeof runs)[number];
      if (run.kind !== 'stored') continue;
      storedRuns.push(r);
      if (!fields.includes(run.storageKey)) fields.push(run.storageKey);
    }
    if (fields.length === 0 || entityIds.length === 0) return m;
    const fieldOfRun = storedRuns.map((r) => fields.indexOf((runs[r] as (typeof runs)[number]).storageKey));
    let replies: Array<Array<Buffer | null>>;
    if (entityIds.length === 1) {
      replies = [
        await this.#run('read', () => this.#client.hmgetBuffer(this.keyOf(entityIds[0] as string), ...fields)),
      ];
    } else {
      const pipeline = this.#client.pipeline();
      for (const id of entityIds) pipeline.hmgetBuffer(this.keyOf(id), ...fields);
      const results = (await this.#run('read', () => pipeline.exec())) ?? [];
      replies = results.map(([err, value]) => {
        if (err) throw new BackendUnavailableError(`redis online read failed: ${describeError(err)}`, { cause: err });
        return value as Array<Buffer | null>;
      });
    }
    for (let row = 0; row < entityIds.length; row++) {
      const reply = replies[row] as Array<Buffer | null>;
      for (let s = 0; s < storedRuns.length; s++) {
        const r = storedRuns[s] as number;
        const run = runs[r] as (typeof runs)[number];
        const buf = reply[fieldOfRun[s] as number] ?? null;
        if (buf === null || buf.length < RECORD_HEADER_BYTES) {
          fillRun(m, r, run, row, undefined, 0, 0, Number.NaN, atMs);
          continue;
        }
        const width = (buf.length - RECORD_HEADER_BYTES) >>> 2;
        fillRun(m, r, run, row, this.#floats(buf, width), 0, width, buf.readDoubleLE(0), atMs);
      }
    }
    return m;
  }

  async deleteEntities(entityIds: readonly string[]): Promise<number> {
    if (entityIds.length === 0) return 0;
    return this.#run('delete', () => this.#client.del(...entityIds.map((id) => this.keyOf(id))));
  }

  /** Deletes every key under this store's prefix (tests and resets); SCAN-based, never KEYS. */
  async clear(): Promise<number> {
    let cursor = '0';
    let n = 0;
    do {
      const [next, keys] = await this.#run('clear', () =>
        this.#client.scan(cursor, 'MATCH', `${this.#prefix}*`, 'COUNT', 1000),
      );
      cursor = next;
      if (keys.length > 0) n += await this.#client.del(...keys);
    } while (cursor !== '0');
    return n;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#client.disconnect();
  }

  /** Float32 view of a record's values; copies into an aligned scratch buffer when the reply is unaligned. */
  #floats(buf: Buffer, width: number): Float32Array {
    const byteOffset = buf.byteOffset + RECORD_HEADER_BYTES;
    if (byteOffset % 4 === 0) return new Float32Array(buf.buffer, byteOffset, width);
    if (this.#scratch.length < width) this.#scratch = new Float32Array(width);
    new Uint8Array(this.#scratch.buffer, 0, width * 4).set(
      buf.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + width * 4),
    );
    return this.#scratch;
  }

  async #run<T>(what: string, op: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new BackendUnavailableError(`redis online store is closed (${what})`);
    try {
      if (this.#client.status === 'wait')
        this.#connecting ??= this.#client.connect().catch((err: unknown) => {
          this.#connecting = undefined;
          throw err;
        });
      if (this.#connecting !== undefined) await this.#connecting;
      return await op();
    } catch (err) {
      if (err instanceof BackendUnavailableError) throw err;
      throw new BackendUnavailableError(`redis online ${what} failed: ${describeError(err)}`, { cause: err });
    }
  }
}

function packRecord(batch: OnlineWriteBatch, i: number, width: number): Buffer {
  const buf = Buffer.allocUnsafe(RECORD_HEADER_BYTES + width * 4);
  buf.writeDoubleLE(batch.eventTs[i] as number, 0);
  buf.writeDoubleLE(batch.createdTs[i] as number, 8);
  const src = batch.values;
  const v = new Uint8Array(src.buffer, src.byteOffset + i * width * 4, width * 4);
  buf.set(v, RECORD_HEADER_BYTES);
  return buf;
}
