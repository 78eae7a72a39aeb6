import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock, MS_PER_DAY } from '../core/index.js';
import {
  type Campaign,
  campaignToSpec,
  candidateReason,
  type Deployment,
  decide,
  deployWorld,
  openDeployment,
} from '../decision/index.js';
import { MemoryOnlineStore, type OnlineStore } from '../features/index.js';
import { generateWorld } from '../world/index.js';
import { FileKeyStore } from './keys.js';
import type { AudienceApi, AudienceBuildStatus, DeletionReceipt, DeletionRequests } from './ports.js';
import { RequestLog } from './request-log.js';
import { buildServer } from './server.js';
import { BatchSnapshotSource } from './snapshot-source.js';

const DEFINITIONS = join(import.meta.dirname, '..', 'features', 'examples', 'world-features.yaml');

/** A small real deletion service: requests held in memory, users erased from the request log. */
class InTestDeletions implements DeletionRequests {
  readonly requests = new Map<string, DeletionReceipt>();
  constructor(readonly log: RequestLog) {}
  async submit(userIds: readonly string[], requestedBy: string) {
    const id = `del_${this.requests.size + 1}`;
    const { removed } = await this.log.removeUsers(userIds);
    const remaining = await this.log.countUsers(userIds);
    this.requests.set(id, {
      id,
      status: remaining === 0 ? 'done' : 'failed',
      requestedBy,
      userCount: userIds.length,
      removed,
    });
    return { id, status: 'accepted' };
  }
  async status(id: string) {
    return this.requests.get(id) ?? null;
  }
}

/** A small real audience service: builds an audience with the decision library over all candidates. */
class InTestAudiences implements AudienceApi {
  readonly versions = new Map<
    string,
    { userIds: string[]; stages: { stage: string; rule: string; remaining: number }[] }[]
  >();
  constructor(readonly d: Deployment) {}
  async build(campaignId: string): Promise<AudienceBuildStatus> {
    if (campaignId.endsWith('boom')) throw new Error(`secret path /etc/${campaignId} exploded`);
    const c = await this.d.campaigns.getOrThrow(campaignId);
    const r = await decide([c], this.d.deps(), { atMs: this.d.clock.now(), commit: false });
    const cd = r.campaigns[0];
    const userIds = cd ? [...cd.members].map((row) => cd.userIds[row] as string).sort() : [];
    const list = this.versions.get(campaignId) ?? [];
    list.push({ userIds, stages: cd ? [...cd.stages] : [] });
    this.versions.set(campaignId, list);
    return { campaignId, state: 'done', version: list.length };
  }
  async status(campaignId: string): Promise<AudienceBuildStatus | null> {
    const list = this.versions.get(campaignId);
    return list ? { campaignId, state: 'done', version: list.length } : null;
  }
  async members(campaignId: string, o: { version?: number; offset: number; limit: number }) {
    const list = this.versions.get(campaignId);
    const version = o.version ?? list?.length ?? 0;
    const v = list?.[version - 1];
    if (!v) return null;
    return { version, total: v.userIds.length, userIds: v.userIds.slice(o.offset, o.offset + o.limit) };
  }
  async export(campaignId: string, o: { version?: number; format: 'csv' | 'parquet' }) {
    return { campaignId, format: o.format, path: `/exports/${campaignId}.${o.format}` };
  }
  async diff(campaignId: string, from: number, to: number) {
    const list = this.versions.get(campaignId);
    const a = list?.[from - 1];
    const b = list?.[to - 1];
    if (!a || !b) return null;
    const sa = new Set(a.userIds);
    const sb = new Set(b.userIds);
    return { joined: b.userIds.filter((u) => !sa.has(u)).length, left: a.userIds.filter((u) => !sb.has(u)).length };
  }
  async stages(campaignId: string, version?: number) {
    const list = this.versions.get(campaignId);
    return list?.[(version ?? list.length) - 1]?.stages ?? null;
  }
}

/** An online store that answers reads late (a stalled Redis): delegates to a real store. */
class SlowOnlineStore implements OnlineStore {
  readonly kind = 'slow';
  constructor(
    readonly inner: OnlineStore,
    readonly delayMs: number,
  ) {}
  write(...a: Parameters<OnlineStore['write']>) {
    return this.inner.write(...a);
  }
  async read(...a: Parameters<OnlineStore['read']>) {
    await new Promise((r) => setTimeout(r, this.delayMs));
    return this.inner.read(...a);
  }
  deleteEntities(ids: readonly string[]) {
    return this.inner.deleteEntities(ids);
  }
  freshness(...a: Parameters<OnlineStore['freshness']>) {
    return this.inner.freshness(...a);
  }
  close() {
    return this.inner.close();
  }
}

