import { Redis } from 'ioredis';
import { BackendUnavailableError, describeError, InvalidInputError } from '../core/index.js';
import type { AggregatorMeta } from './aggregation/index.js';
import type { AggregatorCheckpoint, AggregatorStateStore } from './aggregator-state-store.js';
import { AggregatorStateCorruptError, AggregatorStatePlanMismatchError } from './errors.js';

export interface RedisAggregatorStateStoreOptions {
  readonly url: string;
  /** Keys: `<prefix>:meta` (JSON) and `<prefix>:users` (hash user id -> state bytes). */
  readonly prefix: string;
}

/**
 * Aggregator state in Redis: each save is one MULTI/EXEC transaction of the changed users and the meta, so a
 * restarted consumer (on any machine) resumes from the last acknowledged batch.
 */
export class RedisAggregatorStateStore implements AggregatorStateStore {
  readonly kind = 'redis';
  readonly #redis: Redis;
  readonly #meta: string;
  readonly #users: string;
  /** The plan this store has already verified the stored state against. */
  #checkedPlan: string | undefined;

  private constructor(redis: Redis, prefix: string) {
    this.#redis = redis;
    this.#meta = `${prefix}:meta`;
    this.#users = `${prefix}:users`;
  }

  static async connect(options: RedisAggregatorStateStoreOptions): Promise<RedisAggregatorStateStore> {
    if (!/^[A-Za-z0-9_.:-]+$/.test(options.prefix))
      throw new InvalidInputError(`redis state prefix must be letters, digits, _ . : -, got ${options.prefix}`);
    const redis = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 3, enableOfflineQueue: true });
    // connection errors surface as failed calls (BackendUnavailableError); the client reconnects by itself
    redis.on('error', () => {});
    try {
      await redis.connect();
    } catch (err) {
      redis.disconnect();
      throw new BackendUnavailableError(
        `redis aggregator state: cannot connect to ${options.url}: ${describeError(err)}`,
        {
          cause: err,
        },
      );
    }
    return new RedisAggregatorStateStore(redis, options.prefix);
  }

  async load(): Promise<AggregatorCheckpoint | undefined> {
    let metaText: string | null;
    let raw: Record<string, Buffer>;
    try {
      metaText = await this.#redis.get(this.#meta);
      if (metaText === null) return undefined;
      raw = await this.#redis.hgetallBuffer(this.#users);
    } catch (err) {
      throw new BackendUnavailableError(`redis aggregator state: load failed: ${describeError(err)}`, { cause: err });
    }
    const { planKey, meta } = this.#parseMeta(metaText);
    const users = new Map<string, Uint8Array>();
    for (const [id, bytes] of Object.entries(raw)) users.set(id, new Uint8Array(bytes));
    return { planKey, meta: reviveMeta(meta), users };
  }

  /** The meta value as a checkpoint writes it, or AggregatorStateCorruptError naming what is there instead. */
  #parseMeta(text: string): { planKey: string; meta: AggregatorMeta } {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw this.#corrupt(`text that is not JSON (${describeError(err)})`, err);
    }
    const v = value as { planKey?: unknown; meta?: unknown } | null;
    if (
      v === null ||
      typeof v !== 'object' ||
      typeof v.planKey !== 'string' ||
      v.meta === null ||
      typeof v.meta !== 'object'
    )
      throw this.#corrupt(`${JSON.stringify(value)?.slice(0, 120)}`);
    return { planKey: v.planKey, meta: v.meta as AggregatorMeta };
  }

  #corrupt(found: string, cause?: unknown): AggregatorStateCorruptError {
    return new AggregatorStateCorruptError(
      `redis aggregator state ${this.#meta} is corrupt: expected JSON { planKey, meta }, found ${found}; clear it and replay the stream into a fresh state`,
      { ...(cause !== undefined ? { cause } : {}), details: { where: this.#meta, found } },
    );
  }

  async save(planKey: string, meta: AggregatorMeta, changed: ReadonlyMap<string, Uint8Array | null>): Promise<void> {
    // the stored plan is read once per plan, not on every checkpoint
    if (this.#checkedPlan !== planKey) {
      let stored: string | null;
      try {
        stored = await this.#redis.get(this.#meta);
      } catch (err) {
        throw new BackendUnavailableError(`redis aggregator state: save failed: ${describeError(err)}`, { cause: err });
      }
      if (stored !== null) {
        const prev = this.#parseMeta(stored).planKey;
        if (prev !== planKey)
          throw new AggregatorStatePlanMismatchError(`redis aggregator state ${this.#meta}`, prev, planKey);
      }
      this.#checkedPlan = planKey;
    }
    const tx = this.#redis.multi();
    const removed: string[] = [];
    const upserts: (string | Buffer)[] = [];
    for (const [id, bytes] of changed) {
      if (bytes === null) removed.push(id);
      else upserts.push(id, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    }
    if (upserts.length > 0) tx.hset(this.#users, ...upserts);
    if (removed.length > 0) tx.hdel(this.#users, ...removed);
    tx.set(this.#meta, JSON.stringify({ planKey, meta: { ...meta, maxEventTs: String(meta.maxEventTs) } }));
    try {
      const results = await tx.exec();
      const failed = results?.find(([err]) => err !== null);
      if (results === null || failed !== undefined) throw failed?.[0] ?? new Error('transaction aborted');
    } catch (err) {
      throw new BackendUnavailableError(`redis aggregator state: save failed: ${describeError(err)}`, { cause: err });
    }
  }

  /** Removes this store's keys (tests, and a full rebuild). */
  async clear(): Promise<void> {
    this.#checkedPlan = undefined;
    await this.#redis.del(this.#meta, this.#users);
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}

/** JSON cannot hold -Infinity: maxEventTs travels as a string. */
function reviveMeta(meta: AggregatorMeta): AggregatorMeta {
  return { ...meta, maxEventTs: Number(meta.maxEventTs) };
}
