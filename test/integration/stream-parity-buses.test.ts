import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { worldStreamParity } from '../../src/cli/commands/stream.js';
import { runCliCaptured } from '../../src/cli/test-io.js';
import { type EventBus, NatsEventBus, RedisStreamsEventBus } from '../../src/stream/index.js';
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
