import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { deserialize, serialize } from 'node:v8';
import { BackendUnavailableError, describeError, InvalidInputError } from '../core/index.js';
import type { AggregatorMeta } from './aggregation/index.js';
import { AggregatorStateCorruptError, AggregatorStatePlanMismatchError } from './errors.js';

/** A checkpoint of a WindowAggregator: meta plus each user's state bytes. */
export interface AggregatorCheckpoint {
  /** Fingerprint of the plan the state belongs to; a different plan cannot resume it. */
  readonly planKey: string;
  readonly meta: AggregatorMeta;
  readonly users: ReadonlyMap<string, Uint8Array>;
}

/**
 * Durable aggregator state, so a restarted consumer resumes exactly: the ingestor saves the users it changed
 * before it acknowledges the events that changed them. `save` resolves once the state is durable.
 */
export interface AggregatorStateStore {
  readonly kind: string;
  load(): Promise<AggregatorCheckpoint | undefined>;
  /** Upserts changed users (null removes one) and replaces the meta. */
  save(planKey: string, meta: AggregatorMeta, changed: ReadonlyMap<string, Uint8Array | null>): Promise<void>;
  close(): Promise<void>;
}

function checkPlan(stored: string | undefined, planKey: string, where: string): void {
  if (stored !== undefined && stored !== planKey) throw new AggregatorStatePlanMismatchError(where, stored, planKey);
}

/**
 * Keeps state in this object: tests, and a consumer that restarts inside one process. Keeps the bytes it is given
 * (no copy per user): a checkpoint's users arrive as views into shared chunks (WindowAggregator.exportUsers), and a
 * chunk stays alive while one of its users does, so when the chunks held exceed twice the live bytes (plus one
 * chunk), the live bytes are compacted into one buffer: amortized O(1) a byte, memory at most ~2x the state.
 */
export class MemoryAggregatorStateStore implements AggregatorStateStore {
  readonly kind = 'memory';
  #planKey: string | undefined;
  #meta: AggregatorMeta | undefined;
  readonly #users = new Map<string, Uint8Array>();
  /** Per buffer the stored views live in: how many there are. */
  #views = new Map<ArrayBufferLike, number>();
  #heldBytes = 0;
  #liveBytes = 0;

