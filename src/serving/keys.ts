import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InvalidInputError, NotFoundError, newId } from '../core/index.js';

export const KEY_ROLES = ['advertiser', 'admin'] as const;
export type KeyRole = (typeof KEY_ROLES)[number];

/** A stored key: never the secret itself, only its SHA-256 (the secret carries 256 bits, so no stretching). */
export interface ApiKeyRecord {
  readonly id: string;
  readonly role: KeyRole;
  /** The advertiser whose campaigns the key sees; null for admin keys. */
  readonly advertiserId: string | null;
  readonly label: string | null;
  readonly createdAt: string;
  readonly revokedAt: string | null;
  readonly sha256: string;
}

/** Who a request is: resolved from its key. */
export interface Principal {
  readonly keyId: string;
  readonly role: KeyRole;
  readonly advertiserId: string | null;
}

export interface CreatedKey {
  readonly record: ApiKeyRecord;
  /** The key to hand out; shown once, not recoverable. */
  readonly key: string;
}

interface KeysFile {
  readonly format: 'adnova-api-keys';
  readonly version: 1;
  readonly keys: ApiKeyRecord[];
}

const KEY_RE = /^adn_(key_[a-z0-9]+)_([A-Za-z0-9_-]{43})$/;
const ADVERTISER_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * API keys in `<dir>/keys.json`, written by atomic rename. A key is `adn_<id>_<secret>`: the id finds the record
 * without scanning, the secret is compared by hash in constant time. The serving process re-reads the file when
 * it changes, so `adnova keys revoke` takes effect on a running server.
 */
export class FileKeyStore {
  readonly dir: string;
  readonly #now: () => number;
  #cache: { stamp: string; byId: Map<string, ApiKeyRecord> } | null = null;

  constructor(dir: string, now: () => number = Date.now) {
    this.dir = resolve(dir);
    this.#now = now;
  }

  get file(): string {
    return join(this.dir, 'keys.json');
  }

  #read(): KeysFile {
    if (!existsSync(this.file)) return { format: 'adnova-api-keys', version: 1, keys: [] };
    let data: KeysFile;
    try {
      data = JSON.parse(readFileSync(this.file, 'utf8')) as KeysFile;
    } catch (err) {
      throw new InvalidInputError(`${this.file} is not valid JSON`, { cause: err });
    }
    if (data.format !== 'adnova-api-keys' || data.version !== 1 || !Array.isArray(data.keys))
      throw new InvalidInputError(`${this.file}: expected format adnova-api-keys version 1`);
    return data;
  }

  #write(data: KeysFile): void {
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}`;
    writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
    this.#cache = null;
  }

  create(options: { role: KeyRole; advertiserId?: string; label?: string }): CreatedKey {
    if (options.role === 'advertiser') {
      if (!options.advertiserId || !ADVERTISER_RE.test(options.advertiserId))
        throw new InvalidInputError(
          `advertiser: expected an advertiser id matching ${ADVERTISER_RE}, got ${JSON.stringify(options.advertiserId ?? null)}`,
        );
    } else if (options.advertiserId !== undefined)
      throw new InvalidInputError('advertiser: an admin key belongs to no advertiser (give --admin or --advertiser)');
    const id = newId('key', this.#now()).toLowerCase();
    const key = `adn_${id}_${randomBytes(32).toString('base64url')}`;
    const record: ApiKeyRecord = {
      id,
      role: options.role,
      advertiserId: options.role === 'advertiser' ? (options.advertiserId as string) : null,
      label: options.label ?? null,
      createdAt: new Date(this.#now()).toISOString(),
      revokedAt: null,
      sha256: sha256(key).toString('hex'),
    };
    const data = this.#read();
    this.#write({ ...data, keys: [...data.keys, record] });
    return { record, key };
  }

  list(): ApiKeyRecord[] {
    return this.#read().keys;
  }

  revoke(id: string): ApiKeyRecord {
    const data = this.#read();
    const i = data.keys.findIndex((k) => k.id === id);
    if (i < 0) throw new NotFoundError(`no API key ${JSON.stringify(id)} in ${this.file}`);
    const current = data.keys[i] as ApiKeyRecord;
    if (current.revokedAt !== null) return current;
    const revoked = { ...current, revokedAt: new Date(this.#now()).toISOString() };
    const keys = [...data.keys];
    keys[i] = revoked;
    this.#write({ ...data, keys });
    return revoked;
  }

  /** The principal of a presented key, or null when it is malformed, unknown or revoked. */
  authenticate(presented: string): Principal | null {
    const m = KEY_RE.exec(presented);
    if (!m) return null;
    const record = this.#records().get(m[1] as string);
    if (!record || record.revokedAt !== null) return null;
    const want = Buffer.from(record.sha256, 'hex');
    const got = sha256(presented);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return null;
    return { keyId: record.id, role: record.role, advertiserId: record.advertiserId };
  }

  /** Records by id, re-read when the file changes (a stat per request, not a parse; a rename moves the inode). */
  #records(): Map<string, ApiKeyRecord> {
    let stamp = 'none';
    try {
      const st = statSync(this.file, { bigint: true });
      stamp = `${st.ino}:${st.mtimeNs}:${st.size}`;
    } catch {
      // no file yet: no keys
    }
    if (this.#cache && this.#cache.stamp === stamp) return this.#cache.byId;
    const byId = new Map(this.#read().keys.map((k) => [k.id, k]));
    this.#cache = { stamp, byId };
    return byId;
  }
}
