import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import roaring from 'roaring';
import { MS_PER_DAY, NO_TOMBSTONES, type TombstoneCheck } from '../core/index.js';
import { DecisionIndexCorruptError } from './errors.js';
import { inControlGroup } from './policy.js';
import { UserIndex } from './user-index.js';

const { RoaringBitmap32 } = roaring;
export type Bitmap = InstanceType<typeof RoaringBitmap32>;
/** A bitmap nobody may change (the index lends its own). */
export type ReadonlyBitmap = Pick<Bitmap, 'size' | 'has' | 'toUint32Array' | 'isEmpty'> &
  Parameters<typeof RoaringBitmap32.and>[0];

export function newBitmap(values?: Iterable<number> | ArrayLike<number>): Bitmap {
  const b = new RoaringBitmap32();
  if (values) b.addMany(values as Iterable<number>);
  return b;
}
export const andBitmaps = (a: ReadonlyBitmap, b: ReadonlyBitmap): Bitmap => RoaringBitmap32.and(a, b);
export const orBitmaps = (list: readonly ReadonlyBitmap[]): Bitmap => RoaringBitmap32.orMany(list as Bitmap[]);
export const andNotBitmaps = (a: ReadonlyBitmap, b: ReadonlyBitmap): Bitmap => RoaringBitmap32.andNot(a, b);

/** Names of the bitmaps the decision reads; anything else (`list:<name>`, `segment:<name>`) is data-defined. */
export const INDEX_KEYS = {
  /** Every user known to the index (signed up, not deleted). */
  users: 'users',
  country: (code: string) => `country:${code}`,
  platform: (p: string) => `platform:${p}`,
  ageBand: (band: string) => `age:${band}`,
  consent: (channel: string) => `consent:${channel}`,
  segment: (name: string) => `segment:${name}`,
  list: (name: string) => `list:${name}`,
  /** Tombstoned users: never a candidate again (the privacy module writes it). */
  deleted: 'deleted',
} as const;

const FILE_FORMAT = 'adnova-segment-index';
/** Unions kept by an index (each up to 1.25 MB at 10M users); the oldest goes first. */
const MAX_CACHED_UNIONS = 32;

/**
 * Roaring bitmaps of dense user ids per targeting attribute value, plus each user's last activity time for
 * "active within N days". Built from the batch snapshot and kept current by the stream (`applyEvent`), so an
 * unsubscribe is visible to retrieval as soon as its event is applied.
 */
export class SegmentIndex {
  readonly users: UserIndex;
  /** Users whose deletion was requested: `upsertUser` never registers them (the privacy ledger's check). */
  tombstones: TombstoneCheck = NO_TOMBSTONES;
  readonly #bitmaps = new Map<string, Bitmap>();
  #lastActive = new Float64Array(1024).fill(Number.NaN);
  /** "active within N days" bitmaps as of one UTC day start, rebuilt when the day changes. */
  #activeCache = new Map<number, Bitmap>();
  #activeDay = Number.NaN;
  readonly #empty = newBitmap();
  /** The global control group's bitmap for one share, extended as users are added. */
  #control: { share: number; upTo: number; members: Bitmap } | null = null;
  /** Changes per key since the index was made: a cached union is valid while its keys' counts are unchanged. */
  readonly #versions = new Map<string, number>();
  /** Unions of several keys (a campaign's countries, say), by their joined keys. */
  readonly #unions = new Map<string, { versions: number[]; union: Bitmap }>();

  constructor(users: UserIndex = new UserIndex()) {
    this.users = users;
  }

