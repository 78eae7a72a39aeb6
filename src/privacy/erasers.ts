import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FeatureStore, OfflineStore, OnlineStore } from '../features/index.js';
import type { AggregatorStateStore } from '../stream/index.js';

/** What one store removed of a batch of users. */
export interface EraseResult {
  /** Records, rows or entries removed (the store's own unit). */
  readonly records: number;
  /** The given users the store held anything of; undefined when the store cannot tell per user. */
  readonly found?: readonly string[] | undefined;
}

/**
 * One store's deleter and verifier. `erase` is idempotent (a batch resumed after a crash erases again what is
 * left) and durable when it resolves; `count` says how much of the users the store still holds (0 after `erase`);
 * `scan`, when the store can list its users, counts every id it holds that the check says is deleted, without
 * being told the ids (`verify --all`: the ledger keeps only hashes).
 */
export interface StoreEraser {
  readonly name: string;
  /** How `count` and `scan` look, for the receipt. */
  readonly verifiedBy: string;
  erase(userIds: readonly string[]): Promise<EraseResult>;
  count(userIds: readonly string[]): Promise<number>;
  scan?(isDeleted: (userId: string) => boolean): Promise<number>;
}

/**
 * The privacy side of a store owned by another module (audiences, the request log): removes and counts users
 * wherever the store keeps them (every version and export). Adapted to a StoreEraser by `userStoreEraser`.
 */
export interface UserDataStore {
  removeUsers(userIds: readonly string[]): Promise<{ removed: number }>;
  countUsers(userIds: readonly string[]): Promise<number>;
  /** Every user id held, when the store can list them (verify --all). */
  userIds?(): AsyncIterable<string> | Iterable<string>;
}

export function userStoreEraser(name: string, store: UserDataStore, verifiedBy = `${name}.countUsers`): StoreEraser {
  const eraser: StoreEraser = {
    name,
    verifiedBy,
    erase: async (ids) => ({ records: (await store.removeUsers(ids)).removed }),
    count: (ids) => store.countUsers(ids),
  };
  const list = store.userIds?.bind(store);
  if (list === undefined) return eraser;
  return {
    ...eraser,
    scan: async (isDeleted) => {
      let n = 0;
      for await (const id of list()) if (isDeleted(id)) n++;
      return n;
    },
  };
}

/** The offline store: every Parquet file holding the users rewritten without them (once per batch). */
export function offlineStoreEraser(offline: OfflineStore, onFileRewritten?: (file: string) => void): StoreEraser {
  return {
    name: 'offline',
    verifiedBy: 'DuckDB count of the ids over every view file',
    erase: async (ids) => {
      const r = await offline.deleteEntities(ids, { onFileRewritten });
      return { records: r.rows, found: r.entities };
    },
    count: (ids) => offline.countEntities(ids),
    scan: async (isDeleted) => (await offline.distinctEntityIds()).filter(isDeleted).length,
  };
}

/**
 * The online store: `deleteEntities` (every view's record). Verified by deleting again, which finds nothing once the
 * users are gone (the port has no per-entity presence read); scanned where the store lists its entities.
 */
export function onlineStoreEraser(online: OnlineStore, persist?: () => void | Promise<void>): StoreEraser {
  const eraser: StoreEraser = {
    name: 'online',
    verifiedBy: `a second ${online.kind} deleteEntities finds no entity`,
    erase: async (ids) => {
      const records = await online.deleteEntities(ids);
      await persist?.();
      return { records };
    },
    count: (ids) => online.deleteEntities(ids),
  };
  const list = online.listEntityIds?.bind(online);
  if (list === undefined) return eraser;
  return {
    ...eraser,
    scan: async (isDeleted) => {
      let n = 0;
      for await (const id of list()) if (isDeleted(id)) n++;
      return n;
    },
  };
}

