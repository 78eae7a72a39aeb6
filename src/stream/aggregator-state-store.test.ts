import { describe, expect, it } from 'vitest';
import { MemoryAggregatorStateStore } from './aggregator-state-store.js';

const meta = { maxEventTs: 1, counters: { accepted: 1, duplicates: 0, late: 0 } };

/** `n` states of `bytes` bytes each as views into one shared chunk (what WindowAggregator.exportUsers hands out). */
function chunkOf(prefix: string, n: number, bytes: number, fill: number): Map<string, Uint8Array> {
  const chunk = new Uint8Array(n * bytes);
  const out = new Map<string, Uint8Array>();
  for (let i = 0; i < n; i++) {
    const view = chunk.subarray(i * bytes, (i + 1) * bytes);
    view.fill((fill + i) & 255);
    out.set(`${prefix}${i}`, view);
  }
  return out;
}

describe('MemoryAggregatorStateStore', () => {
  it('keeps the views it is given, and compacts chunks held by a few live states', async () => {
    const store = new MemoryAggregatorStateStore();
    await store.save('p', meta, chunkOf('u', 1000, 4000, 1)); // 4 MB, all live
    expect(store.memory).toEqual({ held: 4_000_000, live: 4_000_000 });
    // every user but one rewritten: the first chunk is held by one state
    const rewrite = chunkOf('u', 1000, 4000, 7);
    rewrite.delete('u0');
    await store.save('p', meta, rewrite);
    expect(store.memory.live).toBe(4_000_000);
    expect(store.memory.held).toBe(8_000_000);
    // and once more: held would be 3x live, so the live states are copied into one buffer
    rewrite.delete('u1');
    await store.save('p', meta, new Map([...rewrite].map(([id, b]) => [id, b.slice()])));
    expect(store.memory).toEqual({ held: 4_000_000, live: 4_000_000 });
    const loaded = await store.load();
    expect(loaded?.users.get('u0')?.every((x) => x === 1)).toBe(true);
    expect(loaded?.users.get('u1')?.every((x) => x === 8)).toBe(true);
    expect(loaded?.users.get('u2')?.every((x) => x === 9)).toBe(true);
    for (const b of loaded!.users.values()) expect(b.byteOffset % 8).toBe(0);
    // deletes release what they held
    await store.save('p', meta, new Map([...loaded!.users.keys()].map((id) => [id, null])));
    expect(store.memory).toEqual({ held: 0, live: 0 });
    expect((await store.load())?.users.size).toBe(0);
  });
});
