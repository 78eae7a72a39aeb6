import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AudienceService, BullmqShardRunner } from '../../src/audience/index.js';
import { ManualClock, MS_PER_HOUR } from '../../src/core/index.js';
import { type Deployment, deployWorld, openDeployment } from '../../src/decision/index.js';
import { generateWorld } from '../../src/world/index.js';
import { serviceAvailability } from './services.js';

const redis = await serviceAvailability('redis');
const ROOT = join(import.meta.dirname, '..', '..');
const DEFINITIONS = join(ROOT, 'src', 'features', 'examples', 'world-features.yaml');

/** `adnova worker --queue audience` as its own process, its stderr lines collected. */
function startWorker(prefix: string): { proc: ChildProcess; lines: string[]; exited: Promise<number | null> } {
  const proc = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src', 'cli', 'main.ts'),
      'worker',
      '--queue',
      'audience',
      '--redis',
      redis.url,
      '--queue-prefix',
      prefix,
      '--lock-ms',
      '2000',
    ],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const lines: string[] = [];
  let buf = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    buf += chunk.toString();
    const parts = buf.split('\n');
    buf = parts.pop() ?? '';
    lines.push(...parts);
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, lines, exited };
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.skipIf(!redis.available)(`audience builds on BullMQ workers${redis.skipNote}`, () => {
  const prefix = `test-aud-${randomUUID().slice(0, 8)}`;
  let dir: string;
  let d: Deployment;
  let atMs: number;
  const workers: ReturnType<typeof startWorker>[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'adnova-audience-workers-'));
    const manifest = await generateWorld({ outDir: join(dir, 'w'), users: 900, days: 8, seed: 11, features: 24 });
    const built = await deployWorld({
      worldDir: join(dir, 'w'),
      dir: join(dir, 'd'),
      definitionsPath: DEFINITIONS,
      gbdt: { trees: 15 },
    });
    atMs = manifest.endTs - MS_PER_HOUR;
    d = await openDeployment({ dir: built.dir, clock: new ManualClock(atMs) });
    const vertical = (await d.campaigns.list())[0]?.vertical as string;
    await d.campaigns.create({
      id: 'w-push',
      advertiserId: 'adv1',
      channel: 'push',
      goal: 'click',
      vertical,
      desiredAudienceSize: 150,
      holdoutShare: 0.1,
      explorationShare: 0.1,
      schedule: { launch: atMs - MS_PER_HOUR },
    });
  }, 240_000);

  afterAll(async () => {
    for (const w of workers) if (w.proc.exitCode === null) w.proc.kill('SIGTERM');
    await Promise.all(workers.map((w) => w.exited));
    await d?.close();
    const r = new Redis(redis.url);
    const keys = await r.keys(`${prefix}:*`);
    if (keys.length) await r.del(...keys);
    r.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('2 workers, one killed mid-shard: the same audience as one process', async () => {
    const single = await new AudienceService({ deployment: d }).build('w-push', { atMs });
    workers.push(startWorker(prefix), startWorker(prefix));
    await until(
      () => workers.every((w) => w.lines.some((l) => l.includes('waiting for audience jobs'))),
      60_000,
      'workers',
    );
    const runner = new BullmqShardRunner({ url: redis.url, prefix, timeoutMs: 120_000 });
    const victim = workers[0] as ReturnType<typeof startWorker>;
    // the first shard a worker takes opens the deployment (a second or so): killed then, it dies holding the job
    const killer = until(() => victim.lines.some((l) => l.includes('started (attempt')), 60_000, 'a shard start').then(
      () => victim.proc.kill('SIGKILL'),
    );
    try {
      const sharded = await new AudienceService({ deployment: d, runner }).build('w-push', { atMs, shards: 6 });
      await killer;
      expect(victim.proc.signalCode ?? (await victim.exited)).toBeTruthy();
      const one = await new AudienceService({ deployment: d }).store.get('w-push', single.summary.version);
      const six = await new AudienceService({ deployment: d }).store.get('w-push', sharded.summary.version);
      expect(sharded.runner).toBe('bullmq');
      expect(six.candidates.userIds).toEqual(one.candidates.userIds);
      expect([...six.candidates.scores]).toEqual([...one.candidates.scores]);
      expect([...six.selection.outcome]).toEqual([...one.selection.outcome]);
      expect([...six.selection.members]).toEqual([...one.selection.members]);
      expect(six.summary.stages).toEqual(one.summary.stages);
      // the survivor took over the killed worker's shard
      const survivor = workers[1] as ReturnType<typeof startWorker>;
      const done = survivor.lines.filter((l) => l.includes('candidates in')).length;
      const victimDone = victim.lines.filter((l) => l.includes('candidates in')).length;
      expect(done + victimDone).toBeGreaterThanOrEqual(6);
      expect(done).toBeGreaterThan(0);
    } finally {
      await runner.close();
    }
  }, 180_000);

  it('3 workers, one killed mid-shard: the same audience again', async () => {
    const svc = new AudienceService({ deployment: d });
    const single = await svc.store.get('w-push', 1);
    const fresh = [startWorker(prefix), startWorker(prefix)];
    workers.push(...fresh);
    await until(
      () => fresh.every((w) => w.lines.some((l) => l.includes('waiting for audience jobs'))),
      60_000,
      'workers',
    );
    const alive = workers.filter((w) => w.proc.exitCode === null && w.proc.signalCode === null);
    expect(alive.length).toBe(3);
    const victim = fresh[0] as ReturnType<typeof startWorker>;
    const runner = new BullmqShardRunner({ url: redis.url, prefix, timeoutMs: 120_000 });
    const killer = until(() => victim.lines.some((l) => l.includes('started (attempt')), 60_000, 'a shard start').then(
      () => victim.proc.kill('SIGKILL'),
    );
    try {
      const b = await new AudienceService({ deployment: d, runner }).build('w-push', { atMs, shards: 9 });
      await killer;
      const nine = await svc.store.get('w-push', b.summary.version);
      expect(nine.candidates.userIds).toEqual(single.candidates.userIds);
      expect([...nine.candidates.scores]).toEqual([...single.candidates.scores]);
      expect([...nine.selection.members]).toEqual([...single.selection.members]);
      expect(nine.summary.stages).toEqual(single.summary.stages);
    } finally {
      await runner.close();
    }
  }, 180_000);
});