/** Saved aggregator state (dedup ids included): the users' entries removed through the store's own `save`. */
export function aggregatorStateEraser(name: string, state: AggregatorStateStore): StoreEraser {
  return {
    name,
    verifiedBy: `${state.kind} aggregator state reloaded and looked up`,
    erase: async (ids) => {
      const saved = await state.load();
      if (saved === undefined) return { records: 0, found: [] };
      const found = ids.filter((id) => saved.users.has(id));
      if (found.length > 0) await state.save(saved.planKey, saved.meta, new Map(found.map((id) => [id, null])));
      return { records: found.length, found };
    },
    count: async (ids) => {
      const saved = await state.load();
      return saved === undefined ? 0 : ids.filter((id) => saved.users.has(id)).length;
    },
    scan: async (isDeleted) => {
      const saved = await state.load();
      return saved === undefined ? 0 : [...saved.users.keys()].filter(isDeleted).length;
    },
  };
}

/** Tokens of a line that could be a user id (any JSON string or id-shaped run of characters). */
const ID_TOKEN = /[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}/g;

function lineMentions(line: string, has: (id: string) => boolean): boolean {
  for (const m of line.matchAll(ID_TOKEN)) if (has(m[0])) return true;
  return false;
}

/**
 * NDJSON files of dead letters and late events (`<features>/stream/*.ndjson`): a letter mentioning a user (its
 * event's `user_id`, or the id anywhere in an unparseable payload) is removed; each file is rewritten to a temporary
 * and renamed over. A sink holding the file open must be stopped first (it would go on appending to the old file).
 */
export function deadLetterEraser(files: () => readonly string[]): StoreEraser {
  const rewrite = (has: (id: string) => boolean, write: boolean) => {
    let removed = 0;
    const found = new Set<string>();
    for (const file of files()) {
      if (!existsSync(file)) continue;
      const lines = readFileSync(file, 'utf8').split('\n');
      const kept: string[] = [];
      let dropped = 0;
      for (const line of lines) {
        if (line.length > 0 && lineMentions(line, has)) {
          dropped++;
          for (const m of line.matchAll(ID_TOKEN)) if (has(m[0])) found.add(m[0]);
        } else kept.push(line);
      }
      removed += dropped;
      if (write && dropped > 0) {
        const tmp = `${file}.privacy-rewrite`;
        writeFileSync(tmp, kept.join('\n'));
        renameSync(tmp, file);
      }
    }
    return { records: removed, found: [...found] };
  };
  return {
    name: 'deadLetters',
    verifiedBy: 'every letter line searched for the ids',
    erase: async (ids) => {
      const set = new Set(ids);
      return rewrite((id) => set.has(id), true);
    },
    count: async (ids) => {
      const set = new Set(ids);
      return rewrite((id) => set.has(id), false).records;
    },
    scan: async (isDeleted) => rewrite(isDeleted, false).found.length,
  };
}

/** The `.ndjson` and `.state` files of a stream directory (`<features>/stream`). */
export function streamFiles(dir: string, suffix: '.ndjson' | '.state'): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .map((f) => join(dir, f))
    .sort();
}

const q = (s: string) => `'${s.replaceAll("'", "''")}'`;
const ident = (s: string) => `"${s.replaceAll('"', '""')}"`;

