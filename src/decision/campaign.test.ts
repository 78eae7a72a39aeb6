import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { exitCodeFor } from '../core/index.js';
import { budgetCap, campaignToSpec, parseCampaignSpec } from './campaign.js';
import { FileCampaignRegistry, isLive } from './campaign-registry.js';
import { CampaignNotFoundError, CampaignSpecError, CampaignStateError, DecisionIndexCorruptError } from './errors.js';

const spec = {
  id: 'c0000001',
  advertiserId: 'a000001',
  channel: 'email',
  goal: 'click',
  vertical: 'apparel',
  targeting: { countries: ['US', 'GB'], activeWithinDays: 7, features: ['user_batch.lifetime_value > 100'] },
  desiredAudienceSize: 1000,
  budgetUsd: 1,
  pricePerSendUsd: 0.001,
  schedule: { launch: '2026-03-01T00:00:00Z' },
};

function problemsOf(input: unknown): { field: string; message: string; value: string }[] {
  try {
    parseCampaignSpec(input);
  } catch (err) {
    expect(err).toBeInstanceOf(CampaignSpecError);
    expect(exitCodeFor(err)).toBe(2);
    return [...(err as CampaignSpecError).problems];
  }
  throw new Error('expected the spec to be refused');
}

describe('campaign spec', () => {
  it('parses a full spec with defaults, times in UTC ms and predicates', () => {
    const c = parseCampaignSpec(spec);
    expect(c.launchTs).toBe(Date.UTC(2026, 2, 1));
    expect(c.endTs).toBeNull();
    expect(c.targeting.features).toEqual([
      { view: 'user_batch', feature: 'lifetime_value', op: '>', value: 100, text: 'user_batch.lifetime_value > 100' },
    ]);
    expect(c.holdoutShare).toBe(0);
    expect(c.status).toBe('active');
    expect(c.version).toBe(1);
    expect(budgetCap(c)).toBe(1000);
    expect(parseCampaignSpec(campaignToSpec(c))).toEqual(c);
  });

  it('names the field, the value and what was expected for each problem', () => {
    const problems = problemsOf({
      ...spec,
      channel: 'sms',
      desiredAudienceSize: -5,
      targeting: { countries: ['usa'], features: ['lifetime_value >> 3'] },
      colour: 'red',
    });
    const byField = Object.fromEntries(problems.map((p) => [p.field, p]));
    expect(byField.channel?.message).toContain('email, push, in_app');
    expect(byField.channel?.value).toBe('"sms"');
    expect(byField.desiredAudienceSize?.value).toBe('-5');
    expect(byField['targeting.countries.0']?.message).toContain('ISO 3166-1');
    expect(byField['targeting.features.0']?.message).toContain('<view>.<feature> <op> <number>');
    expect(problems.some((p) => p.message.includes('colour'))).toBe(true);
  });

  it('reports missing required fields and cross-field rules', () => {
    expect(problemsOf({ ...spec, goal: undefined }).map((p) => p.field)).toContain('goal');
    expect(
      problemsOf({ ...spec, schedule: { launch: '2026-03-02T00:00:00Z', end: '2026-03-01T00:00:00Z' } })[0]?.field,
    ).toBe('schedule.end');
    expect(problemsOf({ ...spec, holdoutShare: 0.5, explorationShare: 0.5 })[0]?.field).toBe('explorationShare');
    expect(problemsOf({ ...spec, pricePerSendUsd: undefined })[0]?.field).toBe('pricePerSendUsd');
    expect(problemsOf({ ...spec, schedule: { launch: 'next tuesday' } })[0]?.field).toBe('schedule.launch');
    expect(problemsOf({ ...spec, holdoutShare: 0.7 })[0]?.message).toContain('0 to 0.5');
  });

  it('caps the audience by budget without losing a send to float noise', () => {
    expect(budgetCap(parseCampaignSpec({ ...spec, budgetUsd: 0.3, pricePerSendUsd: 0.001 }))).toBe(300);
    expect(budgetCap(parseCampaignSpec({ ...spec, budgetUsd: undefined, pricePerSendUsd: undefined }))).toBe(
      Number.POSITIVE_INFINITY,
    );
  });
});

describe('FileCampaignRegistry', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const registry = () => {
    const dir = mkdtempSync(join(tmpdir(), 'adnova-campaigns-'));
    dirs.push(dir);
    return new FileCampaignRegistry(dir, () => Date.UTC(2026, 2, 1));
  };

  it('creates, lists, pauses and resumes with a version per change', async () => {
    const r = registry();
    const c = await r.create(spec);
    const generated = await r.create({ ...spec, id: undefined, advertiserId: 'a000002' });
    expect(generated.id).toMatch(/^cmp_/);
    expect((await r.list()).map((x) => x.id).sort()).toEqual([c.id, generated.id].sort());
    expect((await r.list({ advertiserId: 'a000002' })).map((x) => x.id)).toEqual([generated.id]);
    const paused = await r.setStatus(c.id, 'paused');
    expect(paused.version).toBe(2);
    expect(await r.setStatus(c.id, 'paused')).toEqual(paused); // idempotent
    expect(isLive(paused, Date.UTC(2026, 2, 2))).toBe(false);
    expect((await r.list({ liveAt: Date.UTC(2026, 2, 2) })).map((x) => x.id)).toEqual([generated.id]);
    await r.setStatus(c.id, 'active');
    expect((await r.history(c.id)).map((x) => [x.version, x.status])).toEqual([
      [1, 'active'],
      [2, 'paused'],
      [3, 'active'],
    ]);
    // a second registry on the same directory reads what the first wrote
    expect((await new FileCampaignRegistry(r.dir).getOrThrow(c.id)).version).toBe(3);
  });

  it('refuses a duplicate id, an unknown id and a corrupt file with their own errors', async () => {
    const r = registry();
    await r.create(spec);
    await expect(r.create(spec)).rejects.toBeInstanceOf(CampaignStateError);
    await expect(r.getOrThrow('nope')).rejects.toBeInstanceOf(CampaignNotFoundError);
    await expect(r.setStatus('nope', 'paused')).rejects.toBeInstanceOf(CampaignNotFoundError);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(r.file, '{"format":"something-else"}');
    const err = await r.list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecisionIndexCorruptError);
    expect(exitCodeFor(err)).toBe(1);
  });

  it('keeps what was accepted when a spec in a batch is bad', async () => {
    const r = registry();
    await r.create(spec);
    await expect(
      r.createMany([
        { ...spec, id: 'c2' },
        { ...spec, id: 'c3', goal: 'buy' },
      ]),
    ).rejects.toBeInstanceOf(CampaignSpecError);
    expect((await r.list()).map((c) => c.id)).toEqual(['c0000001']);
    expect(await r.createMany([spec, { ...spec, id: 'c2' }])).toEqual({ created: 1, skipped: 1 });
  });
});

describe('campaign CLI vocabulary', () => {
  it('lists the same statuses as the decision module (the CLI keeps its own copy for start-up time)', async () => {
    const { CAMPAIGN_STATUSES } = await import('./campaign.js');
    const cli = await import('node:fs').then((fs) =>
      fs.readFileSync(new URL('../cli/commands/campaign.ts', import.meta.url), 'utf8'),
    );
    expect(cli).toContain(`const CAMPAIGN_STATUSES = [${CAMPAIGN_STATUSES.map((s) => `'${s}'`).join(', ')}] as const;`);
  });
});
