import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import {
  BackendUnavailableError,
  describeError,
  InvalidInputError,
  isValidEntityId,
  type TombstoneCheck,
} from '../core/index.js';
import { HashSet64, KeyedHasher, loadOrCreatePrivacyKey, type TombstoneHash } from './keys.js';

/** One tombstone as the ledger stores it: no user id, only its keyed hashes. */
export interface TombstoneRecord extends TombstoneHash {
  /** The deletion request that created it. */
  readonly requestId: string;
  readonly atMs: number;
}

/**
 * Where tombstones are kept durably (the ledger's port). `append` resolves once the records survive a crash: a
 * deletion is durable before anything is removed. Records are never removed (a deleted user stays deleted).
 */
export interface TombstoneLog {
  readonly kind: string;
  load(): Promise<TombstoneRecord[]>;
  append(records: readonly TombstoneRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** What a line cut short by a crash can look like: a prefix of `hmac hiLo atMs requestId`. */
const TORN = /^[0-9a-f]{1,64}( [0-9a-f]{0,16}( \d*( \S*)?)?)?$/;
const LINE = /^([0-9a-f]{64}) ([0-9a-f]{8})([0-9a-f]{8}) (\d+) (\S+)$/;

/**
 * An append-only text file, one tombstone a line (`hmac hiLo atMs requestId`), fsynced per append. A torn last
 * line (a crash mid-append) is ignored on load: its request was never acknowledged as durable.
 */
export class FileTombstoneLog implements TombstoneLog {
  readonly kind = 'file';

  constructor(readonly path: string) {}

  async load(): Promise<TombstoneRecord[]> {
    if (!existsSync(this.path)) return [];
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      throw new BackendUnavailableError(`cannot read tombstone ledger ${this.path}: ${describeError(err)}`, {
        cause: err,
      });
    }
    const lines = text.split('\n');
    const out: TombstoneRecord[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i] as string;
      if (line.length === 0) continue;
      const m = LINE.exec(line);
      if (m === null) {
        // a crash mid-append leaves a prefix of a line, never acknowledged as durable; anything else is damage
        if (TORN.test(line) && line.length < 90) continue;
        throw new BackendUnavailableError(`tombstone ledger ${this.path}:${i + 1} is not a tombstone line`);
      }
      out.push({
        hmac: m[1] as string,
        hi: Number.parseInt(m[2] as string, 16),
        lo: Number.parseInt(m[3] as string, 16),
        atMs: Number(m[4]),
        requestId: m[5] as string,
      });
    }
    return out;
  }

