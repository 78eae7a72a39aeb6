/**
 * One user's recent event ids, for dedup, in the order they were added: the ids, their hashes and two arrays of
 * numbers (event time, Clock time seen) by position, no object per event. Past SMALL ids, an open-addressing table
 * of [hash, position + 1] pairs (at most half full) in a plain array of small integers; below, a scan of the hashes.
 * A lookup of a new id (the common case) never touches a stored string, where a Map compares the strings of its
 * bucket chain (a cache miss each) and reallocates as it grows (bench/stream.ts 1a: ingest ~4% faster).
 */
export class DedupIds {
  ids: string[] = [];
  ts: number[] = [];
  seenAt: number[] = [];
  #hashes: number[] = [];
  #table: number[] | undefined;
  /** The last id looked up and its hash: `add` follows `has` for the same id. */
  #lastId: string | undefined;
  #lastHash = 0;

  get size(): number {
    return this.ids.length;
  }

  /** What `has` reads first when there is no table (a prefetch, see WindowAggregator.prefetchUsers). */
  get first(): number {
    return this.#hashes[0] ?? 0;
  }

  has(id: string): boolean {
    const h = idHash(id);
    this.#lastId = id;
    this.#lastHash = h;
    const ids = this.ids;
    const table = this.#table;
    if (table === undefined) {
      const hashes = this.#hashes;
      for (let k = 0; k < hashes.length; k++) if (hashes[k] === h && ids[k] === id) return true;
      return false;
    }
    const mask = (table.length >> 1) - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const p = table[2 * i + 1]!;
      if (p === 0) return false;
      if (table[2 * i] === h && ids[p - 1] === id) return true;
    }
  }

  /** Adds an id not yet present (check `has` first). */
  add(id: string, ts: number, seenAt: number): void {
    const h = id === this.#lastId ? this.#lastHash : idHash(id);
    this.#lastId = undefined;
    this.ids.push(id);
    this.ts.push(ts);
    this.seenAt.push(seenAt);
    this.#hashes.push(h);
    const n = this.ids.length;
    const table = this.#table;
    if (table !== undefined && 2 * n <= table.length >> 1) insert(table, h, n);
    else if (n > SMALL) this.#table = tableOf(this.#hashes);
  }

  /** Forgets the ids of events before `beforeTs` seen before `seenBefore`; the rest keep their order. */
  forget(beforeTs: number, seenBefore: number): void {
    const ids = this.ids;
    const ts = this.ts;
    const seenAt = this.seenAt;
    const hashes = this.#hashes;
    let kept = 0;
    for (let k = 0; k < ids.length; k++) {
      if (ts[k]! < beforeTs && seenAt[k]! < seenBefore) continue;
      if (kept !== k) {
        ids[kept] = ids[k]!;
        ts[kept] = ts[k]!;
        seenAt[kept] = seenAt[k]!;
        hashes[kept] = hashes[k]!;
      }
      kept++;
    }
    if (kept === ids.length) return;
    ids.length = kept;
    ts.length = kept;
    seenAt.length = kept;
    hashes.length = kept;
    this.#lastId = undefined;
    this.#table = kept > SMALL ? tableOf(hashes) : undefined;
  }
}

/** Ids a user may have before a hash table replaces the scan. */
const SMALL = 8;

/** A table at most half full of every position's hash. */
function tableOf(hashes: readonly number[]): number[] {
  let slots = 16;
  while (2 * hashes.length > slots) slots *= 2;
  const table: number[] = new Array(2 * slots).fill(0);
  for (let k = 0; k < hashes.length; k++) insert(table, hashes[k]!, k + 1);
  return table;
}

function insert(table: number[], h: number, position: number): void {
  const mask = (table.length >> 1) - 1;
  let i = h & mask;
  while (table[2 * i + 1] !== 0) i = (i + 1) & mask;
  table[2 * i] = h;
  table[2 * i + 1] = position;
}

/** FNV-1a of the id's UTF-16 code units, to 30 bits (a small integer in V8). */
function idHash(id: string): number {
  let h = 0x811c9dc5 | 0;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h & 0x3fffffff;
}
