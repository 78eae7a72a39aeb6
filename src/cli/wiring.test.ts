import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deploymentLayout, deployWorld } from '../decision/index.js';
import { openTombstoneLedger } from '../privacy/index.js';
import { type RunningServer, startServing } from '../serving/index.js';
import { generateWorld } from '../world/index.js';
import { servingServices } from './wiring.js';

const DEFINITIONS = join(import.meta.dirname, '..', 'features', 'examples', 'world-features.yaml');

/** The API with the real audience and privacy services behind its ports, as `adnova serve` runs it. */
describe('serving with audiences and deletions wired in', () => {
  let dir: string;
  let srv: RunningServer;
  let admin: string;
  let advertiser: string;
  const campaignId = 'wired-launch';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'adnova-wiring-'));
    await generateWorld({ outDir: join(dir, 'w'), users: 900, days: 8, seed: 11, features: 24 });
    const d = join(dir, 'd');
    await deployWorld({ worldDir: join(dir, 'w'), dir: d, definitionsPath: DEFINITIONS, gbdt: { trees: 15 } });
    const ledger = await openTombstoneLedger({ dir: deploymentLayout(d).privacy });
    srv = await startServing({
      dir: d,
      port: 0,
      clock: 'deployment',
      rateLimit: false,
      logger: false,
      tombstones: ledger,
      services: (ctx) => servingServices(ctx, ledger, { applyEveryMs: 50, batchIntervalMs: 0 }),
    });
    admin = srv.keys.create({ role: 'admin' }).key;
    advertiser = srv.keys.create({ role: 'advertiser', advertiserId: 'adv-wired' }).key;
    const vertical = (await srv.deployment.campaigns.list())[0]?.vertical ?? 'fashion';
    await srv.deployment.campaigns.create({
      id: campaignId,
      advertiserId: 'adv-wired',
      channel: 'email',
      goal: 'open',
      vertical,
      desiredAudienceSize: 60,
      schedule: { launch: srv.deployment.manifest.asOfMs - 3_600_000 },
    });
  }, 240_000);
  afterAll(async () => {
    await srv?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const call = async (method: string, url: string, key: string, body?: unknown) => {
    const r = await srv.app.inject({
      method: method as 'GET',
      url,
      headers: { authorization: `Bearer ${key}` },
      ...(body !== undefined ? { payload: body as object } : {}),
    });
    return { status: r.statusCode, body: r.json() as Record<string, unknown> };
  };
  const until = async (f: () => Promise<boolean>) => {
    for (let i = 0; i < 400 && !(await f()); i++) await new Promise((r) => setTimeout(r, 50));
  };

  it('builds an audience over HTTP, deletes one of its members, and the member is gone from it and from decisions', async () => {
    const launched = await call('POST', `/v1/campaigns/${campaignId}/audience/builds`, advertiser);
    expect(launched.status).toBe(202);
    await until(
      async () => (await call('GET', `/v1/campaigns/${campaignId}/audience`, advertiser)).body['state'] !== 'running',
    );
    const status = await call('GET', `/v1/campaigns/${campaignId}/audience`, advertiser);
    expect(status.body).toMatchObject({ state: 'done', version: 1 });
    const members = await call('GET', `/v1/campaigns/${campaignId}/audience/members?offset=0&limit=100`, advertiser);
    const ids = members.body['userIds'] as string[];
    expect(ids.length).toBe(60);
    const gone = ids[0] as string;

    expect((await call('POST', '/v1/deletions', advertiser, { userIds: [gone] })).status).toBe(403);
    const req = await call('POST', '/v1/deletions', admin, { userIds: [gone] });
    expect(req.status).toBe(202);
    const id = req.body['id'] as string;
    await until(async () => (await call('GET', `/v1/deletions/${id}`, admin)).body['status'] === 'complete');
    const receipt = await call('GET', `/v1/deletions/${id}`, admin);
    expect(receipt.body['status']).toBe('complete');
    const stores = receipt.body['stores'] as Record<string, { batchRecords: number; leftovers: number }>;
    expect(Object.keys(stores)).toEqual(expect.arrayContaining(['audiences', 'requestLog', 'offline']));
    expect(stores['audiences']?.batchRecords).toBeGreaterThan(0);
    for (const s of Object.values(stores)) expect(s.leftovers).toBe(0);

    const after = await call('GET', `/v1/campaigns/${campaignId}/audience/members?offset=0&limit=100`, advertiser);
    expect(after.body['userIds'] as string[]).not.toContain(gone);
    const decision = await call('POST', '/v1/decisions', advertiser, { userId: gone, campaignIds: [campaignId] });
    expect(decision.status).toBe(200);
    const answers = decision.body['campaigns'] as { included: boolean }[];
    expect(answers.every((a) => !a.included)).toBe(true);
  }, 120_000);
});