describe('the serving API on a deployment built from a World', () => {
  let dir: string;
  let deployment: Deployment;
  let app: FastifyInstance;
  let keys: FileKeyStore;
  let log: RequestLog;
  let atMs: number;
  let admin: string;
  let advA: string;
  let advB: string;
  let revoked: string;
  let mine: Campaign[];
  let users: string[];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'adnova-serving-'));
    const manifest = await generateWorld({ outDir: join(dir, 'w'), users: 900, days: 8, seed: 11, features: 24 });
    await deployWorld({
      worldDir: join(dir, 'w'),
      dir: join(dir, 'd'),
      definitionsPath: DEFINITIONS,
      gbdt: { trees: 15 },
    });
    atMs = manifest.endTs - MS_PER_DAY / 2;
    deployment = await openDeployment({ dir: join(dir, 'd'), clock: new ManualClock(atMs) });
    keys = new FileKeyStore(deployment.layout.keys, () => atMs);
    admin = keys.create({ role: 'admin' }).key;
    advA = keys.create({ role: 'advertiser', advertiserId: 'adv-a' }).key;
    advB = keys.create({ role: 'advertiser', advertiserId: 'adv-b' }).key;
    const r = keys.create({ role: 'advertiser', advertiserId: 'adv-a' });
    revoked = r.key;
    keys.revoke(r.record.id);
    log = new RequestLog({ dir: deployment.layout.requestLog, flushIntervalMs: 0 });
    app = await buildServer({
      deployment,
      keys,
      requestLog: log,
      deletions: new InTestDeletions(log),
      audiences: new InTestAudiences(deployment),
      decisionDeadlineMs: 5000, // a loaded test machine must not turn the equality check into a fallback
    });
    await app.servingReady();
    // adv-a's campaigns: copies of the World's live campaigns, created over the API
    const live = (await deployment.campaigns.list({ liveAt: atMs })).slice(-6);
    mine = [];
    for (const c of live) {
      const spec = { ...campaignToSpec(c), id: `a-${c.id}`, advertiserId: 'adv-a' };
      const res = await app.inject({ method: 'POST', url: '/v1/campaigns', headers: auth(advA), payload: spec });
      expect(res.statusCode, res.body).toBe(201);
      mine.push(await deployment.campaigns.getOrThrow(`a-${c.id}`));
    }
    users = deployment.index.users.usersOf(Uint32Array.from({ length: 60 }, (_, i) => i * 13));
  }, 300_000);
  afterAll(async () => {
    await app?.close();
    await deployment?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  it('answers health, readiness (with the snapshot loaded), metrics and its OpenAPI document', async () => {
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json().dependencies.batchSnapshot.state).toBe('ok');
    expect(ready.json().dependencies.onlineStore.breaker).toBe('closed');
    expect(ready.json().degraded).toEqual([]);
    const doc = (await app.inject('/docs/json')).json();
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/decisions', '/v1/decisions/batch', '/v1/campaigns/{id}', '/v1/deletions']),
    );
    expect(
      doc.paths['/v1/decisions'].post.requestBody.content['application/json'].schema.properties.campaignIds.maxItems,
    ).toBe(50);
    await app.inject({
      method: 'POST',
      url: '/v1/decisions',
      headers: auth(advA),
      payload: { userId: users[0], campaignIds: [mine[0]?.id] },
    });
    const metrics = await app.inject('/metrics');
    expect(metrics.body).toMatch(/adnova_serving_http_ms_bucket\{[^}]*route="\/v1\/decisions"/);
    expect(metrics.body).toMatch(/adnova_serving_decision_stage_ms_count\{stage="featureRead"\} [1-9]/);
  });

  it("gives each user the decision library's answer for the same user, campaign by campaign", async () => {
    const ids = mine.map((c) => c.id);
    let compared = 0;
    let included = 0;
    for (const u of users.slice(0, 25)) {
      const res = await app.inject({
        method: 'POST',
        url: '/v1/decisions',
        headers: auth(advA),
        payload: { userId: u, campaignIds: ids },
      });
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json();
      expect(body.featureSource).toBe('online');
      const lib = await decide(mine, deployment.deps(), { atMs, userIds: [u], commit: false });
      mine.forEach((c, k) => {
        const got = body.campaigns[k];
        expect(got.campaignId).toBe(c.id);
        const d = lib.campaigns[k];
        const row = d?.userIds.indexOf(u) ?? -1;
        if (!d || row < 0) {
          expect(got.included).toBe(false);
          expect(got.stage).toBe('retrieve');
          return;
        }
        const want = candidateReason(lib, d, row);
        expect(got).toMatchObject({
          included: want.included,
          score: want.score,
          rank: want.rank,
          rule: want.rule,
          modelVersion: d.model.id,
        });
        compared++;
        if (want.included) included++;
      });
    }
    expect(compared).toBeGreaterThan(10);
    expect(included).toBeGreaterThan(0);
    // the batch form is one decision over its users together (ranks and slots among them), as the library's
    const batchUsers = users.slice(0, 25);
    const batch = await app.inject({
      method: 'POST',
      url: '/v1/decisions/batch',
      headers: auth(advA),
      payload: { userIds: batchUsers, campaignIds: ids },
    });
    expect(batch.statusCode).toBe(200);
    const joint = await decide(mine, deployment.deps(), { atMs, userIds: batchUsers, commit: false });
    batchUsers.forEach((u, i) => {
      mine.forEach((_, k) => {
        const d = joint.campaigns[k];
        const row = d?.userIds.indexOf(u) ?? -1;
        const got = batch.json().users[i].campaigns[k];
        if (!d || row < 0) expect(got.included).toBe(false);
        else
          expect([got.included, got.score, got.rank]).toEqual(
            (({ included, score, rank }) => [included, score, rank])(candidateReason(joint, d, row)),
          );
      });
    });
  });

  it('explains on request, reports paused campaigns without scoring them, and pauses only its own', async () => {
    const [c0, c1] = mine as [Campaign, Campaign];
    const res = await app.inject({
      method: 'POST',
      url: '/v1/decisions',
      headers: auth(advA),
      payload: { userId: users[1], campaignIds: [c0.id], explain: true, context: { hourOfDay: 9 } },
    });
    expect(res.statusCode).toBe(200);
    expect(typeof res.json().campaigns[0].detail).toBe('string');
    expect(
      (await app.inject({ method: 'POST', url: `/v1/campaigns/${c1.id}/pause`, headers: auth(advB) })).statusCode,
    ).toBe(404);
    const paused = await app.inject({ method: 'POST', url: `/v1/campaigns/${c1.id}/pause`, headers: auth(advA) });
    expect(paused.json()).toMatchObject({ status: 'paused', version: 2 });
    const after = await app.inject({
      method: 'POST',
      url: '/v1/decisions',
      headers: auth(advA),
      payload: { userId: users[1], campaignIds: [c0.id, c1.id] },
    });
    expect(after.json().campaigns[1]).toMatchObject({
      campaignId: c1.id,
      included: false,
      rule: 'campaign_not_live',
      detail: 'paused',
    });
    expect(
      (await app.inject({ method: 'POST', url: `/v1/campaigns/${c1.id}/resume`, headers: auth(advA) })).json().status,
    ).toBe('active');
    const list = await app.inject({ url: '/v1/campaigns', headers: auth(advA) });
    expect(
      list
        .json()
        .campaigns.map((c: { id: string }) => c.id)
        .sort(),
    ).toEqual(mine.map((c) => c.id).sort());
    expect((await app.inject({ url: '/v1/campaigns', headers: auth(advB) })).json().campaigns).toEqual([]);
    expect((await app.inject({ url: '/v1/campaigns', headers: auth(admin) })).json().campaigns.length).toBeGreaterThan(
      150,
    );
    expect((await app.inject({ url: `/v1/campaigns/${c0.id}`, headers: auth(advA) })).json().advertiserId).toBe(
      'adv-a',
    );
    const dup = await app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: auth(advA),
      payload: { ...campaignToSpec(c0) },
    });
    expect(dup.statusCode).toBe(409);
  });

  it("refuses every route without a key, with a revoked key, and another advertiser's campaigns", async () => {
    const c = (mine[0] as Campaign).id;
    const routes: { method: 'GET' | 'POST'; url: string; payload?: unknown; adminOnly?: boolean }[] = [
      { method: 'POST', url: '/v1/decisions', payload: { userId: users[0], campaignIds: [c] } },
      { method: 'POST', url: '/v1/decisions/batch', payload: { userIds: [users[0]], campaignIds: [c] } },
      { method: 'GET', url: `/v1/campaigns/${c}` },
      { method: 'POST', url: `/v1/campaigns/${c}/pause` },
      { method: 'POST', url: `/v1/campaigns/${c}/resume` },
      { method: 'POST', url: `/v1/campaigns/${c}/audience/builds` },
      { method: 'GET', url: `/v1/campaigns/${c}/audience` },
      { method: 'GET', url: `/v1/campaigns/${c}/audience/members` },
      { method: 'POST', url: `/v1/campaigns/${c}/audience/exports`, payload: { format: 'csv' } },
      { method: 'GET', url: `/v1/campaigns/${c}/audience/diff?from=1&to=1` },
      { method: 'GET', url: `/v1/campaigns/${c}/audience/stages` },
      { method: 'POST', url: '/v1/deletions', payload: { userIds: ['u1'] }, adminOnly: true },
      { method: 'GET', url: '/v1/deletions/del_1', adminOnly: true },
      { method: 'GET', url: '/v1/keys', adminOnly: true },
      { method: 'POST', url: '/v1/keys', payload: { role: 'admin' }, adminOnly: true },
      { method: 'POST', url: '/v1/keys/key_x/revoke', adminOnly: true },
    ];
    for (const r of routes) {
      const base = { method: r.method, url: r.url, ...(r.payload ? { payload: r.payload as object } : {}) };
      const none = await app.inject(base);
      expect(none.statusCode, `${r.method} ${r.url} without a key`).toBe(401);
      expect(none.json().error.code).toBe('UNAUTHORIZED');
      expect((await app.inject({ ...base, headers: auth(revoked) })).statusCode, `${r.url} revoked`).toBe(401);
      expect((await app.inject({ ...base, headers: { authorization: 'Bearer adn_key_zz_notakey' } })).statusCode).toBe(
        401,
      );
      const other = await app.inject({ ...base, headers: auth(advB) });
      expect(other.statusCode, `${r.method} ${r.url} with another advertiser's key: ${other.body}`).toBe(
        r.adminOnly ? 403 : 404,
      );
    }
    // and creating a campaign for someone else
    const spec = { ...campaignToSpec(mine[0] as Campaign), id: 'b-steal', advertiserId: 'adv-a' };
    const steal = await app.inject({ method: 'POST', url: '/v1/campaigns', headers: auth(advB), payload: spec });
    expect(steal.statusCode).toBe(403);
  });

  it('names the field, the value and what was expected for bad input; 404, 413 and never a stack', async () => {
    const c = (mine[0] as Campaign).id;
    const bad = await app.inject({
      method: 'POST',
      url: '/v1/decisions',
      headers: auth(advA),
      payload: { userId: users[0], campaignIds: [c], context: { hourOfDay: 31 } },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.problems).toEqual([
      { field: 'context.hourOfDay', value: 31, expected: 'expected a whole hour 0..23' },
    ]);
    const many = await app.inject({
      method: 'POST',
      url: '/v1/decisions',
      headers: auth(advA),
      payload: { userId: users[0], campaignIds: Array.from({ length: 51 }, (_, i) => `c${i}`) },
    });
    expect(many.statusCode).toBe(400);
    expect(many.json().error.problems[0]).toMatchObject({
      field: 'campaignIds',
      expected: 'expected at most 50 campaign ids',
    });
    const batch = await app.inject({
      method: 'POST',
      url: '/v1/decisions/batch',
      headers: auth(advA),
      payload: { userIds: Array.from({ length: 1001 }, (_, i) => `u${i}`), campaignIds: [c] },
    });
    expect(batch.statusCode).toBe(400);
    const spec = await app.inject({
      method: 'POST',
      url: '/v1/campaigns',
      headers: auth(advA),
      payload: { ...campaignToSpec(mine[0] as Campaign), id: 'a-new', channel: 'fax' },
    });
    expect(spec.statusCode).toBe(400);
    expect(spec.json().error.problems).toEqual([
      { field: 'channel', value: '"fax"', expected: expect.stringMatching(/expected one of email/) },
    ]);
    const unknown = await app.inject({
      method: 'POST',
      url: '/v1/decisions',
      headers: auth(advA),
      payload: { userId: users[0], campaignIds: ['nope'] },
    });
    expect(unknown.statusCode).toBe(404);
    expect((await app.inject({ url: '/v1/nothing-here', headers: auth(advA) })).statusCode).toBe(404);
    const big = await app.inject({
      method: 'POST',
      url: '/v1/decisions',
      headers: { ...auth(advA), 'content-type': 'application/json' },
      payload: JSON.stringify({ userId: users[0], campaignIds: [c], pad: 'x'.repeat(20_000) }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('PAYLOAD_TOO_LARGE');
    const junk = await app.inject({
      method: 'POST',
      url: '/v1/decisions',
      headers: { ...auth(advA), 'content-type': 'application/json' },
      payload: '{"userId": ',
    });
    expect(junk.statusCode).toBe(400);
    // an error from inside a port: a JSON 500 with nothing of it
    await deployment.campaigns.create({ ...campaignToSpec(mine[0] as Campaign), id: 'a-boom', advertiserId: 'adv-a' });
    const boom = await app.inject({ method: 'POST', url: '/v1/campaigns/a-boom/audience/builds', headers: auth(advA) });
    expect(boom.statusCode).toBe(500);
    expect(boom.headers['content-type']).toMatch(/application\/json/);
    expect(boom.json()).toEqual({
      error: { code: 'INTERNAL', message: 'internal error', requestId: expect.any(String) },
    });
    expect(boom.body).not.toMatch(/secret|at |\.ts/);
  });

  it('serves audiences and deletions through their ports, deletions for admins only', async () => {
    const c = (mine[0] as Campaign).id;
    const built = await app.inject({ method: 'POST', url: `/v1/campaigns/${c}/audience/builds`, headers: auth(advA) });
    expect(built.statusCode).toBe(202);
    expect(built.json()).toMatchObject({ campaignId: c, state: 'done', version: 1 });
    await app.inject({ method: 'POST', url: `/v1/campaigns/${c}/audience/builds`, headers: auth(advA) });
    const members = await app.inject({
      url: `/v1/campaigns/${c}/audience/members?limit=5&offset=0`,
      headers: auth(advA),
    });
    expect(members.statusCode).toBe(200);
    expect(members.json().userIds.length).toBeLessThanOrEqual(5);
    expect(members.json().version).toBe(2);
    expect(
      (await app.inject({ url: `/v1/campaigns/${c}/audience/members?limit=0`, headers: auth(advA) })).statusCode,
    ).toBe(400);
    expect(
      (await app.inject({ url: `/v1/campaigns/${c}/audience/diff?from=1&to=2`, headers: auth(advA) })).json(),
    ).toEqual({ joined: 0, left: 0 });
    expect(
      (await app.inject({ url: `/v1/campaigns/${c}/audience/stages`, headers: auth(advA) })).json().stages.length,
    ).toBeGreaterThan(0);
    expect(
      (
        await app.inject({
          method: 'POST',
          url: `/v1/campaigns/${c}/audience/exports`,
          headers: auth(advA),
          payload: { format: 'parquet' },
        })
      ).json().format,
    ).toBe('parquet');

    // the request log holds what was served, and a deletion erases a user from it
    await log.flush();
    const u = users[0] as string;
    expect(await log.countUsers([u, 'never-seen'])).toBe(1);
    const sub = await app.inject({
      method: 'POST',
      url: '/v1/deletions',
      headers: auth(admin),
      payload: { userIds: [u] },
    });
    expect(sub.statusCode).toBe(202);
    const receipt = await app.inject({ url: `/v1/deletions/${sub.json().id}`, headers: auth(admin) });
    expect(receipt.json()).toMatchObject({ status: 'done', userCount: 1, requestedBy: expect.stringMatching(/^key_/) });
    expect(receipt.json().removed).toBeGreaterThan(0);
    expect(await log.countUsers([u])).toBe(0);
    expect((await app.inject({ url: '/v1/deletions/del_999', headers: auth(admin) })).statusCode).toBe(404);
    expect(
      (await app.inject({ method: 'POST', url: '/v1/deletions', headers: auth(admin), payload: { userIds: [] } }))
        .statusCode,
    ).toBe(400);
  });

  it('writes the request log as Parquet with the features as served', async () => {
    const ids = mine.map((c) => c.id);
    const res = await app.inject({
      method: 'POST',
      url: '/v1/decisions',
      headers: auth(advA),
      payload: { userId: users[7], campaignIds: ids },
    });
    const served = res.json();
    await log.flush();
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    try {
      const rows = (
        await conn.runAndReadAll(
          `SELECT campaign_id, score, included, rule, model_version, len(features) AS nf, feature_source FROM read_parquet('${log.dir}/part-*.parquet') WHERE request_id = '${served.requestId}' ORDER BY campaign_id`,
        )
      ).getRowObjectsJS();
      expect(rows.length).toBe(ids.length);
      const cols = JSON.parse(readFileSync(join(log.dir, 'columns.json'), 'utf8')).columns as string[];
      for (const r of rows) {
        const want = served.campaigns.find((c: { campaignId: string }) => c.campaignId === r['campaign_id']);
        expect(r['included']).toBe(want.included);
        expect(r['rule']).toBe(want.rule);
        expect(r['score'] ?? null).toBe(want.score);
        expect(Number(r['nf'])).toBe(cols.length);
        expect(r['feature_source']).toBe('online');
      }
    } finally {
      conn.closeSync();
      db.closeSync();
    }
    expect(log.stats().dropped).toBe(0);
  });

  it('limits requests per key with 429 and Retry-After', async () => {
    const limited = await buildServer({ deployment, keys, rateLimit: { max: 3, windowMs: 60_000 }, snapshot: 'none' });
    try {
      const c = (mine[0] as Campaign).id;
      const call = (key: string) => limited.inject({ url: `/v1/campaigns/${c}`, headers: auth(key) });
      for (let i = 0; i < 3; i++) expect((await call(advA)).statusCode).toBe(200);
      const over = await call(advA);
      expect(over.statusCode).toBe(429);
      expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
      expect(over.json().error.code).toBe('RATE_LIMITED');
      // another key has its own budget
      expect((await call(admin)).statusCode).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('serves declared defaults for views the online store lacks, flagged per campaign', async () => {
    const empty = await openDeployment({
      dir: deployment.layout.root,
      clock: new ManualClock(atMs),
      online: new MemoryOnlineStore(),
    });
    const s = await buildServer({ deployment: empty, keys, snapshot: 'none', decisionDeadlineMs: 5000 });
    try {
      const res = await s.inject({
        method: 'POST',
        url: '/v1/decisions',
        headers: auth(advA),
        payload: { userId: users[2], campaignIds: mine.map((c) => c.id) },
      });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.degraded).toEqual(expect.arrayContaining(['user_batch:missing']));
      const scored = body.campaigns.filter((c: { score: number | null }) => c.score !== null);
      expect(scored.length).toBeGreaterThan(0);
      for (const c of scored) expect(c.degraded).toEqual(expect.arrayContaining(['user_batch:missing']));
    } finally {
      await s.close();
      await empty.close();
    }
  });

  it('past the deadline answers from the batch snapshot, flagged, or 503 with Retry-After without one', async () => {
    const slow = new SlowOnlineStore(
      new MemoryOnlineStore({ snapshotPath: join(deployment.layout.features, 'online-snapshot.json') }),
      300,
    );
    const d = await openDeployment({ dir: deployment.layout.root, clock: new ManualClock(atMs), online: slow });
    const snapshot = await BatchSnapshotSource.load(d);
    const withSnap = await buildServer({ deployment: d, keys, snapshot, decisionDeadlineMs: 50 });
    const without = await buildServer({ deployment: d, keys, snapshot: 'none', decisionDeadlineMs: 50 });
    try {
      const payload = { userId: users[4], campaignIds: mine.map((c) => c.id) };
      const t0 = performance.now();
      const res = await withSnap.inject({ method: 'POST', url: '/v1/decisions', headers: auth(advA), payload });
      expect(performance.now() - t0).toBeLessThan(250);
      expect(res.statusCode).toBe(200);
      expect(res.json().featureSource).toBe('batch_snapshot');
      expect(res.json().degraded).toContain('deadline_exceeded');
      const scored = res.json().campaigns.filter((c: { modelVersion: string | null }) => c.modelVersion);
      const fallbackIds = new Set(
        d.models
          .list()
          .filter((m) => m.role === 'fallback')
          .map((m) => m.id),
      );
      for (const c of scored) expect(fallbackIds.has(c.modelVersion)).toBe(true);
      const no = await without.inject({ method: 'POST', url: '/v1/decisions', headers: auth(advA), payload });
      expect(no.statusCode).toBe(503);
      expect(no.headers['retry-after']).toBe('1');
      expect(no.json().error.code).toBe('DEADLINE_EXCEEDED');
    } finally {
      await withSnap.close();
      await without.close();
      await d.close();
    }
  });
});
