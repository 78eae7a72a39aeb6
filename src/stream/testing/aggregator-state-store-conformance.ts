import { describe, expect, it } from 'vitest';
import type { AggregatorMeta } from '../aggregation/index.js';
import type { AggregatorStateStore } from '../aggregator-state-store.js';
import { AggregatorStateCorruptError, AggregatorStatePlanMismatchError } from '../errors.js';

export interface AggregatorStateStoreHarness {
  /** A fresh, empty store whose storage (file, key prefix) is unique to this call. */
  open(): Promise<AggregatorStateStore>;
  /**
   * A second store over the same storage as `store` (a restarted process); undefined for a store that lives in
   * one process only (memory), which skips the durability cases.
   */
  reopen?(store: AggregatorStateStore): Promise<AggregatorStateStore>;
  /** Overwrites `store`'s storage with bytes no checkpoint writes; undefined where storage cannot be corrupted. */
  corrupt?(store: AggregatorStateStore): Promise<void>;
}

const meta = (maxEventTs: number, accepted = 1): AggregatorMeta => ({
  maxEventTs,
  counters: { accepted, duplicates: 2, late: 3 },
});

/** `n` states of `bytes` bytes, as views into one shared chunk (what WindowAggregator.exportUsers hands out). */
function chunkOf(prefix: string, n: number, bytes: number, fill: number): Map<string, Uint8Array> {
  const chunk = new Uint8Array(n * bytes);
  const out = new Map<string, Uint8Array>();
  for (let i = 0; i < n; i++) {
    const view = chunk.subarray(i * bytes, (i + 1) * bytes);
    for (let b = 0; b < bytes; b++) view[b] = (fill + i * 7 + b) & 255;
    out.set(`${prefix}${i}`, view);
  }
  return out;
}

const asObject = (users: ReadonlyMap<string, Uint8Array>) =>
  Object.fromEntries([...users].map(([id, b]) => [id, Array.from(b)]));

/**
 * The behaviour every AggregatorStateStore must show, whatever holds the bytes (memory, a file, Redis): the
 * ingestor resumes exactly from what `load` returns, so a lost user, a stale meta or a resurrected delete would
 * be a silent error in every feature after a restart.
 */
export function describeAggregatorStateStore(name: string, harness: AggregatorStateStoreHarness): void {
  describe(`AggregatorStateStore conformance: ${name}`, () => {
    const withStore = async (fn: (store: AggregatorStateStore) => Promise<void>) => {
      const store = await harness.open();
      try {
        await fn(store);
      } finally {
        await store.close();
      }
    };

    it('an empty store loads nothing', () =>
      withStore(async (store) => {
        expect(await store.load()).toBeUndefined();
      }));

    it('loads what was saved: plan, meta (an empty aggregator has maxEventTs -Infinity) and every user', () =>
      withStore(async (store) => {
        expect(store.kind).toBe(name);
        await store.save('plan-a', meta(Number.NEGATIVE_INFINITY, 0), new Map());
        expect(await store.load()).toEqual({
          planKey: 'plan-a',
          meta: meta(Number.NEGATIVE_INFINITY, 0),
          users: new Map(),
        });
        const users = chunkOf('u', 50, 24, 1);
        await store.save('plan-a', meta(1_767_000_000_123), users);
        const got = await store.load();
        expect(got?.planKey).toBe('plan-a');
        expect(got?.meta).toEqual(meta(1_767_000_000_123));
        expect(asObject(got!.users)).toEqual(asObject(users));
      }));

    it('a save upserts the users it names, removes those given null, keeps the rest, and replaces the meta', () =>
      withStore(async (store) => {
        await store.save('p', meta(10), chunkOf('u', 4, 8, 1));
        const second = new Map<string, Uint8Array | null>([
          ['u1', new Uint8Array([9, 9, 9])],
          ['u2', null],
          ['u9', new Uint8Array([])],
          ['never-saved', null],
        ]);
        await store.save('p', meta(20, 5), second);
        const got = await store.load();
        const first = chunkOf('u', 4, 8, 1);
        expect(got?.meta).toEqual(meta(20, 5));
        expect([...got!.users.keys()].sort()).toEqual(['u0', 'u1', 'u3', 'u9']);
        expect(Array.from(got!.users.get('u0')!)).toEqual(Array.from(first.get('u0')!));
        expect(Array.from(got!.users.get('u1')!)).toEqual([9, 9, 9]);
        expect(Array.from(got!.users.get('u3')!)).toEqual(Array.from(first.get('u3')!));
        expect(got!.users.get('u9')!.byteLength).toBe(0);
      }));

    it('a user saved from a view into a shared chunk keeps only its own bytes', () =>
      withStore(async (store) => {
        const users = chunkOf('u', 1000, 40, 3);
        await store.save('p', meta(1), users);
        const got = await store.load();
        for (const [id, b] of got!.users) {
          expect(b.byteLength).toBe(40);
          expect(Array.from(b)).toEqual(Array.from(users.get(id)!));
        }
      }));

    it('state of other definitions is refused at save, naming both plans', () =>
      withStore(async (store) => {
        await store.save('plan-of-yesterday', meta(1), chunkOf('u', 2, 8, 1));
        const err = await store.save('plan-of-today', meta(2), new Map()).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(AggregatorStatePlanMismatchError);
        expect(err).toMatchObject({ storedPlanKey: 'plan-of-yesterday', planKey: 'plan-of-today' });
        // and nothing of the refused save was kept
        const got = await store.load();
        expect(got?.planKey).toBe('plan-of-yesterday');
        expect(got?.meta).toEqual(meta(1));
        expect(got?.users.size).toBe(2);
      }));

    it.skipIf(harness.reopen === undefined)('a restarted process loads the last save, deletes included', () =>
      withStore(async (store) => {
        await store.save('p', meta(5), chunkOf('u', 300, 16, 2));
        await store.save('p', meta(6, 9), new Map([['u7', null]]));
        const again = await harness.reopen!(store);
        try {
          const got = await again.load();
          expect(got?.meta).toEqual(meta(6, 9));
          expect(got?.users.size).toBe(299);
          expect(got?.users.has('u7')).toBe(false);
          const want = chunkOf('u', 300, 16, 2);
          want.delete('u7');
          expect(asObject(got!.users)).toEqual(asObject(want));
          // the restarted store refuses other definitions too
          await expect(again.save('other', meta(7), new Map())).rejects.toBeInstanceOf(
            AggregatorStatePlanMismatchError,
          );
        } finally {
          await again.close();
        }
      }),
    );

    it.skipIf(harness.corrupt === undefined)('storage that holds no checkpoint is AggregatorStateCorruptError', () =>
      withStore(async (store) => {
        await store.save('p', meta(1), chunkOf('u', 2, 8, 1));
        await harness.corrupt!(store);
        const again = harness.reopen ? await harness.reopen(store) : store;
        try {
          await expect(again.load()).rejects.toBeInstanceOf(AggregatorStateCorruptError);
        } finally {
          if (again !== store) await again.close();
        }
      }),
    );
  });
}
