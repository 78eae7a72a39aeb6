import { createHmac, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { BackendUnavailableError, describeError, InvalidInputError } from '../core/index.js';

/** Bytes of the secret every tombstone hash is keyed with. */
export const PRIVACY_KEY_BYTES = 32;

/** Where a privacy directory keeps its key. */
export const keyPathOf = (privacyDir: string): string => join(privacyDir, 'key');

/**
 * The deployment's tombstone key: read from `<privacyDir>/key`, or created there on first use (random, mode 0600,
 * written with O_EXCL so two processes starting together cannot end up with different keys). Losing it makes the
 * ledger unreadable (no id can be matched to its hash any more): back it up with the deployment.
 */
export function loadOrCreatePrivacyKey(privacyDir: string): Buffer {
  const file = keyPathOf(privacyDir);
  if (!existsSync(file)) {
    mkdirSync(privacyDir, { recursive: true, mode: 0o700 });
    const key = randomBytes(PRIVACY_KEY_BYTES);
    let fd: number | undefined;
    try {
      fd = openSync(file, 'wx', 0o600);
      writeSync(fd, key);
      fsyncSync(fd);
      return key;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new BackendUnavailableError(`cannot create the privacy key ${file}: ${describeError(err)}`, {
          cause: err,
        });
      // another process created it first: use theirs
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
  const mode = statSync(file).mode & 0o777;
  if ((mode & 0o077) !== 0)
    throw new InvalidInputError(
      `privacy key ${file} is readable by group or others (mode ${mode.toString(8)}); expected 600 (chmod 600 ${file})`,
    );
  const key = readFileSync(file);
  if (key.length !== PRIVACY_KEY_BYTES)
    throw new InvalidInputError(`privacy key ${file}: expected ${PRIVACY_KEY_BYTES} bytes, found ${key.length}`);
  return key;
}

/** A user's tombstone identity: the HMAC (the ledger's key of record) and the keyed 64-bit prefilter hash. */
export interface TombstoneHash {
  /** HMAC-SHA256 of the user id under the key, hex. */
  readonly hmac: string;
  /** Keyed 64-bit prefilter hash: high and low 32 bits (see KeyedHasher.fast). */
  readonly hi: number;
  readonly lo: number;
}

/**
 * The two hashes of a user id under one key. The HMAC is what the ledger keys on; on the ingest path one HMAC per
 * event costs about a microsecond and more, so every event is first looked up by a keyed 64-bit hash of its id
 * (two multiply-xor lanes over the UTF-16 code units, seeded from the key, then a murmur3 finaliser): a miss is the
 * answer for almost every event, a hit is confirmed by the HMAC. Its seeds come from `HMAC(key, label)`, so the
 * prefilter values in the ledger cannot be computed for a guessed id without the key either.
 */
export class KeyedHasher {
  readonly #key: Buffer;
  readonly #s0: number;
  readonly #s1: number;
  readonly #s2: number;
  readonly #s3: number;
  /** Scratch of `fastInto`: [hi, lo]. */
  readonly out = new Uint32Array(2);

  constructor(key: Buffer) {
    if (key.length < 16) throw new InvalidInputError(`tombstone key: expected at least 16 bytes, got ${key.length}`);
    this.#key = key;
    const seeds = createHmac('sha256', key).update('adnova-tombstone-prefilter-v1').digest();
    this.#s0 = seeds.readUInt32LE(0);
    this.#s1 = seeds.readUInt32LE(4) | 1;
    this.#s2 = seeds.readUInt32LE(8);
    this.#s3 = seeds.readUInt32LE(12);
  }

  hmac(userId: string): string {
    return createHmac('sha256', this.#key).update(userId, 'utf8').digest('hex');
  }

  /** The prefilter hash of `userId` into `this.out` ([hi, lo]); never (0, 0), the empty slot of a table. */
  fastInto(userId: string): Uint32Array {
    let a = this.#s0;
    let b = this.#s2;
    for (let i = 0; i < userId.length; i++) {
      const c = userId.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
    }
    a = fmix32((a ^ this.#s1 ^ userId.length) >>> 0);
    b = fmix32((b ^ this.#s3 ^ a) >>> 0);
    const out = this.out;
    out[0] = b;
    out[1] = a === 0 && b === 0 ? 1 : a;
    return out;
  }

  hash(userId: string): TombstoneHash {
    const f = this.fastInto(userId);
    return { hmac: this.hmac(userId), hi: f[0] as number, lo: f[1] as number };
  }
}

function fmix32(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * A set of 64-bit hashes in typed arrays (open addressing, linear probing, load at most 1/2): a lookup is a few
 * array reads, with no string hashing or allocation.
 */
export class HashSet64 {
  #hi: Uint32Array;
  #lo: Uint32Array;
  #mask: number;
  #size = 0;

  constructor(capacity = 1024) {
    let n = 16;
    while (n < capacity * 2) n *= 2;
    this.#hi = new Uint32Array(n);
    this.#lo = new Uint32Array(n);
    this.#mask = n - 1;
  }

  get size(): number {
    return this.#size;
  }

  has(hi: number, lo: number): boolean {
    const H = this.#hi;
    const L = this.#lo;
    const mask = this.#mask;
    for (let i = (lo ^ Math.imul(hi, 0x9e3779b1)) & mask; ; i = (i + 1) & mask) {
      const l = L[i] as number;
      if (l === lo && H[i] === hi) return true;
      if (l === 0 && H[i] === 0) return false;
    }
  }

  /** Adds the hash; false when it was there. */
  add(hi: number, lo: number): boolean {
    if ((this.#size + 1) * 2 > this.#hi.length) this.#grow();
    if (this.#insert(hi >>> 0, lo >>> 0)) {
      this.#size++;
      return true;
    }
    return false;
  }

  #insert(hi: number, lo: number): boolean {
    const H = this.#hi;
    const L = this.#lo;
    const mask = this.#mask;
    for (let i = (lo ^ Math.imul(hi, 0x9e3779b1)) & mask; ; i = (i + 1) & mask) {
      const l = L[i] as number;
      const h = H[i] as number;
      if (l === lo && h === hi) return false;
      if (l === 0 && h === 0) {
        L[i] = lo;
        H[i] = hi;
        return true;
      }
    }
  }

  #grow(): void {
    const H = this.#hi;
    const L = this.#lo;
    this.#hi = new Uint32Array(H.length * 2);
    this.#lo = new Uint32Array(L.length * 2);
    this.#mask = this.#hi.length - 1;
    for (let i = 0; i < H.length; i++)
      if ((L[i] as number) !== 0 || (H[i] as number) !== 0) this.#insert(H[i] as number, L[i] as number);
  }
}
