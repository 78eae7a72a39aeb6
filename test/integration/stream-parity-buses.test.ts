import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../../src/cli/test-io.js';
import { FeatureStore, loadDefinitionsFile, MemoryOnlineStore } from '../../src/features/index.js';
import {
  batchAggregates,
  compileAggregationPlan,
  type EventBus,
  NatsEventBus,
  RedisStreamsEventBus,
  STREAM_EVENT_TYPES,
  sameFeatureValue,
  worldStreamParity,
} from '../../src/stream/index.js';
import { readManifest, tableFiles } from '../../src/world/index.js';
import { generateWorld } from '../../src/world/simulator.js';
import { serviceAvailability } from './services.js';

const redis = await serviceAvailability('redis');
const nats = await serviceAvailability('nats');

const root = mkdtempSync(join(tmpdir(), 'adnova-stream-buses-'));
const worldDir = join(root, 'world');

beforeAll(async () => {
  await generateWorld({
    outDir: worldDir,
    users: 300,
    days: 5,
    seed: 21,
    features: 16,
    scenarios: ['schema-change', 'stream-outage'],
    driftDay: 2,
  });
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function parityThrough(bus: EventBus): Promise<void> {
  try {
    const r = await worldStreamParity({ worldDir, bus });
    expect(r.published).toBe(r.ingest.received);
    expect(r.ingest.late).toBeGreaterThan(0); // the stream-outage burst
    expect(r.deadLetters).toBeGreaterThan(0); // schema-change and defects
    expect(r.schemaChanges.map((s) => s.kind)).toEqual(expect.arrayContaining(['renamed', 'retyped']));
    expect(r.parity.compared).toBeGreaterThan(10_000);
    expect(r.parity.mismatches).toEqual([]);
  } finally {
    await bus.close();
  }
}

describe('adnova stream parity (memory bus, in-process CLI)', () => {
  it('reports zero mismatches as JSON and exits 0', async () => {
    const { code, out } = await runCliCaptured(['stream', 'parity', '--world', worldDir, '--bus', 'memory', '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(out) as { bus: string; parity: { mismatchCount: number; compared: number } };
    expect(report.bus).toBe('memory');
    expect(report.parity.mismatchCount).toBe(0);
    expect(report.parity.compared).toBeGreaterThan(10_000);
  }, 120_000);

  it('refuses a bad --lateness with exit 2 and names what it expected', async () => {
    const { code, err } = await runCliCaptured(['stream', 'parity', '--world', worldDir, '--lateness', 'soon']);
    expect(code).toBe(2);
    expect(err).toMatch(/--lateness expects a duration such as 30m, 1h or 6h, got "soon"/);
  });
});

describe('adnova stream backfill (in-process CLI)', () => {
  it('appends batch-computed stream rows to the offline store, which point-in-time reads then serve', async () => {
    const storeDir = join(root, 'backfill-store');
    const definitions = join(import.meta.dirname, '../../src/features/examples/world-features.yaml');
    const { code, out, err } = await runCliCaptured([
      'stream',
      'backfill',
      '--world',
      worldDir,
      '--store',
      storeDir,
      '--definitions',
      definitions,
      '--json',
    ]);
    expect(err).toBe('');
    expect(code).toBe(0);
    const result = JSON.parse(out) as { atMs: number[]; rows: Record<string, number> };
    expect(result.atMs.length).toBeGreaterThanOrEqual(4);
    expect(result.rows['user_activity']).toBeGreaterThan(300);
    const manifest = readManifest(worldDir);
    const plan = compileAggregationPlan(loadDefinitionsFile(definitions));
    const at = result.atMs[2]!;
    const batch = await batchAggregates(plan, {
      files: tableFiles(worldDir, manifest, 'events'),
      atMs: [at],
      eventTypes: STREAM_EVENT_TYPES,
      skipRawRows: true,
    });
    const users = batch.userIds.slice(0, 20);
    const store = await FeatureStore.open({ dir: storeDir, online: new MemoryOnlineStore() });
    try {
      const m = await store.readPointInTime('activity_scoring', users, at);
      const cols = plan.features.map((f) => m.columns.indexOf(f.ref));
      let compared = 0;
      users.forEach((_, row) => {
        plan.features.forEach((f, k) => {
          if (cols[k]! < 0) return;
          const got = m.values[cols[k]! * users.length + row]!;
          const want = batch.values[row * batch.width + k]!;
          expect(sameFeatureValue(got, want), `${users[row]} ${f.ref}: ${got} vs ${want}`).toBe(true);
          compared++;
        });
      });
      expect(compared).toBe(users.length * 6);
    } finally {
      await store.close();
    }
  }, 120_000);

  it('needs exactly one event source', async () => {
    const { code, err } = await runCliCaptured(['stream', 'backfill', '--at', '2026-03-03T00:00:00Z']);
    expect(code).toBe(2);
    expect(err).toMatch(/exactly one of --world DIR or --events FILES/);
  });
});

describe.skipIf(!redis.available)(`stream parity through Redis Streams${redis.skipNote}`, () => {
  it('replays the World through Redis and matches DuckDB exactly', async () => {
    await parityThrough(
      await RedisStreamsEventBus.connect({ url: redis.url, keyPrefix: `adnova-test-${randomUUID().slice(0, 8)}:` }),
    );
  }, 120_000);
});

describe.skipIf(!nats.available)(`stream parity through NATS JetStream${nats.skipNote}`, () => {
  it('replays the World through NATS and matches DuckDB exactly', async () => {
    await parityThrough(
      await NatsEventBus.connect({ url: nats.url, streamPrefix: `test-${randomUUID().slice(0, 8)}` }),
    );
  }, 120_000);
});