  keys(): string[] {
    return [...this.#bitmaps.keys()].sort();
  }

  /** The index's own bitmap for `key` (empty when there is none): do not change it. */
  bitmap(key: string): ReadonlyBitmap {
    return this.#bitmaps.get(key) ?? this.#empty;
  }

  has(key: string): boolean {
    return this.#bitmaps.has(key);
  }

  /**
   * The union of the bitmaps of `keys` (a multi-value rule), kept until one of them changes: retrieval re-runs
   * the same few unions for every launch, preview and refresh of campaigns that target the same values, and an
   * OR of three to five 10M-user bitmaps costs about as much as the rest of a campaign's expression.
   */
  union(keys: readonly string[]): ReadonlyBitmap {
    if (keys.length === 1) return this.bitmap(keys[0] as string);
    const id = keys.join('\u0000');
    const hit = this.#unions.get(id);
    if (hit?.versions.every((v, i) => v === (this.#versions.get(keys[i] as string) ?? 0))) return hit.union;
    const union = orBitmaps(keys.map((k) => this.bitmap(k)));
    this.#unions.delete(id);
    if (this.#unions.size >= MAX_CACHED_UNIONS) this.#unions.delete(this.#unions.keys().next().value as string);
    this.#unions.set(id, { versions: keys.map((k) => this.#versions.get(k) ?? 0), union });
    return union;
  }

  #changed(key: string): void {
    this.#versions.set(key, (this.#versions.get(key) ?? 0) + 1);
  }

  #mutable(key: string): Bitmap {
    let b = this.#bitmaps.get(key);
    if (!b) {
      b = newBitmap();
      this.#bitmaps.set(key, b);
    }
    return b;
  }

  add(key: string, dense: number): void {
    if (this.#mutable(key).tryAdd(dense)) this.#changed(key);
  }

  remove(key: string, dense: number): void {
    if (this.#bitmaps.get(key)?.delete(dense)) this.#changed(key);
  }

  /** Replaces a whole bitmap (a suppression list upload, a recomputed segment). */
  set(key: string, members: Iterable<number> | ArrayLike<number>): void {
    this.#bitmaps.set(key, newBitmap(members));
    this.#changed(key);
  }

  /**
   * Registers a user with its attributes (a batch snapshot row); returns its dense id, or -1 for a user whose
   * deletion was requested (`tombstones`), who is not registered.
   */
  upsertUser(
    userId: string,
    attrs: {
      country?: string | null;
      platform?: string | null;
      ageBand?: string | null;
      consent?: Readonly<Record<string, boolean>>;
      segments?: Readonly<Record<string, boolean>>;
      lastActiveTs?: number;
    },
  ): number {
    if (this.tombstones.isDeleted(userId)) return -1;
    const known = this.users.denseOf(userId) !== undefined;
    const d = this.users.ensure(userId);
    if (known && this.#bitmaps.get(INDEX_KEYS.deleted)?.has(d)) return d; // tombstoned: nothing comes back
    this.add(INDEX_KEYS.users, d);
    const exclusive = (prefix: string, value: string | null | undefined) => {
      const keep = value ? `${prefix}${value}` : null;
      // the user's current value stays (no change, so the unions that read it stay valid)
      if (known)
        for (const [key, b] of this.#bitmaps)
          if (key !== keep && key.startsWith(prefix) && b.delete(d)) this.#changed(key);
      if (keep) this.add(keep, d);
    };
    if (attrs.country !== undefined) exclusive('country:', attrs.country);
    if (attrs.platform !== undefined) exclusive('platform:', attrs.platform);
    if (attrs.ageBand !== undefined) exclusive('age:', attrs.ageBand);
    for (const [channel, ok] of Object.entries(attrs.consent ?? {}))
      ok ? this.add(INDEX_KEYS.consent(channel), d) : this.remove(INDEX_KEYS.consent(channel), d);
    for (const [name, inIt] of Object.entries(attrs.segments ?? {}))
      inIt ? this.add(INDEX_KEYS.segment(name), d) : this.remove(INDEX_KEYS.segment(name), d);
    if (attrs.lastActiveTs !== undefined) this.touch(d, attrs.lastActiveTs);
    return d;
  }

  /** Records activity at `ts` (keeps the newest). */
  touch(dense: number, ts: number): void {
    if (!Number.isFinite(ts)) return;
    if (dense >= this.#lastActive.length) {
      const grown = new Float64Array(Math.max(dense + 1, this.#lastActive.length * 2)).fill(Number.NaN);
      grown.set(this.#lastActive);
      this.#lastActive = grown;
    }
    const prev = this.#lastActive[dense] as number;
    if (Number.isNaN(prev) || ts > prev) {
      this.#lastActive[dense] = ts;
      // active now means active within every N as of the cached day start (no cache entry can lose it)
      for (const b of this.#activeCache.values()) b.add(dense);
    }
  }

  lastActiveTs(dense: number): number {
    return dense < this.#lastActive.length ? (this.#lastActive[dense] as number) : Number.NaN;
  }

  /**
   * Users whose last activity is at most `days` days before the UTC day start of `atMs` (the World's rule:
   * inactive days are counted from the start of the decision's day). Cached per day and N.
   */
  activeWithin(days: number, atMs: number): ReadonlyBitmap {
    const dayStart = Math.floor(atMs / MS_PER_DAY) * MS_PER_DAY;
    if (dayStart !== this.#activeDay) {
      this.#activeCache.clear();
      this.#activeDay = dayStart;
    }
    let b = this.#activeCache.get(days);
    if (!b) {
      const cutoff = dayStart - days * MS_PER_DAY;
      const la = this.#lastActive;
      // every slot past the last user is NaN, which is never >= cutoff
      const members = new Uint32Array(la.length);
      let k = 0;
      for (let d = 0; d < la.length; d++) if ((la[d] as number) >= cutoff) members[k++] = d;
      b = newBitmap(members.subarray(0, k));
      this.#activeCache.set(days, b);
    }
    return b;
  }

  /**
   * Users of the global control group (`inControlGroup` of their id) for `share`: computed once per share for the
   * users known so far, then only for the users added since. Retrieval subtracts it as one more bitmap instead of
   * hashing every candidate's id per decision.
   */
  controlGroup(share: number): ReadonlyBitmap {
    if (this.#control?.share !== share) this.#control = { share, upTo: 0, members: newBitmap() };
    const c = this.#control;
    const n = this.users.size;
    if (c.upTo < n) {
      const add = new Uint32Array(n - c.upTo);
      let k = 0;
      for (let d = c.upTo; d < n; d++) if (inControlGroup(this.users.userOf(d), share)) add[k++] = d;
      c.members.addMany(add.subarray(0, k));
      c.upTo = n;
    }
    return c.members;
  }

  /** Tombstones a user: removed from every bitmap but `deleted`, and never added back by upserts. */
  markDeleted(userId: string): boolean {
    const d = this.users.denseOf(userId);
    if (d === undefined) return false;
    for (const [key, b] of this.#bitmaps) if (key !== INDEX_KEYS.deleted && b.delete(d)) this.#changed(key);
    for (const b of this.#activeCache.values()) b.remove(d);
    if (d < this.#lastActive.length) this.#lastActive[d] = Number.NaN;
    this.add(INDEX_KEYS.deleted, d);
    return true;
  }

  /**
   * A privacy deletion: `markDeleted`, then the id itself leaves the user index (its dense slot keeps a placeholder,
   * so other users' dense ids and the bitmaps stay valid; see `UserIndex.redact`). Returns whether it was known.
   */
  eraseUser(userId: string): boolean {
    if (!this.markDeleted(userId)) return false;
    this.users.redact(userId);
    return true;
  }

  /** Whether the index still holds the user's id (an erased user's slot holds a placeholder and no bitmap). */
  holdsUser(userId: string): boolean {
    return this.users.denseOf(userId) !== undefined;
  }

  /** Bytes of the bitmaps in portable form (what `save` writes), for capacity figures. */
  sizeInBytes(): number {
    let n = 0;
    for (const b of this.#bitmaps.values()) n += b.getSerializationSizeInBytes('portable');
    return n;
  }

  /** Writes `users.txt`, `bitmaps.bin` (portable roaring, one after another) and `last-active.f64` under `dir`. */
  save(dir: string): void {
    mkdirSync(dir, { recursive: true });
    this.users.flush(join(dir, 'users.txt'));
    const keys = this.keys();
    const blobs = keys.map((k) => (this.#bitmaps.get(k) as Bitmap).serialize('portable'));
    const header = Buffer.from(
      JSON.stringify({ format: FILE_FORMAT, version: 1, keys, sizes: blobs.map((b) => b.length) }),
      'utf8',
    );
    const len = Buffer.alloc(4);
    len.writeUInt32LE(header.length);
    atomicWrite(join(dir, 'bitmaps.bin'), Buffer.concat([len, header, ...blobs]));
    const la = this.#lastActive.subarray(0, this.users.size);
    atomicWrite(join(dir, 'last-active.f64'), Buffer.from(la.buffer, la.byteOffset, la.byteLength));
  }

  static load(dir: string): SegmentIndex {
    const index = new SegmentIndex(UserIndex.load(join(dir, 'users.txt')));
    const file = join(dir, 'bitmaps.bin');
    if (!existsSync(file)) return index;
    const buf = readFileSync(file);
    try {
      const headerLen = buf.readUInt32LE(0);
      const header = JSON.parse(buf.subarray(4, 4 + headerLen).toString('utf8')) as {
        format: string;
        version: number;
        keys: string[];
        sizes: number[];
      };
      if (header.format !== FILE_FORMAT || header.version !== 1)
        throw new Error(`expected ${FILE_FORMAT} version 1, found ${header.format} version ${header.version}`);
      let at = 4 + headerLen;
      header.keys.forEach((key, i) => {
        const size = header.sizes[i] as number;
        index.#bitmaps.set(key, RoaringBitmap32.deserialize(buf.subarray(at, at + size), 'portable'));
        at += size;
      });
      if (at !== buf.length) throw new Error(`expected ${at} bytes, found ${buf.length}`);
    } catch (err) {
      throw new DecisionIndexCorruptError(`${file} is not a readable segment index: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const laFile = join(dir, 'last-active.f64');
    if (existsSync(laFile)) {
      const raw = readFileSync(laFile);
      const la = new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      index.#lastActive = new Float64Array(Math.max(1024, la.length)).fill(Number.NaN);
      index.#lastActive.set(la);
    }
    return index;
  }
}

function atomicWrite(file: string, data: Buffer): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, file);
}
