import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, MS_PER_HOUR } from '../core/index.js';
import {
  type Campaign,
  CampaignNotFoundError,
  type Deployment,
  deployWorld,
  ModelMissingError,
  openDeployment,
  POLICY_OUTCOMES,
  type WorldDeployment,
} from '../decision/index.js';
import { generateWorld, type WorldManifest } from '../world/index.js';
import { AudienceService } from './audience-service.js';
import { memberBitmapOf } from './codec.js';
import { AudienceCampaignStateError, AudienceJobError } from './errors.js';
import { readMembersFile } from './export-files.js';
import { FileAudienceStore, membersOf } from './file-audience-store.js';
import type { ShardRunner, ShardTask } from './shard-jobs.js';
import { runShardTask } from './shard-jobs.js';

const DEFINITIONS = join(import.meta.dirname, '..', 'features', 'examples', 'world-features.yaml');

describe('audiences built from a World deployment', () => {
  let dir: string;
  let manifest: WorldManifest;
  let built: WorldDeployment;
  let d: Deployment;
  let atMs: number;
  let campaign: Campaign;
  let service: AudienceService;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'adnova-audience-'));
    manifest = await generateWorld({ outDir: join(dir, 'w'), users: 900, days: 8, seed: 11, features: 24 });
    built = await deployWorld({
      worldDir: join(dir, 'w'),
      dir: join(dir, 'd'),
      definitionsPath: DEFINITIONS,
      gbdt: { trees: 15 },
      controlShare: 0.05,
    });
    atMs = manifest.endTs - 2 * MS_PER_HOUR;
    d = await openDeployment({ dir: built.dir, clock: new ManualClock(atMs) });
    const vertical = (await d.campaigns.list())[0]?.vertical as string;
    campaign = await d.campaigns.create({
      id: 'aud-push-1',
      advertiserId: 'adv1',
      channel: 'push',
      goal: 'click',
      vertical,
      desiredAudienceSize: 150,
      holdoutShare: 0.1,
      explorationShare: 0.1,
      schedule: { launch: atMs - MS_PER_HOUR },
    });
    service = new AudienceService({ deployment: d });
  }, 240_000);
  afterAll(async () => {
    await d?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('stores what the decision decides, user by user, with a bitmap of the members', async () => {
    const b = await service.build(campaign.id, { atMs });
    expect(b.summary.version).toBe(1);
    expect(b.summary.members).toBeGreaterThan(50);
    const r = await d.decide([campaign], { atMs, commit: false });
    const dec = r.campaigns[0] as (typeof r.campaigns)[number];
    const v = await service.store.get(campaign.id);
    expect(v.candidates.userIds).toEqual(dec.userIds);
    for (let i = 0; i < dec.userIds.length; i++) {
      expect(v.selection.outcome[i]).toBe(dec.outcome[i]);
      expect(Object.is(v.candidates.scores[i], dec.scores[i])).toBe(true);
    }
    const memberIds = [...dec.members].map((row) => dec.userIds[row]);
    expect(membersOf(v).map((m) => m.userId)).toEqual(memberIds);
    const bitmap = memberBitmapOf((v as typeof v & { memberBitmap: Uint8Array }).memberBitmap);
    expect(bitmap.size).toBe(memberIds.length);
    for (const u of memberIds) expect(bitmap.has(d.index.users.denseOf(u as string) as number)).toBe(true);
    // every member names its model and when its features were current
    const m = membersOf(v)[0];
    expect(m?.modelId).toBe(built.models['click']?.champion);
    expect(m?.featuresTs).toBeLessThanOrEqual(atMs);
    expect(['exploit', 'explore']).toContain(m?.reason);
  });

  it('stage counts add up from the population to the members', async () => {
    const s = (await service.store.current(campaign.id)) as NonNullable<Awaited<ReturnType<AudienceStore['current']>>>;
    const stages = s.stages;
    expect(stages[0]?.rule).toBe('known_user');
    for (let i = 1; i < stages.length; i++)
      expect(stages[i]?.remaining).toBeLessThanOrEqual(stages[i - 1]?.remaining as number);
    expect(stages.some((x) => x.rule === 'control_group')).toBe(true);
    expect(stages.some((x) => x.rule === 'holdout')).toBe(true);
    expect(stages[stages.length - 1]?.remaining).toBe(s.members);
    const retrieved = [...stages].reverse().find((x) => x.stage === 'retrieve')?.remaining;
    expect(retrieved).toBe(s.candidates);
    const total = POLICY_OUTCOMES.reduce((n, o) => n + s.counts[o], 0);
    expect(total).toBe(s.candidates);
    expect(s.counts.exploit + s.counts.explore).toBe(s.members);
  });

  it('exports Parquet and CSV that read back equal to the stored members', async () => {
    const v = await service.store.get(campaign.id);
    for (const format of ['parquet', 'csv'] as const) {
      const out = join(dir, 'exports', `a.${format}`);
      const rec = await service.export(campaign.id, { out, format });
      expect(rec.rows).toBe(v.selection.members.length);
      const back = await readMembersFile(out, format);
      const want = membersOf(v).map((m) => ({ ...m, featuresTs: Math.round(m.featuresTs) }));
      expect(back).toEqual(want);
    }
  });

  it('a sharded build gives the same audience as one decision', async () => {
    const one = await service.store.get(campaign.id, 1);
    const b = await service.build(campaign.id, { atMs, shards: 3 });
    const three = await service.store.get(campaign.id, b.summary.version);
    expect(three.candidates.userIds).toEqual(one.candidates.userIds);
    expect([...three.selection.outcome]).toEqual([...one.selection.outcome]);
    expect([...three.selection.members]).toEqual([...one.selection.members]);
    expect([...three.candidates.scores]).toEqual([...one.candidates.scores]);
    expect(three.summary.stages).toEqual(one.summary.stages);
    expect(three.summary.origin.shards).toBe(3);
  });

  it('a failed build (a crashed shard, a failed write) leaves the previous version current and readable', async () => {
    const before = (await service.store.current(campaign.id))?.version as number;
    let ran = 0;
    const crashing: ShardRunner = {
      name: 'crashing',
      run: async (tasks: readonly ShardTask[]) => {
        await runShardTask(d, tasks[0] as ShardTask);
        ran++;
        throw new AudienceJobError(`shard 1 of ${tasks.length} failed`);
      },
      close: async () => {},
    };
    const s2 = new AudienceService({ deployment: d, runner: crashing });
    await expect(s2.build(campaign.id, { atMs, shards: 2 })).rejects.toBeInstanceOf(AudienceJobError);
    expect(ran).toBe(1);
    expect((await service.store.current(campaign.id))?.version).toBe(before);
    expect((await service.store.members(campaign.id)).total).toBeGreaterThan(0);
    // the disk refuses the version file: still the previous one
    const next = String(before + 1).padStart(6, '0');
    const blocker = join(d.layout.audiences, campaign.id, `v${next}.aud.tmp-${process.pid}`);
    mkdirSync(blocker, { recursive: true });
    await expect(service.build(campaign.id, { atMs })).rejects.toThrow();
    rmSync(blocker, { recursive: true, force: true });
    expect((await service.store.current(campaign.id))?.version).toBe(before);
    expect((await service.store.get(campaign.id)).selection.members.length).toBeGreaterThan(0);
  });

  it('refuses an unknown campaign, a paused one and one without a model, with typed errors', async () => {
    await expect(service.build('no-such-campaign', { atMs })).rejects.toBeInstanceOf(CampaignNotFoundError);
    const paused = await d.campaigns.create({ ...specOf(campaign), id: 'aud-paused' });
    await d.campaigns.setStatus(paused.id, 'paused');
    await expect(service.build(paused.id, { atMs })).rejects.toBeInstanceOf(AudienceCampaignStateError);
    const bare = join(dir, 'bare');
    cpSync(built.dir, bare, { recursive: true });
    rmSync(join(bare, 'models'), { recursive: true, force: true });
    mkdirSync(join(bare, 'models'));
    const nd = await openDeployment({ dir: bare, clock: new ManualClock(atMs) });
    try {
      await expect(new AudienceService({ deployment: nd }).build(campaign.id, { atMs })).rejects.toBeInstanceOf(
        ModelMissingError,
      );
      expect(await new FileAudienceStore(nd.layout.audiences).current('aud-paused')).toBeNull();
    } finally {
      await nd.close();
    }
  });

  it('the CLI: build, describe and list with --json; bad input exits 2 with a clear message', async () => {
    const { runCliCaptured } = await import('../cli/test-io.js');
    const dep = ['--deployment', built.dir, '--at', String(atMs)];
    const ok = await runCliCaptured(['audience', 'build', '--campaign', campaign.id, ...dep, '--json']);
    expect(ok.code).toBe(0);
    const out = JSON.parse(ok.out) as { version: number; members: number; outcomes: { outcome: string }[] };
    expect(out.members).toBeGreaterThan(0);
    expect(out.outcomes.map((o) => o.outcome)).toContain('exploit');
    const desc = await runCliCaptured(['audience', 'describe', '--campaign', campaign.id, '--deployment', built.dir]);
    expect(desc.code).toBe(0);
    expect(desc.out).toMatch(/retrieve: consent/);
    const unknown = await runCliCaptured(['audience', 'build', '--campaign', 'nope', ...dep]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/CAMPAIGN_NOT_FOUND.*nope/);
    await d.campaigns.create({ ...specOf(campaign), id: 'aud-paused-cli' });
    await d.campaigns.setStatus('aud-paused-cli', 'paused');
    const paused = await runCliCaptured(['audience', 'build', '--campaign', 'aud-paused-cli', ...dep]);
    expect(paused.code).toBe(2);
    expect(paused.err).toMatch(/is paused; resume it/);
    const badShards = await runCliCaptured(['audience', 'build', '--campaign', campaign.id, ...dep, '--shards', '0']);
    expect(badShards.code).toBe(2);
    expect(badShards.err).toMatch(/--shards expects a positive integer, got "0"/);
  });

  it('diffs two versions: who joined, who left and why', async () => {
    const small = await d.campaigns.create({ ...specOf(campaign), id: 'aud-later' });
    await service.build(small.id, { atMs });
    // the World moves on: a later decision time drops users whose activity window passed, others join
    await service.build(small.id, { atMs: atMs + 20 * MS_PER_HOUR });
    const diff = await service.diff(small.id);
    expect(diff.from).toBe(1);
    expect(diff.to).toBe(2);
    expect(diff.added.length).toBeGreaterThan(0);
    expect(diff.removed.length).toBe(diff.added.length); // the same number of slots
    const a = await service.store.get(small.id, 1);
    const b = await service.store.get(small.id, 2);
    const inA = new Set(membersOf(a).map((m) => m.userId));
    const inB = new Set(membersOf(b).map((m) => m.userId));
    expect(diff.added.map((e) => e.userId).sort()).toEqual([...inB].filter((u) => !inA.has(u)).sort());
    expect(diff.removed.map((e) => e.userId).sort()).toEqual([...inA].filter((u) => !inB.has(u)).sort());
    expect(diff.kept).toBe([...inA].filter((u) => inB.has(u)).length);
    for (const e of diff.removed) expect(['exploit', 'explore']).not.toContain(e.after);
  });

  it('removes users from every version and export, and counts them (privacy)', async () => {
    const v = await service.store.get(campaign.id, 1);
    const victims = membersOf(v)
      .slice(0, 3)
      .map((m) => m.userId);
    expect(await service.store.countUsers([...victims, 'nobody'])).toBe(3);
    const { removed } = await service.store.removeUsers(victims);
    expect(removed).toBeGreaterThanOrEqual(3 * 2); // at least in two versions and the exports
    expect(await service.store.countUsers(victims)).toBe(0);
    const after = await service.store.get(campaign.id, 1);
    expect(after.selection.members.length).toBe(v.selection.members.length - 3);
    const parquet = await readMembersFile(join(dir, 'exports', 'a.parquet'), 'parquet');
    expect(parquet.some((m) => victims.includes(m.userId))).toBe(false);
  });
});

function specOf(c: Campaign) {
  return {
    advertiserId: c.advertiserId,
    channel: c.channel,
    goal: c.goal,
    vertical: c.vertical,
    desiredAudienceSize: c.desiredAudienceSize,
    holdoutShare: c.holdoutShare,
    explorationShare: c.explorationShare,
    schedule: { launch: c.launchTs },
  };
}

type AudienceStore = import('./audience.js').AudienceStore;