  async load(): Promise<AggregatorCheckpoint | undefined> {
    if (this.#meta === undefined || this.#planKey === undefined) return undefined;
    return { planKey: this.#planKey, meta: this.#meta, users: new Map(this.#users) };
  }

  async save(planKey: string, meta: AggregatorMeta, changed: ReadonlyMap<string, Uint8Array | null>): Promise<void> {
    checkPlan(this.#planKey, planKey, 'memory aggregator state');
    this.#planKey = planKey;
    this.#meta = structuredClone(meta);
    for (const [id, bytes] of changed) {
      const old = this.#users.get(id);
      if (old !== undefined) this.#release(old);
      if (bytes === null) this.#users.delete(id);
      else {
        this.#users.set(id, bytes);
        this.#hold(bytes);
      }
    }
    if (this.#heldBytes > 2 * this.#liveBytes + COMPACT_SLACK_BYTES) this.#compact();
  }

  /** Bytes of the buffers the stored states keep alive, and of the states themselves (tests). */
  get memory(): { held: number; live: number } {
    return { held: this.#heldBytes, live: this.#liveBytes };
  }

  #hold(bytes: Uint8Array): void {
    const n = this.#views.get(bytes.buffer);
    if (n === undefined) {
      this.#views.set(bytes.buffer, 1);
      this.#heldBytes += bytes.buffer.byteLength;
    } else this.#views.set(bytes.buffer, n + 1);
    this.#liveBytes += bytes.byteLength;
  }

  #release(bytes: Uint8Array): void {
    const n = this.#views.get(bytes.buffer) ?? 1;
    if (n === 1) {
      this.#views.delete(bytes.buffer);
      this.#heldBytes -= bytes.buffer.byteLength;
    } else this.#views.set(bytes.buffer, n - 1);
    this.#liveBytes -= bytes.byteLength;
  }

  /** Copies every state into one buffer, each at an 8-byte aligned offset (decoding reads Float64 words in place). */
  #compact(): void {
    let total = 0;
    for (const bytes of this.#users.values()) total += align8(bytes.byteLength);
    const buffer = new ArrayBuffer(total);
    const all = new Uint8Array(buffer);
    let at = 0;
    for (const [id, bytes] of this.#users) {
      all.set(bytes, at);
      this.#users.set(id, all.subarray(at, at + bytes.byteLength));
      at += align8(bytes.byteLength);
    }
    this.#views = this.#users.size > 0 ? new Map([[buffer, this.#users.size]]) : new Map();
    this.#heldBytes = this.#users.size > 0 ? total : 0;
  }

  async close(): Promise<void> {}
}

const COMPACT_SLACK_BYTES = 1 << 20;

function corruptFile(path: string, found: string, cause?: unknown): AggregatorStateCorruptError {
  return new AggregatorStateCorruptError(
    `aggregator state file ${path} is corrupt: expected a checkpoint { planKey, meta, users }, found ${found}; move it away and replay the stream into a fresh state`,
    { ...(cause !== undefined ? { cause } : {}), details: { where: path, found } },
  );
}

function describeShape(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
}
const align8 = (n: number) => Math.ceil(n / 8) * 8;

/**
 * One file, rewritten whole on each save (write to a temp file, fsync, rename): the embedded default, for states
 * of up to some hundred thousand users. Larger states belong in Redis (RedisAggregatorStateStore).
 */
export class FileAggregatorStateStore implements AggregatorStateStore {
  readonly kind = 'file';
  readonly path: string;
  #loaded:
    | { planKey: string | undefined; meta: AggregatorMeta | undefined; users: Map<string, Uint8Array> }
    | undefined;

  constructor(path: string) {
    if (typeof path !== 'string' || path.length === 0)
      throw new InvalidInputError(`aggregator state file: expected a path, got ${JSON.stringify(path)}`);
    this.path = path;
  }

  #read() {
    if (this.#loaded !== undefined) return this.#loaded;
    if (!existsSync(this.path)) {
      this.#loaded = { planKey: undefined, meta: undefined, users: new Map() };
      return this.#loaded;
    }
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.path);
    } catch (err) {
      throw new BackendUnavailableError(`cannot read aggregator state ${this.path}: ${describeError(err)}`, {
        cause: err,
      });
    }
    let data: unknown;
    try {
      data = deserialize(bytes);
    } catch (err) {
      throw corruptFile(this.path, `${bytes.length} bytes that do not deserialize (${describeError(err)})`, err);
    }
    const d = data as { planKey?: unknown; meta?: unknown; users?: unknown } | null;
    if (
      d === null ||
      typeof d !== 'object' ||
      typeof d.planKey !== 'string' ||
      d.meta === null ||
      typeof d.meta !== 'object' ||
      !(d.users instanceof Map)
    ) {
      const found =
        d === null || typeof d !== 'object' ? describeShape(d) : `an object with keys ${Object.keys(d).join(', ')}`;
      throw corruptFile(this.path, found);
    }
    this.#loaded = { planKey: d.planKey, meta: d.meta as AggregatorMeta, users: d.users as Map<string, Uint8Array> };
    return this.#loaded;
  }

  async load(): Promise<AggregatorCheckpoint | undefined> {
    const s = this.#read();
    if (s.meta === undefined || s.planKey === undefined) return undefined;
    return { planKey: s.planKey, meta: s.meta, users: new Map(s.users) };
  }

  async save(planKey: string, meta: AggregatorMeta, changed: ReadonlyMap<string, Uint8Array | null>): Promise<void> {
    const s = this.#read();
    checkPlan(s.planKey, planKey, `aggregator state file ${this.path}`);
    s.planKey = planKey;
    s.meta = meta;
    for (const [id, bytes] of changed) {
      if (bytes === null) s.users.delete(id);
      // a view into a shared chunk (WindowAggregator.exportUsers) is copied: serialize would write the whole chunk
      else s.users.set(id, bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice());
    }
    const tmp = `${this.path}.tmp`;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      const fd = openSync(tmp, 'w');
      try {
        writeSync(fd, serialize({ planKey, meta, users: s.users }));
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
    } catch (err) {
      throw new BackendUnavailableError(`cannot write aggregator state ${this.path}: ${describeError(err)}`, {
        cause: err,
      });
    }
  }

  async close(): Promise<void> {}
}
