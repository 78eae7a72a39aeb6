import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorldDb } from './duckdb-world-db.js';
import { WorldOracle } from './oracle.js';
import type { Channel, Goal } from './schema.js';
import { generateWorld } from './simulator.js';

describe('WorldOracle', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'adnova-oracle-'));
    // seasonality and concept drift move the outcome model over time: the oracle must follow both
    await generateWorld({
      outDir: join(dir, 'w'),
      users: 900,
      days: 6,
      seed: 4,
      features: 16,
      scenarios: ['seasonality', 'concept-drift'],
      driftDay: 3,
    });
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('equals ground_truth.p_goal for every send the World made', async () => {
    const db = await WorldDb.open({ path: ':memory:' });
    const w = join(dir, 'w');
    const rows = await db.query(
      `SELECT s.campaign_id, s.user_id, s.send_ts::DOUBLE AS send_ts, c.channel, c.vertical, c.goal,
              c.launch_ts::DOUBLE AS launch_ts, g.p_goal, g.p_open
       FROM read_parquet('${w}/sends.parquet') s JOIN read_parquet('${w}/campaigns.parquet') c USING (campaign_id)
       JOIN read_parquet('${w}/ground_truth.parquet') g USING (send_id) ORDER BY s.send_id`,
    );
    db.close();
    expect(rows.length).toBeGreaterThan(500);
    const oracle = await WorldOracle.open(w);
    let worst = 0;
    const goals = new Set<string>();
    for (const r of rows) {
      const [p] = await oracle.goalProbabilities(
        {
          id: r.campaign_id as string,
          channel: r.channel as Channel,
          vertical: r.vertical as string,
          goal: r.goal as Goal,
          launchTs: r.launch_ts as number,
        },
        [r.user_id as string],
        r.send_ts as number,
      );
      worst = Math.max(worst, Math.abs((p as number) - (r.p_goal as number)));
      goals.add(r.goal as string);
    }
    await oracle.close();
    expect(goals.size).toBe(3);
    expect(worst).toBeLessThan(1e-12);
  });

  it('gives back the pool every exploration send was drawn from: all explored users in it, rule-sent ones out', async () => {
    const w = join(dir, 'w');
    const db = await WorldDb.open({ path: ':memory:' });
    const sends = await db.query(
      `SELECT s.campaign_id, s.user_id, s.selection, c.launch_ts // 86400000 AS day
       FROM read_parquet('${w}/sends.parquet') s JOIN read_parquet('${w}/campaigns.parquet') c USING (campaign_id)
       ORDER BY s.campaign_id`,
    );
    const [users] = await db.query(`SELECT count(*)::INTEGER AS n FROM read_parquet('${w}/users.parquet')`);
    db.close();
    // users at the World's daily cap (3 across channels) after the day's earlier campaigns, per campaign
    const sentToday = new Map<string, number>();
    const cappedBefore = new Map<string, string[]>();
    let day = -1;
    for (const r of sends) {
      if (Number(r.day) !== day) {
        day = Number(r.day);
        sentToday.clear();
      }
      const id = r.campaign_id as string;
      if (!cappedBefore.has(id))
        cappedBefore.set(
          id,
          [...sentToday].filter(([, n]) => n >= 3).map(([u]) => u),
        );
      sentToday.set(r.user_id as string, (sentToday.get(r.user_id as string) ?? 0) + 1);
    }
    const byCampaign = new Map<string, { rule: string[]; explore: string[] }>();
    for (const r of sends) {
      const id = r.campaign_id as string;
      const e = byCampaign.get(id) ?? byCampaign.set(id, { rule: [], explore: [] }).get(id);
      (r.selection === 'rule' ? e?.rule : e?.explore)?.push(r.user_id as string);
    }
    const oracle = await WorldOracle.open(w);
    let explored = 0;
    let checked = 0;
    let capped = 0;
    for (const [id, e] of byCampaign) {
      if (e.explore.length === 0) continue;
      const pool = await oracle.explorationPool(id);
      const inPool = new Set(pool.userIds);
      expect(pool.explored).toBe(e.explore.length);
      for (const u of e.explore) expect(inPool.has(u)).toBe(true);
      for (const u of e.rule) expect(inPool.has(u)).toBe(false);
      for (const u of cappedBefore.get(id) ?? []) expect(inPool.has(u)).toBe(false);
      capped += cappedBefore.get(id)?.length ?? 0;
      expect(pool.userIds.length).toBeLessThan(Number(users?.n));
      explored += e.explore.length;
      checked++;
    }
    expect(checked).toBeGreaterThan(20);
    expect(explored).toBeGreaterThan(50);
    expect(capped).toBeGreaterThan(0); // the cap part of the rule is exercised
    await expect(oracle.explorationPool('x')).rejects.toThrow(/not a World campaign id/);
    await expect(oracle.explorationPool('c9999999')).rejects.toThrow(/not in this world/);
    await oracle.close();
  });

  it('answers for users and campaigns the World never paired, and refuses what it cannot know', async () => {
    const oracle = await WorldOracle.open(join(dir, 'w'));
    const launchTs = oracle.manifest.startTs + 2 * 86_400_000 + 10 * 3_600_000;
    const users = Array.from({ length: 200 }, (_, i) => `u${String(i).padStart(8, '0')}`);
    const p = await oracle.goalProbabilities({ channel: 'email', vertical: 'travel', goal: 'click', launchTs }, users);
    for (const v of p) {
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThan(1);
    }
    // users differ (hidden traits), and a user's affinity to the vertical moves its probability
    expect(new Set(p).size).toBeGreaterThan(150);
    await expect(
      oracle.goalProbabilities({ channel: 'email', vertical: 'travel', goal: 'click', launchTs: 0 }, users),
    ).rejects.toThrow(/outside the world/);
    await expect(
      oracle.goalProbabilities({ channel: 'email', vertical: 'travel', goal: 'click', launchTs }, ['x1']),
    ).rejects.toThrow(/not a user of this world/);
    await oracle.close();
  });
});
