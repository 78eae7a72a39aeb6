/**
 * `adnova world replay --to redis` then `adnova stream run`: the long-running path of streaming ingestion, through
 * the CLI, against real Redis (Redis Streams bus, Redis state store, memory online store with its snapshot).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../../src/cli/test-io.js';
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

  it('refuses the memory bus with a hint', async () => {
    const { code, err } = await runCliCaptured(['--config', configFile, 'stream', 'run', '--bus', 'memory']);
    expect(code).toBe(2);
    expect(err).toMatch(/stream run consumes from a shared bus/);
  });
});
