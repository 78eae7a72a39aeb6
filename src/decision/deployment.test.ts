import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidInputError, ManualClock, MS_PER_DAY, NotFoundError } from '../core/index.js';
import { generateWorld, type WorldManifest } from '../world/index.js';
import { Deployment, openDeployment } from './deployment.js';
import { deployWorld, type WorldDeployment } from './world-deployment.js';

const DEFINITIONS = join(import.meta.dirname, '..', 'features', 'examples', 'world-features.yaml');

describe('a deployment built from a World', () => {
  let dir: string;
  let manifest: WorldManifest;
  let built: WorldDeployment;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'adnova-deployment-'));
    manifest = await generateWorld({ outDir: join(dir, 'w'), users: 900, days: 8, seed: 11, features: 24 });
    built = await deployWorld({
      worldDir: join(dir, 'w'),
      dir: join(dir, 'd'),
      definitionsPath: DEFINITIONS,
      gbdt: { trees: 15 },
    });
  }, 240_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('holds the World campaigns, its users and a champion and a fallback per goal', async () => {
    expect(built.asOfMs).toBe(manifest.endTs);
    expect(built.campaigns).toBeGreaterThan(10);
    expect(built.users).toBeGreaterThan(800);
    const d = await openDeployment({ dir: built.dir, clock: new ManualClock(manifest.endTs) });
    try {
      for (const goal of ['open', 'click', 'convert']) {
        expect(d.models.current(goal, 'champion')?.id).toBe(built.models[goal]?.champion);
        expect(d.models.current(goal, 'fallback')?.id).toBe(built.models[goal]?.fallback);
      }
      // the fallback reads nothing the stream writes
      const fb = d.models.load(built.models['open']?.fallback as string);
      expect(fb.header.columns.some((c) => c.name.startsWith('user_interests.'))).toBe(false);
      const champ = d.models.load(built.models['open']?.champion as string);
      expect(champ.header.columns.some((c) => c.name === 'vertical_affinity')).toBe(true);
      expect((await d.campaigns.list()).length).toBe(built.campaigns);
      expect(d.index.users.size).toBe(built.users);
    } finally {
      await d.close();
    }
  });

  it('decides from its stores, online and with the fallback models, and keeps the cap ledger across opens', async () => {
    const atMs = manifest.endTs - MS_PER_DAY / 2;
    const d = await openDeployment({ dir: built.dir, clock: new ManualClock(atMs) });
    let sent: { user: string; channel: 'email' | 'push' | 'in_app' }[] = [];
    try {
      const all = await d.campaigns.list();
      const campaigns = all.filter((c) => c.launchTs <= atMs).slice(-4);
      expect(campaigns.length).toBe(4);
      const r = await d.decide(campaigns, { atMs });
      const members = r.campaigns.reduce((n, c) => n + c.members.length, 0);
      expect(members).toBeGreaterThan(0);
      for (const c of r.campaigns.slice(0, 1))
        sent = [...c.members].map((row) => ({ user: c.userIds[row] as string, channel: c.campaign.channel }));
      const fallback = await (await import('./decide.js')).decide(campaigns, d.deps({ models: 'fallback' }), {
        atMs,
        commit: false,
      });
      expect(fallback.campaigns.map((c) => c.model.id)).toEqual(campaigns.map((c) => built.models[c.goal]?.fallback));
      await d.flush();
    } finally {
      await d.close();
    }
    const again = await openDeployment({ dir: built.dir, clock: new ManualClock(atMs) });
    try {
      expect(sent.length).toBeGreaterThan(0);
      for (const s of sent.slice(0, 20)) expect(again.ledger.count(s.user, s.channel, atMs)).toBeGreaterThan(0);
    } finally {
      await again.close();
    }
  });

  it('refuses a directory that is not a deployment, and will not build over a used one', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty, { recursive: true });
    await expect(Deployment.open({ dir: empty })).rejects.toBeInstanceOf(NotFoundError);
    writeFileSync(join(empty, 'deployment.json'), '{"format":"something-else","version":3}');
    await expect(Deployment.open({ dir: empty })).rejects.toThrow(/expected adnova-deployment v1/);
    await expect(
      deployWorld({ worldDir: join(dir, 'w'), dir: built.dir, definitionsPath: DEFINITIONS }),
    ).rejects.toBeInstanceOf(InvalidInputError);
  });
});