  async append(records: readonly TombstoneRecord[]): Promise<void> {
    if (records.length === 0) return;
    const text = records
      .map((r) => `${r.hmac} ${hex8(r.hi)}${hex8(r.lo)} ${Math.floor(r.atMs)} ${r.requestId}\n`)
      .join('');
    try {
      mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
      const fd = openSync(this.path, 'a+', 0o600);
      try {
        // a torn line left by a crash would swallow the first new record: start on a fresh line
        const size = fstatSync(fd).size;
        const last = Buffer.alloc(1);
        if (size > 0 && readSync(fd, last, 0, 1, size - 1) === 1 && last[0] !== 0x0a) writeSync(fd, '\n');
        writeSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch (err) {
      throw new BackendUnavailableError(`cannot append to tombstone ledger ${this.path}: ${describeError(err)}`, {
        cause: err,
      });
    }
  }

  async close(): Promise<void> {}
}

/** Ids whose prefilter hit was confirmed, kept to skip their HMAC next time. */
const CONFIRMED_CACHE = 65_536;

const hex8 = (n: number) => (n >>> 0).toString(16).padStart(8, '0');

export interface OpenTombstoneLedgerOptions {
  /** The deployment's privacy directory: the key (`key`) and, unless `log` is given, the file log. */
  readonly dir: string;
  /** Where tombstones are kept; default `FileTombstoneLog(<dir>/tombstones.log)`. */
  readonly log?: TombstoneLog;
  /** The key, instead of `<dir>/key` (created on first use). */
  readonly key?: Buffer;
}

/**
 * The tombstone ledger: every user whose deletion was requested, by keyed hash (the ledger never holds an id).
 * Implements `TombstoneCheck` for every writer: the check is a keyed 64-bit hash and a typed-array probe, and only a
 * prefilter hit computes the HMAC to confirm.
 */
export class TombstoneLedger implements TombstoneCheck {
  readonly log: TombstoneLog;
  readonly hasher: KeyedHasher;
  readonly #fast = new HashSet64();
  readonly #byHmac = new Map<string, TombstoneRecord>();
  /** Prefilter hits whose HMAC was computed: id -> tombstoned (in memory only, bounded). */
  readonly #confirmed = new Map<string, boolean>();

  private constructor(log: TombstoneLog, hasher: KeyedHasher) {
    this.log = log;
    this.hasher = hasher;
  }

  static async open(options: OpenTombstoneLedgerOptions): Promise<TombstoneLedger> {
    const key = options.key ?? loadOrCreatePrivacyKey(options.dir);
    const log = options.log ?? new FileTombstoneLog(join(options.dir, 'tombstones.log'));
    const ledger = new TombstoneLedger(log, new KeyedHasher(key));
    for (const r of await log.load()) ledger.#remember(r);
    return ledger;
  }

  get size(): number {
    return this.#byHmac.size;
  }

  isDeleted(userId: string): boolean {
    const f = this.hasher.fastInto(userId);
    if (!this.#fast.has(f[0] as number, f[1] as number)) return false;
    // a replay brings a deleted user's events in runs: confirm each id's HMAC (microseconds) once
    const known = this.#confirmed.get(userId);
    if (known !== undefined) return known;
    const deleted = this.#byHmac.has(this.hasher.hmac(userId));
    if (this.#confirmed.size >= CONFIRMED_CACHE) this.#confirmed.clear();
    this.#confirmed.set(userId, deleted);
    return deleted;
  }

  /** Whether this HMAC is tombstoned (verifiers that hash a store's ids themselves). */
  hasHmac(hmac: string): boolean {
    return this.#byHmac.has(hmac);
  }

  /** The record of a user's tombstone, or undefined. */
  recordOf(userId: string): TombstoneRecord | undefined {
    return this.#byHmac.get(this.hasher.hmac(userId));
  }

  /**
   * Tombstones the users (durably: resolves once the log has them); users already tombstoned keep their first
   * record. Returns the records added.
   */
  async add(userIds: readonly string[], requestId: string, atMs: number): Promise<TombstoneRecord[]> {
    return this.addMany([{ userIds, requestId }], atMs);
  }

  /** `add` for many requests in one durable append (a file of requests: one fsync, not one per request). */
  async addMany(
    requests: ReadonlyArray<{ readonly userIds: readonly string[]; readonly requestId: string }>,
    atMs: number,
  ): Promise<TombstoneRecord[]> {
    const fresh: TombstoneRecord[] = [];
    const seen = new Set<string>();
    for (const { userIds, requestId } of requests)
      for (const id of userIds) {
        if (!isValidEntityId(id))
          throw new InvalidInputError(
            `user id must be 1-128 characters [A-Za-z0-9_.:-] starting with a letter or digit, got ${JSON.stringify(id)}`,
          );
        const h = this.hasher.hash(id);
        if (this.#byHmac.has(h.hmac) || seen.has(h.hmac)) continue;
        seen.add(h.hmac);
        fresh.push({ ...h, requestId, atMs });
      }
    await this.log.append(fresh);
    for (const r of fresh) this.#remember(r);
    return fresh;
  }

  #remember(r: TombstoneRecord): void {
    if (this.#byHmac.has(r.hmac)) return;
    this.#confirmed.clear(); // a cached "prefilter collision, not deleted" may be deleted now
    this.#byHmac.set(r.hmac, r);
    this.#fast.add(r.hi, r.lo);
  }

  async close(): Promise<void> {
    await this.log.close();
  }
}

/** Opens the tombstone ledger of a deployment's privacy directory (`layout.privacy`). */
export const openTombstoneLedger = (options: OpenTombstoneLedgerOptions): Promise<TombstoneLedger> =>
  TombstoneLedger.open(options);
