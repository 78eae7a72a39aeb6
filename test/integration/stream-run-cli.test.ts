/**
 * `adnova world replay --to redis` then `adnova stream run`: the long-running path of streaming ingestion, through
 * the CLI, against real Redis (Redis Streams bus, Redis state store, memory online store with its snapshot).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nonCamelKeys } from '../../src/cli/json-keys.js';
import { runCliCaptured } from '../../src/cli/test-io.js';
import { RedisStreamsEventBus } from '../../src/stream/index.js';
import { readManifest } from '../../src/world/index.js';
import { generateWorld } from '../../src/world/simulator.js';
import { serviceAvailability } from './services.js';

const redis = await serviceAvailability('redis');

describe.skipIf(!redis.available)(`adnova stream run on Redis${redis.skipNote}`, () => {
  const root = mkdtempSync(join(tmpdir(), 'adnova-stream-run-'));
  const worldDir = join(root, 'world');
  const prefix = `adnova-test-${randomUUID().slice(0, 8)}:`;
  const configFile = join(root, 'adnova.config.json');
  const definitions = join(import.meta.dirname, '../../src/features/examples/world-features.yaml');

  beforeAll(async () => {
    await generateWorld({
      outDir: worldDir,
      users: 200,
      days: 3,
      seed: 9,
      features: 16,
      scenarios: ['schema-change'],
      driftDay: 1,
    });
    writeFileSync(
      configFile,
      JSON.stringify({
        storeDir: join(root, 'store'),
        redis: { url: redis.url, keyPrefix: prefix },
        bus: { kind: 'redis' },
      }),
    );
  }, 60_000);

  afterAll(async () => {
    const client = new Redis(redis.url);
    try {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await client.del(...keys);
      } while (cursor !== '0');
    } finally {
      client.disconnect();
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('replays a World to Redis Streams, ingests it, and resumes from its saved state without reprocessing', async () => {
    const events = readManifest(worldDir).tables.events?.rows ?? 0;
    const replay = await runCliCaptured([
      '--config',
      configFile,
      'world',
      'replay',
      '--dir',
      worldDir,
      '--to',
      'redis',
    ]);
    expect(replay.code).toBe(0);
    expect(replay.err).toContain(`replayed ${events} events to redis topic events`);

    const args = ['--config', configFile, 'stream', 'run', '--definitions', definitions, '--state', 'redis'];
    const first = await runCliCaptured([...args, '--idle-exit', '2', '--json']);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    const stats = JSON.parse(first.out) as {
      received: number;
      accepted: number;
      invalid: number;
      usersWritten: number;
      schemaChanges: { kind: string }[];
    };
    expect(nonCamelKeys(stats)).toEqual([]);
    expect(stats.received).toBe(events);
    expect(stats.accepted).toBeGreaterThan(events * 0.5);
    expect(stats.invalid).toBeGreaterThan(0);
    expect(stats.usersWritten).toBeGreaterThan(150);
    expect(stats.schemaChanges.map((s) => s.kind)).toContain('renamed');
    const letters = readFileSync(join(root, 'store', 'features', 'stream', 'dead-letters.ndjson'), 'utf8')
      .trim()
      .split('\n');
    expect(letters).toHaveLength(stats.invalid);
    expect(existsSync(join(root, 'store', 'features', 'online-snapshot.json'))).toBe(true);

    // everything was acknowledged after its checkpoint: a second run finds nothing to do
    const second = await runCliCaptured([...args, '--idle-exit', '1', '--json']);
    expect(second.code).toBe(0);
    expect((JSON.parse(second.out) as { received: number }).received).toBe(0);
  }, 120_000);

  it('dead-letters a message that is not JSON and goes on: nothing left pending, exit 0, a second run idle', async () => {
    // the case found by hand: 2,000 events, one raw `XADD ... p '{not json'`, 10 more events
    const topic = `malformed-${randomUUID().slice(0, 8)}`;
    const group = 'malformed';
    const store = join(root, 'store-malformed');
    const bus = await RedisStreamsEventBus.connect({ url: redis.url, keyPrefix: prefix });
    const admin = new Redis(redis.url);
    try {
      const T0 = Date.UTC(2026, 2, 2, 8);
      const events = (from: number, count: number) =>
        Array.from({ length: count }, (_, i) => {
          const n = from + i;
          const user = `u${n % 13}`;
          const message = { event_id: `m${n}`, user_id: user, event_type: 'app_open', event_ts: T0 + n * 1000 };
          return { key: user, payload: { arrival_ts: T0 + n * 1000 + 500, message: { ...message, platform: 'ios' } } };
        });
      await bus.publish(topic, events(0, 2000));
      await admin.xadd(bus.streamKey(topic), '*', 'k', 'u1', 'p', '{not json');
      await bus.publish(topic, events(2000, 10));
      const args = ['--config', configFile, 'stream', 'run', '--definitions', definitions, '--store', store];
      const run = [...args, '--topic', topic, '--group', group, '--json'];
      const first = await runCliCaptured([...run, '--idle-exit', '2']);
      expect(first.err).toBe('');
      expect(first.code).toBe(0);
      expect(JSON.parse(first.out)).toMatchObject({
        received: 2011,
        accepted: 2010,
        invalid: 1,
        undecodable: 1,
        backendErrors: 0,
      });
      const letters = readFileSync(join(store, 'stream', 'dead-letters.ndjson'), 'utf8')
        .trim()
        .split('\n');
      expect(letters).toHaveLength(1);
      const letter = JSON.parse(letters[0]!) as { event: unknown; reason: string; source: string };
      expect(letter.event).toBe('{not json');
      expect(letter.reason).toMatch(/^undecodable payload at position \d+-\d+: not JSON/);
      expect(letter.source).toBe(topic);
      const [pending] = (await admin.xpending(bus.streamKey(topic), group)) as [number];
      expect(Number(pending)).toBe(0);
      const text = await runCliCaptured([...args, '--topic', topic, '--group', group, '--idle-exit', '1']);
      expect(text.code).toBe(0);
      expect(text.out).toMatch(/^received 0:/);
    } finally {
      admin.disconnect();
      await bus.close();
    }
  }, 120_000);

  it('exits 1 (not 2: no bad input) on saved state that is corrupt or of other definitions, saying which', async () => {
    const store = join(root, 'store-corrupt');
    const args = ['--config', configFile, 'stream', 'run', '--definitions', definitions, '--store', store];
    const topic = `corrupt-${randomUUID().slice(0, 8)}`;
    mkdirSync(join(store, 'stream'), { recursive: true });
    writeFileSync(join(store, 'stream', 'bad-file.state'), 'not a checkpoint');
    const file = await runCliCaptured([...args, '--topic', topic, '--group', 'bad-file', '--idle-exit', '1']);
    expect(file.code).toBe(1);
    expect(file.err).toMatch(/aggregator state file .*bad-file\.state is corrupt: expected a checkpoint/);

    const admin = new Redis(redis.url);
    try {
      await admin.set(`${prefix}stream-state:bad-meta:meta`, 'oops');
      const meta = await runCliCaptured([...args, '--topic', topic, '--group', 'bad-meta', '--state', 'redis']);
      expect(meta.code).toBe(1);
      expect(meta.err).toMatch(
        /redis aggregator state \S+:meta is corrupt: expected JSON \{ planKey, meta \}, found text/,
      );
      await admin.set(
        `${prefix}stream-state:old-plan:meta`,
        JSON.stringify({ planKey: 'p0', meta: { maxEventTs: '1' } }),
      );
      const plan = await runCliCaptured([...args, '--topic', topic, '--group', 'old-plan', '--state', 'redis']);
      expect(plan.code).toBe(1);
      expect(plan.err).toMatch(/holds aggregates of other definitions \(plan p0, now \S+\)/);
    } finally {
      admin.disconnect();
    }
  }, 60_000);

  it('refuses the memory bus with a hint', async () => {
    const { code, err } = await runCliCaptured(['--config', configFile, 'stream', 'run', '--bus', 'memory']);
    expect(code).toBe(2);
    expect(err).toMatch(/stream run consumes from a shared bus/);
  });
});
