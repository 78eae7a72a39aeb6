import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serialize } from 'node:v8';
import { afterAll, describe, expect, it } from 'vitest';
import { exitCodeFor } from '../core/index.js';
import { defineEntity, defineFeatures, defineFeatureView } from '../features/index.js';
import { compileAggregationPlan, planKeyOf } from './aggregation-plan.js';
import { FileAggregatorStateStore, MemoryAggregatorStateStore } from './aggregator-state-store.js';
import { MemoryDeadLetterSink } from './dead-letter.js';
import { AggregatorStateCorruptError, AggregatorStatePlanMismatchError } from './errors.js';
import { MemoryEventBus } from './memory-event-bus.js';
import { StreamIngestor } from './stream-ingestor.js';
import { describeAggregatorStateStore } from './testing/aggregator-state-store-conformance.js';

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

const dir = mkdtempSync(join(tmpdir(), 'adnova-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeAggregatorStateStore('memory', { open: async () => new MemoryAggregatorStateStore() });

let files = 0;
describeAggregatorStateStore('file', {
  open: async () => new FileAggregatorStateStore(join(dir, `conformance-${++files}`, 'aggregator.state')),
  reopen: async (store) => new FileAggregatorStateStore((store as FileAggregatorStateStore).path),
  corrupt: async (store) => writeFileSync((store as FileAggregatorStateStore).path, 'not a checkpoint'),
});

const plan = compileAggregationPlan(
  defineFeatures({
    entities: [defineEntity({ name: 'user' })],
    views: [
      defineFeatureView({
        name: 'activity',
        entity: 'user',
        ttlSeconds: 86_400,
        source: { kind: 'stream' },
        features: [{ name: 'events_1h', aggregation: { op: 'count', window: '1h' } }],
      }),
    ],
  }),
);

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (err: unknown) => err,
  );
}

function startOn(state: MemoryAggregatorStateStore | FileAggregatorStateStore) {
  return StreamIngestor.start({
    bus: new MemoryEventBus(),
    plan,
    features: { ingest: async () => {} },
    state,
    deadLetters: new MemoryDeadLetterSink(),
    lateEvents: new MemoryDeadLetterSink(),
  });
}

describe('saved aggregator state that cannot be resumed: its own typed errors (exit 1), not bad input', () => {
  it('a state file that does not deserialize, or holds something else, is AggregatorStateCorruptError', async () => {
    const garbage = join(dir, 'garbage.state');
    writeFileSync(garbage, 'not a v8 checkpoint');
    const err = await caught(new FileAggregatorStateStore(garbage).load());
    expect(err).toBeInstanceOf(AggregatorStateCorruptError);
    expect(err).toMatchObject({ code: 'STREAM_STATE_CORRUPT', httpStatus: 500 });
    expect(exitCodeFor(err)).toBe(1);
    expect((err as Error).message).toMatch(
      new RegExp(
        `^aggregator state file ${garbage} is corrupt: expected a checkpoint \\{ planKey, meta, users \\}, found 19 bytes that do not deserialize`,
      ),
    );

    const other = join(dir, 'other.state');
    writeFileSync(other, serialize({ rows: [1, 2] }));
    const shape = await caught(new FileAggregatorStateStore(other).load());
    expect(shape).toBeInstanceOf(AggregatorStateCorruptError);
    expect((shape as AggregatorStateCorruptError).details).toEqual({ where: other, found: 'an object with keys rows' });
  });

  it('state of other definitions is AggregatorStatePlanMismatchError, at start and at save', async () => {
    const meta = { maxEventTs: 1, counters: { accepted: 1, duplicates: 0, late: 0 } };
    const state = new MemoryAggregatorStateStore();
    await state.save('plan-of-yesterday', meta, new Map());
    const err = await caught(startOn(state));
    expect(err).toBeInstanceOf(AggregatorStatePlanMismatchError);
    expect(exitCodeFor(err)).toBe(1);
    expect((err as AggregatorStatePlanMismatchError).details).toEqual({
      where: 'the memory aggregator state',
      storedPlanKey: 'plan-of-yesterday',
      planKey: planKeyOf(plan),
    });
    expect((err as Error).message).toMatch(/holds aggregates of other definitions \(plan plan-of-yesterday, now /);

    const path = join(dir, 'mismatch.state');
    const file = new FileAggregatorStateStore(path);
    await file.save('a', meta, new Map());
    const atSave = await caught(file.save('b', meta, new Map()));
    expect(atSave).toBeInstanceOf(AggregatorStatePlanMismatchError);
    expect(atSave).toMatchObject({ code: 'STREAM_STATE_PLAN_MISMATCH', storedPlanKey: 'a', planKey: 'b' });
  });

  it("a user's state bytes that do not decode are AggregatorStateCorruptError naming the user", async () => {
    const state = new MemoryAggregatorStateStore();
    const meta = { maxEventTs: 1, counters: { accepted: 1, duplicates: 0, late: 0 } };
    await state.save(planKeyOf(plan), meta, new Map([['u7', new Uint8Array(40).fill(3)]]));
    const err = await caught(startOn(state));
    expect(err).toBeInstanceOf(AggregatorStateCorruptError);
    expect(exitCodeFor(err)).toBe(1);
    expect((err as Error).message).toMatch(/^saved state of user u7 is unreadable \(format /);
  });
});