/** Training sets the feature store wrote (`FeatureStore.trainingSets`): each file holding the users rewritten. */
export function trainingSetEraser(store: FeatureStore): StoreEraser {
  const sets = () => store.trainingSets().filter((s) => existsSync(s.path) && s.keyColumns.length > 0);
  const idsSql = (ids: readonly string[]) => ids.map(q).join(', ');
  const where = (keys: readonly string[], ids: readonly string[]) =>
    keys.map((k) => `CAST(${ident(k)} AS VARCHAR) IN (${idsSql(ids)})`).join(' OR ');
  const countIn = async (path: string, keys: readonly string[], ids: readonly string[]) =>
    Number(
      (
        await store.offline.query(
          `SELECT count(*)::DOUBLE AS n FROM read_parquet(${q(path)}) WHERE ${where(keys, ids)}`,
        )
      )[0]?.['n'] ?? 0,
    );
  return {
    name: 'trainingSets',
    verifiedBy: 'DuckDB count of the ids in every recorded training set file',
    erase: async (ids) => {
      if (ids.length === 0) return { records: 0, found: [] };
      let records = 0;
      const found = new Set<string>();
      for (const s of sets()) {
        const n = await countIn(s.path, s.keyColumns, ids);
        if (n === 0) continue;
        for (const k of s.keyColumns)
          for (const row of await store.offline.query(
            `SELECT DISTINCT CAST(${ident(k)} AS VARCHAR) AS id FROM read_parquet(${q(s.path)}) WHERE CAST(${ident(k)} AS VARCHAR) IN (${idsSql(ids)})`,
          ))
            found.add(String(row['id']));
        const tmp = `${s.path}.privacy-rewrite`;
        await store.offline.execute(
          `COPY (SELECT * FROM read_parquet(${q(s.path)}) WHERE NOT (${where(s.keyColumns, ids)})) TO ${q(tmp)} (FORMAT parquet)`,
        );
        renameSync(tmp, s.path);
        records += n;
      }
      return { records, found: [...found] };
    },
    count: async (ids) => {
      if (ids.length === 0) return 0;
      let n = 0;
      for (const s of sets()) n += await countIn(s.path, s.keyColumns, ids);
      return n;
    },
    scan: async (isDeleted) => {
      const held = new Set<string>();
      for (const s of sets())
        for (const k of s.keyColumns)
          for (const row of await store.offline.query(
            `SELECT DISTINCT CAST(${ident(k)} AS VARCHAR) AS id FROM read_parquet(${q(s.path)})`,
          ))
            if (isDeleted(String(row['id']))) held.add(String(row['id']));
      return held.size;
    },
  };
}

/** What the segment-index and cap-ledger erasers need of the decision's stores. */
export interface IndexLike {
  eraseUser(userId: string): boolean;
  holdsUser(userId: string): boolean;
  readonly users: { readonly size: number; userOf(dense: number): string };
}

export interface CapLedgerLike {
  removeUser(userId: string): number;
  holdsUser(userId: string): boolean;
  entries(): IterableIterator<[number, string, string, number]>;
}

/** The user index and bitmaps: each user tombstoned in the bitmaps and their id redacted, then saved. */
export function segmentIndexEraser(index: IndexLike, save: () => void): StoreEraser {
  return {
    name: 'segmentIndex',
    verifiedBy: 'user index looked up for each id',
    erase: async (ids) => {
      const found = ids.filter((id) => index.eraseUser(id));
      save();
      return { records: found.length, found };
    },
    count: async (ids) => ids.filter((id) => index.holdsUser(id)).length,
    scan: async (isDeleted) => {
      let n = 0;
      for (let d = 0; d < index.users.size; d++) if (isDeleted(index.users.userOf(d))) n++;
      return n;
    },
  };
}

/** The frequency-cap ledger: every count of the users removed, then saved. */
export function capLedgerEraser(ledger: CapLedgerLike, save: () => Promise<void>): StoreEraser {
  return {
    name: 'capLedger',
    verifiedBy: 'cap ledger looked up for each id',
    erase: async (ids) => {
      let records = 0;
      const found: string[] = [];
      for (const id of ids) {
        const n = ledger.removeUser(id);
        if (n > 0) found.push(id);
        records += n;
      }
      await save();
      return { records, found };
    },
    count: async (ids) => ids.filter((id) => ledger.holdsUser(id)).length,
    scan: async (isDeleted) => {
      const held = new Set<string>();
      for (const [, , user] of ledger.entries()) if (isDeleted(user)) held.add(user);
      return held.size;
    },
  };
}
