import { Redis } from 'ioredis';
import { BackendUnavailableError, describeError } from '../core/index.js';
import type { TombstoneLog, TombstoneRecord } from './tombstone-ledger.js';

export interface RedisTombstoneLogOptions {
  readonly url: string;
  /** Prepended to the ledger's key (`<prefix>privacy:tombstones`). */
  readonly keyPrefix: string;
}

const VALUE = /^([0-9a-f]{8})([0-9a-f]{8}) (\d+) (\S+)$/;
const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

/**
 * The tombstone ledger in Redis (production: every serving and stream process reads one ledger): one hash, a field
 * per tombstone (`hmac` -> `hiLo atMs requestId`), written with HSETNX so a tombstone keeps its first request. An
 * append resolves once Redis acknowledged it (durable as far as the server's persistence is configured: AOF with
 * `appendfsync always` for a ledger that survives a power cut).
 */
export class RedisTombstoneLog implements TombstoneLog {
  readonly kind = 'redis';
  readonly key: string;
  readonly #client: Redis;

  constructor(options: RedisTombstoneLogOptions) {
    this.key = `${options.keyPrefix}privacy:tombstones`;
    this.#client = new Redis(options.url, { lazyConnect: true, maxRetriesPerRequest: 2, enableOfflineQueue: true });
  }

  async load(): Promise<TombstoneRecord[]> {
    const out: TombstoneRecord[] = [];
    let cursor = '0';
    do {
      const [next, flat] = await this.#run('load', () => this.#client.hscan(this.key, cursor, 'COUNT', 1000));
      cursor = next;
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const hmac = flat[i] as string;
        const m = VALUE.exec(flat[i + 1] as string);
        if (m === null || !/^[0-9a-f]{64}$/.test(hmac))
          throw new BackendUnavailableError(
            `redis tombstone ledger ${this.key}: field ${hmac.slice(0, 80)} is not a tombstone`,
          );
        out.push({
          hmac,
          hi: Number.parseInt(m[1] as string, 16),
          lo: Number.parseInt(m[2] as string, 16),
          atMs: Number(m[3]),
          requestId: m[4] as string,
        });
      }
    } while (cursor !== '0');
    return out;
  }

  async append(records: readonly TombstoneRecord[]): Promise<void> {
    if (records.length === 0) return;
    const pipeline = this.#client.multi();
    for (const r of records)
      pipeline.hsetnx(this.key, r.hmac, `${hex8(r.hi)}${hex8(r.lo)} ${Math.floor(r.atMs)} ${r.requestId}`);
    const results = await this.#run('append', () => pipeline.exec());
    const failed = results?.find(([err]) => err !== null);
    if (results === null || failed !== undefined)
      throw new BackendUnavailableError(
        `redis tombstone append failed: ${describeError(failed?.[0] ?? 'transaction aborted')}`,
      );
  }

  async close(): Promise<void> {
    this.#client.disconnect();
  }

  async #run<T>(what: string, op: () => Promise<T>): Promise<T> {
    try {
      if (this.#client.status === 'wait') await this.#client.connect();
      return await op();
    } catch (err) {
      if (err instanceof BackendUnavailableError) throw err;
      throw new BackendUnavailableError(`redis tombstone ledger ${what} failed: ${describeError(err)}`, { cause: err });
    }
  }
}
