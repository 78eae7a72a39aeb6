import { randomBytes } from 'node:crypto';

const ENTITY_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** Entity ids are short printable strings: safe in Redis keys, file names and URLs. */
export function isValidEntityId(id: string): boolean {
  return ENTITY_ID.test(id);
}

/**
 * A new unique, roughly time-sortable id: `prefix_` + 9 base-36 chars of time + 12 hex chars of randomness.
 * Time comes from the caller (a Clock) so simulated runs produce simulated ids.
 */
export function newId(prefix: string, nowMs: number): string {
  const time = Math.max(0, Math.floor(nowMs)).toString(36).padStart(9, '0');
  return `${prefix}_${time}${randomBytes(6).toString('hex')}`;
}

/**
 * 32-bit FNV-1a of the id's UTF-16 code units. Stable across processes and versions: it decides shards,
 * bus partitions and holdout buckets, so it must never change.
 */
export function hashId(id: string, seed = 0): number {
  return avalanche(fnv1a(id, (0x811c9dc5 ^ seed) >>> 0));
}

/**
 * `hashId(prefix + id, seed)` for many ids behind one prefix (a campaign's holdout over 1M candidates) without
 * building the joined strings.
 */
export function prefixedHasher(prefix: string, seed = 0): (id: string) => number {
  const state = fnv1a(prefix, (0x811c9dc5 ^ seed) >>> 0);
  return (id) => avalanche(fnv1a(id, state));
}

function fnv1a(text: string, state: number): number {
  let h = state;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Final avalanche (murmur3 fmix32) so nearby ids spread over shards. */
function avalanche(x: number): number {
  let h = x;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

/** Shard of an id among `shards` (user-id sharding for jobs, partitions and Redis Cluster keys). */
export function shardOf(id: string, shards: number): number {
  if (!Number.isInteger(shards) || shards < 1) throw new RangeError(`shards must be a positive integer, got ${shards}`);
  return hashId(id) % shards;
}
